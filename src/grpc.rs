//! gRPC services (feature `grpc`): [`GrpcAuthLayer`], a per-method table in
//! front of a tonic server, answering refusals as gRPC statuses.
//!
//! A gRPC call is an HTTP/2 `POST` to `/package.Service/Method`; its metadata
//! are the request's headers. The table looks the path up exactly and applies
//! that method's [`Requirement`] with the token from the `authorization`
//! metadata (`Bearer <token>` or the bare token), the same admit step as
//! [`CognitoAuthLayer`]: the handler finds the caller's [`Claims`](crate::Claims)
//! in the request's extensions (`request.extensions().get::<Claims>()` on a
//! `tonic::Request`). Refusals are [`Responses::grpc`]'s trailers-only answers:
//! `UNAUTHENTICATED` (16) for a missing or bad token, `PERMISSION_DENIED` (7) for
//! a token without the method's scope, `UNAVAILABLE` (14) when no key can be had,
//! and `UNIMPLEMENTED` (12) for a method the table does not know.
//!
//! ```
//! use http::Request;
//! use std::convert::Infallible;
//! use tower::{Layer, ServiceExt, service_fn};
//! use tower_cognito::grpc::GrpcAuthLayer;
//! use tower_cognito::test_util::LocalUserPool;
//! use tower_cognito::{Claims, Requirement};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = LocalUserPool::start().await?;
//! let auth = GrpcAuthLayer::new(pool.verifier())
//!     .method("/notes.v1.Notes/List", Requirement::any_scope(["notes/read"]))?
//!     .public("/grpc.health.v1.Health/Check")?;
//!
//! // In production the inner service is tonic's; see the `grpc` example.
//! let service = auth.layer(service_fn(|request: Request<String>| async move {
//!     let sub = request.extensions().get::<Claims>().map(|c| c.sub().to_owned());
//!     Ok::<_, Infallible>(http::Response::new(sub.unwrap_or_default()))
//! }));
//! let call = |path: &str, token: Option<String>| {
//!     let mut request = Request::post(path).header("content-type", "application/grpc");
//!     if let Some(token) = token {
//!         request = request.header("authorization", format!("Bearer {token}"));
//!     }
//!     service.clone().oneshot(request.body(String::new()).unwrap())
//! };
//!
//! let reader = pool.access_token().sub("user-1").scopes(["notes/read"]).sign();
//! let response = call("/notes.v1.Notes/List", Some(reader)).await?;
//! assert!(response.headers().get("grpc-status").is_none()); // the method answered
//!
//! let response = call("/notes.v1.Notes/List", None).await?;
//! assert_eq!(response.headers()["grpc-status"], "16"); // UNAUTHENTICATED
//! assert_eq!(response.headers()["grpc-message"], "missing bearer token");
//!
//! let writer = pool.access_token().scopes(["notes/write"]).sign();
//! let response = call("/notes.v1.Notes/List", Some(writer)).await?;
//! assert_eq!(response.headers()["grpc-status"], "7"); // PERMISSION_DENIED
//!
//! // Not in the table: refused, never passed through.
//! let response = call("/notes.v1.Notes/Delete", None).await?;
//! assert_eq!(response.headers()["grpc-status"], "12"); // UNIMPLEMENTED
//!
//! let response = call("/grpc.health.v1.Health/Check", None).await?;
//! assert!(response.headers().get("grpc-status").is_none()); // public
//! # Ok(()) }
//! ```
//!
//! For one requirement on every method, `CognitoAuthLayer::new(verifier)
//! .responses(Responses::grpc())` works in front of a tonic server too.

use crate::auth::requirement::Requirement;
use crate::auth::response::Responses;
use crate::auth::{self, CognitoAuthLayer, ResponseFuture, middleware_service};
use crate::error::{AuthError, AuthErrorKind, ConfigError, ConfigErrorKind};
use crate::verifier::Verifier;
use http::Request;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

/// Authorizes each gRPC call by its method: a table from the method's path
/// (`/package.Service/Method`) to a [`Requirement`], or public.
///
/// It fails closed. A call to a method the table does not name, when no
/// [`default`](Self::default) is set, is answered `UNIMPLEMENTED` (12,
/// `unknown method`) and never reaches the inner service, whether or not the
/// server implements the method: forgetting a method in the table refuses it
/// rather than making it public, and the answer is the one a gRPC server gives
/// for a method it does not have, so a caller learns nothing about which
/// methods exist behind the table.
///
/// The path is matched exactly as the request carries it (`:path`, without a
/// query), which is how tonic dispatches calls too; a path that is not written
/// exactly as listed is unknown. Do not put a layer that rewrites paths between
/// this one and the server.
///
/// A method's token comes from the `authorization` metadata; rejections are
/// [`Responses::grpc`]'s. A method that takes a token is decided by the same
/// admit step as [`CognitoAuthLayer`] (token read and size checked once, the
/// verified-token cache looked up once), and the claims reach the method in
/// the request's extensions. All clones share the one [`Verifier`] and its
/// caches.
///
/// See the [module documentation](self) for an example.
#[derive(Clone, Debug)]
#[must_use]
pub struct GrpcAuthLayer {
    table: Arc<Table>,
}

#[derive(Clone, Debug)]
struct Table {
    /// The verifier, the token metadata and the gRPC responses; each method's
    /// route is made from it.
    base: CognitoAuthLayer,
    methods: HashMap<String, Policy>,
    /// For methods not named.
    default: Option<Policy>,
    /// The name, in metrics and traces, of calls to methods the table refuses
    /// as unknown.
    unknown: Arc<str>,
}

/// What the table does with the calls of one method.
#[derive(Clone, Debug)]
enum Policy {
    /// Through, untouched.
    Public,
    /// Through only with a token that meets the method's requirement.
    Token(CognitoAuthLayer),
}

impl GrpcAuthLayer {
    /// An empty table: every method is refused until it is named with
    /// [`method`](Self::method) or [`public`](Self::public), or covered by a
    /// [`default`](Self::default).
    pub fn new(verifier: Verifier) -> Self {
        Self {
            table: Arc::new(Table {
                base: CognitoAuthLayer::new(verifier).responses(Responses::grpc()),
                methods: HashMap::new(),
                default: None,
                unknown: Arc::from("unknown"),
            }),
        }
    }

    /// Calls to `path` (`/package.Service/Method`, such as
    /// `/notes.v1.Notes/List`) need a token that meets `requirement`.
    ///
    /// Fails when the path is not a gRPC method path, is already in the table,
    /// or no token could meet the requirement (see [`Requirement::validate`]).
    pub fn method(
        self,
        path: impl Into<String>,
        requirement: Requirement,
    ) -> Result<Self, ConfigError> {
        let path = path.into();
        // The path is configuration, so it is a bounded metrics label.
        let policy = Policy::Token(self.table.base.require(requirement)?.name(path.clone()));
        self.insert(path, policy)
    }

    /// Calls to `path`, such as `/grpc.health.v1.Health/Check`, pass untouched:
    /// a token, if sent, is not read, and the method gets no claims. Fails when the path is not a gRPC method
    /// path or is already in the table.
    pub fn public(self, path: impl Into<String>) -> Result<Self, ConfigError> {
        self.insert(path.into(), Policy::Public)
    }

    /// Calls to methods the table does not name need a token that meets
    /// `requirement`, instead of being refused. Fails when no token could meet
    /// it.
    pub fn default(mut self, requirement: Requirement) -> Result<Self, ConfigError> {
        // Never the request's path: that would let callers grow the label set.
        let policy = Policy::Token(self.table.base.require(requirement)?.name("default"));
        Arc::make_mut(&mut self.table).default = Some(policy);
        Ok(self)
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        self.table.base.verifier()
    }

    fn insert(mut self, path: String, policy: Policy) -> Result<Self, ConfigError> {
        check_path(&path)?;
        match Arc::make_mut(&mut self.table).methods.entry(path) {
            Entry::Occupied(entry) => Err(ConfigError::new(
                ConfigErrorKind::InvalidGrpcMethod,
                format!("gRPC method {:?} is named twice", entry.key()),
            )),
            Entry::Vacant(entry) => {
                entry.insert(policy);
                Ok(self)
            }
        }
    }
}

impl Table {
    fn find(&self, path: &str) -> Option<&Policy> {
        self.methods.get(path).or(self.default.as_ref())
    }
}

/// A gRPC method path: `/`, a service name (protobuf identifiers joined by
/// dots, package first), `/`, a method name (one identifier).
fn check_path(path: &str) -> Result<(), ConfigError> {
    fn identifier(s: &str) -> bool {
        s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    }
    let valid = path.strip_prefix('/').is_some_and(|rest| {
        rest.split_once('/').is_some_and(|(service, method)| {
            service.split('.').all(identifier) && identifier(method)
        })
    });
    if valid {
        Ok(())
    } else {
        Err(ConfigError::new(
            ConfigErrorKind::InvalidGrpcMethod,
            format!("{path:?} is not a gRPC method path such as \"/package.Service/Method\""),
        ))
    }
}

middleware_service! {
    /// The service made by [`GrpcAuthLayer`].
    pub struct GrpcAuth<S>, made by GrpcAuthLayer {
        table: Arc<Table>,
    }
    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let table = &*self.table;
        match table.find(request.uri().path()) {
            Some(Policy::Token(auth)) => {
                auth::admit(&mut self.inner, auth.verifier(), &auth.route, request)
            }
            Some(Policy::Public) => ResponseFuture::pass(&mut self.inner, request),
            None => {
                let error = AuthError::new(
                    AuthErrorKind::UnknownOperation,
                    "the call is to a gRPC method the table does not name",
                );
                ResponseFuture::reject(&table.unknown, &table.base.route.responses, &error, &[])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::LocalUserPool;
    use http::Response;
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::{Layer, ServiceExt};

    #[test]
    fn method_paths() {
        for good in [
            "/notes.v1.Notes/List",
            "/Notes/List",
            "/grpc.health.v1.Health/Check",
            "/a_b.C1/_d",
        ] {
            assert!(check_path(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/",
            "notes.v1.Notes/List",
            "/notes.v1.Notes.List",
            "/notes.v1.Notes/",
            "//List",
            "/notes.v1.Notes/List/",
            "/notes.v1.Notes/List?x=1",
            "/notes..Notes/List",
            "/.Notes/List",
            "/notes.v1.Notes/Li st",
            "/1notes.Notes/List",
            "/notes.v1.Notes/*",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn table_is_checked_when_built() {
        let pool = LocalUserPool::start().await.unwrap();
        let layer = GrpcAuthLayer::new(pool.verifier());
        let layer = layer
            .method(
                "/notes.v1.Notes/List",
                Requirement::any_scope(["notes/read"]),
            )
            .unwrap();
        let twice = layer.clone().public("/notes.v1.Notes/List").unwrap_err();
        assert!(twice.message().contains("named twice"), "{twice}");
        let typo = layer.clone().public("notes.v1.Notes/Create").unwrap_err();
        assert!(typo.message().contains("not a gRPC method path"), "{typo}");
        let impossible = layer
            .clone()
            .method(
                "/notes.v1.Notes/Create",
                Requirement::any_scope(Vec::<String>::new()),
            )
            .unwrap_err();
        assert!(impossible.message().contains("no scopes"), "{impossible}");
        assert!(layer.default(Requirement::all_scopes(["a"])).is_ok());
    }

    /// Calls `path` through `layer` around a service that counts its calls;
    /// returns the `grpc-status` of the answer (`None`: the service answered).
    async fn status(
        layer: &GrpcAuthLayer,
        path: &str,
        token: Option<&str>,
        calls: &Arc<AtomicUsize>,
    ) -> Option<String> {
        let calls = Arc::clone(calls);
        let service = layer.layer(tower::service_fn(move |_: Request<()>| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, Infallible>(Response::new(())) }
        }));
        let mut request = Request::post(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = service.oneshot(request.body(()).unwrap()).await.unwrap();
        let status = response.headers().get("grpc-status");
        status.map(|s| s.to_str().unwrap().to_owned())
    }

    #[tokio::test]
    async fn methods_are_found_exactly_and_unknown_ones_refused() {
        let pool = LocalUserPool::start().await.unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let layer = GrpcAuthLayer::new(pool.verifier())
            .method(
                "/notes.v1.Notes/List",
                Requirement::any_scope(["notes/read"]),
            )
            .unwrap()
            .public("/grpc.health.v1.Health/Check")
            .unwrap();
        let reader = pool.access_token().scopes(["notes/read"]).sign();
        let id = pool.id_token().sign();
        let refused = |code: &str| Some(code.to_owned());

        let list = "/notes.v1.Notes/List";
        assert_eq!(status(&layer, list, Some(&reader), &calls).await, None);
        assert_eq!(status(&layer, list, Some(&id), &calls).await, refused("16"));
        assert_eq!(status(&layer, list, None, &calls).await, refused("16"));
        let health = "/grpc.health.v1.Health/Check";
        assert_eq!(status(&layer, health, None, &calls).await, None);
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        // Not exactly a listed path: unknown, even with a good token.
        for unknown in [
            "/notes.v1.Notes/Create",
            "/notes.v1.Notes/List/",
            "//notes.v1.Notes/List",
            "/notes.v1.notes/List",
            "/notes.v1.Notes/%4Cist",
            "/grpc.health.v1.Health/Watch",
            "/",
        ] {
            let got = status(&layer, unknown, Some(&reader), &calls).await;
            assert_eq!(got, refused("12"), "{unknown}");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        // A default covers methods not named, and only those.
        let layer = layer.default(Requirement::new()).unwrap();
        let create = "/notes.v1.Notes/Create";
        assert_eq!(status(&layer, create, Some(&id), &calls).await, None);
        assert_eq!(status(&layer, create, None, &calls).await, refused("16"));
        assert_eq!(status(&layer, list, Some(&id), &calls).await, refused("16"));
        assert_eq!(status(&layer, health, None, &calls).await, None);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }
}
