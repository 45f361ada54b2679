use super::body::ResponseBody;
use super::future::ResponseFuture;
use super::layer::RouteConfig;
use super::source;
use crate::error::AuthErrorKind;
use crate::verifier::Verifier;
use http::{Request, Response};
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_service::Service;

/// The service made by [`CognitoAuthLayer`](super::CognitoAuthLayer).
#[derive(Clone)]
pub struct CognitoAuth<S> {
    pub(crate) inner: S,
    pub(crate) verifier: Verifier,
    pub(crate) route: Arc<RouteConfig>,
}

impl<S: fmt::Debug> fmt::Debug for CognitoAuth<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CognitoAuth")
            .field("inner", &self.inner)
            .field("verifier", &self.verifier)
            .field("route", &self.route)
            .finish()
    }
}

impl<S> CognitoAuth<S> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes the middleware, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CognitoAuth<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let header = match source::token_header(request.headers(), &self.route.header) {
            Ok(header) => header,
            Err(error) if error.kind() == AuthErrorKind::MissingToken && self.route.optional => {
                return ResponseFuture::call(self.take_ready(), request);
            }
            Err(error) => return ResponseFuture::reject(&self.route, &error),
        };
        // A token verified before is answered here, with no future to build, and
        // the service that was made ready is called at once: no clone of it either.
        let cached = match source::token_from(header) {
            Ok(token) => self.verifier.cached(token),
            Err(error) => return ResponseFuture::reject(&self.route, &error),
        };
        match cached {
            Some(claims) => match self.route.requirement.evaluate(&claims) {
                Ok(()) => {
                    request.extensions_mut().insert(claims);
                    ResponseFuture::call_ready(&mut self.inner, request)
                }
                Err(error) => ResponseFuture::reject(&self.route, &error),
            },
            None => {
                let header = header.clone();
                let (verifier, route) = (self.verifier.clone(), Arc::clone(&self.route));
                ResponseFuture::verify(self.take_ready(), request, verifier, route, header)
            }
        }
    }
}

impl<S: Clone> CognitoAuth<S> {
    /// The service that was made ready, for a future to call later; a clone stays.
    fn take_ready(&mut self) -> S {
        let clone = self.inner.clone();
        std::mem::replace(&mut self.inner, clone)
    }
}
