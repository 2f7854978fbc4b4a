//! The HTTP face: request ids on every response, the seed's error body on every error
//! (`errors`), 503 while shutting down, the checks made before s3s sees a request
//! (`guard`, `limits`), connection admission (`admission`) and bucket addressing (`host`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use http::header::{CONNECTION, CONTENT_LENGTH, HeaderValue};
use http::{Request, Response, StatusCode};
use s3s::host::S3Host;
use s3s::service::S3Service;
use s3s::{Body, HttpError};

pub mod admission;
mod errors;
mod guard;
mod host;
mod limits;
pub mod observe;

pub use admission::{Admission, Admitted, Ticket};
use errors::{as_admin_json, finish_error, new_host_id, new_request_id, resource, s3_error_response};
pub use errors::{error_response, escape};
pub use host::CofferHost;
pub use limits::BodyPace;
pub(crate) use limits::is_form;
use limits::{BodyWatch, MAX_HEADER_SECTION, PacedBody, carries_xml, header_section_len, xml_body_too_large};
pub use observe::{Finished, Observer, Operation, Seen};

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
    /// Its peer's address, for `aws:SourceIp`.
    peer: Option<std::net::IpAddr>,
    /// The connection is TLS: `aws:SecureTransport`, and SSE-C keys are welcome.
    secure: bool,
    /// Health, metrics, console and the record of each request, from the binary.
    observer: Option<Arc<dyn Observer>>,
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
            peer: None,
            secure: false,
            observer: None,
        }
    }

    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    pub fn with_body_pace(mut self, pace: BodyPace) -> Self {
        self.pace = pace;
        self
    }

    /// The service for one connection from `peer`, which its requests' authentication can
    /// prove.
    pub fn for_connection(&self, ticket: Ticket, peer: Option<std::net::IpAddr>) -> Self {
        Self {
            ticket: Some(ticket),
            peer,
            ..self.clone()
        }
    }

    /// This copy serves a connection that arrived over TLS (or not).
    pub fn with_secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// The XML body cap s3s enforces, from the same configuration.
    fn xml_max(&self) -> u64 {
        self.forms.s3_config.xml_max_body_size as u64
    }

    /// From now on requests get 503 ServiceUnavailable; those in flight finish.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// The bucket a virtual-hosted-style request names in its Host header.
    fn vh_bucket<B>(&self, req: &Request<B>) -> Option<String> {
        req.headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| self.host.parse_host_header(h).ok())
            .and_then(|v| v.bucket().map(str::to_owned))
    }

    /// The bucket a request addresses: from a virtual host, else the path's first segment.
    fn bucket_of<B>(&self, req: &Request<B>) -> Option<String> {
        self.vh_bucket(req).or_else(|| {
            let first = req.uri().path().trim_start_matches('/').split('/').next()?;
            (!first.is_empty()).then(|| first.to_owned())
        })
    }

    pub async fn call(&self, req: Request<Body>) -> Response<Body> {
        let request_id = new_request_id();
        // Every log line of the request names it.
        let span = tracing::warn_span!("request", request_id = %request_id);
        tracing::Instrument::instrument(self.observed(req, request_id), span).await
    }

    async fn observed(&self, mut req: Request<Body>, request_id: String) -> Response<Body> {
        // The answer's future holds s3s's and a handler's state, kilobytes that each layer
        // of async around it would copy; boxed, it is moved as a pointer (-3.5% instructions
        // per 4 KiB GET under callgrind).
        let Some(obs) = self.observer.as_deref().filter(|o| o.records()) else {
            return Box::pin(self.answer(req, request_id)).await;
        };
        let began = std::time::Instant::now();
        let details = obs.wants_details();
        let seen = Seen::new(details);
        req.extensions_mut().insert(seen.clone());
        let (method, path, vh) = if details {
            (req.method().clone(), req.uri().path().to_owned(), self.vh_bucket(&req))
        } else {
            (http::Method::GET, String::new(), None)
        };
        let bytes_in = declared_len(req.headers());
        obs.started();
        // Ended even when the client goes away mid-request and this future is dropped.
        let _in_flight = InFlight(obs);
        let resp = Box::pin(self.answer(req, request_id.clone())).await;
        obs.finished(&Finished {
            request_id: &request_id,
            operation: seen.operation(),
            caller: seen.caller(),
            method: &method,
            vh_bucket: vh.as_deref(),
            path: &path,
            status: resp.status().as_u16(),
            bytes_in,
            bytes_out: match declared_len(resp.headers()) {
                0 => http_body::Body::size_hint(resp.body()).exact().unwrap_or(0),
                n => n,
            },
            duration: began.elapsed(),
        });
        resp
    }

    async fn answer(&self, mut req: Request<Body>, request_id: String) -> Response<Body> {
        // A cross-origin request: its response carries the bucket's CORS headers.
        let cross_origin = match req.headers().get(http::header::ORIGIN) {
            Some(_) if req.method() != http::Method::OPTIONS => self
                .bucket_of(&req)
                .map(|b| (b, req.method().clone(), req.headers().clone())),
            _ => None,
        };
        let resource = resource(req.uri().path());
        let admin = req.uri().path().starts_with(observe::ADMIN_PREFIX) && self.vh_bucket(&req).is_none();
        req.extensions_mut().insert(RequestId(request_id.clone()));
        let is_head = req.method() == http::Method::HEAD;
        let attributes = req.method() == http::Method::GET
            && req
                .uri()
                .query()
                .is_some_and(|q| q.split('&').any(|p| p == "attributes" || p.starts_with("attributes=")));
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
        } else if xml_body_too_large(&req, self.xml_max()) {
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
        } else if let Some(site) = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| crate::website::website_bucket(&self.forms.config.website_domains, h))
            .map(str::to_owned)
        {
            // A website endpoint: anonymous reads, answered as a web server would.
            seen(&req, "Website");
            crate::website::serve(&self.forms, &site, req, &request_id).await
        } else if let Some(obs) = self.observer.as_deref().filter(|_| {
            let p = req.uri().path();
            p.starts_with(observe::RESERVED_PREFIX)
                && !p.starts_with(observe::ADMIN_PREFIX)
                && self.vh_bucket(&req).is_none()
        }) {
            seen(&req, observe::reserved_operation(req.uri().path()));
            obs.serve(&req)
        } else if req.method() == http::Method::OPTIONS {
            // A CORS preflight: unauthenticated, answered from the bucket's rules.
            seen(&req, "CorsPreflight");
            match self.bucket_of(&req) {
                Some(b) => match crate::cors::preflight(&self.forms, &b, req.headers()) {
                    Ok(r) => r,
                    Err((status, code, message)) => {
                        error_response(status, code, Some(&escape(&message)), &resource, &request_id)
                    }
                },
                None => error_response(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    Some("Insufficient information. Origin request header needed."),
                    &resource,
                    &request_id,
                ),
            }
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
            let vh = self.vh_bucket(&req);
            seen(&req, "PostObject");
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
                            .is_some_and(|w| w.bytes.load(Ordering::SeqCst) > self.xml_max()) =>
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
        if admin {
            as_admin_json(&mut resp);
        }
        // An error may come before the body was read (a bad signature, a missing bucket);
        // hyper then closes the connection, and saying so keeps a pooled client from reusing it.
        if has_body && (resp.status().is_client_error() || resp.status().is_server_error()) {
            resp.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
        }
        // GetObjectAttributes shows the ETag without quotes, unlike every other answer; s3s
        // always quotes it.
        if attributes && resp.status() == StatusCode::OK {
            unquote_etag(&mut resp);
        }
        // s3s answers a ranged HeadObject with 200; S3 says 206, as for GET.
        if is_head && resp.status() == StatusCode::OK && resp.headers().contains_key(http::header::CONTENT_RANGE) {
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        }
        if let Some((bucket, method, headers)) = &cross_origin {
            crate::cors::decorate(&self.forms, bucket, method, headers, resp.headers_mut());
        }
        let h = resp.headers_mut();
        h.insert(REQUEST_ID, HeaderValue::from_str(&request_id).expect("hex id"));
        h.insert(HOST_ID, HeaderValue::from_str(&new_host_id()).expect("hex id"));
        resp
    }
}

/// Names the operation of a request s3s does not see.
fn seen(req: &Request<Body>, operation: &'static str) {
    if let Some(s) = req.extensions().get::<Seen>() {
        s.set(operation, None);
    }
}

/// The body length a message declares: an aws-chunked body's decoded length, else its
/// Content-Length.
fn declared_len(h: &http::HeaderMap) -> u64 {
    h.get("x-amz-decoded-content-length")
        .or_else(|| h.get(CONTENT_LENGTH))
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0)
}

struct InFlight<'a>(&'a dyn Observer);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.ended();
    }
}

fn unquote_etag(resp: &mut Response<Body>) {
    let Some(xml) = resp.body_mut().take_bytes() else {
        return;
    };
    let text = String::from_utf8_lossy(&xml);
    let fixed = match (text.find("<ETag>\""), text.find("\"</ETag>")) {
        (Some(a), Some(b)) if a < b => format!("{}<ETag>{}</ETag>{}", &text[..a], &text[a + 7..b], &text[b + 8..]),
        _ => text.into_owned(),
    };
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(fixed.len()));
    *resp.body_mut() = Body::from(fixed);
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
        if let Some(ip) = self.peer {
            req.extensions_mut().insert(crate::ctx::Peer(ip));
        }
        if self.secure {
            req.extensions_mut().insert(crate::ctx::Secure);
        }
        Box::pin(async move { Ok(this.call(req).await) })
    }
}
