//! [`JwksProvider`]: a user pool's key set from a source of your own.

use std::error::Error;
use std::future::Future;
use std::pin::Pin;

/// What [`JwksProvider::fetch`] returns: the JWKS document's bytes, or why they
/// could not be had.
pub type JwksFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<u8>, Box<dyn Error + Send + Sync>>> + Send + 'a>>;

/// A source of a user pool's JWKS document other than an HTTP download: a
/// secrets store, a parameter store, a file that a sidecar keeps current.
///
/// Given to a pool with [`UserPool::jwks_provider`](crate::UserPool::jwks_provider),
/// it takes the place of the HTTP download and nothing else: everything the
/// key set does with a download it does with the provider's document.
///
/// - **Single flight**: `fetch` is never called while an earlier call for the
///   same pool is still under way; concurrent requests that need keys wait for
///   the one call.
/// - **When it is called**: when a token names a `kid` that is not in the set
///   (at most once per [`unknown_kid_cooldown`](crate::VerifierBuilder::unknown_kid_cooldown)),
///   by [`Verifier::prefetch`](crate::Verifier::prefetch), and on the
///   [`refresh_interval`](crate::VerifierBuilder::refresh_interval) timer. A
///   key removed from the document stops being trusted at the next refresh.
/// - **Failures**: an `Err`, a call that takes longer than the
///   [`fetch_timeout`](crate::VerifierBuilder::fetch_timeout), a panic, a
///   document over [`max_jwks_size`](crate::VerifierBuilder::max_jwks_size) or
///   one without a usable key are failed fetches: the next call waits the
///   cooldown, doubling per failure up to
///   [`max_backoff`](crate::VerifierBuilder::max_backoff); the last good set
///   keeps serving for [`max_stale`](crate::VerifierBuilder::max_stale); with
///   no usable set, requests are answered as
///   [`KeySetUnavailable`](crate::AuthErrorKind::KeySetUnavailable) (5xx). The
///   error's text (with its sources) is logged at `warn`, so it must not hold
///   secrets; in the metrics, an `Err` or a panic counts as outcome `error`.
/// - **Key rules**: the document is read exactly as a downloaded one: keys that
///   break a rule (not RSA, `use` other than `sig`, `alg` other than RS256,
///   under 2,048 bits, ...) are skipped with a warning, and the set fails only
///   when no usable key is left.
/// - **Where it runs**: each call's future is spawned as its own task on the
///   Tokio runtime of the request that needed it (so a client that goes away
///   cancels nothing); it must not block the thread. A call that outlives the
///   fetch timeout is dropped.
///
/// ```
/// use tower_cognito::{JwksFuture, JwksProvider, UserPool, Verifier};
///
/// /// The JWKS kept in a secrets store (here: an environment variable).
/// struct FromEnv;
///
/// impl JwksProvider for FromEnv {
///     fn fetch(&self) -> JwksFuture<'_> {
///         Box::pin(async {
///             let text = std::env::var("POOL_JWKS")?;
///             Ok(text.into_bytes())
///         })
///     }
/// }
///
/// let verifier = Verifier::new(UserPool::new("us-east-1_AbCdEfGhI").jwks_provider(FromEnv))?;
/// # Ok::<(), tower_cognito::ConfigError>(())
/// ```
pub trait JwksProvider: Send + Sync + 'static {
    /// The JWKS document (`{"keys": [...]}`), whole.
    fn fetch(&self) -> JwksFuture<'_>;
}
