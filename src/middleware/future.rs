use super::body::ResponseBody;
use super::layer::RouteConfig;
use super::source;
use crate::claims::Claims;
use crate::error::AuthError;
use crate::verifier::Verifier;
use http::{HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tower_service::Service;

type Verification = Pin<Box<dyn Future<Output = Result<Claims, AuthError>> + Send>>;

pin_project! {
    /// The response future of [`CognitoAuth`](super::CognitoAuth).
    pub struct ResponseFuture<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        Verifying {
            verification: Verification,
            inner: Option<S>,
            request: Option<Request<ReqBody>>,
            route: Arc<RouteConfig>,
        },
        Calling {
            #[pin]
            future: S::Future,
        },
        Rejected {
            response: Option<Response<bytes::Bytes>>,
        },
    }
}

impl<S: Service<Request<ReqBody>>, ReqBody> fmt::Debug for ResponseFuture<S, ReqBody> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

fn log_rejection(error: &AuthError) {
    if error.kind().is_server_error() {
        tracing::warn!(kind = ?error.kind(), detail = error.detail(), "request rejected: no key to verify the token");
    } else {
        tracing::debug!(kind = ?error.kind(), detail = error.detail(), "request rejected");
    }
}

impl<S, ReqBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    pub(crate) fn verify(
        inner: S,
        request: Request<ReqBody>,
        verifier: Verifier,
        route: Arc<RouteConfig>,
        header: HeaderValue,
    ) -> Self {
        let check = Arc::clone(&route);
        let verification = Box::pin(async move {
            let token = source::token_from(&header)?;
            let claims = verifier.verify(token).await?;
            check.requirement.evaluate(&claims)?;
            Ok(claims)
        });
        Self {
            state: State::Verifying {
                verification,
                inner: Some(inner),
                request: Some(request),
                route,
            },
        }
    }

    /// Calls the service, which must be ready, now; only its future is kept.
    pub(crate) fn call_ready(inner: &mut S, request: Request<ReqBody>) -> Self {
        Self {
            state: State::Calling {
                future: inner.call(request),
            },
        }
    }

    pub(crate) fn call(mut inner: S, request: Request<ReqBody>) -> Self {
        Self {
            state: State::Calling {
                future: inner.call(request),
            },
        }
    }

    pub(crate) fn reject(route: &RouteConfig, error: &AuthError) -> Self {
        log_rejection(error);
        Self {
            state: State::Rejected {
                response: Some(route.responses.respond(error, route.requirement.scopes())),
            },
        }
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Verifying {
                    verification,
                    inner,
                    request,
                    route,
                } => {
                    let outcome = ready!(verification.as_mut().poll(cx));
                    match outcome {
                        Ok(claims) => {
                            let (Some(mut inner), Some(mut request)) =
                                (inner.take(), request.take())
                            else {
                                unreachable!("ResponseFuture polled after completion");
                            };
                            request.extensions_mut().insert(claims);
                            let future = inner.call(request);
                            this.state.set(State::Calling { future });
                        }
                        Err(error) => {
                            log_rejection(&error);
                            let response =
                                route.responses.respond(&error, route.requirement.scopes());
                            this.state.set(State::Rejected {
                                response: Some(response),
                            });
                        }
                    }
                }
                StateProj::Calling { future } => {
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Rejected { response } => {
                    let response = response
                        .take()
                        .expect("ResponseFuture polled after completion");
                    return Poll::Ready(Ok(response.map(ResponseBody::rejection)));
                }
            }
        }
    }
}
