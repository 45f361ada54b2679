//! [`RouteTableLayer`]: one [`CognitoAuthLayer`] per operation, picked per request.

use super::template::{self, Matcher, Methods};
use super::{Route, parse};
use crate::middleware::{CognitoAuthLayer, ResponseBody, ResponseFuture};
use crate::response::Responses;
use http::{Method, Request, Response};
use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_layer::Layer;
use tower_service::Service;

/// Which operation a request is for: by axum's matched path when there is one,
/// else by matching the request path against the templates.
#[derive(Clone, Debug, Default)]
pub(crate) struct RouteIndex {
    matcher: Matcher,
    by_key: HashMap<String, usize>,
    paths: Vec<Methods<usize>>,
}

impl RouteIndex {
    /// Indexes routes whose templates were checked not to overlap.
    pub(crate) fn new(routes: &[Route]) -> Self {
        let mut index = Self::default();
        for (i, route) in routes.iter().enumerate() {
            let key = template::key(&route.segments);
            let path = match index.by_key.get(&key) {
                Some(&path) => path,
                None => {
                    let path = index.paths.len();
                    index.paths.push(Methods::default());
                    index.matcher.insert(&route.segments, path);
                    index.by_key.insert(key, path);
                    path
                }
            };
            let methods = &mut index.paths[path];
            match &route.method {
                Some(method) => methods.by_method.push((method.clone(), i)),
                None => methods.any = Some(i),
            }
        }
        index
    }

    /// The route for a request to `path` with `method`; `matched` is the
    /// template the router chose (axum's `MatchedPath`), if any.
    pub(crate) fn find(&self, method: &Method, path: &str, matched: Option<&str>) -> Option<usize> {
        let by_router = matched
            .and_then(template::parse_axum)
            .and_then(|segments| self.by_key.get(&template::key(&segments)).copied());
        let path = by_router.or_else(|| self.matcher.find(path))?;
        self.paths[path].get(method).copied()
    }
}

/// Applies an imported [`ApiDefinition`](super::ApiDefinition): for each request,
/// finds its operation and then behaves exactly as a [`CognitoAuthLayer`] with
/// that operation's [`Requirement`](crate::Requirement) and token header.
/// Public operations, and requests the definition does not list, reach the inner
/// service untouched (the router decides whether they exist).
///
/// The operation is found by matching the request path against the
/// definition's templates, as API Gateway and axum's router do: literal segments
/// before `{param}` (one non-empty segment) before `{proxy+}` (the non-empty
/// rest), backtracking when a literal leads nowhere. One trailing slash is
/// ignored (`/pets/42/` is `GET /pets/{petId}`'s even where the router answers
/// 404), so that a path-normalizing layer inside this one cannot bring a request
/// to a protected handler without a token. A `HEAD` request the definition does
/// not list takes the `GET` operation's requirement, since routers answer `HEAD`
/// with the `GET` handler; then `ANY` (`x-amazon-apigateway-any-method`) applies.
///
/// The layer sees the path its inner service sees: with axum, put it on the
/// router whose paths are the definition's (`Router::layer`), or around it.
/// Inside `Router::nest("/v1", api)`, layer the nested router `api`, whose paths
/// have the prefix stripped, not the outer one: paths that no template matches
/// pass through.
///
/// Made by [`ApiDefinition::layer`](super::ApiDefinition::layer).
#[derive(Clone, Debug)]
#[must_use]
pub struct RouteTableLayer {
    table: Arc<Table>,
}

#[derive(Clone, Debug)]
struct Table {
    index: RouteIndex,
    /// Per route: `None` for a public one.
    auth: Vec<Option<CognitoAuthLayer>>,
    labels: Vec<String>,
}

impl RouteTableLayer {
    pub(crate) fn new(
        index: RouteIndex,
        routes: &[Route],
        auth: Vec<Option<CognitoAuthLayer>>,
    ) -> Self {
        let labels = routes
            .iter()
            .map(|r| parse::label(r.method.as_ref(), &r.path))
            .collect();
        Self {
            table: Arc::new(Table {
                index,
                auth,
                labels,
            }),
        }
    }

    /// Answers rejections this way on every operation (default:
    /// [`Responses::api_gateway`]).
    pub fn responses(mut self, responses: Responses) -> Self {
        let table = Arc::make_mut(&mut self.table);
        for layer in table.auth.iter_mut().flatten() {
            *layer = layer.clone().responses(responses.clone());
        }
        self
    }
}

impl<S> Layer<S> for RouteTableLayer {
    type Service = RouteTable<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RouteTable {
            inner,
            table: Arc::clone(&self.table),
        }
    }
}

/// The template the router matched (axum's `MatchedPath`), when the layer runs
/// inside an axum router (`route_layer`). Elsewhere the request path is matched
/// against the templates, which picks the same operation (both put literal
/// segments before parameters before the greedy rest).
#[cfg(feature = "axum")]
fn matched_path<B>(request: &Request<B>) -> Option<&str> {
    request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(axum::extract::MatchedPath::as_str)
}

#[cfg(not(feature = "axum"))]
fn matched_path<B>(_request: &Request<B>) -> Option<&str> {
    None
}

/// The service made by [`RouteTableLayer`].
#[derive(Clone, Debug)]
pub struct RouteTable<S> {
    inner: S,
    table: Arc<Table>,
}

impl<S> RouteTable<S> {
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RouteTable<S>
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
        // The service that was made ready goes into the future; a clone stays.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let matched = matched_path(&request);
        let route = self
            .table
            .index
            .find(request.method(), request.uri().path(), matched);
        match route {
            Some(i) => match &self.table.auth[i] {
                Some(auth) => {
                    tracing::trace!(operation = %self.table.labels[i], "route needs a token");
                    // Behaves exactly as CognitoAuthLayer does on this route.
                    auth.layer(inner).call(request)
                }
                None => {
                    tracing::trace!(operation = %self.table.labels[i], "public route");
                    ResponseFuture::call(inner, request)
                }
            },
            None => ResponseFuture::call(inner, request),
        }
    }
}
