//! Reading an API Gateway export (OpenAPI 3 or Swagger 2.0, already parsed into
//! a JSON value) into user pools and routes.

use super::error::{ImportError, ImportErrorKind as Kind};
use super::template;
use super::{Route, RouteAuth};
use crate::pool::UserPool;
use crate::requirement::Requirement;
use http::{HeaderName, Method};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// What a document yields.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) pools: Vec<UserPool>,
    pub(crate) routes: Vec<Route>,
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
    /// Something other than a Cognito authorizer, described for the error.
    Other(String),
    /// A Cognito authorizer that cannot work.
    Broken(Kind, String),
}

#[derive(Debug)]
struct CognitoScheme {
    pools: Vec<UserPool>,
    header: HeaderName,
    aud: Option<String>,
}

fn invalid(message: impl Into<String>) -> ImportError {
    ImportError::new(Kind::Invalid, message)
}

/// Reads the pools and routes out of a parsed document.
pub(crate) fn import(doc: &Value) -> Result<Parsed, ImportError> {
    let Some(doc) = doc.as_object() else {
        return Err(ImportError::new(
            Kind::Syntax,
            "the document is not an object",
        ));
    };
    let flavor = flavor(doc)?;
    let schemes = match flavor {
        Flavor::OpenApi3 => doc.get("components").and_then(|c| c.get("securitySchemes")),
        Flavor::Swagger2 => doc.get("securityDefinitions"),
    };
    let schemes: HashMap<&str, Scheme> = match schemes {
        None | Some(Value::Null) => HashMap::new(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(name, value)| (name.as_str(), scheme(value)))
            .collect(),
        Some(_) => {
            return Err(invalid(format!(
                "`{}` is not an object",
                flavor.schemes_location()
            )));
        }
    };
    let default_security = doc.get("security");
    let paths = match doc.get("paths") {
        None | Some(Value::Null) => {
            return Ok(Parsed {
                pools: Vec::new(),
                routes: Vec::new(),
            });
        }
        Some(Value::Object(paths)) => paths,
        Some(_) => return Err(invalid("`paths` is not an object")),
    };

    let mut importer = Importer {
        flavor,
        schemes: &schemes,
        pools: Vec::new(),
        routes: Vec::new(),
    };
    let mut templates: HashMap<String, &str> = HashMap::new();
    for (path, item) in paths {
        if path.starts_with("x-") {
            continue; // an extension of the Paths Object
        }
        let segments = template::parse(path).map_err(|why| invalid(why).at(path))?;
        if let Some(other) = templates.insert(template::key(&segments), path) {
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
            let security = operation.get("security").or(default_security);
            let auth = match security {
                None => None,
                Some(security) => importer.security(security).map_err(|e| e.at(&label))?,
            };
            let route = Route {
                method,
                path: path.clone(),
                segments: segments.clone(),
                auth,
            };
            if let Some(requirement) = route.requirement() {
                requirement
                    .validate()
                    .map_err(|e| invalid(e.message().to_owned()).at(&label))?;
            }
            importer.routes.push(route);
        }
    }
    Ok(Parsed {
        pools: importer.pools,
        routes: importer.routes,
    })
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
    pools: Vec<UserPool>,
    routes: Vec<Route>,
}

impl Importer<'_> {
    /// What an operation's effective `security` list asks for: `None` is public.
    fn security(&mut self, security: &Value) -> Result<Option<RouteAuth>, ImportError> {
        let Some(list) = security.as_array() else {
            return Err(invalid("`security` is not a list"));
        };
        let mut requirements = Vec::new();
        let mut anonymous = false;
        for entry in list {
            match entry.as_object() {
                Some(entry) if entry.is_empty() => anonymous = true,
                Some(entry) => requirements.push(entry),
                None => return Err(invalid("a `security` entry is not an object")),
            }
        }
        let requirement = match requirements.as_slice() {
            [] => return Ok(None),
            [one] => *one,
            several => {
                let names: Vec<String> = several
                    .iter()
                    .flat_map(|r| r.keys())
                    .map(|n| format!("`{n}`"))
                    .collect();
                return Err(ImportError::new(
                    Kind::SeveralSchemes,
                    format!(
                        "`security` offers {} alternatives ({}); API Gateway takes one authorizer per method",
                        several.len(),
                        names.join(", ")
                    ),
                ));
            }
        };
        if requirement.len() > 1 {
            let names: Vec<String> = requirement.keys().map(|n| format!("`{n}`")).collect();
            return Err(ImportError::new(
                Kind::SeveralSchemes,
                format!(
                    "`security` requires the schemes {} together; API Gateway takes one authorizer per method",
                    names.join(", ")
                ),
            ));
        }
        let Some((name, scopes)) = requirement.iter().next() else {
            unreachable!("an empty requirement is anonymous access");
        };
        if anonymous {
            return Err(ImportError::new(
                Kind::SeveralSchemes,
                format!(
                    "`security` offers anonymous access (`{{}}`) as an alternative to `{name}`; \
                     API Gateway takes one authorizer per method"
                ),
            ));
        }
        let scopes: Vec<String> = scopes
            .as_array()
            .and_then(|s| s.iter().map(|s| s.as_str().map(str::to_owned)).collect())
            .ok_or_else(|| invalid(format!("the scopes of `{name}` are not a list of strings")))?;
        let Some(scheme) = self.schemes.get(name.as_str()) else {
            return Err(ImportError::new(
                Kind::UnknownScheme,
                format!(
                    "security scheme `{name}` is not defined in {}",
                    self.flavor.schemes_location()
                ),
            ));
        };
        let cognito = match scheme {
            Scheme::Cognito(cognito) => cognito,
            Scheme::Other(what) if !scopes.is_empty() => {
                return Err(ImportError::new(
                    Kind::ScopesWithoutCognito,
                    format!(
                        "`security` lists scopes for `{name}`, which is {what}, not a cognito_user_pools authorizer"
                    ),
                ));
            }
            Scheme::Other(what) => {
                return Err(ImportError::new(
                    Kind::UnsupportedAuthorizer,
                    format!(
                        "uses `{name}`, which is {what}; only cognito_user_pools authorizers are supported"
                    ),
                ));
            }
            Scheme::Broken(kind, why) => {
                return Err(ImportError::new(
                    *kind,
                    format!("security scheme `{name}`: {why}"),
                ));
            }
        };
        if cognito.aud.is_some() && !scopes.is_empty() {
            return Err(ImportError::new(
                Kind::Contradictory,
                format!(
                    "the method has scopes, so it takes access tokens, but authorizer `{name}` has a token \
                     validation expression on `aud`, which access tokens lack: API Gateway would refuse every call"
                ),
            ));
        }
        let pools = cognito.pools.iter().map(|pool| self.pool(pool)).collect();
        let mut auth = RouteAuth {
            authorizer: name.clone(),
            pools,
            pool_ids: Vec::new(),
            scopes,
            header: cognito.header.clone(),
            aud: cognito.aud.clone(),
        };
        auth.pool_ids = auth
            .pools
            .iter()
            .map(|&i| self.pools[i].id().to_owned())
            .collect();
        Ok(Some(auth))
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
fn scheme(value: &Value) -> Scheme {
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
        return Scheme::Other(match (auth_type, kind) {
            (Some(t), _) => format!("an `{t}` scheme"),
            (None, Some("apiKey")) => "an API key".to_owned(),
            (None, Some(t)) => format!("a `{t}` scheme"),
            (None, None) => "a scheme without a type".to_owned(),
        });
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
    if !authorizer_type.eq_ignore_ascii_case("cognito_user_pools") {
        return Scheme::Other(format!("a `{authorizer_type}` authorizer"));
    }
    match cognito(scheme, authorizer, kind, auth_type) {
        Ok(cognito) => Scheme::Cognito(cognito),
        Err((kind, why)) => Scheme::Broken(kind, why),
    }
}

fn cognito(
    scheme: &Map<String, Value>,
    authorizer: &Map<String, Value>,
    kind: Option<&str>,
    auth_type: Option<&str>,
) -> Result<CognitoScheme, (Kind, String)> {
    if let Some(t) = auth_type
        && !t.eq_ignore_ascii_case("cognito_user_pools")
    {
        return Err((
            Kind::Contradictory,
            format!(
                "x-amazon-apigateway-authtype is `{t}` but the authorizer's type is cognito_user_pools"
            ),
        ));
    }
    if let Some(t) = kind
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
    if let Some(place) = text(scheme, "in")?
        && place != "header"
    {
        return Err((
            Kind::Invalid,
            format!(
                "the token is read from `{place}`; API Gateway's Cognito authorizer reads a header"
            ),
        ));
    }
    let name = text(scheme, "name")?;
    let source = match text(authorizer, "identitySource")? {
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
    let header = HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
        (
            Kind::Invalid,
            format!("`{header}` is not a valid header name"),
        )
    })?;

    let arns = authorizer
        .get("providerARNs")
        .and_then(Value::as_array)
        .filter(|arns| !arns.is_empty())
        .ok_or_else(|| {
            (
                Kind::MalformedArn,
                "providerARNs does not list any user pool ARN".to_owned(),
            )
        })?;
    let pools = arns
        .iter()
        .map(|arn| match arn.as_str() {
            Some(arn) => user_pool(arn),
            None => Err(format!("providerARNs has a non-string entry `{arn}`")),
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|why| (Kind::MalformedArn, why))?;

    let aud = text(authorizer, "identityValidationExpression")?.filter(|e| !e.is_empty());
    if let Some(expression) = &aud {
        Requirement::new()
            .aud_matches(expression.clone())
            .validate()
            .map_err(|e| (Kind::Invalid, e.message().to_owned()))?;
    }
    Ok(CognitoScheme { pools, header, aud })
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
        ] {
            let err = user_pool(arn).unwrap_err();
            assert!(err.contains(why), "{arn}: {err}");
        }
    }
}
