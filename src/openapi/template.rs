//! Path templates (`/pets/{petId}`, `/files/{proxy+}`) and matching request paths
//! against them.

use http::Method;
use std::collections::HashMap;

/// One segment of a path template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    /// Matches exactly this text.
    Literal(String),
    /// `{name}`: one non-empty segment.
    Param,
    /// `{name+}` (API Gateway) or `{*name}` (axum): the non-empty rest of the path.
    Greedy,
}

/// Parses an OpenAPI / API Gateway path template (`{name+}` for the greedy
/// rest; axum's spelling `{*name}` is taken too, for public paths written the
/// way the router writes them).
pub(crate) fn parse(template: &str) -> Result<Vec<Segment>, String> {
    let Some(rest) = template.strip_prefix('/') else {
        return Err("a path template must start with `/`".to_owned());
    };
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let mut segments = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let segment = if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}'))
        {
            let (name, greedy) = match (inner.strip_suffix('+'), inner.strip_prefix('*')) {
                (Some(name), _) | (None, Some(name)) => (name, true),
                (None, None) => (inner, false),
            };
            if name.is_empty() || name.contains(['{', '}', '*', '+']) {
                return Err(format!("path parameter `{part}` has no usable name"));
            }
            if greedy && !last {
                return Err(format!(
                    "greedy path parameter `{part}` must be the last segment"
                ));
            }
            if greedy {
                Segment::Greedy
            } else {
                Segment::Param
            }
        } else if part.is_empty() {
            return Err("a path template has an empty segment (`//` or a trailing `/`)".to_owned());
        } else if part.contains(['{', '}']) {
            return Err(format!(
                "segment `{part}`: a path parameter must fill a whole segment, as in API Gateway"
            ));
        } else {
            Segment::Literal((*part).to_owned())
        };
        segments.push(segment);
    }
    Ok(segments)
}

/// The template with parameter names erased: two templates with the same key
/// match the same requests.
pub(crate) fn key(segments: &[Segment]) -> String {
    if segments.is_empty() {
        return "/".to_owned();
    }
    let mut key = String::new();
    for segment in segments {
        key.push('/');
        match segment {
            Segment::Literal(text) => key.push_str(text),
            Segment::Param => key.push_str("{}"),
            Segment::Greedy => key.push_str("{+}"),
        }
    }
    key
}

/// A tree of templates: literal segments first, then `{param}`, then
/// `{proxy+}`, with backtracking, so the most specific template wins.
#[derive(Clone, Debug, Default)]
pub(crate) struct Matcher {
    literals: HashMap<String, Matcher>,
    param: Option<Box<Matcher>>,
    greedy: Option<usize>,
    end: Option<usize>,
}

impl Matcher {
    /// Adds a template that leads to `value`; returns the value already there.
    pub(crate) fn insert(&mut self, segments: &[Segment], value: usize) -> Option<usize> {
        let Some((first, rest)) = segments.split_first() else {
            return self.end.replace(value);
        };
        match first {
            Segment::Literal(text) => self
                .literals
                .entry(text.clone())
                .or_default()
                .insert(rest, value),
            Segment::Param => self
                .param
                .get_or_insert_with(Box::default)
                .insert(rest, value),
            Segment::Greedy => self.greedy.replace(value),
        }
    }

    /// The value of the most specific template that matches the path exactly as
    /// written: an empty segment (`//`, a trailing `/`) matches no `{param}`.
    pub(crate) fn find(&self, path: &str) -> Option<usize> {
        let rest = path.strip_prefix('/')?;
        if rest.is_empty() {
            return self.end;
        }
        let segments: Vec<&str> = rest.split('/').collect();
        self.find_segments(&segments)
    }

    fn find_segments(&self, segments: &[&str]) -> Option<usize> {
        let Some((first, rest)) = segments.split_first() else {
            return self.end;
        };
        if let Some(found) = self
            .literals
            .get(*first)
            .and_then(|next| next.find_segments(rest))
        {
            return Some(found);
        }
        if !first.is_empty()
            && let Some(found) = self
                .param
                .as_ref()
                .and_then(|next| next.find_segments(rest))
        {
            return Some(found);
        }
        // `{proxy+}` takes one or more characters.
        if segments.iter().any(|s| !s.is_empty()) {
            return self.greedy;
        }
        None
    }
}

/// The path as a path-normalising layer or a lenient router could read it:
/// percent-encoded octets decoded (`%2F` too), `\\` taken as `/`, empty
/// segments dropped (`//`, a trailing `/`), and dot segments resolved as RFC
/// 3986 section 5.2.4 does (`/a/./b/../c` is `/a/c`; `..` stops at the root).
/// `None` for a path that does not start with `/` (such as `*`).
pub(crate) fn canonical(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return None;
    }
    let decoded = percent_decode(path);
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split(['/', '\\']) {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(decoded.len());
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    Some(out)
}

fn percent_decode(path: &str) -> std::borrow::Cow<'_, str> {
    if !path.contains('%') {
        return std::borrow::Cow::Borrowed(path);
    }
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    std::borrow::Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// The operations of one path template, by method.
#[derive(Clone, Debug, Default)]
pub(crate) struct Methods<T> {
    pub(crate) by_method: Vec<(Method, T)>,
    /// API Gateway's `x-amazon-apigateway-any-method`.
    pub(crate) any: Option<T>,
}

impl<T> Methods<T> {
    /// The operation for this method: the method's own, then for `HEAD` the
    /// `GET` one (routers answer `HEAD` with the `GET` handler, so its
    /// requirement must apply), then the any-method one.
    pub(crate) fn get(&self, method: &Method) -> Option<&T> {
        let exact = |m: &Method| self.by_method.iter().find(|(k, _)| k == m).map(|(_, v)| v);
        exact(method)
            .or_else(|| {
                (method == Method::HEAD)
                    .then(|| exact(&Method::GET))
                    .flatten()
            })
            .or(self.any.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(templates: &[&str]) -> Matcher {
        let mut m = Matcher::default();
        for (i, t) in templates.iter().enumerate() {
            assert_eq!(m.insert(&parse(t).unwrap(), i), None, "{t}");
        }
        m
    }

    #[test]
    fn literal_beats_param_beats_greedy_with_backtracking() {
        let m = matcher(&[
            "/",
            "/pets",
            "/pets/{petId}",
            "/pets/search",
            "/pets/{petId}/photos",
            "/pets/search/{term}",
            "/files/{proxy+}",
            "/{proxy+}",
        ]);
        // Each route, and the paths it takes.
        for (route, paths) in [
            (Some(0), &["/"][..]),
            (Some(1), &["/pets"]),
            (Some(2), &["/pets/42"]),
            (Some(3), &["/pets/search"]),
            (Some(4), &["/pets/42/photos", "/pets/7/photos"]),
            // The literal `search` wins, and `{term}` takes `photos`.
            (Some(5), &["/pets/search/photos"]),
            (Some(6), &["/files/a", "/files/a/b/c"]),
            // Nothing more specific: the root proxy.
            (Some(7), &["/files", "/pets/42/toys", "/other"]),
            (None, &["not-a-path"]),
        ] {
            for path in paths {
                assert_eq!(m.find(path), route, "{path}");
            }
        }

        // A literal that leads nowhere gives way to a parameter.
        let m = matcher(&["/pets/search", "/pets/{petId}/photos"]);
        assert_eq!(m.find("/pets/search/photos"), Some(1));
        assert_eq!(m.find("/pets/search"), Some(0));
    }

    #[test]
    fn params_take_one_non_empty_segment_and_proxy_a_non_empty_rest() {
        let m = matcher(&["/pets/{petId}", "/files/{proxy+}"]);
        assert_eq!(m.find("/pets/42"), Some(0));
        assert_eq!(m.find("/pets/"), None);
        assert_eq!(m.find("/pets"), None);
        assert_eq!(m.find("/pets//"), None);
        assert_eq!(m.find("/pets/4/2"), None);
        assert_eq!(m.find("/files/"), None);
        assert_eq!(m.find("/files"), None);
        assert_eq!(m.find("/files//"), None);
        assert_eq!(m.find("/files/a/"), Some(1));
        assert_eq!(m.find("/"), None);
        // Exactly as written: a trailing slash is an empty segment.
        assert_eq!(m.find("/pets/42/"), None);
        assert_eq!(m.find("/pets/42//"), None);
        let m = matcher(&["/", "/pets"]);
        assert_eq!(
            (m.find("/"), m.find("/pets/"), m.find("//")),
            (Some(0), None, None)
        );
        // Literals compare exactly.
        let m = matcher(&["/Pets"]);
        assert_eq!(m.find("/pets"), None);
    }

    #[test]
    fn templates_that_match_the_same_requests_have_one_key() {
        let a = parse("/pets/{id}/x/{proxy+}").unwrap();
        let b = parse("/pets/{petId}/x/{rest+}").unwrap();
        assert_eq!(key(&a), key(&b));
        assert_eq!(key(&a), "/pets/{}/x/{+}");
        assert_eq!(key(&parse("/").unwrap()), "/");
        assert_eq!(key(&parse("/pets/{id}/x/{*rest}").unwrap()), key(&a));
    }

    #[test]
    fn canonical_paths() {
        for (path, expected) in [
            ("/", "/"),
            ("//", "/"),
            ("/pets", "/pets"),
            ("/pets/", "/pets"),
            ("//pets//42//", "/pets/42"),
            ("/pets/./42", "/pets/42"),
            ("/files/../admin", "/admin"),
            ("/../../admin", "/admin"),
            ("/a/b/..", "/a"),
            ("/p%65ts/%34%32", "/pets/42"),
            ("/pets%2F42", "/pets/42"),
            ("/files/%2e%2e/admin", "/admin"),
            ("/pets\\42", "/pets/42"),
            ("/a%zz%4", "/a%zz%4"),
        ] {
            assert_eq!(canonical(path).as_deref(), Some(expected), "{path}");
        }
        assert_eq!(canonical("*"), None);
        assert_eq!(canonical(""), None);
    }

    #[test]
    fn bad_templates_say_why() {
        for (t, why) in [
            ("pets", "start with"),
            ("/pets//x", "empty segment"),
            ("/pets/", "empty segment"),
            ("/pets/{}", "no usable name"),
            ("/pets/{a+}/x", "last segment"),
            ("/pets/{a}.json", "whole segment"),
            ("/pets/x{a}", "whole segment"),
        ] {
            let err = parse(t).unwrap_err();
            assert!(err.contains(why), "{t}: {err}");
        }
    }

    #[test]
    fn head_falls_back_to_get_then_any() {
        let mut m = Methods::default();
        m.by_method.push((Method::GET, 1));
        assert_eq!(m.get(&Method::HEAD), Some(&1));
        assert_eq!(m.get(&Method::POST), None);
        m.any = Some(2);
        assert_eq!(m.get(&Method::POST), Some(&2));
        assert_eq!(m.get(&Method::HEAD), Some(&1));
        m.by_method.push((Method::HEAD, 3));
        assert_eq!(m.get(&Method::HEAD), Some(&3));
    }
}
