//! The Tower middleware: [`CognitoAuthLayer`] and its [`CognitoAuth`] service,
//! on top of `crate::verifier`: reading the token from the request
//! (`token_source`), what a route requires (`requirement`), the answers to
//! refused requests (`response`) and the front door's rules (`profile`).

mod body;
mod future;
mod layer;
pub(crate) mod profile;
pub(crate) mod requirement;
pub(crate) mod response;
mod service;
mod token_source;

pub use body::ResponseBody;
pub use future::ResponseFuture;
#[cfg(any(feature = "openapi", feature = "grpc"))]
pub(crate) use future::admit;
pub use layer::CognitoAuthLayer;
#[cfg(feature = "alb")]
pub(crate) use layer::RouteConfig;
pub(crate) use layer::route_setters;
pub use profile::Profile;
pub use requirement::{Requirement, TokenUseRule};
pub use response::Responses;
pub use service::CognitoAuth;
pub(crate) use service::middleware_service;
#[cfg(feature = "lambda")]
pub(crate) use token_source::token;
pub use token_source::{RequestHead, TokenSource};
