//! The minimal fail-closed layer: a reference row of `benches/verify.rs`
//! (`router/minimal`) and of `scripts/load.sh` (`/minimal` of
//! `examples/load_server.rs`), which both include this file.

use axum::extract::Request;
use axum::response::{IntoResponse as _, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::future::Either;
use std::future::Ready;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Makes [`Minimal`] for one token.
#[derive(Clone)]
pub struct MinimalLayer(Arc<Known>);

/// What [`Minimal`] knows: the `Authorization` header of its one token, the
/// token's `exp`, a deadline on the monotonic clock standing for the keys' trust
/// window, and the value it hands the handler (an `Arc`, as the crate's claims).
struct Known {
    header: Vec<u8>,
    exp: u64,
    trusted_until: Instant,
    handed: Arc<String>,
}

impl MinimalLayer {
    /// A layer that lets through `Bearer <token>` only, handing the handler
    /// `handed`. `None` when the token has no numeric `exp` to read.
    pub fn new(token: &str, handed: Arc<String>) -> Option<Self> {
        let payload = URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()?;
        let claims: serde_json::Value = serde_json::from_slice(&payload).ok()?;
        Some(Self(Arc::new(Known {
            header: format!("Bearer {token}").into_bytes(),
            exp: claims["exp"].as_u64()?,
            trusted_until: Instant::now() + Duration::from_secs(24 * 3600),
            handed,
        })))
    }
}

impl<S> tower::Layer<S> for MinimalLayer {
    type Service = Minimal<S>;

    fn layer(&self, inner: S) -> Minimal<S> {
        Minimal {
            inner,
            known: Arc::clone(&self.0),
        }
    }
}

/// The work no layer that refuses what it cannot vouch for can skip on a repeated
/// token, and nothing more: find the `Authorization` header and compare its bytes
/// in full with the known token's; read the wall clock (for `exp`) and the
/// monotonic one (for the keys' trust window); hand the handler one `Arc` in the
/// extensions. Anything else is answered 401. No token cache can do less for a
/// hit, so its cost bounds what the crate's repeated path can come down to.
#[derive(Clone)]
pub struct Minimal<S> {
    inner: S,
    known: Arc<Known>,
}

impl<S> tower::Service<Request> for Minimal<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<Response, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let known = &*self.known;
        let vouched = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .is_some_and(|value| value.as_bytes() == known.header)
            && Instant::now() < known.trusted_until
            && SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .is_ok_and(|now| now.as_secs() < known.exp);
        if vouched {
            request.extensions_mut().insert(Arc::clone(&known.handed));
            Either::Left(self.inner.call(request))
        } else {
            let refusal = http::StatusCode::UNAUTHORIZED.into_response();
            Either::Right(std::future::ready(Ok(refusal)))
        }
    }
}
