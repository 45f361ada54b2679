use super::body::ResponseBody;
use super::layer::RouteConfig;
use super::token_source;
use crate::auth::response::Responses;
use crate::error::{AuthError, AuthErrorKind};
use crate::observe::{self, Outcome};
use crate::verifier::claims::Claims;
use crate::verifier::{Screened, Verifier};
use http::{Request, Response};
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tower_service::Service;
use tracing::Span;
use tracing::field::Empty;
use tracing::instrument::{Instrument, Instrumented};

/// A verification still under way, whose claims the future settles.
pub(crate) type Verification = Pin<Box<dyn Future<Output = Result<Claims, AuthError>> + Send>>;

pin_project! {
    /// The response future of [`CognitoAuth`](super::CognitoAuth) and of the
    /// OpenAPI route table.
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
        // The two states a cache hit never takes are boxed, so that the future
        // a hit returns is no larger than the inner service's: routers move it
        // several times before it is polled.
        Verifying {
            waiting: Box<Waiting<S, ReqBody>>,
        },
        Calling {
            #[pin]
            future: S::Future,
        },
        Rejected {
            response: Option<Box<Response<bytes::Bytes>>>,
        },
    }
}

/// A request waiting for its token's verification.
struct Waiting<S, ReqBody> {
    verification: Instrumented<Verification>,
    inner: Option<S>,
    request: Option<Request<ReqBody>>,
    route: Arc<RouteConfig>,
}

impl<S: Service<Request<ReqBody>>, ReqBody> fmt::Debug for ResponseFuture<S, ReqBody> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

/// The span of one authorization: at `debug`, so that `info` stays quiet.
fn span(route: &str) -> Span {
    tracing::debug_span!(
        "authorize",
        route,
        outcome = Empty,
        kind = Empty,
        pool = Empty,
        token_use = Empty,
        sub = Empty,
    )
}

/// Tells metrics and the span how a request left, and logs a refusal: at
/// `debug` (the client's problem), or `warn` when no key could be had.
fn record(span: &Span, name: &Arc<str>, outcome: Outcome, claims: Option<(&Claims, bool)>) {
    observe::request(name, outcome);
    record_span(span, outcome, claims);
}

/// [`record`] for a request let through: the route's counter keys are built.
fn record_passed(
    span: &Span,
    name: &observe::RouteName,
    outcome: Outcome,
    claims: Option<(&Claims, bool)>,
) {
    observe::passed(name, outcome);
    record_span(span, outcome, claims);
}

fn record_span(span: &Span, outcome: Outcome, claims: Option<(&Claims, bool)>) {
    if span.is_disabled() {
        return;
    }
    span.record("outcome", outcome.label());
    span.record("kind", outcome.kind());
    if let Some((claims, with_sub)) = claims {
        span.record("pool", claims.pool_id());
        span.record("token_use", claims.token_use().as_str());
        if with_sub {
            span.record("sub", claims.sub());
        }
    }
}

fn log_rejection(span: &Span, error: &AuthError) {
    let _entered = span.enter();
    if error.kind().is_server_error() {
        tracing::warn!(kind = ?error.kind(), detail = error.detail(), "request rejected: no key to verify the token");
    } else {
        tracing::debug!(kind = ?error.kind(), detail = error.detail(), "request rejected");
    }
}

/// Decides a request for a route that takes tokens: the one admit step of the
/// crate, used by [`CognitoAuth`](super::CognitoAuth) and the route table alike.
///
/// The token is read from the request once, its size checked once, and the
/// verified-token cache looked up once. A known token is decided here, without a
/// future to build, and `inner` (which must be ready) is called at once; only a
/// token that must be verified takes `inner` into the future, leaving a clone.
pub(crate) fn admit<S, ReqBody>(
    inner: &mut S,
    verifier: &Verifier,
    route: &Arc<RouteConfig>,
    request: Request<ReqBody>,
) -> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>> + Clone,
{
    // A token this thread knows, recognised by its bytes before anything reads
    // them (see `token_source::exact`). The clocks this look reads serve the
    // shared table's too.
    let mut now = None;
    if let Some(token) = token_source::exact(&route.sources, &request) {
        match verifier.cached_in_thread(token) {
            Ok(claims) => return ResponseFuture::cached(inner, request, route, verifier, claims),
            Err(read) => now = read,
        }
    }
    let token = match token_source::token(&route.sources, &request)
        .and_then(|token| verifier.check_size(&token).map(|()| token))
    {
        Ok(token) => token,
        Err(error) if error.kind() == AuthErrorKind::MissingToken && route.optional => {
            return ResponseFuture::settle(inner, request, route, Ok(None));
        }
        Err(error) => {
            return ResponseFuture::refuse(route, &error);
        }
    };
    let miss = match verifier.cached(&token, now) {
        Ok(claims) => return ResponseFuture::cached(inner, request, route, verifier, claims),
        Err(miss) => miss,
    };
    let token = token.into_owned();
    let verifier = verifier.clone();
    ResponseFuture::verifying(
        inner,
        request,
        route,
        Box::pin(async move { verifier.verify_miss(&token, miss).await }),
    )
}

impl<S, ReqBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    /// Waits for `verification`, then settles the request as a cache hit would
    /// be: the ready `inner` goes into the future, a clone of it stays. For
    /// front doors with tokens of their own kind (an ALB's), whose verification
    /// is not the verifier's but whose admission is the same.
    pub(crate) fn verifying(
        inner: &mut S,
        request: Request<ReqBody>,
        route: &Arc<RouteConfig>,
        verification: Verification,
    ) -> Self
    where
        S: Clone,
    {
        let clone = inner.clone();
        Self {
            state: State::Verifying {
                waiting: Box::new(Waiting {
                    verification: verification.instrument(span(&route.name)),
                    inner: Some(std::mem::replace(inner, clone)),
                    request: Some(request),
                    route: Arc::clone(route),
                }),
            },
        }
    }

    /// Decides a request whose token the cache knew: revocation is asked on
    /// every request, cached or not, then the route's requirement.
    fn cached(
        inner: &mut S,
        request: Request<ReqBody>,
        route: &Arc<RouteConfig>,
        verifier: &Verifier,
        claims: Claims,
    ) -> Self
    where
        S: Clone,
    {
        match verifier.screen(claims) {
            Screened::Done(result) => Self::settle(inner, request, route, result.map(Some)),
            Screened::Later(check) => Self::verifying(inner, request, route, check),
        }
    }

    /// Calls the ready `inner` with the request untouched (a public route).
    #[cfg_attr(not(any(feature = "openapi", feature = "grpc")), allow(dead_code))]
    pub(crate) fn pass(inner: &mut S, request: Request<ReqBody>) -> Self {
        Self {
            state: State::Calling {
                future: inner.call(request),
            },
        }
    }

    /// Answers the request with the rejection for `error`, without calling the
    /// inner service or reading a token: `name` is the route's name in metrics
    /// and traces.
    pub(crate) fn reject(
        name: &Arc<str>,
        responses: &Responses,
        error: &AuthError,
        scopes: &[String],
    ) -> Self {
        let span = span(name);
        Self {
            state: rejected(&span, name, responses, error, scopes),
        }
    }

    /// Answers with the route's rejection for `error`.
    fn refuse(route: &RouteConfig, error: &AuthError) -> Self {
        Self::reject(
            &route.name,
            &route.responses,
            error,
            route.requirement.scopes(),
        )
    }

    /// Turns what the token gave into the request's fate, the same way whether it
    /// came from the cache or from a verification: verified claims that meet the
    /// route's requirement go to `inner` (which must be ready) in the request's
    /// extensions; anything else is answered with the rejection. `Ok(None)`: an
    /// optional route without a token.
    fn settle(
        inner: &mut S,
        request: Request<ReqBody>,
        route: &RouteConfig,
        verified: Result<Option<Claims>, AuthError>,
    ) -> Self {
        Self {
            state: settle(&span(&route.name), inner, request, route, verified),
        }
    }
}

fn rejected<S, ReqBody>(
    span: &Span,
    name: &Arc<str>,
    responses: &Responses,
    error: &AuthError,
    scopes: &[String],
) -> State<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    record(span, name, Outcome::Refused(error.kind()), None);
    log_rejection(span, error);
    State::Rejected {
        response: Some(Box::new(responses.respond(error, scopes))),
    }
}

fn settle<S, ReqBody>(
    span: &Span,
    inner: &mut S,
    mut request: Request<ReqBody>,
    route: &RouteConfig,
    verified: Result<Option<Claims>, AuthError>,
) -> State<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    let admitted = verified.and_then(|claims| match claims {
        Some(claims) => route.requirement.evaluate(&claims).map(|()| Some(claims)),
        None => Ok(None),
    });
    match admitted {
        Ok(claims) => {
            // Claims the handler sees are the ones decided here, never ones that
            // came with the request from further out.
            match claims {
                Some(claims) => {
                    let outcome = Outcome::Admitted;
                    record_passed(span, &route.name, outcome, Some((&claims, route.trace_sub)));
                    request.extensions_mut().insert(claims);
                }
                None => {
                    record_passed(span, &route.name, Outcome::Anonymous, None);
                    request.extensions_mut().remove::<Claims>();
                }
            };
            State::Calling {
                future: inner.call(request),
            }
        }
        Err(error) => rejected(
            span,
            &route.name,
            &route.responses,
            &error,
            route.requirement.scopes(),
        ),
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
                StateProj::Verifying { waiting } => {
                    let Waiting {
                        verification,
                        inner,
                        request,
                        route,
                    } = &mut **waiting;
                    let verified = ready!(Pin::new(&mut *verification).poll(cx));
                    let (Some(mut inner), Some(request)) = (inner.take(), request.take()) else {
                        unreachable!("ResponseFuture polled after completion");
                    };
                    let span = verification.span().clone();
                    let next = settle(&span, &mut inner, request, route, verified.map(Some));
                    this.state.set(next);
                }
                StateProj::Calling { future } => {
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Rejected { response } => {
                    let response = response
                        .take()
                        .expect("ResponseFuture polled after completion");
                    return Poll::Ready(Ok((*response).map(ResponseBody::rejection)));
                }
            }
        }
    }
}
