//! [`ImportError`]: why a definition could not be imported.

use crate::error::display_as_str;
use std::fmt;

/// Why an API definition could not be imported. Its `Display` names the
/// operation concerned, such as `GET /pets/{petId}`, when there is one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", At(.operation.as_deref()))]
pub struct ImportError {
    kind: ImportErrorKind,
    operation: Option<String>,
    message: String,
}

/// The kind of an [`ImportError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ImportErrorKind {
    /// The file could not be read.
    Read,
    /// The text is not JSON or YAML, or not an OpenAPI 3 or Swagger 2.0 document.
    Syntax,
    /// An operation is protected by something other than a `cognito_user_pools`
    /// authorizer (a Lambda authorizer, IAM, OAuth 2, ...), which this crate
    /// cannot check; see
    /// [`ImportOptions::refuse_unenforceable`](super::ImportOptions::refuse_unenforceable).
    UnsupportedAuthorizer,
    /// An operation names a security scheme the document does not define.
    UnknownScheme,
    /// An operation requires several schemes together, or offers alternatives;
    /// API Gateway takes one authorizer per method.
    SeveralSchemes,
    /// An operation lists OAuth scopes for a scheme that is not a Cognito user
    /// pool authorizer.
    ScopesWithoutCognito,
    /// An operation requires an API key (API Gateway's `apiKeyRequired`), which
    /// this crate cannot check; see
    /// [`ImportOptions::ignore_api_key`](super::ImportOptions::ignore_api_key).
    ApiKeyRequired,
    /// A `providerARNs` entry is not a Cognito user pool ARN
    /// (`arn:aws:cognito-idp:{region}:{account}:userpool/{poolId}`).
    MalformedArn,
    /// Two parts of the definition disagree: the scheme's header `name` and the
    /// authorizer's `identitySource`, two path templates that match the same
    /// requests, or a token validation expression on an operation with scopes
    /// (access tokens have no `aud`, so API Gateway would refuse every call).
    Contradictory,
    /// A value has the wrong shape: a path template, a header name, a scope, a
    /// token validation expression that does not compile, a field of the wrong type.
    Invalid,
}

impl ImportErrorKind {
    /// A short, fixed description of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "cannot read the definition",
            Self::Syntax => "not an OpenAPI or Swagger document",
            Self::UnsupportedAuthorizer => "unsupported authorizer",
            Self::UnknownScheme => "unknown security scheme",
            Self::SeveralSchemes => "several security schemes",
            Self::ScopesWithoutCognito => "scopes on a scheme that is not a Cognito authorizer",
            Self::ApiKeyRequired => "API key required",
            Self::MalformedArn => "malformed user pool ARN",
            Self::Contradictory => "contradictory definition",
            Self::Invalid => "invalid definition",
        }
    }
}

display_as_str!(ImportErrorKind);

impl ImportError {
    pub(crate) fn new(kind: ImportErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            operation: None,
            message: message.into(),
        }
    }

    pub(crate) fn at(mut self, operation: impl Into<String>) -> Self {
        self.operation = Some(operation.into());
        self
    }

    /// The kind of problem.
    pub fn kind(&self) -> ImportErrorKind {
        self.kind
    }

    /// The operation concerned, such as `GET /pets/{petId}` (`ANY` for API
    /// Gateway's `x-amazon-apigateway-any-method`), or the path for a problem
    /// with a path template.
    pub fn operation(&self) -> Option<&str> {
        self.operation.as_deref()
    }

    /// What is wrong, in words, without the operation.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The `{operation}: ` that starts an [`ImportError`]'s `Display`, if it has one.
struct At<'a>(Option<&'a str>);

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(operation) => write!(f, "{operation}: "),
            None => Ok(()),
        }
    }
}
