//! The Tower middleware: [`CognitoAuthLayer`] and its [`CognitoAuth`] service.

mod body;
mod future;
mod layer;
mod service;
mod source;

pub use body::ResponseBody;
pub use future::ResponseFuture;
#[cfg(any(feature = "openapi", feature = "grpc"))]
pub(crate) use future::admit;
pub use layer::CognitoAuthLayer;
#[cfg(feature = "alb")]
pub(crate) use layer::RouteConfig;
pub use service::CognitoAuth;
#[cfg(feature = "lambda")]
pub(crate) use source::token;
pub use source::{RequestHead, TokenSource};
