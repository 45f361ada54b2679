use super::body::ResponseBody;
use super::future::{self, ResponseFuture};
use super::layer::RouteConfig;
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

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        future::admit(&mut self.inner, &self.verifier, &self.route, request)
    }
}
