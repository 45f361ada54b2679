use super::future;
use super::layer::{CognitoAuthLayer, RouteConfig};
use crate::verifier::Verifier;
use std::sync::Arc;

/// Writes what the services of this crate's layers (`CognitoAuth`, and the
/// route table's, gRPC's and the load balancer's) have alike:
/// - the struct, given with its fields but `inner: S`, deriving `Clone`, and
///   `Debug` unless it is declared `with its own Debug`;
/// - the [`Layer`](tower_layer::Layer) of the layer named after `made by`,
///   which clones each field from the layer's field of the same name;
/// - `get_ref`, `get_mut` and `into_inner`;
/// - a [`Service`](tower_service::Service) of `Request<ReqBody>` that is ready
///   when the inner service is and answers with a
///   [`ResponseFuture`](crate::ResponseFuture), deciding each request with the
///   `fn call` given last.
macro_rules! middleware_service {
    (
        $(#[$attr:meta])*
        pub struct $name:ident<S>, made by $layer:ident { $($fields:tt)* }
        $($call:tt)*
    ) => {
        $crate::auth::middleware_service! {
            @ $(#[$attr])* #[derive(Clone, Debug)]
            pub struct $name<S>, made by $layer { $($fields)* }
            $($call)*
        }
    };
    (
        $(#[$attr:meta])*
        pub struct $name:ident<S>, made by $layer:ident, with its own Debug { $($fields:tt)* }
        $($call:tt)*
    ) => {
        $crate::auth::middleware_service! {
            @ $(#[$attr])* #[derive(Clone)]
            pub struct $name<S>, made by $layer { $($fields)* }
            $($call)*
        }
    };
    (
        @ $(#[$attr:meta])*
        pub struct $name:ident<S>, made by $layer:ident {
            $($field:ident: $ty:ty),* $(,)?
        }
        $($call:tt)*
    ) => {
        $(#[$attr])*
        pub struct $name<S> {
            inner: S,
            $($field: $ty,)*
        }

        impl<S> ::tower_layer::Layer<S> for $layer {
            type Service = $name<S>;

            fn layer(&self, inner: S) -> Self::Service {
                $name {
                    inner,
                    $($field: self.$field.clone(),)*
                }
            }
        }

        impl<S> $name<S> {
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

        impl<S, ReqBody, ResBody> ::tower_service::Service<::http::Request<ReqBody>> for $name<S>
        where
            S: ::tower_service::Service<
                    ::http::Request<ReqBody>,
                    Response = ::http::Response<ResBody>,
                > + Clone,
        {
            type Response = ::http::Response<$crate::ResponseBody<ResBody>>;
            type Error = S::Error;
            type Future = $crate::ResponseFuture<S, ReqBody>;

            fn poll_ready(
                &mut self,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::result::Result<(), Self::Error>> {
                ::tower_service::Service::poll_ready(&mut self.inner, cx)
            }

            $($call)*
        }
    };
}

pub(crate) use middleware_service;

middleware_service! {
    /// The service made by [`CognitoAuthLayer`].
    pub struct CognitoAuth<S>, made by CognitoAuthLayer {
        verifier: Verifier,
        route: Arc<RouteConfig>,
    }
    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        future::admit(&mut self.inner, &self.verifier, &self.route, request)
    }
}
