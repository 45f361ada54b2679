//! The setters of the settings both verifiers' builders share
//! (`verifier::SharedSettings`): written once here, documented by each builder.

/// Writes setters of a builder's `shared: SharedSettings`, inside its `impl`
/// block, in the place they should appear in its docs: the setters' names,
/// then one `{ /// doc }` block per name, in the same order (the builders
/// document them differently). A name and its block are a pair by place, and
/// a count that differs does not compile.
///
/// ```text
/// shared_setters! { leeway, max_token_size;
///     {
///         /// Clock skew allowed ...
///     }
///     {
///         /// Largest token accepted ...
///     }
/// }
/// ```
macro_rules! shared_setters {
    ($($name:ident),+; $({ $(#[$doc:meta])* })+) => {
        $( $crate::setters::shared_setters!(@$name $(#[$doc])*); )+
    };
    // Each setter: its argument, and the field it sets to what.
    (@leeway $($doc:tt)*) => { $crate::setters::shared_setters!(@fn $($doc)* leeway(leeway: ::std::time::Duration) leeway = leeway); };
    (@max_token_size $($doc:tt)*) => { $crate::setters::shared_setters!(@fn $($doc)* max_token_size(bytes: usize) max_token_size = bytes); };
    (@http_client $($doc:tt)*) => { $crate::setters::shared_setters!(@fn $($doc)* http_client(client: ::reqwest::Client) client = Some(client)); };
    (@fetch_timeout $($doc:tt)*) => { $crate::setters::shared_setters!(@fn $($doc)* fetch_timeout(timeout: ::std::time::Duration) fetch_timeout = timeout); };
    (@connect_timeout $($doc:tt)*) => { $crate::setters::shared_setters!(@fn $($doc)* connect_timeout(timeout: ::std::time::Duration) connect_timeout = timeout); };
    (@unknown_kid_cooldown $($doc:tt)*) => { $crate::setters::shared_setters!(@fn $($doc)* unknown_kid_cooldown(cooldown: ::std::time::Duration) unknown_kid_cooldown = cooldown); };
    (@max_backoff $($doc:tt)*) => { $crate::setters::shared_setters!(@fn $($doc)* max_backoff(backoff: ::std::time::Duration) max_backoff = backoff); };
    (@token_cache_capacity $($doc:tt)*) => { $crate::setters::shared_setters!(@fn $($doc)* token_cache_capacity(entries: u64) token_cache_capacity = entries); };
    (@fn $(#[$doc:meta])* $name:ident($arg:ident: $ty:ty) $field:ident = $value:expr) => {
        $(#[$doc])*
        pub fn $name(mut self, $arg: $ty) -> Self {
            self.shared.$field = $value;
            self
        }
    };
}

pub(crate) use shared_setters;
