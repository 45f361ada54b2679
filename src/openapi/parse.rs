//! Reading an API Gateway export (OpenAPI 3 or Swagger 2.0, already parsed into
//! a JSON value) into user pools and routes.

use super::error::{ImportError, ImportErrorKind as Kind};
use super::options::ImportOptions;
use super::template;
use super::{Access, Route, RouteAuth};
use crate::auth::requirement::Requirement;
use crate::error::{ConfigError, ConfigErrorKind};
use crate::verifier::pool::UserPool;
use http::{HeaderName, Method};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// What a document yields.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) pools: Vec<UserPool>,
    pub(crate) routes: Vec<Route>,
    /// Whether the document is an HTTP API's (JWT authorizers, or the HTTP
    /// API export's `x-amazon-apigateway-importexport-version`).
    pub(crate) http_api: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavor {
    OpenApi3,
    Swagger2,
}

impl Flavor {
    fn schemes_location(self) -> &'static str {
        match self {
            Self::OpenApi3 => "components.securitySchemes",
            Self::Swagger2 => "securityDefinitions",
        }
    }
}

/// A security scheme, read once, judged when an operation uses it.
#[derive(Debug)]
enum Scheme {
    Cognito(CognitoScheme),
    /// An API key (`type: apiKey` without an authorizer): API Gateway's
    /// `apiKeyRequired`, which this crate cannot check.
    ApiKey,
    /// Another protection this crate cannot check (IAM, a Lambda authorizer, a
    /// JWT authorizer of another issuer than a Cognito pool, OAuth 2, ...),
    /// described for the error.
    Other(String),
    /// A Cognito authorizer that cannot work.
    Broken(Kind, String),
}

/// A Cognito authorizer: a REST API's `cognito_user_pools`, or an HTTP API's
/// `jwt` whose issuer is a Cognito user pool.
#[derive(Debug)]
struct CognitoScheme {
    pools: Vec<UserPool>,
    header: HeaderName,
    front: Front,
}

/// Which front door an authorizer belongs to, with what it adds to a route.
#[derive(Clone, Debug)]
enum Front {
    /// `cognito_user_pools`, with its optional token validation expression.
    Rest { aud: Option<String> },
    /// `jwt`, with its `jwtConfiguration.audience`.
    HttpApi { audiences: Vec<String> },
}

fn invalid(message: impl Into<String>) -> ImportError {
    ImportError::new(Kind::Invalid, message)
}

/// The import error for a requirement the definition describes but that does not
/// validate: a requirement no token could meet is a contradiction in the
/// definition, anything else a value of the wrong shape.
fn import_kind(kind: ConfigErrorKind) -> Kind {
    match kind {
        ConfigErrorKind::ContradictoryRequirement => Kind::Contradictory,
        _ => Kind::Invalid,
    }
}

fn from_config(error: &ConfigError) -> ImportError {
    ImportError::new(import_kind(error.kind()), error.message())
}

/// Reads the pools and routes out of a parsed document.
pub(crate) fn import(doc: &Value, options: &ImportOptions) -> Result<Parsed, ImportError> {
    let Some(doc) = doc.as_object() else {
        return Err(ImportError::new(
            Kind::Syntax,
            "the document is not an object",
        ));
    };
    let flavor = flavor(doc)?;
    // API Gateway and other tools read Swagger's `securityDefinitions` in
    // OpenAPI 3 documents too, and some exports keep their authorizers there.
    let mut schemes: HashMap<&str, Scheme> = HashMap::new();
    let mut seen: HashMap<&str, &Value> = HashMap::new();
    for (location, found) in [
        (
            "components.securitySchemes",
            doc.get("components").and_then(|c| c.get("securitySchemes")),
        ),
        ("securityDefinitions", doc.get("securityDefinitions")),
    ] {
        match found {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (name, value) in map {
                    if let Some(other) = seen.insert(name.as_str(), value)
                        && other != value
                    {
                        return Err(ImportError::new(
                            Kind::Contradictory,
                            format!(
                                "security scheme `{name}` is defined twice, differently, in \
                                 components.securitySchemes and securityDefinitions"
                            ),
                        ));
                    }
                    schemes.insert(name.as_str(), scheme(name, value, options));
                }
            }
            Some(_) => return Err(invalid(format!("`{location}` is not an object"))),
        }
    }
    for name in options.authorizer_pools.keys() {
        match schemes.get(name.as_str()) {
            Some(Scheme::Cognito(_)) => {}
            _ => {
                return Err(ImportError::new(
                    Kind::UnknownScheme,
                    format!(
                        "ImportOptions::authorizer_pool names `{name}`, which is not a \
                         cognito_user_pools or Cognito jwt authorizer of the definition"
                    ),
                ));
            }
        }
    }
    let fronts = |rest: bool| {
        let mut names: Vec<&str> = schemes
            .iter()
            .filter(|(_, scheme)| match scheme {
                Scheme::Cognito(c) => matches!(c.front, Front::Rest { .. }) == rest,
                _ => false,
            })
            .map(|(name, _)| *name)
            .collect();
        names.sort_unstable();
        names
    };
    let (rest_schemes, jwt_schemes) = (fronts(true), fronts(false));
    let http_api = !jwt_schemes.is_empty()
        || jwt_authorizers_elsewhere(&schemes)
        || doc.contains_key("x-amazon-apigateway-importexport-version");
    if http_api && let Some(rest) = rest_schemes.first() {
        return Err(ImportError::new(
            Kind::Contradictory,
            format!(
                "`{rest}` is a REST API's cognito_user_pools authorizer, but the document is an \
                 HTTP API's (jwt authorizers or x-amazon-apigateway-importexport-version): \
                 an API is one or the other"
            ),
        ));
    }
    let default_security = doc.get("security");
    let empty = Map::new();
    let paths = match doc.get("paths") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(paths)) => paths,
        Some(_) => return Err(invalid("`paths` is not an object")),
    };

    let mut importer = Importer {
        flavor,
        schemes: &schemes,
        options,
        pools: Vec::new(),
        routes: Vec::new(),
    };
    let mut templates: HashMap<String, &str> = HashMap::new();
    for (path, item) in paths {
        if path.starts_with("x-") {
            continue; // an extension of the Paths Object
        }
        let default = http_api && path == DEFAULT_ROUTE;
        let segments = if default {
            Vec::new()
        } else {
            template::parse(path).map_err(|why| invalid(why).at(path))?
        };
        if !default && let Some(other) = templates.insert(template::key(&segments), path) {
            return Err(ImportError::new(
                Kind::Contradictory,
                format!("paths `{other}` and `{path}` match the same requests"),
            )
            .at(path));
        }
        let Some(item) = item.as_object() else {
            return Err(invalid("the path item is not an object").at(path));
        };
        if item.contains_key("$ref") {
            return Err(invalid("path item references ($ref) are not supported").at(path));
        }
        for (name, operation) in item {
            let Some(method) = method(name) else {
                // Anything else would hide an operation, which would then be public.
                if PATH_ITEM_FIELDS.contains(&name.as_str()) || name.starts_with("x-") {
                    continue;
                }
                return Err(invalid(format!(
                    "the path item has the unknown field `{name}` (methods are lowercase: get, post, ...)"
                ))
                .at(path));
            };
            let label = label(method.as_ref(), path);
            if !operation.is_object() {
                return Err(invalid("the operation is not an object").at(label));
            }
            if default && method.is_some() {
                return Err(invalid(
                    "the $default route catches every method: HTTP API exports it as \
                     x-amazon-apigateway-any-method",
                )
                .at(label));
            }
            let access = importer
                .access(operation, default_security)
                .map_err(|e| e.at(&label))?;
            let route = Route {
                method,
                path: path.clone(),
                segments: segments.clone(),
                access,
                default,
            };
            if let Some(requirement) = route.requirement() {
                requirement
                    .validate()
                    .map_err(|e| from_config(&e).at(&label))?;
            }
            importer.routes.push(route);
        }
    }
    let mut routes = importer.routes;
    head_is_held_to_get(&routes)?;
    for path in &options.public_paths {
        let segments = template::parse(path).map_err(|why| invalid(why).at(path))?;
        if let Some(other) = templates.get(&template::key(&segments)) {
            return Err(ImportError::new(
                Kind::Contradictory,
                format!(
                    "ImportOptions::public_path `{path}` matches the same requests as the \
                     definition's `{other}`, which decides them"
                ),
            )
            .at(path));
        }
        templates.insert(template::key(&segments), path);
        routes.push(Route {
            method: None,
            path: path.clone(),
            segments,
            access: Access::Public,
            default: false,
        });
    }
    Ok(Parsed {
        pools: importer.pools,
        routes,
        http_api,
    })
}

/// The path an HTTP API export gives its `$default` route, which takes every
/// request no other route matches.
pub(crate) const DEFAULT_ROUTE: &str = "/$default";

/// Whether a scheme the crate cannot check is an HTTP API's JWT authorizer
/// (of another issuer): the document is an HTTP API's then too.
fn jwt_authorizers_elsewhere(schemes: &HashMap<&str, Scheme>) -> bool {
    schemes
        .values()
        .any(|s| matches!(s, Scheme::Other(what) if what.starts_with(JWT_OTHER_ISSUER)))
}

/// How a JWT authorizer of a non-Cognito issuer is described.
const JWT_OTHER_ISSUER: &str = "a jwt authorizer for the issuer";

/// Routers answer `HEAD` with the `GET` handler (axum does), so an operation
/// `HEAD` whose access differs from what a `GET` of the same path gets (its own
/// `GET`, or else `ANY`) could run the `GET` handler on weaker terms: refused.
fn head_is_held_to_get(routes: &[Route]) -> Result<(), ImportError> {
    for head in routes.iter().filter(|r| r.method == Some(Method::HEAD)) {
        let same_path = |r: &&Route| r.path == head.path;
        let get = routes
            .iter()
            .filter(same_path)
            .find(|r| r.method == Some(Method::GET))
            .or_else(|| routes.iter().filter(same_path).find(|r| r.method.is_none()));
        if let Some(get) = get
            && get.access != head.access
        {
            return Err(ImportError::new(
                Kind::Contradictory,
                format!(
                    "`{head}` and `{get}` differ in who may call them, but routers answer HEAD \
                     with the GET handler: give HEAD the same security as GET"
                ),
            )
            .at(head.to_string()));
        }
    }
    Ok(())
}

fn flavor(doc: &Map<String, Value>) -> Result<Flavor, ImportError> {
    // YAML reads an unquoted `3.0` or `2.0` as a number.
    let version = |name: &str| match doc.get(name) {
        Some(Value::String(v)) => Some(v.clone()),
        Some(Value::Number(v)) => Some(v.to_string()),
        _ => None,
    };
    if let Some(v) = version("openapi") {
        if v.starts_with("3.") || v == "3" {
            return Ok(Flavor::OpenApi3);
        }
        return Err(ImportError::new(
            Kind::Syntax,
            format!("OpenAPI version `{v}` is not supported; expected 3.x"),
        ));
    }
    if let Some(v) = version("swagger") {
        if v == "2.0" || v == "2" {
            return Ok(Flavor::Swagger2);
        }
        return Err(ImportError::new(
            Kind::Syntax,
            format!("Swagger version `{v}` is not supported; expected 2.0"),
        ));
    }
    Err(ImportError::new(
        Kind::Syntax,
        "the document has neither `openapi: 3.x` nor `swagger: \"2.0\"`",
    ))
}

/// The fields of a path item other than operations.
const PATH_ITEM_FIELDS: [&str; 4] = ["summary", "description", "servers", "parameters"];

/// The operation keys of a path item; `None` inside is API Gateway's ANY.
fn method(name: &str) -> Option<Option<Method>> {
    Some(Some(match name {
        "get" => Method::GET,
        "put" => Method::PUT,
        "post" => Method::POST,
        "delete" => Method::DELETE,
        "options" => Method::OPTIONS,
        "head" => Method::HEAD,
        "patch" => Method::PATCH,
        "trace" => Method::TRACE,
        "x-amazon-apigateway-any-method" => return Some(None),
        _ => return None,
    }))
}

/// `GET /pets/{petId}`, `ANY /files/{proxy+}`.
pub(crate) fn label(method: Option<&Method>, path: &str) -> String {
    format!("{} {path}", method.map_or("ANY", Method::as_str))
}

struct Importer<'a> {
    flavor: Flavor,
    schemes: &'a HashMap<&'a str, Scheme>,
    options: &'a ImportOptions,
    pools: Vec<UserPool>,
    routes: Vec<Route>,
}

/// What an operation's `security` list names, sorted by what the crate can do
/// with it.
#[derive(Default)]
struct Named<'a> {
    cognito: Vec<(&'a str, Vec<String>, &'a CognitoScheme)>,
    api_keys: Vec<&'a str>,
    others: Vec<(&'a str, &'a str)>,
}

impl<'a> Importer<'a> {
    /// Who may call an operation: its `x-amazon-apigateway-auth` and its
    /// effective `security` (its own, else the document's).
    fn access(
        &mut self,
        operation: &Value,
        default_security: Option<&Value>,
    ) -> Result<Access, ImportError> {
        let iam = match operation.get("x-amazon-apigateway-auth") {
            None | Some(Value::Null) => false,
            Some(auth) => match auth.get("type").and_then(Value::as_str) {
                Some(t) if t.eq_ignore_ascii_case("AWS_IAM") => true,
                // NONE beside a Cognito `security`: AWS does not say which wins,
                // so the stricter reading is kept: the authorizer applies.
                Some(t) if t.eq_ignore_ascii_case("NONE") => false,
                Some(t) => {
                    return Err(invalid(format!(
                        "x-amazon-apigateway-auth has the type `{t}`; API Gateway documents NONE and AWS_IAM"
                    )));
                }
                None => {
                    return Err(invalid(
                        "x-amazon-apigateway-auth is not an object with a string `type`",
                    ));
                }
            },
        };
        let named = match operation.get("security").or(default_security) {
            None | Some(Value::Null) => Named::default(),
            Some(security) => self.named(security)?,
        };
        if iam {
            return self.unenforceable("IAM authorization (x-amazon-apigateway-auth AWS_IAM)");
        }
        if let Some((name, what)) = named.others.first() {
            return self.unenforceable(&format!("`{name}`, which is {what}"));
        }
        let keys: Vec<&str> = named
            .api_keys
            .iter()
            .copied()
            .filter(|k| !self.options.ignored_api_keys.iter().any(|i| i == k))
            .collect();
        let cognito = match named.cognito.as_slice() {
            [] => None,
            [one] => Some(one),
            several => {
                let names: Vec<String> = several.iter().map(|(n, ..)| format!("`{n}`")).collect();
                return Err(ImportError::new(
                    Kind::SeveralSchemes,
                    format!(
                        "`security` names the authorizers {}; API Gateway takes one authorizer per method",
                        names.join(", ")
                    ),
                ));
            }
        };
        if let Some(key) = keys.first() {
            let with = cognito.map_or(String::new(), |(name, ..)| {
                format!(" as well as the authorizer `{name}`")
            });
            if self.options.refuse_unenforceable {
                return Ok(Access::Refused(format!("the API key `{key}`")));
            }
            return Err(ImportError::new(
                Kind::ApiKeyRequired,
                format!(
                    "requires the API key `{key}`{with}, which this crate cannot check; \
                     ImportOptions::ignore_api_key(\"{key}\") enforces only the authorizer \
                     (dropping the key check), refuse_unenforceable() refuses the operation"
                ),
            ));
        }
        let Some((name, scopes, scheme)) = cognito else {
            if let Some(key) = named.api_keys.first() {
                // Ignoring the key must not make the operation public.
                return self.unenforceable(&format!("the API key `{key}` alone"));
            }
            return Ok(Access::Public);
        };
        if matches!(scheme.front, Front::Rest { aud: Some(_) }) && !scopes.is_empty() {
            return Err(ImportError::new(
                Kind::Contradictory,
                format!(
                    "the method has scopes, so it takes access tokens, but authorizer `{name}` has a token \
                     validation expression on `aud`, which access tokens lack: API Gateway would refuse every call"
                ),
            ));
        }
        if let Front::HttpApi { .. } = scheme.front
            && let Some((pool, other)) = scheme.pools.iter().find_map(|pool| {
                self.pools
                    .iter()
                    .find(|p| p.id() == pool.id() && *p != pool)
                    .map(|other| (pool, other))
            })
        {
            return Err(ImportError::new(
                Kind::Contradictory,
                format!(
                    "authorizer `{name}` trusts the user pool `{}` as {pool:?}, another \
                     authorizer as {other:?}: one pool, one configuration",
                    pool.id()
                ),
            ));
        }
        let pools: Vec<usize> = scheme.pools.iter().map(|pool| self.pool(pool)).collect();
        let pool_ids = pools
            .iter()
            .map(|&i| self.pools[i].id().to_owned())
            .collect();
        let (aud, audiences) = match &scheme.front {
            Front::Rest { aud } => (aud.clone(), None),
            Front::HttpApi { audiences } => (None, Some(audiences.clone())),
        };
        Ok(Access::Cognito(RouteAuth {
            authorizer: (*name).to_owned(),
            pools,
            pool_ids,
            scopes: scopes.clone(),
            header: scheme.header.clone(),
            aud,
            audiences,
        }))
    }

    /// An operation behind a protection this crate cannot check: an import
    /// error, or refused when the options say so. Never public.
    fn unenforceable(&self, what: &str) -> Result<Access, ImportError> {
        if self.options.refuse_unenforceable {
            return Ok(Access::Refused(what.to_owned()));
        }
        Err(ImportError::new(
            Kind::UnsupportedAuthorizer,
            format!(
                "is protected by {what}; only cognito_user_pools authorizers and jwt authorizers \
                 of Cognito user pools can be checked (ImportOptions::refuse_unenforceable() \
                 imports it as refused: 403)"
            ),
        ))
    }

    /// Reads a `security` list. API Gateway exports its one authorizer and its
    /// API key requirement as separate entries (`[{Pool: []}, {api_key: []}]`)
    /// and means both, so every name is collected, whatever entry it is in. An
    /// empty entry (`{}`, anonymous access) and SAM's `NONE` marker make an
    /// operation public only when nothing else is named: beside an authorizer
    /// the stricter reading is kept.
    fn named(&self, security: &'a Value) -> Result<Named<'a>, ImportError> {
        let Some(list) = security.as_array() else {
            return Err(invalid("`security` is not a list"));
        };
        let mut named = Named::default();
        for entry in list {
            let Some(entry) = entry.as_object() else {
                return Err(invalid("a `security` entry is not an object"));
            };
            for (name, scopes) in entry {
                let scopes: Vec<String> = scopes
                    .as_array()
                    .and_then(|s| s.iter().map(|s| s.as_str().map(str::to_owned)).collect())
                    .ok_or_else(|| {
                        invalid(format!("the scopes of `{name}` are not a list of strings"))
                    })?;
                let Some(scheme) = self.schemes.get(name.as_str()) else {
                    if name == "NONE" {
                        continue; // SAM's marker for a public method
                    }
                    return Err(ImportError::new(
                        Kind::UnknownScheme,
                        format!(
                            "security scheme `{name}` is not defined in {}",
                            self.flavor.schemes_location()
                        ),
                    ));
                };
                let not_cognito = |what: &str| {
                    ImportError::new(
                        Kind::ScopesWithoutCognito,
                        format!(
                            "`security` lists scopes for `{name}`, which is {what}, not a cognito_user_pools authorizer"
                        ),
                    )
                };
                match scheme {
                    Scheme::Cognito(cognito) => {
                        if named.cognito.iter().any(|(n, ..)| n == name) {
                            return Err(ImportError::new(
                                Kind::SeveralSchemes,
                                format!("`security` names `{name}` twice"),
                            ));
                        }
                        named.cognito.push((name.as_str(), scopes, cognito));
                    }
                    Scheme::ApiKey if !scopes.is_empty() => return Err(not_cognito("an API key")),
                    Scheme::ApiKey => named.api_keys.push(name.as_str()),
                    Scheme::Other(what) if !scopes.is_empty() => return Err(not_cognito(what)),
                    Scheme::Other(what) => named.others.push((name.as_str(), what.as_str())),
                    Scheme::Broken(kind, why) => {
                        return Err(ImportError::new(
                            *kind,
                            format!("security scheme `{name}`: {why}"),
                        ));
                    }
                }
            }
        }
        Ok(named)
    }

    /// The index of this pool in the definition's pools, added on first use.
    fn pool(&mut self, pool: &UserPool) -> usize {
        match self.pools.iter().position(|p| p.id() == pool.id()) {
            Some(i) => i,
            None => {
                self.pools.push(pool.clone());
                self.pools.len() - 1
            }
        }
    }
}

/// Reads one entry of `securitySchemes` / `securityDefinitions`.
fn scheme(name: &str, value: &Value, options: &ImportOptions) -> Scheme {
    let Some(scheme) = value.as_object() else {
        return Scheme::Broken(Kind::Invalid, "is not an object".to_owned());
    };
    if scheme.contains_key("$ref") {
        return Scheme::Broken(
            Kind::Invalid,
            "references ($ref) are not supported".to_owned(),
        );
    }
    let kind = scheme.get("type").and_then(Value::as_str);
    let auth_type = scheme
        .get("x-amazon-apigateway-authtype")
        .and_then(Value::as_str);
    let Some(authorizer) = scheme.get("x-amazon-apigateway-authorizer") else {
        return match (auth_type, kind) {
            (Some(t), _) if t.eq_ignore_ascii_case("cognito_user_pools") => Scheme::Broken(
                Kind::Invalid,
                "declares x-amazon-apigateway-authtype cognito_user_pools but has no \
                 x-amazon-apigateway-authorizer object (with its providerARNs)"
                    .to_owned(),
            ),
            (Some(t), _) if t.eq_ignore_ascii_case("awsSigv4") => {
                Scheme::Other("IAM authorization (awsSigv4)".to_owned())
            }
            (Some(t), _) => Scheme::Other(format!(
                "an `{t}` scheme without an x-amazon-apigateway-authorizer object"
            )),
            (None, Some("apiKey")) => Scheme::ApiKey,
            (None, Some(t)) => Scheme::Other(format!("a `{t}` scheme")),
            (None, None) => Scheme::Other("a scheme without a type".to_owned()),
        };
    };
    let Some(authorizer) = authorizer.as_object() else {
        return Scheme::Broken(
            Kind::Invalid,
            "x-amazon-apigateway-authorizer is not an object".to_owned(),
        );
    };
    let Some(authorizer_type) = authorizer.get("type").and_then(Value::as_str) else {
        return Scheme::Broken(
            Kind::Invalid,
            "x-amazon-apigateway-authorizer has no `type`".to_owned(),
        );
    };
    let declared = Authorizer {
        name,
        scheme,
        authorizer,
        kind,
        auth_type,
        options,
    };
    if authorizer_type.eq_ignore_ascii_case("jwt") {
        return jwt(&declared).unwrap_or_else(|(kind, why)| Scheme::Broken(kind, why));
    }
    if !authorizer_type.eq_ignore_ascii_case("cognito_user_pools") {
        return Scheme::Other(format!("a `{authorizer_type}` authorizer"));
    }
    match cognito(&declared) {
        Ok(cognito) => Scheme::Cognito(cognito),
        Err((kind, why)) => Scheme::Broken(kind, why),
    }
}

/// A security scheme with an `x-amazon-apigateway-authorizer` object, as
/// [`scheme`] found it: what [`cognito`] and [`jwt`] read.
struct Authorizer<'a> {
    /// The scheme's name, as operations' `security` lists it.
    name: &'a str,
    scheme: &'a Map<String, Value>,
    authorizer: &'a Map<String, Value>,
    /// The scheme's `type`.
    kind: Option<&'a str>,
    /// Its `x-amazon-apigateway-authtype`.
    auth_type: Option<&'a str>,
    options: &'a ImportOptions,
}

impl Authorizer<'_> {
    /// `why` the pool cannot be read from the definition, with the way out
    /// when what it reads (`whose`, such as "ARNs are") is only filled in at
    /// deploy time.
    fn name_the_pool(&self, why: &str, whose: &str) -> String {
        format!(
            "{why}; if the definition comes from infrastructure code whose {whose} filled in \
             at deploy time, name the pool: \
             ImportOptions::authorizer_pool(\"{}\", UserPool::new(\"...\"))",
            self.name
        )
    }
}

fn cognito(a: &Authorizer<'_>) -> Result<CognitoScheme, (Kind, String)> {
    if let Some(t) = a.auth_type
        && !t.eq_ignore_ascii_case("cognito_user_pools")
    {
        return Err((
            Kind::Contradictory,
            format!(
                "x-amazon-apigateway-authtype is `{t}` but the authorizer's type is cognito_user_pools"
            ),
        ));
    }
    if let Some(t) = a.kind
        && t != "apiKey"
    {
        return Err((
            Kind::Invalid,
            format!("type is `{t}`; API Gateway declares a Cognito authorizer with type apiKey"),
        ));
    }
    let text = |map: &Map<String, Value>, field: &str| match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err((Kind::Invalid, format!("`{field}` is not a string"))),
    };
    if let Some(place) = text(a.scheme, "in")?
        && place != "header"
    {
        return Err((
            Kind::Invalid,
            format!(
                "the token is read from `{place}`; API Gateway's Cognito authorizer reads a header"
            ),
        ));
    }
    let name = text(a.scheme, "name")?;
    let source = match text(a.authorizer, "identitySource")? {
        None => None,
        Some(source) => match source.strip_prefix("method.request.header.") {
            Some(header) => Some(header.to_owned()),
            None => {
                return Err((
                    Kind::Invalid,
                    format!(
                        "identitySource `{source}` is not a request header (method.request.header.NAME)"
                    ),
                ));
            }
        },
    };
    let header = match (name, source) {
        (Some(name), Some(source)) if !name.eq_ignore_ascii_case(&source) => {
            return Err((
                Kind::Contradictory,
                format!("the header `name` is `{name}` but identitySource reads `{source}`"),
            ));
        }
        (Some(name), _) => name,
        (None, Some(source)) => source,
        (None, None) => "Authorization".to_owned(),
    };
    let header = header_name(&header)?;

    let pools = match a.options.authorizer_pools.get(a.name) {
        // Mapped by the user: the ARNs (placeholders, often) are not read.
        Some(pools) => pools.clone(),
        None => provider_pools(a.authorizer)
            .map_err(|why| (Kind::MalformedArn, a.name_the_pool(&why, "ARNs are")))?,
    };

    let aud = text(a.authorizer, "identityValidationExpression")?.filter(|e| !e.is_empty());
    if let Some(expression) = &aud {
        Requirement::new()
            .aud_matches(expression.clone())
            .validate()
            .map_err(|e| (import_kind(e.kind()), e.message().to_owned()))?;
    }
    Ok(CognitoScheme {
        pools,
        header,
        front: Front::Rest { aud },
    })
}

/// Reads an HTTP API's JWT authorizer (the "x-amazon-apigateway-authorizer
/// object" page: `type: jwt`, `jwtConfiguration` with `issuer` and
/// `audience`, `identitySource`; the scheme is `type: oauth2`, or
/// `openIdConnect` whose `openIdConnectUrl` gives the issuer). Its issuer
/// must be a Cognito user pool's, unless `ImportOptions::authorizer_pool`
/// names the pool; another issuer is a protection this crate cannot check.
fn jwt(a: &Authorizer<'_>) -> Result<Scheme, (Kind, String)> {
    if let Some(t) = a.auth_type {
        return Err((
            Kind::Contradictory,
            format!(
                "x-amazon-apigateway-authtype is `{t}` but the authorizer's type is jwt, which \
                 HTTP API exports declare without it"
            ),
        ));
    }
    let text = |map: &Map<String, Value>, field: &str| match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err((Kind::Invalid, format!("`{field}` is not a string"))),
    };
    let discovered = match a.kind {
        Some("oauth2") | None => None,
        Some("openIdConnect") => {
            let url = text(a.scheme, "openIdConnectUrl")?.ok_or_else(|| {
                (
                    Kind::Invalid,
                    "an openIdConnect scheme without openIdConnectUrl".to_owned(),
                )
            })?;
            match url.strip_suffix("/.well-known/openid-configuration") {
                Some(issuer) => Some(issuer.to_owned()),
                None => {
                    return Err((
                        Kind::Invalid,
                        format!(
                            "openIdConnectUrl `{url}` does not end in \
                             /.well-known/openid-configuration"
                        ),
                    ));
                }
            }
        }
        Some(t) => {
            return Err((
                Kind::Invalid,
                format!(
                    "type is `{t}`; API Gateway declares a JWT authorizer with type oauth2 \
                     (or openIdConnect)"
                ),
            ));
        }
    };
    let config = match a.authorizer.get("jwtConfiguration") {
        None | Some(Value::Null) => &Map::new(),
        Some(Value::Object(config)) => config,
        Some(_) => {
            return Err((
                Kind::Invalid,
                "jwtConfiguration is not an object".to_owned(),
            ));
        }
    };
    let issuer = match (text(config, "issuer")?, discovered) {
        (Some(issuer), Some(found)) if issuer != found => {
            return Err((
                Kind::Contradictory,
                format!(
                    "jwtConfiguration.issuer is `{issuer}` but openIdConnectUrl names `{found}`"
                ),
            ));
        }
        (Some(issuer), _) | (None, Some(issuer)) => issuer,
        (None, None) => {
            return Err((Kind::Invalid, "jwtConfiguration has no issuer".to_owned()));
        }
    };
    let audiences: Vec<String> = match config.get("audience") {
        Some(Value::Array(list)) => list
            .iter()
            .map(|a| a.as_str().filter(|a| !a.is_empty()).map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                (
                    Kind::Invalid,
                    "jwtConfiguration.audience has an entry that is not a non-empty string"
                        .to_owned(),
                )
            })?,
        None | Some(Value::Null) => Vec::new(),
        Some(_) => {
            return Err((
                Kind::Invalid,
                "jwtConfiguration.audience is not a list".to_owned(),
            ));
        }
    };
    if audiences.is_empty() {
        return Err((
            Kind::Invalid,
            "jwtConfiguration.audience lists no audience: every token would be refused".to_owned(),
        ));
    }
    let header = match text(a.authorizer, "identitySource")? {
        None => "Authorization".to_owned(),
        Some(source) => {
            let entries: Vec<&str> = source.split(',').map(str::trim).collect();
            let [entry] = entries[..] else {
                return Err((
                    Kind::Invalid,
                    format!(
                        "identitySource `{source}` lists several sources; a JWT authorizer \
                         reads one"
                    ),
                ));
            };
            match entry.strip_prefix("$request.header.") {
                Some(header) => header.to_owned(),
                None => {
                    return Err((
                        Kind::Invalid,
                        format!(
                            "identitySource `{entry}` is not a request header \
                             ($request.header.NAME); this crate reads the token from a header"
                        ),
                    ));
                }
            }
        }
    };
    let header = header_name(&header)?;
    let pools = match a.options.authorizer_pools.get(a.name) {
        Some(pools) => pools.clone(),
        None => match issuer_pool(&issuer) {
            Ok(Some(pool)) => vec![pool],
            Ok(None) => {
                return Ok(Scheme::Other(format!(
                    "{JWT_OTHER_ISSUER} `{issuer}`, which is not a Cognito user pool"
                )));
            }
            Err(why) => {
                return Err((Kind::Invalid, a.name_the_pool(&why, "issuer is")));
            }
        },
    };
    Ok(Scheme::Cognito(CognitoScheme {
        pools,
        header,
        front: Front::HttpApi { audiences },
    }))
}

/// The user pool of a JWT authorizer's issuer: `Ok(None)` for an issuer that
/// is not Cognito's. The pool trusts that issuer only, as HTTP API compares
/// `iss` with its one `issuer`.
fn issuer_pool(issuer: &str) -> Result<Option<UserPool>, String> {
    let bad = |why: &str| format!("issuer `{issuer}` {why}");
    let url = url::Url::parse(issuer).map_err(|_| bad("is not a URL"))?;
    let Some(host) = url.host_str() else {
        return Err(bad("has no host"));
    };
    let (form, region, china) = if let Some(rest) = host.strip_prefix("cognito-idp.") {
        ("cognito-idp", rest, false)
    } else if let Some(rest) = host.strip_prefix("issuer-cognito-idp.") {
        ("issuer-cognito-idp", rest, false)
    } else {
        return Ok(None);
    };
    let (region, china) = match (
        region.strip_suffix(".amazonaws.com"),
        region.strip_suffix(".amazonaws.com.cn"),
    ) {
        (Some(region), _) => (region, china),
        (None, Some(region)) => (region, true),
        (None, None) => return Ok(None),
    };
    if url.scheme() != "https"
        || url.query().is_some()
        || url.fragment().is_some()
        || url.port().is_some()
    {
        return Err(bad(
            "is not https://{host}/{poolId} without port, query or fragment",
        ));
    }
    let id = url.path().strip_prefix('/').unwrap_or_default();
    let alphanumeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    match id.split_once('_') {
        Some((prefix, rest)) if prefix == region && alphanumeric(rest) => {}
        _ => {
            return Err(bad(&format!(
                "does not end in a user pool id of region `{region}` (`{region}_AbCdEfGhI`)"
            )));
        }
    }
    // HTTP API compares `iss` with the issuer exactly: no trailing slash, no
    // other spelling of the host.
    if issuer != format!("https://{host}/{id}") {
        return Err(bad(&format!("is not spelled https://{host}/{id}")));
    }
    crate::verifier::pool::check_pool_id(id, false).map_err(|e| {
        bad(&format!(
            "names a pool the verifier refuses ({})",
            e.message()
        ))
    })?;
    let pool = UserPool::new(id.to_owned()).issuer(issuer.to_owned());
    Ok(Some(if form == "issuer-cognito-idp" {
        // The keys are published under the cognito-idp host.
        let domain = if china {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        pool.jwks_url(format!(
            "https://cognito-idp.{region}.{domain}/{id}/.well-known/jwks.json"
        ))
    } else {
        pool
    }))
}

/// The header an authorizer reads the token from, as named in the definition.
fn header_name(header: &str) -> Result<HeaderName, (Kind, String)> {
    HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
        (
            Kind::Invalid,
            format!("`{header}` is not a valid header name"),
        )
    })
}

/// The pools of an authorizer's `providerARNs`.
fn provider_pools(authorizer: &Map<String, Value>) -> Result<Vec<UserPool>, String> {
    let arns = authorizer
        .get("providerARNs")
        .and_then(Value::as_array)
        .filter(|arns| !arns.is_empty())
        .ok_or_else(|| "providerARNs does not list any user pool ARN".to_owned())?;
    arns.iter()
        .map(|arn| match arn.as_str() {
            Some(arn) => user_pool(arn),
            None => Err(format!("providerARNs has a non-string entry `{arn}`")),
        })
        .collect()
}

/// The pool of `arn:{partition}:cognito-idp:{region}:{account}:userpool/{poolId}`.
fn user_pool(arn: &str) -> Result<UserPool, String> {
    let bad = |why: &str| {
        format!(
            "provider ARN `{arn}` {why}; expected arn:aws:cognito-idp:{{region}}:{{account}}:userpool/{{poolId}}"
        )
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(bad("does not have six `:`-separated parts"));
    };
    if prefix != "arn" {
        return Err(bad("does not start with `arn:`"));
    }
    if !["aws", "aws-cn", "aws-us-gov"].contains(&partition) {
        return Err(bad(&format!("has the unknown partition `{partition}`")));
    }
    if service != "cognito-idp" {
        return Err(bad(&format!(
            "is for the service `{service}`, not `cognito-idp`"
        )));
    }
    let region_ok = region.contains('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && region
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_lowercase)
        && region.as_bytes().last().is_some_and(u8::is_ascii_digit);
    if !region_ok {
        return Err(bad(&format!(
            "has `{region}` where a region such as `us-east-1` belongs"
        )));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(&format!(
            "has `{account}` where a 12-digit account id belongs"
        )));
    }
    let Some(id) = resource.strip_prefix("userpool/") else {
        return Err(bad("does not name a user pool (`userpool/{poolId}`)"));
    };
    let alphanumeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    let id = match id.split_once('_') {
        Some((prefix, rest)) if prefix == region && alphanumeric(rest) => id.to_owned(),
        Some((prefix, _)) if prefix != region => {
            return Err(bad(&format!(
                "names the pool `{id}`, which is not in region `{region}`"
            )));
        }
        None if alphanumeric(id) => format!("{region}_{id}"),
        _ => {
            return Err(bad(&format!(
                "has `{id}` where a pool id such as `{region}_AbCdEfGhI` belongs"
            )));
        }
    };
    // The verifier's own validation of the id, so that what imports also builds.
    crate::verifier::pool::check_pool_id(&id, false).map_err(|e| {
        bad(&format!(
            "names a pool the verifier refuses ({})",
            e.message()
        ))
    })?;
    let pool = UserPool::new(id.clone());
    Ok(if partition == "aws-cn" {
        pool.issuer(format!(
            "https://cognito-idp.{region}.amazonaws.com.cn/{id}"
        ))
    } else {
        pool
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers() {
        let pool = |issuer: &str| issuer_pool(issuer).unwrap().unwrap();
        let plain = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI";
        assert_eq!(
            pool(plain),
            UserPool::new("us-east-1_AbCdEfGhI").issuer(plain)
        );
        let china = "https://cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_AbC";
        assert_eq!(pool(china), UserPool::new("cn-north-1_AbC").issuer(china));
        let new_form = "https://issuer-cognito-idp.eu-west-2.amazonaws.com/eu-west-2_X1";
        assert_eq!(
            pool(new_form),
            UserPool::new("eu-west-2_X1").issuer(new_form).jwks_url(
                "https://cognito-idp.eu-west-2.amazonaws.com/eu-west-2_X1/.well-known/jwks.json"
            )
        );
        for other in [
            "https://example.auth0.com/",
            "https://login.microsoftonline.com/tenant/v2.0",
            "https://cognito-idp.us-east-1.example.com/us-east-1_A",
        ] {
            assert_eq!(issuer_pool(other), Ok(None), "{other}");
        }
        for (bad, why) in [
            ("not a url", "is not a URL"),
            (
                "https://cognito-idp.${AWS::Region}.amazonaws.com/${Pool}",
                "is not a URL",
            ),
            (
                "http://cognito-idp.us-east-1.amazonaws.com/us-east-1_A",
                "https://",
            ),
            (
                "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_A?x",
                "query",
            ),
            (
                "https://cognito-idp.us-east-1.amazonaws.com:444/us-east-1_A",
                "port",
            ),
            (
                "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_A/",
                "user pool id",
            ),
            (
                "https://cognito-idp.us-east-1.amazonaws.com/eu-west-1_A",
                "region `us-east-1`",
            ),
            (
                "https://cognito-idp.us-east-1.amazonaws.com/",
                "user pool id",
            ),
            (
                "https://COGNITO-IDP.us-east-1.amazonaws.com/us-east-1_A",
                "is not spelled",
            ),
            (
                &format!(
                    "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_{}",
                    "X".repeat(200)
                ),
                "longer than 128",
            ),
        ] {
            let err = issuer_pool(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn arns() {
        let pool =
            user_pool("arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbCdEfGhI")
                .unwrap();
        assert_eq!(pool.id(), "us-east-1_AbCdEfGhI");
        let pool = user_pool("arn:aws:cognito-idp:eu-west-2:123456789012:userpool/AbC123").unwrap();
        assert_eq!(pool.id(), "eu-west-2_AbC123");
        assert!(
            user_pool("arn:aws-cn:cognito-idp:cn-north-1:123456789012:userpool/cn-north-1_AbC")
                .is_ok()
        );
        for (arn, why) in [
            ("arn:aws:cognito-idp:us-east-1:123456789012", "six"),
            (
                "urn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_A",
                "start with",
            ),
            (
                "arn:azure:cognito-idp:us-east-1:123456789012:userpool/us-east-1_A",
                "partition",
            ),
            (
                "arn:aws:cognito-identity:us-east-1:123456789012:userpool/us-east-1_A",
                "service",
            ),
            (
                "arn:aws:cognito-idp:{region}:123456789012:userpool/us-east-1_A",
                "region",
            ),
            (
                "arn:aws:cognito-idp:us-east-1:1234:userpool/us-east-1_A",
                "12-digit",
            ),
            (
                "arn:aws:cognito-idp:us-east-1:123456789012:identitypool/us-east-1_A",
                "does not name",
            ),
            (
                "arn:aws:cognito-idp:us-east-1:123456789012:userpool/eu-west-1_A",
                "not in region",
            ),
            (
                "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_",
                "pool id",
            ),
            (
                "arn:aws:cognito-idp:us-east-1:123456789012:userpool/",
                "pool id",
            ),
            (
                "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_A/b",
                "pool id",
            ),
            // Found by the openapi_import fuzz target: an id the ARN's own rules
            // allow but the verifier refuses must not import.
            (
                &format!(
                    "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_{}",
                    "X".repeat(200)
                ),
                "longer than 128",
            ),
            (
                &format!(
                    "arn:aws:cognito-idp:{0}:123456789012:userpool/{0}_A",
                    format!("us-east-{}1", "x".repeat(40))
                ),
                "verifier refuses",
            ),
        ] {
            let err = user_pool(arn).unwrap_err();
            assert!(err.contains(why), "{arn}: {err}");
        }
    }
}
