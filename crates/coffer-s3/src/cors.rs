//! CORS: Put/Get/DeleteBucketCors, and the rules a browser meets: `OPTIONS` preflights
//! answered from the bucket's rules without authentication, and `Access-Control-*` on the
//! responses to cross-origin requests (errors and presigned requests included).
//!
//! A rule matches a request when one of its origins matches `Origin` (each origin may hold
//! one `*`), its methods include the method asked for (`Access-Control-Request-Method`, else
//! the request's own), and, for a preflight, every header in
//! `Access-Control-Request-Headers` matches one of its headers (case-insensitive, one `*`
//! each). The first matching rule answers, as on AWS.

use coffer_store::SettingKind;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use s3s::dto::*;
use s3s::{Body, S3Request, S3Response, S3Result, s3_error};
use serde::{Deserialize, Serialize};

use crate::Coffer;
use crate::error::{IntoS3, custom_with};

/// One rule, as stored (settings kind `cors`, a `Vec<Rule>`). Never reorder the fields:
/// they are the setting's encoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: Option<String>,
    pub origins: Vec<String>,
    pub methods: Vec<String>,
    pub headers: Vec<String>,
    pub expose: Vec<String>,
    pub max_age: Option<i32>,
}

const METHODS: [&str; 5] = ["GET", "PUT", "HEAD", "POST", "DELETE"];
const MAX_RULES: usize = 100;

/// `pattern` with at most one `*`, matched against `s`.
fn wildcard(pattern: &str, s: &str, case_insensitive: bool) -> bool {
    let eq = |a: &str, b: &str| {
        if case_insensitive {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    match pattern.split_once('*') {
        None => eq(pattern, s),
        Some((pre, post)) => {
            s.len() >= pre.len() + post.len()
                && s.is_char_boundary(pre.len())
                && s.is_char_boundary(s.len() - post.len())
                && eq(&s[..pre.len()], pre)
                && eq(&s[s.len() - post.len()..], post)
        }
    }
}

impl Rule {
    fn matches(&self, origin: &str, method: &str, headers: &[&str]) -> bool {
        self.origins.iter().any(|o| wildcard(o, origin, false))
            && self.methods.iter().any(|m| m == method)
            && headers
                .iter()
                .all(|h| self.headers.iter().any(|p| wildcard(p, h, true)))
    }

    fn from_dto(r: CORSRule) -> S3Result<Self> {
        for m in &r.allowed_methods {
            if !METHODS.contains(&m.as_str()) {
                return Err(s3_error!(
                    InvalidRequest,
                    "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                ));
            }
        }
        for o in &r.allowed_origins {
            if o.matches('*').count() > 1 {
                return Err(s3_error!(
                    InvalidRequest,
                    "AllowedOrigin \"{o}\" can not have more than one wildcard."
                ));
            }
        }
        let headers = r.allowed_headers.unwrap_or_default();
        for h in &headers {
            if h.matches('*').count() > 1 {
                return Err(s3_error!(
                    InvalidRequest,
                    "AllowedHeader \"{h}\" can not have more than one wildcard."
                ));
            }
        }
        if r.allowed_methods.is_empty() || r.allowed_origins.is_empty() {
            return Err(malformed());
        }
        if r.id.as_ref().is_some_and(|id| id.chars().count() > 255) {
            return Err(s3_error!(
                InvalidArgument,
                "The ID of a CORS rule can be at most 255 characters."
            ));
        }
        Ok(Rule {
            id: r.id,
            origins: r.allowed_origins,
            methods: r.allowed_methods,
            headers,
            expose: r.expose_headers.unwrap_or_default(),
            max_age: r.max_age_seconds,
        })
    }

    fn to_dto(&self) -> CORSRule {
        CORSRule {
            id: self.id.clone(),
            allowed_origins: self.origins.clone(),
            allowed_methods: self.methods.clone(),
            allowed_headers: (!self.headers.is_empty()).then(|| self.headers.clone()),
            expose_headers: (!self.expose.is_empty()).then(|| self.expose.clone()),
            max_age_seconds: self.max_age,
        }
    }
}

fn malformed() -> s3s::S3Error {
    s3_error!(
        MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema."
    )
}

pub async fn put_bucket_cors(
    c: &Coffer,
    req: S3Request<PutBucketCorsInput>,
) -> S3Result<S3Response<PutBucketCorsOutput>> {
    let input = req.input;
    let rules = input.cors_configuration.cors_rules;
    if rules.is_empty() || rules.len() > MAX_RULES {
        return Err(malformed());
    }
    let rules = rules.into_iter().map(Rule::from_dto).collect::<S3Result<Vec<_>>>()?;
    c.store
        .put_bucket_setting(&input.bucket, SettingKind::Cors, &rules)
        .await
        .s3()?;
    Ok(S3Response::new(PutBucketCorsOutput {}))
}

pub async fn get_bucket_cors(
    c: &Coffer,
    req: S3Request<GetBucketCorsInput>,
) -> S3Result<S3Response<GetBucketCorsOutput>> {
    let rules: Vec<Rule> = c
        .store
        .bucket_setting(&req.input.bucket, SettingKind::Cors)
        .s3()?
        .ok_or_else(|| {
            custom_with(
                "NoSuchCORSConfiguration",
                StatusCode::NOT_FOUND,
                "The CORS configuration does not exist",
            )
        })?;
    Ok(S3Response::new(GetBucketCorsOutput {
        cors_rules: Some(rules.iter().map(Rule::to_dto).collect()),
    }))
}

pub async fn delete_bucket_cors(
    c: &Coffer,
    req: S3Request<DeleteBucketCorsInput>,
) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
    c.store
        .delete_bucket_setting(&req.input.bucket, SettingKind::Cors)
        .await
        .s3()?;
    Ok(S3Response::with_status(
        DeleteBucketCorsOutput {},
        StatusCode::NO_CONTENT,
    ))
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The headers a matching rule puts on a response.
fn allow(rule: &Rule, origin: &str, out: &mut HeaderMap) {
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(name, v);
        }
    };
    let any = rule.origins.iter().any(|o| o == "*");
    set("access-control-allow-origin", if any { "*" } else { origin });
    set("access-control-allow-methods", &rule.methods.join(", "));
    if !any {
        set("access-control-allow-credentials", "true");
    }
    if !rule.expose.is_empty() {
        set("access-control-expose-headers", &rule.expose.join(", "));
    }
    if let Some(age) = rule.max_age {
        set("access-control-max-age", &age.to_string());
    }
    set(
        "vary",
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    );
}

/// The rules of `bucket`, if it exists and has any (read through the settings cache).
fn rules_of(c: &Coffer, bucket: &str) -> S3Result<Option<std::sync::Arc<[Rule]>>> {
    Ok(c.identity.resolve(None, Some(bucket))?.rules.cors)
}

/// What an `OPTIONS` preflight answers: 200 with the matching rule's headers, else an error
/// as AWS gives it (400 without `Origin` or a method to check, 403 when no rule matches).
pub fn preflight(
    c: &Coffer,
    bucket: &str,
    headers: &HeaderMap,
) -> Result<Response<Body>, (StatusCode, &'static str, String)> {
    let bad = |m: &str| (StatusCode::BAD_REQUEST, "BadRequest", m.to_owned());
    let origin =
        header(headers, "origin").ok_or_else(|| bad("Insufficient information. Origin request header needed."))?;
    let method = header(headers, "access-control-request-method")
        .ok_or_else(|| bad("Invalid Access-Control-Request-Method: null"))?;
    let requested: Vec<&str> = header(headers, "access-control-request-headers")
        .map(|h| h.split(',').map(str::trim).filter(|h| !h.is_empty()).collect())
        .unwrap_or_default();
    let forbidden = |m: &str| (StatusCode::FORBIDDEN, "AccessForbidden", m.to_owned());
    let rules = match rules_of(c, bucket) {
        Ok(Some(r)) => r,
        Ok(None) => return Err(forbidden("CORSResponse: CORS is not enabled for this bucket.")),
        Err(_) => return Err((StatusCode::INTERNAL_SERVER_ERROR, "InternalError", String::new())),
    };
    let rule = rules.iter().find(|r| r.matches(origin, method, &requested)).ok_or_else(|| {
        forbidden(
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        )
    })?;
    let mut resp = Response::new(Body::empty());
    allow(rule, origin, resp.headers_mut());
    if !requested.is_empty()
        && let Ok(v) = HeaderValue::from_str(&requested.join(", "))
    {
        resp.headers_mut().insert("access-control-allow-headers", v);
    }
    Ok(resp)
}

/// Adds the matching rule's headers to the response to a cross-origin request (one with
/// `Origin`), whatever its status. Requests without `Origin` never read the rules.
pub fn decorate(c: &Coffer, bucket: &str, method: &Method, req: &HeaderMap, resp: &mut HeaderMap) {
    let Some(origin) = header(req, "origin") else { return };
    let method = header(req, "access-control-request-method").unwrap_or(method.as_str());
    let Ok(Some(rules)) = rules_of(c, bucket) else { return };
    if let Some(rule) = rules.iter().find(|r| r.matches(origin, method, &[])) {
        allow(rule, origin, resp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> Rule {
        Rule {
            id: None,
            origins: origins.iter().map(|s| (*s).to_owned()).collect(),
            methods: methods.iter().map(|s| (*s).to_owned()).collect(),
            headers: headers.iter().map(|s| (*s).to_owned()).collect(),
            expose: vec![],
            max_age: None,
        }
    }

    #[test]
    fn origins_methods_and_headers_match_with_one_wildcard() {
        let r = rule(&["start*end"], &["GET"], &["x-amz-*"]);
        for (origin, ok) in [
            ("startend", true),
            ("start1end", true),
            ("start12end", true),
            ("0start12end", false),
            ("startendx", false),
        ] {
            assert_eq!(r.matches(origin, "GET", &[]), ok, "{origin}");
        }
        assert!(!r.matches("startend", "PUT", &[]));
        assert!(r.matches("startend", "GET", &["X-Amz-Date", "x-amz-meta-a"]));
        assert!(!r.matches("startend", "GET", &["content-type"]));
        assert!(rule(&["*"], &["GET"], &[]).matches("https://any.example", "GET", &[]));
        assert!(rule(&["*suffix"], &["GET"], &[]).matches("foo.suffix", "GET", &[]));
        assert!(!rule(&["*suffix"], &["GET"], &[]).matches("foo.suffix.get", "GET", &[]));
        // Multi-byte origins never split a character.
        assert!(!rule(&["é*"], &["GET"], &[]).matches("\u{301}", "GET", &[]));
    }
}
