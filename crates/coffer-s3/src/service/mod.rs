//! The HTTP face: request ids on every response, the seed's error body on every error, 503
//! while shutting down, and virtual-hosted-style bucket addressing.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{Request, Response, StatusCode};
use s3s::host::{S3Host, VirtualHost};
use s3s::service::S3Service;
use s3s::{Body, HttpError, S3Result};

use crate::error::default_message;

pub mod admission;
mod guard;
mod limits;

pub use admission::{Admission, Admitted, Ticket};
pub use limits::BodyPace;
use limits::{BodyWatch, PacedBody};

pub const REQUEST_ID: &str = "x-amz-request-id";
pub const HOST_ID: &str = "x-amz-id-2";

/// The id a response carries in `x-amz-request-id` and, on errors, in `<RequestId>`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

#[derive(Clone)]
pub struct CofferService {
    inner: S3Service,
    /// POST Object forms are served here, not by s3s (see `post_object`).
    forms: Arc<crate::Coffer>,
    host: Arc<CofferHost>,
    shutting_down: Arc<AtomicBool>,
    pace: BodyPace,
    /// The connection this copy serves, for authentication to prove it.
    ticket: Option<Ticket>,
}

/// How long a request body may stall before the request fails with RequestTimeout, and
/// the rate it must average (mod_reqtimeout's MinRate is 500 B/s).
pub const DEFAULT_BODY_PACE: BodyPace = BodyPace {
    idle: Duration::from_secs(30),
    min_rate: 1024,
};

impl CofferService {
    pub(crate) fn new(inner: S3Service, forms: crate::Coffer, host: CofferHost) -> Self {
        Self {
            inner,
            forms: Arc::new(forms),
            host: Arc::new(host),
            shutting_down: Arc::new(AtomicBool::new(false)),
            pace: DEFAULT_BODY_PACE,
            ticket: None,
        }
    }

    pub fn with_body_pace(mut self, pace: BodyPace) -> Self {
        self.pace = pace;
        self
    }

    /// The service for one connection, which its requests' authentication can prove.
    pub fn for_connection(&self, ticket: Ticket) -> Self {
        Self {
            ticket: Some(ticket),
            ..self.clone()
        }
    }

    /// From now on requests get 503 ServiceUnavailable; those in flight finish.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    pub async fn call(&self, mut req: Request<Body>) -> Response<Body> {
        let request_id = new_request_id();
        let resource = resource(req.uri().path());
        req.extensions_mut().insert(RequestId(request_id.clone()));
        let is_head = req.method() == http::Method::HEAD;
        let presigned = req.uri().query().is_some_and(|q| q.contains("X-Amz-Signature="));
        let watch = req.extensions().get::<BodyWatch>().cloned();
        let xml_body = carries_xml(&req);
        let has_body = req.headers().get(CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0")
            || req.headers().contains_key(http::header::TRANSFER_ENCODING);
        let mut resp = if header_section_len(&req) > MAX_HEADER_SECTION {
            let mut r = error_response(
                StatusCode::BAD_REQUEST,
                "RequestHeaderSectionTooLarge",
                None,
                &resource,
                &request_id,
            );
            r.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
            r
        } else if xml_body_too_large(&req) {
            // Refused before a byte of the body is read; the connection cannot be reused.
            let mut r = error_response(
                StatusCode::BAD_REQUEST,
                "MaxMessageLengthExceeded",
                None,
                &resource,
                &request_id,
            );
            r.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
            r
        } else if let Err(refusal) = guard::check(&req, time::OffsetDateTime::now_utc) {
            error_response(
                refusal.status,
                refusal.code,
                Some(&escape(refusal.message)),
                &resource,
                &request_id,
            )
        } else if self.shutting_down.load(Ordering::SeqCst) {
            let mut r = error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                None,
                &resource,
                &request_id,
            );
            r.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
            r
        } else if req.method() == http::Method::POST && is_form(&req) {
            let vh = req
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .and_then(|h| self.host.parse_host_header(h).ok())
                .and_then(|v| v.bucket().map(str::to_owned));
            match crate::post_object::post_object(&self.forms, req, vh.as_deref()).await {
                Ok(r) => r,
                Err(_) if watch.as_ref().is_some_and(|w| w.stalled.load(Ordering::SeqCst)) => {
                    error_response(StatusCode::BAD_REQUEST, "RequestTimeout", None, &resource, &request_id)
                }
                Err(e) => s3_error_response(e, &resource, &request_id),
            }
        } else {
            match self.inner.call(req).await {
                // Whatever error the stalled body caused inside (s3s calls a failed XML
                // body an InternalError), the client's problem is the stall.
                Ok(r)
                    if watch.as_ref().is_some_and(|w| w.stalled.load(Ordering::SeqCst)) && !r.status().is_success() =>
                {
                    error_response(StatusCode::BAD_REQUEST, "RequestTimeout", None, &resource, &request_id)
                }
                // s3s reports an XML body over its cap as InternalError when the body has no
                // declared length; SDKs would retry that.
                Ok(r)
                    if xml_body
                        && r.status() == StatusCode::INTERNAL_SERVER_ERROR
                        && watch
                            .as_ref()
                            .is_some_and(|w| w.bytes.load(Ordering::SeqCst) > xml_max()) =>
                {
                    error_response(
                        StatusCode::BAD_REQUEST,
                        "MaxMessageLengthExceeded",
                        None,
                        &resource,
                        &request_id,
                    )
                }
                Ok(r) => finish_error(r, &resource, &request_id, presigned),
                Err(e) => {
                    tracing::error!(error = ?e, "s3s failed to answer");
                    error_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "InternalError",
                        None,
                        &resource,
                        &request_id,
                    )
                }
            }
        };
        // An error may come before the body was read (a bad signature, a missing bucket);
        // hyper then closes the connection, and saying so keeps a pooled client from reusing it.
        if has_body && (resp.status().is_client_error() || resp.status().is_server_error()) {
            resp.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
        }
        // s3s answers a ranged HeadObject with 200; S3 says 206, as for GET.
        if is_head && resp.status() == StatusCode::OK && resp.headers().contains_key(http::header::CONTENT_RANGE) {
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        }
        let h = resp.headers_mut();
        h.insert(REQUEST_ID, HeaderValue::from_str(&request_id).expect("hex id"));
        h.insert(HOST_ID, HeaderValue::from_str(&new_host_id()).expect("hex id"));
        resp
    }
}

impl hyper::service::Service<Request<hyper::body::Incoming>> for CofferService {
    type Response = Response<Body>;
    type Error = HttpError;
    type Future = BoxFuture<'static, Result<Response<Body>, HttpError>>;

    fn call(&self, req: Request<hyper::body::Incoming>) -> Self::Future {
        let this = self.clone();
        let watch = BodyWatch::default();
        let flag = watch.clone();
        let pace = self.pace;
        let mut req = req.map(|b| Body::http_body(PacedBody::new(b, pace, flag)));
        req.extensions_mut().insert(watch);
        if let Some(t) = &self.ticket {
            req.extensions_mut().insert(t.clone());
        }
        Box::pin(async move { Ok(this.call(req).await) })
    }
}

/// S3 refuses a request whose header section is over 8 KiB with RequestHeaderSectionTooLarge.
/// Larger blocks than hyper buffers (about 400 KiB, or over 100 headers) never reach us:
/// hyper answers those 431 itself.
const MAX_HEADER_SECTION: usize = 8 << 10;

/// Bytes of the header section as sent: `name: value\r\n` per header.
fn header_section_len(req: &Request<Body>) -> usize {
    req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum()
}

/// A request (DeleteObjects, PutBucketVersioning, ...) declaring an XML body over s3s's
/// cap. s3s would read up to the cap before refusing; the declared length says it at once.
fn xml_body_too_large(req: &Request<Body>) -> bool {
    carries_xml(req)
        && req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > xml_max())
}

fn xml_max() -> u64 {
    s3s::config::S3Config::default().xml_max_body_size as u64
}

/// Whether the body of this request is an XML document (capped by s3s) rather than object
/// data: any POST but a form upload, and any PUT addressed to a subresource other than a
/// part upload's `partNumber`/`uploadId` (and the SDKs' `x-id` tag).
fn carries_xml(req: &Request<Body>) -> bool {
    match *req.method() {
        http::Method::POST => !is_form(req),
        http::Method::PUT => req.uri().query().is_some_and(|q| {
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| p.split_once('=').map_or(p, |(k, _)| k))
                .any(|k| !matches!(k, "partNumber" | "uploadId" | "x-id"))
        }),
        _ => false,
    }
}

/// A browser-form upload (POST Object).
pub(crate) fn is_form(req: &Request<Body>) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// Rewrites an s3s error body into the seed's form (Code, Message, Resource, RequestId).
fn finish_error(mut resp: Response<Body>, resource: &str, request_id: &str, presigned: bool) -> Response<Body> {
    let status = resp.status();
    if status == StatusCode::NOT_MODIFIED {
        // 304 has no body (RFC 9110 15.4.5).
        *resp.body_mut() = Body::empty();
        resp.headers_mut().remove(CONTENT_LENGTH);
        resp.headers_mut().remove(CONTENT_TYPE);
        return resp;
    }
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let Some(body) = resp.body().bytes() else { return resp };
    let text = String::from_utf8_lossy(&body);
    let Some(code) = xml_field(&text, "Code") else {
        return resp;
    };
    // s3s messages are written for clients, except on internal errors.
    let mut message = xml_field(&text, "Message").filter(|_| code != "InternalError");
    let mut code = code;
    // A presigned URL dated in the future is not yet valid: S3 says AccessDenied, where s3s
    // reuses the clock-skew error of header-signed requests.
    if presigned && code == "RequestTimeTooSkewed" {
        code = "AccessDenied".into();
        message = Some("Request is not yet valid".into());
    }
    let fresh = error_response(status, &code, message.as_deref(), resource, request_id);
    let (parts, body) = fresh.into_parts();
    *resp.body_mut() = body;
    resp.headers_mut()
        .insert(CONTENT_TYPE, parts.headers[CONTENT_TYPE].clone());
    resp.headers_mut()
        .insert(CONTENT_LENGTH, parts.headers[CONTENT_LENGTH].clone());
    resp
}

/// An error raised outside s3s, in the seed's form.
fn s3_error_response(e: s3s::S3Error, resource: &str, request_id: &str) -> Response<Body> {
    let status = e
        .status_code()
        .or_else(|| e.code().status_code())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = e
        .message()
        .filter(|_| status != StatusCode::INTERNAL_SERVER_ERROR)
        .map(escape);
    let mut resp = error_response(status, e.code().as_str(), message.as_deref(), resource, request_id);
    if let Some(h) = e.headers() {
        resp.headers_mut().extend(h.clone());
    }
    resp
}

/// The text of `<name>…</name>`, still XML-escaped.
fn xml_field(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&format!("</{name}>"))?;
    Some(xml[start..start + len].to_owned())
}

/// An error body as the seed specifies. `message` is already XML-escaped.
pub fn error_response(
    status: StatusCode,
    code: &str,
    message: Option<&str>,
    resource: &str,
    request_id: &str,
) -> Response<Body> {
    let message = match message {
        Some(m) if !m.is_empty() => m.to_owned(),
        _ => escape(default_message(code)),
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{message}</Message><Resource>{}</Resource><RequestId>{}</RequestId></Error>",
        escape(code),
        escape(resource),
        escape(request_id),
    );
    let len = xml.len();
    let mut resp = Response::new(Body::from(Bytes::from(xml)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    resp.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                let _ = write!(out, "&#x{:X};", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// The `<Resource>` of an error: the request path, a bucket without the trailing slash
/// some SDKs send (`/bucket/` is the bucket, not a key).
fn resource(path: &str) -> String {
    match path.strip_suffix('/') {
        Some(b) if b.len() > 1 && b.rfind('/') == Some(0) => b.to_owned(),
        _ => path.to_owned(),
    }
}

fn new_request_id() -> String {
    format!("{:016X}", rand::random::<u64>())
}

fn new_host_id() -> String {
    let bytes: [u8; 24] = rand::random();
    hex::encode(bytes)
}

/// Virtual-hosted-style addressing under configured domains (`bucket.localhost:9000`);
/// any other host name is path-style. s3s's own hosts treat an unknown host as a bucket
/// name (CNAME style), which would break `localhost:9000` and any plain DNS name.
pub struct CofferHost {
    domains: Vec<String>,
}

impl CofferHost {
    pub fn new(domains: Vec<String>) -> Self {
        Self { domains }
    }
}

impl S3Host for CofferHost {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = match host.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        };
        for d in &self.domains {
            if name.eq_ignore_ascii_case(d) {
                return Ok(VirtualHost::new(name));
            }
            if let Some(bucket) = name.strip_suffix(d.as_str()).and_then(|b| b.strip_suffix('.'))
                && !bucket.is_empty()
            {
                return Ok(VirtualHost::new(d.as_str()).with_bucket(bucket));
            }
        }
        Ok(VirtualHost::new(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_every_field_escaped() {
        let r = error_response(StatusCode::NOT_FOUND, "NoSuchKey", None, "/b/a&b", "ABC");
        let body = r.body().bytes().unwrap();
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.contains("<Code>NoSuchKey</Code>"));
        assert!(text.contains("<Message>The specified key does not exist.</Message>"));
        assert!(text.contains("<Resource>/b/a&amp;b</Resource>"));
        assert!(text.contains("<RequestId>ABC</RequestId>"));
        assert_eq!(r.headers()[CONTENT_TYPE], "application/xml");
    }

    #[test]
    fn resource_names_the_bucket_without_trailing_slash() {
        assert_eq!(resource("/b/"), "/b");
        assert_eq!(resource("/b"), "/b");
        assert_eq!(resource("/b/dir/"), "/b/dir/");
        assert_eq!(resource("/"), "/");
    }

    #[test]
    fn hosts_split_bucket_from_domain() {
        let h = CofferHost::new(vec!["localhost".into(), "s3.example.com".into()]);
        assert_eq!(h.parse_host_header("localhost:9000").unwrap().bucket(), None);
        assert_eq!(
            h.parse_host_header("pics.localhost:9000").unwrap().bucket(),
            Some("pics")
        );
        assert_eq!(
            h.parse_host_header("pics.s3.example.com").unwrap().bucket(),
            Some("pics")
        );
        assert_eq!(h.parse_host_header("other.host").unwrap().bucket(), None);
    }
}
