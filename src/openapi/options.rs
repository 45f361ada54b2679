//! [`ImportOptions`]: what an import is told beyond the definition itself.

use super::error::{ImportError, ImportErrorKind};
use super::{ApiDefinition, parse};
use crate::verifier::pool::UserPool;
use std::collections::HashMap;
use std::path::Path;

/// How to import an API definition; made by [`ApiDefinition::options`].
///
/// ```
/// use tower_cognito::UserPool;
/// use tower_cognito::openapi::ApiDefinition;
///
/// # fn demo(text: &str) -> Result<ApiDefinition, tower_cognito::openapi::ImportError> {
/// let api = ApiDefinition::options()
///     // A SAM template's `${UserPool.Arn}`: say which pool the authorizer is.
///     .authorizer_pool("CognitoAuthorizer", UserPool::new("us-east-1_AbCdEfGhI"))
///     // Served by the router but not in the definition: public, by name.
///     .public_path("/health")
///     .from_yaml(text)?;
/// # Ok(api) }
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct ImportOptions {
    pub(crate) authorizer_pools: HashMap<String, Vec<UserPool>>,
    pub(crate) public_paths: Vec<String>,
    pub(crate) refuse_unenforceable: bool,
    pub(crate) ignored_api_keys: Vec<String>,
}

impl ImportOptions {
    /// Takes tokens of `pool` for the authorizer (security scheme) `name`,
    /// in place of its `providerARNs`. For definitions from infrastructure code,
    /// whose ARNs are placeholders (`${UserPool.Arn}`, `Fn::GetAtt`) until
    /// deployed; call it again to add more pools to the same authorizer.
    pub fn authorizer_pool(mut self, name: impl Into<String>, pool: UserPool) -> Self {
        self.authorizer_pools
            .entry(name.into())
            .or_default()
            .push(pool);
        self
    }

    /// Lets requests whose path matches `template` through without a token
    /// (any method), although the definition does not list it: a health check
    /// or static files the router serves beside the API. Written like the
    /// definition's paths (`/health`, `/static/{proxy+}`; axum's `{*rest}` is
    /// taken too). Every other request the definition does not list is refused
    /// as API Gateway refuses it (403 `Missing Authentication Token`).
    ///
    /// A template the definition lists already is an import error: the
    /// definition decides its own paths.
    pub fn public_path(mut self, template: impl Into<String>) -> Self {
        self.public_paths.push(template.into());
        self
    }

    /// Imports operations protected by an authorizer this crate cannot check
    /// (IAM, an API key, a Lambda authorizer, another kind of scheme) as refused:
    /// every request to them gets 403 and never reaches the inner service.
    /// Without this, such an operation is an import error. Either way it is
    /// never public.
    pub fn refuse_unenforceable(mut self) -> Self {
        self.refuse_unenforceable = true;
        self
    }

    /// Enforces only the Cognito authorizer of operations that require both it
    /// and the API key scheme `name` (API Gateway exports an API key
    /// requirement as `[{Cognito: []}, {api_key: []}]`).
    ///
    /// **This drops the API key check**: the crate cannot check API keys, so
    /// a caller with a valid token but no key gets through. Use it when
    /// something else checks the keys, or when the keys were only for usage
    /// plans. An operation whose only protection is the API key stays
    /// unenforceable: it is not made public.
    pub fn ignore_api_key(mut self, name: impl Into<String>) -> Self {
        self.ignored_api_keys.push(name.into());
        self
    }

    /// Imports a definition in JSON.
    pub fn from_json(&self, text: &str) -> Result<ApiDefinition, ImportError> {
        let value = serde_json::from_str(text).map_err(|e| {
            ImportError::new(ImportErrorKind::Syntax, format!("not valid JSON: {e}"))
        })?;
        self.import_value(&value)
    }

    /// Imports a definition in YAML.
    pub fn from_yaml(&self, text: &str) -> Result<ApiDefinition, ImportError> {
        let value = serde_yaml_ng::from_str(text).map_err(|e| {
            ImportError::new(ImportErrorKind::Syntax, format!("not valid YAML: {e}"))
        })?;
        self.import_value(&value)
    }

    /// Imports a definition in JSON (when it starts with `{`) or YAML.
    pub fn parse(&self, text: &str) -> Result<ApiDefinition, ImportError> {
        if text.trim_start().starts_with('{') {
            self.from_json(text)
        } else {
            self.from_yaml(text)
        }
    }

    /// Reads and imports a definition file: JSON for `.json`, YAML for `.yaml`
    /// and `.yml`, else as [`parse`](Self::parse) decides.
    pub fn from_path(&self, path: impl AsRef<Path>) -> Result<ApiDefinition, ImportError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ImportError::new(
                ImportErrorKind::Read,
                format!("cannot read `{}`: {e}", path.display()),
            )
        })?;
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("json") => self.from_json(&text),
            Some("yaml" | "yml") => self.from_yaml(&text),
            _ => self.parse(&text),
        }
    }

    fn import_value(&self, value: &serde_json::Value) -> Result<ApiDefinition, ImportError> {
        parse::import(value, self).map(ApiDefinition::new)
    }
}
