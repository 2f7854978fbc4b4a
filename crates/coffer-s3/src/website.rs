//! Static website hosting: Put/Get/DeleteBucketWebsite, objects' own redirects
//! (`x-amz-website-redirect-location`), and the website endpoint: `bucket.<website domain>`
//! served to anonymous GET and HEAD as AWS's website endpoints do, with index documents,
//! error documents, redirects and routing rules, and errors as HTML pages.
//!
//! What a website request may read is decided by the policy engine, for an anonymous
//! caller, exactly as a REST GetObject would be.

use coffer_store::SettingKind;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use s3s::dto::*;
use s3s::{Body, S3Request, S3Response, S3Result, s3_error};
use serde::{Deserialize, Serialize};

use crate::Coffer;
use crate::error::{IntoS3, custom_with};

/// A redirect as stored. Never reorder the fields of these types: they are the setting's
/// encoding (settings kind `website`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    pub host: Option<String>,
    pub protocol: Option<String>,
    pub code: Option<String>,
    pub replace_key_prefix: Option<String>,
    pub replace_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingRule {
    pub key_prefix: Option<String>,
    pub error_code: Option<String>,
    pub redirect: Redirect,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Website {
    pub index: Option<String>,
    pub error_document: Option<String>,
    /// RedirectAllRequestsTo: host and protocol.
    pub redirect_all: Option<(String, Option<String>)>,
    pub routing: Vec<RoutingRule>,
}

/// `x-amz-website-redirect-location`, checked as AWS checks it.
pub fn redirect_location(v: Option<&str>) -> S3Result<Option<String>> {
    let Some(v) = v else { return Ok(None) };
    if !(v.starts_with('/') || v.starts_with("http://") || v.starts_with("https://")) || v.len() > 2048 {
        return Err(custom_with(
            "InvalidRedirectLocation",
            StatusCode::BAD_REQUEST,
            "The website redirect location must have a prefix of 'http://' or 'https://' or '/'.",
        ));
    }
    Ok(Some(v.to_owned()))
}

fn protocol(p: Option<Protocol>) -> S3Result<Option<String>> {
    match p.as_ref().map(Protocol::as_str) {
        None => Ok(None),
        Some(p @ ("http" | "https")) => Ok(Some(p.to_owned())),
        Some(_) => Err(s3_error!(
            InvalidArgument,
            "Invalid protocol, protocol can be http or https."
        )),
    }
}

fn from_dto(w: WebsiteConfiguration) -> S3Result<Website> {
    if let Some(r) = w.redirect_all_requests_to {
        if w.index_document.is_some() || w.error_document.is_some() || w.routing_rules.is_some() {
            return Err(s3_error!(
                InvalidArgument,
                "RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules."
            ));
        }
        return Ok(Website {
            index: None,
            error_document: None,
            redirect_all: Some((r.host_name, protocol(r.protocol)?)),
            routing: Vec::new(),
        });
    }
    let index = w.index_document.ok_or_else(|| {
        s3_error!(
            InvalidArgument,
            "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty"
        )
    })?;
    if index.suffix.is_empty() || index.suffix.contains('/') {
        return Err(s3_error!(
            InvalidArgument,
            "The IndexDocument Suffix is not well formed"
        ));
    }
    let mut routing = Vec::new();
    for r in w.routing_rules.unwrap_or_default() {
        let redirect = r.redirect;
        if redirect.replace_key_with.is_some() && redirect.replace_key_prefix_with.is_some() {
            return Err(s3_error!(
                InvalidRequest,
                "You can only define ReplaceKeyPrefix or ReplaceKey but not both."
            ));
        }
        if let Some(code) = &redirect.http_redirect_code
            && !matches!(code.as_str(), "301" | "302" | "303" | "307" | "308")
        {
            return Err(s3_error!(
                InvalidArgument,
                "The provided HTTP redirect code ({code}) is not valid."
            ));
        }
        let (key_prefix, error_code) = match r.condition {
            Some(c) => (c.key_prefix_equals, c.http_error_code_returned_equals),
            None => (None, None),
        };
        if error_code
            .as_deref()
            .is_some_and(|c| !c.starts_with('4') && !c.starts_with('5'))
        {
            return Err(s3_error!(InvalidArgument, "The provided HTTP error code is not valid."));
        }
        routing.push(RoutingRule {
            key_prefix,
            error_code,
            redirect: Redirect {
                host: redirect.host_name,
                protocol: protocol(redirect.protocol)?,
                code: redirect.http_redirect_code,
                replace_key_prefix: redirect.replace_key_prefix_with,
                replace_key: redirect.replace_key_with,
            },
        });
    }
    Ok(Website {
        index: Some(index.suffix),
        error_document: w.error_document.map(|e| e.key),
        redirect_all: None,
        routing,
    })
}

fn to_dto(w: &Website) -> GetBucketWebsiteOutput {
    GetBucketWebsiteOutput {
        index_document: w.index.clone().map(|suffix| IndexDocument { suffix }),
        error_document: w.error_document.clone().map(|key| ErrorDocument { key }),
        redirect_all_requests_to: w.redirect_all.clone().map(|(host_name, p)| RedirectAllRequestsTo {
            host_name,
            protocol: p.map(Protocol::from),
        }),
        routing_rules: (!w.routing.is_empty()).then(|| {
            w.routing
                .iter()
                .map(|r| s3s::dto::RoutingRule {
                    condition: (r.key_prefix.is_some() || r.error_code.is_some()).then(|| Condition {
                        key_prefix_equals: r.key_prefix.clone(),
                        http_error_code_returned_equals: r.error_code.clone(),
                    }),
                    redirect: s3s::dto::Redirect {
                        host_name: r.redirect.host.clone(),
                        protocol: r.redirect.protocol.clone().map(Protocol::from),
                        http_redirect_code: r.redirect.code.clone(),
                        replace_key_prefix_with: r.redirect.replace_key_prefix.clone(),
                        replace_key_with: r.redirect.replace_key.clone(),
                    },
                })
                .collect()
        }),
    }
}

pub async fn put_bucket_website(
    c: &Coffer,
    req: S3Request<PutBucketWebsiteInput>,
) -> S3Result<S3Response<PutBucketWebsiteOutput>> {
    let input = req.input;
    let w = from_dto(input.website_configuration)?;
    c.store
        .put_bucket_setting(&input.bucket, SettingKind::Website, &w)
        .await
        .s3()?;
    Ok(S3Response::new(PutBucketWebsiteOutput {}))
}

fn no_website() -> s3s::S3Error {
    custom_with(
        "NoSuchWebsiteConfiguration",
        StatusCode::NOT_FOUND,
        "The specified bucket does not have a website configuration",
    )
}

pub async fn get_bucket_website(
    c: &Coffer,
    req: S3Request<GetBucketWebsiteInput>,
) -> S3Result<S3Response<GetBucketWebsiteOutput>> {
    let w: Website = c
        .store
        .bucket_setting(&req.input.bucket, SettingKind::Website)
        .s3()?
        .ok_or_else(no_website)?;
    Ok(S3Response::new(to_dto(&w)))
}

pub async fn delete_bucket_website(
    c: &Coffer,
    req: S3Request<DeleteBucketWebsiteInput>,
) -> S3Result<S3Response<DeleteBucketWebsiteOutput>> {
    c.store
        .delete_bucket_setting(&req.input.bucket, SettingKind::Website)
        .await
        .s3()?;
    Ok(S3Response::with_status(
        DeleteBucketWebsiteOutput {},
        StatusCode::NO_CONTENT,
    ))
}

// ---------------------------------------------------------------------------------------
// The website endpoint

/// The bucket a Host header names under one of the website domains.
pub fn website_bucket<'a>(domains: &[String], host: &'a str) -> Option<&'a str> {
    let name = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    domains.iter().find_map(|d| {
        let bucket = name.strip_suffix(d.as_str())?.strip_suffix('.')?;
        (!bucket.is_empty()).then_some(bucket)
    })
}

/// An error as a website endpoint shows it: an HTML page.
fn html_error(status: StatusCode, code: &str, message: &str, key: Option<&str>, request_id: &str) -> Response<Body> {
    let esc = crate::service::escape;
    let title = format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or(""));
    let key = key.map(|k| format!("<li>Key: {}</li>\n", esc(k))).unwrap_or_default();
    let html = format!(
        "<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<ul>\n<li>Code: {code}</li>\n<li>Message: {}</li>\n{key}<li>RequestId: {request_id}</li>\n</ul>\n<hr/>\n</body>\n</html>\n",
        esc(message)
    );
    let mut r = Response::new(Body::from(html));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn redirect(location: &str, code: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = code;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(http::header::LOCATION, v);
    }
    r
}

/// Where a routing rule's redirect sends a request for `key` that came to `host`.
fn rule_location(r: &Redirect, key: &str, matched_prefix: &str, host: &str) -> String {
    let new_key = match (&r.replace_key, &r.replace_key_prefix) {
        (Some(k), _) => k.clone(),
        (None, Some(p)) => format!("{p}{}", &key[matched_prefix.len().min(key.len())..]),
        (None, None) => key.to_owned(),
    };
    let host = r.host.as_deref().unwrap_or(host);
    let protocol = r.protocol.as_deref().unwrap_or("http");
    format!("{protocol}://{host}/{new_key}")
}

fn rule_code(r: &Redirect) -> StatusCode {
    r.code
        .as_deref()
        .and_then(|c| c.parse::<u16>().ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(StatusCode::MOVED_PERMANENTLY)
}

/// The object `key` as the website shows it to anonymous callers, if they may read it.
async fn read(
    c: &Coffer,
    ctx: &crate::ctx::RequestContext,
    req: &Request<Body>,
    bucket: &str,
    key: &str,
) -> Result<coffer_store::ObjectHandle, (StatusCode, &'static str, &'static str)> {
    let keys = crate::ctx::RequestKeys::new(&ctx.principal, req.headers(), req.uri(), req.extensions());
    let resource = crate::action::Resource {
        bucket: Some(bucket),
        key: Some(key),
    };
    let denied = (StatusCode::FORBIDDEN, "AccessDenied", "Access Denied");
    if crate::ctx::authorize(ctx, crate::action::of("GetObject", true), resource, &keys).is_err() {
        return Err(denied);
    }
    match c.store.get_object(bucket, key, None).await {
        Ok(mut h) => {
            crate::ctx::check_object_in(ctx, &h.record).map_err(|_| denied)?;
            // An SSE-C object cannot be served without its key, which no browser sends; nor
            // is an SSE-KMS one, as AWS's website endpoints refuse them.
            if matches!(
                h.record.sse.as_ref().map(|s| &s.mode),
                Some(coffer_store::SseMode::Kms { .. })
            ) {
                return Err(denied);
            }
            c.store.unlock(&mut h, None).map_err(|_| denied)?;
            Ok(h)
        }
        Err(_) => Err((StatusCode::NOT_FOUND, "NoSuchKey", "The specified key does not exist.")),
    }
}

/// Serves `h` with `status` (200, or an error document's).
fn object_response(h: coffer_store::ObjectHandle, status: StatusCode, head: bool) -> Response<Body> {
    let rec = h.record.clone();
    let mut r = if head {
        Response::new(Body::empty())
    } else {
        let stream = h
            .stream(0, rec.size)
            .map(|r| r.map_err(|e| Box::new(e) as s3s::StdError));
        Response::new(Body::from(StreamingBlob::new(crate::get::SizedStream {
            inner: stream,
            remaining: rec.size,
        })))
    };
    *r.status_mut() = status;
    let hs = r.headers_mut();
    let content_type = rec.meta.content_type.as_deref().unwrap_or("binary/octet-stream");
    let mut set = |name: http::HeaderName, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            hs.insert(name, v);
        }
    };
    set(http::header::CONTENT_TYPE, content_type);
    set(http::header::CONTENT_LENGTH, &rec.size.to_string());
    set(http::header::ETAG, &format!("\"{}\"", rec.etag));
    set(
        http::header::LAST_MODIFIED,
        &crate::convert::http_date(&crate::convert::timestamp(rec.last_modified_ms)),
    );
    if let Some(v) = &rec.meta.cache_control {
        set(http::header::CACHE_CONTROL, v);
    }
    if let Some(v) = &rec.meta.content_encoding {
        set(http::header::CONTENT_ENCODING, v);
    }
    r
}

use futures::StreamExt as _;

/// A request to the website endpoint of `bucket`.
pub async fn serve(c: &Coffer, bucket: &str, req: Request<Body>, request_id: &str) -> Response<Body> {
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        return html_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            None,
            request_id,
        );
    }
    let internal = || {
        html_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error. Please try again.",
            None,
            request_id,
        )
    };
    let ctx = match c.identity.resolve(None, Some(bucket)) {
        Ok(ctx) => ctx,
        Err(_) => {
            return internal();
        }
    };
    if ctx.bucket.is_none() {
        return html_error(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist",
            None,
            request_id,
        );
    }
    // Read with the bucket's other settings, cached by their stamp.
    let Some(site) = ctx.rules.website.clone() else {
        return html_error(
            StatusCode::NOT_FOUND,
            "NoSuchWebsiteConfiguration",
            "The specified bucket does not have a website configuration",
            None,
            request_id,
        );
    };
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let path = percent_encoding::percent_decode_str(req.uri().path().trim_start_matches('/'))
        .decode_utf8_lossy()
        .into_owned();
    if let Some((to_host, protocol)) = &site.redirect_all {
        let protocol = protocol.as_deref().unwrap_or("http");
        return redirect(&format!("{protocol}://{to_host}/{path}"), StatusCode::MOVED_PERMANENTLY);
    }
    let index = site.index.as_deref().unwrap_or("index.html");
    let key = if path.is_empty() || path.ends_with('/') {
        format!("{path}{index}")
    } else {
        path.clone()
    };
    // Rules on the key alone apply before anything is read.
    for rule in site.routing.iter().filter(|r| r.error_code.is_none()) {
        if let Some(p) = &rule.key_prefix
            && key.starts_with(p.as_str())
        {
            return redirect(
                &rule_location(&rule.redirect, &key, p, &host),
                rule_code(&rule.redirect),
            );
        }
    }
    let err = match read(c, &ctx, &req, bucket, &key).await {
        Ok(h) => {
            if let Some(to) = &h.record.website_redirect {
                return redirect(to, StatusCode::MOVED_PERMANENTLY);
            }
            return object_response(h, StatusCode::OK, head);
        }
        Err(e) => e,
    };
    // A folder named without its slash: AWS redirects to it when its index exists.
    if err.0 == StatusCode::NOT_FOUND && !path.is_empty() && !path.ends_with('/') {
        let folder_index = format!("{path}/{index}");
        if read(c, &ctx, &req, bucket, &folder_index).await.is_ok() {
            return redirect(&format!("/{path}/"), StatusCode::FOUND);
        }
    }
    for rule in &site.routing {
        if rule.error_code.as_deref() == Some(err.0.as_str())
            && rule.key_prefix.as_deref().is_none_or(|p| key.starts_with(p))
        {
            let prefix = rule.key_prefix.as_deref().unwrap_or("");
            return redirect(
                &rule_location(&rule.redirect, &key, prefix, &host),
                rule_code(&rule.redirect),
            );
        }
    }
    if let Some(doc) = &site.error_document
        && let Ok(h) = read(c, &ctx, &req, bucket, doc).await
    {
        return object_response(h, err.0, head);
    }
    html_error(err.0, err.1, err.2, Some(&key), request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn website_hosts_name_their_bucket() {
        let d = vec!["web.example".to_owned()];
        assert_eq!(website_bucket(&d, "site.web.example:9000"), Some("site"));
        assert_eq!(website_bucket(&d, "a.b.web.example"), Some("a.b"));
        assert_eq!(website_bucket(&d, "web.example"), None);
        assert_eq!(website_bucket(&d, "site.other.example"), None);
    }

    #[test]
    fn routing_redirects_replace_keys_and_hosts() {
        let r = Redirect {
            host: Some("docs.example".into()),
            protocol: Some("https".into()),
            code: None,
            replace_key_prefix: Some("documents/".into()),
            replace_key: None,
        };
        assert_eq!(
            rule_location(&r, "docs/a.html", "docs/", "site.web"),
            "https://docs.example/documents/a.html"
        );
        let r = Redirect {
            replace_key_prefix: None,
            replace_key: Some("error.html".into()),
            host: None,
            protocol: None,
            code: Some("302".into()),
        };
        assert_eq!(rule_location(&r, "x", "", "site.web"), "http://site.web/error.html");
        assert_eq!(rule_code(&r), StatusCode::FOUND);
    }
}
