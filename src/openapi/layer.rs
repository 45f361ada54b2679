//! [`RouteTableLayer`]: each request decided by its operation in the definition.

use super::template::{self, Matcher, Methods};
use super::{Route, parse};
use crate::auth::response::Responses;
use crate::auth::{self, CognitoAuthLayer, ResponseFuture, middleware_service};
use crate::error::{AuthError, AuthErrorKind};
use http::{Method, Request};
use std::collections::HashMap;
use std::sync::Arc;

/// Which operation a request is for, from the definition's own templates.
#[derive(Clone, Debug, Default)]
pub(crate) struct RouteIndex {
    matcher: Matcher,
    by_key: HashMap<String, usize>,
    paths: Vec<Methods<usize>>,
    /// An HTTP API's `$default` route.
    default: Option<usize>,
}

impl RouteIndex {
    /// Indexes routes whose templates were checked not to overlap.
    pub(crate) fn new(routes: &[Route]) -> Self {
        let mut index = Self::default();
        for (i, route) in routes.iter().enumerate() {
            if route.default {
                index.default = Some(i);
                continue;
            }
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

    /// The route for a request to `path` with `method`, or `None` when the
    /// request is to be refused as unknown.
    ///
    /// The path is matched in its normalised form ([`template::canonical`]),
    /// so that `//pets//42/`, `/pets/./42` or `/p%61ts/42` are decided as
    /// `/pets/{petId}` whether or not a layer inside this one normalises them.
    /// Where the path as written matches an operation too, it must be the same
    /// one: a path that reads as one operation as written and as another once
    /// normalised (`/files/../admin` under `/files/{proxy+}` and `/admin`) could
    /// reach either handler, so it is refused.
    ///
    /// An HTTP API's `$default` route takes what no other route does (an
    /// unknown path, or a method the path does not define), but never a path
    /// refused as unreadable or ambiguous.
    pub(crate) fn find(&self, method: &Method, path: &str) -> Option<usize> {
        let canonical = template::canonical(path)?;
        let Some(found) = self.matcher.find(&canonical) else {
            // To `$default`, unless the path as written reads as a route.
            if canonical != path && self.matcher.find(path).is_some() {
                return None;
            }
            return self.default;
        };
        if canonical != path
            && let Some(as_written) = self.matcher.find(path)
            && as_written != found
        {
            return None;
        }
        self.paths[found].get(method).copied().or(self.default)
    }
}

/// What the table does with the requests of one operation.
#[derive(Clone, Debug)]
pub(crate) enum Policy {
    /// Through, untouched.
    Public,
    /// Through only with a token that meets the operation's requirement.
    Token(CognitoAuthLayer),
    /// Never through: an authorizer the crate cannot check protects it.
    Refused,
}

/// Applies an imported [`ApiDefinition`](super::ApiDefinition): for each request,
/// finds its operation in the definition and then behaves exactly as a
/// [`CognitoAuthLayer`] with that operation's
/// [`Requirement`](crate::Requirement) and token header. It fails closed:
///
/// - a request that matches no operation of the definition (an unknown path, or
///   a method the path does not define) is answered as API Gateway answers it,
///   403 `{"message":"Missing Authentication Token"}` for a REST API's
///   definition, 404 `{"message":"Not Found"}` for an HTTP API's, and never
///   reaches the inner service, unless its path was named public on import
///   ([`ImportOptions::public_path`](super::ImportOptions::public_path)) or an
///   HTTP API's `$default` route takes it;
/// - an operation imported as refused
///   ([`ImportOptions::refuse_unenforceable`](super::ImportOptions::refuse_unenforceable))
///   is answered 403 `{"message":"Forbidden"}`;
/// - the decision is taken from the definition's own templates, never from the
///   router's (axum's `MatchedPath` is not read), so the layer decides the same
///   inside the router (`Router::layer`) or around it, and a router template
///   wider than the definition's cannot make more of the API public.
///
/// The operation is found as API Gateway and axum's router find it: literal
/// segments before `{param}` (one non-empty segment) before `{proxy+}` (the
/// non-empty rest), backtracking when a literal leads nowhere. Paths are read
/// normalised (percent-decoding, `\` as `/`, empty and dot segments removed), so
/// that a path-normalising layer or a lenient router inside this one cannot
/// bring a request to a protected handler another way; a path that reads as
/// two different operations as written and normalised is refused. A `HEAD`
/// request the definition does not list takes the `GET` operation's
/// requirement, since routers answer `HEAD` with the `GET` handler; then `ANY`
/// (`x-amazon-apigateway-any-method`) applies.
///
/// The layer sees the path its inner service sees: inside
/// `Router::nest("/v1", api)`, layer the nested router `api`, whose paths have
/// the prefix stripped; around the outer router every path would be unknown.
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
    /// Per route.
    policies: Vec<Policy>,
    /// Per route: `GET /pets/{petId}`, its name in metrics and traces.
    labels: Vec<Arc<str>>,
    /// The name of requests no operation matches.
    unknown: Arc<str>,
    /// For requests refused before any token is read.
    responses: Responses,
}

impl RouteTableLayer {
    pub(crate) fn new(index: RouteIndex, routes: &[Route], policies: Vec<Policy>) -> Self {
        let labels = routes
            .iter()
            .map(|r| Arc::from(parse::label(r.method.as_ref(), &r.path)))
            .collect();
        Self {
            table: Arc::new(Table {
                index,
                policies,
                labels,
                unknown: Arc::from("unknown"),
                responses: Responses::default(),
            }),
        }
    }

    /// Answers rejections this way on every operation, and for unknown and
    /// refused requests (default: [`Responses::api_gateway`]).
    pub fn responses(mut self, responses: Responses) -> Self {
        let table = Arc::make_mut(&mut self.table);
        for policy in &mut table.policies {
            if let Policy::Token(layer) = policy {
                *layer = layer.clone().responses(responses.clone());
            }
        }
        table.responses = responses;
        self
    }
}

middleware_service! {
    /// The service made by [`RouteTableLayer`].
    pub struct RouteTable<S>, made by RouteTableLayer {
        table: Arc<Table>,
    }
    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let table = &*self.table;
        let Some(i) = table.index.find(request.method(), request.uri().path()) else {
            let error = AuthError::new(
                AuthErrorKind::UnknownOperation,
                "the request matches no operation of the API definition",
            );
            return ResponseFuture::reject(&table.unknown, &table.responses, &error, &[]);
        };
        match &table.policies[i] {
            Policy::Token(auth) => {
                tracing::trace!(operation = %table.labels[i], "operation takes a token");
                auth::admit(&mut self.inner, auth.verifier(), &auth.route, request)
            }
            Policy::Public => {
                tracing::trace!(operation = %table.labels[i], "public operation");
                ResponseFuture::pass(&mut self.inner, request)
            }
            Policy::Refused => {
                let error = AuthError::new(
                    AuthErrorKind::UnenforceableOperation,
                    "the operation is protected by an authorizer this crate cannot check",
                );
                ResponseFuture::reject(&table.labels[i], &table.responses, &error, &[])
            }
        }
    }
}
