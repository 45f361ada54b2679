//! [`Claims`] of an Application Load Balancer's `x-amzn-oidc-data` (module
//! `crate::alb`). Here, beside `Claims`, so that `claims/mod.rs` needs one line for it.

use super::{Claims, Inner, TokenUse};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

impl Claims {
    /// The user claims a load balancer signed, already verified and checked by
    /// `crate::alb`. They have no `token_use` and read as an ID token's (who the
    /// user is: Requirement::new() admits them), with no scopes and no groups;
    /// `exp` is the one the token's header carries.
    pub(crate) fn from_alb(payload: Map<String, Value>, exp: u64, pool_id: Arc<str>) -> Self {
        Self(Arc::new(Inner {
            payload,
            token_use: TokenUse::Id,
            exp,
            nbf: None,
            iat: None,
            auth_time: None,
            scopes: Some(BTreeSet::new()),
            groups: Some(Vec::new()),
            pool_id,
            raw: Box::new([]),
        }))
    }
}
