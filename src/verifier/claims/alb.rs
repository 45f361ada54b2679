//! [`Claims`] of an Application Load Balancer's `x-amzn-oidc-data` (module
//! `crate::alb`). Here, beside `Claims`, so that `claims/mod.rs` needs one line for it.

use super::{Claims, Payload, TokenUse, claim};
use serde_json::{Map, Value};
use std::sync::Arc;

impl Claims {
    /// The user claims a load balancer signed, already verified and checked by
    /// `crate::alb`. They have no `token_use` and read as an ID token's (who the
    /// user is: Requirement::new() admits them), with no scopes and no groups;
    /// `exp` is the one the token's header carries.
    pub(crate) fn from_alb(payload: Map<String, Value>, exp: u64, pool_id: Arc<str>) -> Self {
        // The claims are read from text like a Cognito token's; the map, built
        // already, is kept.
        let mut read = serde_json::to_vec(&payload)
            .ok()
            .and_then(Payload::read)
            .unwrap_or_else(|| Payload {
                text: String::new(),
                json_len: 0,
                fields: Default::default(),
                items: Vec::new(),
            });
        read.fields[claim::SCOPE] = None;
        read.fields[claim::GROUPS] = None;
        let claims = Self::with(read, TokenUse::Id, exp, [None; 3], pool_id);
        let _ = claims.0.map.set(payload);
        claims
    }
}
