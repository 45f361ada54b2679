//! [`AuthorizerEvent`]: a TOKEN or a REQUEST authorizer event.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequest, ApiGatewayCustomAuthorizerRequestTypeRequest,
};
use serde::de::{Deserialize, Deserializer, Error as _};
use serde_json::Value;
use std::fmt;

/// The event API Gateway sends a REST API's Lambda authorizer, told apart by its
/// `type` (AWS's page "Input to an API Gateway Lambda authorizer").
///
/// Deserializing anything whose `type` is neither `TOKEN` nor `REQUEST` fails.
///
/// ```
/// use tower_cognito::lambda::AuthorizerEvent;
///
/// let event: AuthorizerEvent = serde_json::from_str(r#"{
///     "type": "TOKEN",
///     "authorizationToken": "eyJ...",
///     "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/POST/notes"
/// }"#).unwrap();
/// assert!(matches!(event, AuthorizerEvent::Token(_)));
/// assert_eq!(
///     event.method_arn(),
///     Some("arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/POST/notes")
/// );
/// // Debug never shows the token.
/// assert!(!format!("{event:?}").contains("eyJ"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum AuthorizerEvent {
    /// `"type": "TOKEN"`: the token source header's value in
    /// `authorizationToken`, and the `methodArn`.
    Token(ApiGatewayCustomAuthorizerRequest),
    /// `"type": "REQUEST"`: the request's headers, path, query string, stage
    /// variables and context, and the `methodArn`.
    Request(Box<ApiGatewayCustomAuthorizerRequestTypeRequest>),
}

impl AuthorizerEvent {
    /// The ARN of the method being called (`methodArn`).
    pub fn method_arn(&self) -> Option<&str> {
        match self {
            Self::Token(event) => event.method_arn.as_deref(),
            Self::Request(event) => event.method_arn.as_deref(),
        }
    }
}

impl fmt::Debug for AuthorizerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, has_token) = match self {
            Self::Token(event) => ("Token", event.authorization_token.is_some()),
            Self::Request(_) => ("Request", false),
        };
        let mut s = f.debug_struct(name);
        s.field("method_arn", &self.method_arn());
        if has_token {
            s.field("authorization_token", &"<redacted>");
        }
        if let Self::Request(event) = self {
            let names: Vec<&str> = event.headers.keys().map(|k| k.as_str()).collect();
            s.field("header_names", &names);
        }
        s.finish_non_exhaustive()
    }
}

impl<'de> Deserialize<'de> for AuthorizerEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        match value.get("type").and_then(Value::as_str) {
            Some("TOKEN") => serde_json::from_value(value)
                .map(Self::Token)
                .map_err(D::Error::custom),
            Some("REQUEST") => serde_json::from_value(value)
                .map(|event| Self::Request(Box::new(event)))
                .map_err(D::Error::custom),
            _ => Err(D::Error::custom(
                "not an API Gateway Lambda authorizer event: \"type\" is neither \"TOKEN\" nor \"REQUEST\"",
            )),
        }
    }
}

impl From<ApiGatewayCustomAuthorizerRequest> for AuthorizerEvent {
    fn from(event: ApiGatewayCustomAuthorizerRequest) -> Self {
        Self::Token(event)
    }
}

impl From<ApiGatewayCustomAuthorizerRequestTypeRequest> for AuthorizerEvent {
    fn from(event: ApiGatewayCustomAuthorizerRequestTypeRequest) -> Self {
        Self::Request(Box::new(event))
    }
}
