//! The endpoints a service manager, a load balancer and Prometheus use, under `/_coffer/`
//! (never a bucket: bucket names cannot contain `_`): health, metrics and the console; and
//! what is recorded of every request (metrics, the access log).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use bytes::Bytes;
use coffer_s3::service::{Finished, Observer};
use coffer_store::Store;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use s3s::Body;

use crate::metrics::Metrics;

pub struct Ops {
    pub store: Store,
    pub data: PathBuf,
    pub metrics: Arc<Metrics>,
    /// Record metrics and serve them (`--metrics`).
    pub metrics_on: bool,
    /// `Authorization: Bearer TOKEN` required to read metrics, if set.
    pub metrics_token: Option<String>,
    pub access_log: bool,
    /// Shutdown has been asked for: not ready any more (set before the service stops
    /// taking requests).
    pub draining: AtomicBool,
}

impl Ops {
    /// Ready: not draining, the last metadata commit did not fail, and the data directory
    /// can be written (not remounted read-only, not gone).
    fn readiness(&self) -> Result<(), &'static str> {
        if self.draining.load(Relaxed) {
            return Err("draining");
        }
        if coffer_store::stats::LAST_COMMIT_FAILED.load(Relaxed) {
            return Err("metadata commits are failing");
        }
        if !writable(&self.data) {
            return Err("data directory is not writable");
        }
        Ok(())
    }

    fn metrics_response(&self, req: &Request<Body>) -> Response<Body> {
        if !self.metrics_on {
            return json(
                StatusCode::NOT_FOUND,
                r#"{"status":"metrics are off (--metrics false)"}"#,
            );
        }
        if let Some(token) = &self.metrics_token {
            let given = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
                let mut r = json(StatusCode::UNAUTHORIZED, r#"{"status":"a bearer token is required"}"#);
                r.headers_mut()
                    .insert(http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return r;
            }
        }
        let text = self.metrics.render(&self.store);
        respond(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            Bytes::from(text),
        )
    }
}

impl Observer for Ops {
    fn serve(&self, req: &Request<Body>) -> Response<Body> {
        let mut resp = if req.method() != Method::GET && req.method() != Method::HEAD {
            json(StatusCode::METHOD_NOT_ALLOWED, r#"{"status":"GET or HEAD only"}"#)
        } else {
            match req.uri().path() {
                "/_coffer/health/live" => json(StatusCode::OK, r#"{"status":"live"}"#),
                "/_coffer/health/ready" => match self.readiness() {
                    Ok(()) => json(StatusCode::OK, r#"{"status":"ready"}"#),
                    Err(why) => json(
                        StatusCode::SERVICE_UNAVAILABLE,
                        &serde_json::json!({"status": "not ready", "reason": why}).to_string(),
                    ),
                },
                "/_coffer/metrics" => self.metrics_response(req),
                p => console(p),
            }
        };
        if req.method() == Method::HEAD {
            *resp.body_mut() = Body::empty();
        }
        resp
    }

    fn records(&self) -> bool {
        self.metrics_on || self.access_log
    }

    fn wants_details(&self) -> bool {
        self.access_log
    }

    fn started(&self) {
        self.metrics.started();
    }

    fn ended(&self) {
        self.metrics.ended();
    }

    fn finished(&self, done: &Finished<'_>) {
        if self.metrics_on {
            self.metrics.record(done);
        }
        if self.access_log {
            let (bucket, key) = done.bucket_and_key();
            tracing::info!(
                target: "coffer::access",
                request_id = done.request_id,
                caller = done.caller.unwrap_or("anonymous"),
                operation = done.operation.name,
                method = %done.method,
                bucket = bucket.unwrap_or(""),
                key = key.unwrap_or(""),
                status = done.status,
                bytes_in = done.bytes_in,
                bytes_out = done.bytes_out,
                duration_us = done.duration.as_micros() as u64,
            );
        }
    }
}

fn console(path: &str) -> Response<Body> {
    use crate::console;
    let mut r = if let Some(to) = console::redirect(path) {
        let mut r = respond(StatusCode::MOVED_PERMANENTLY, "text/plain", Bytes::new());
        r.headers_mut()
            .insert(http::header::LOCATION, HeaderValue::from_static(to));
        r
    } else if let Some((content_type, body)) = console::serve(path) {
        respond(StatusCode::OK, content_type, Bytes::from_static(body))
    } else {
        return json(StatusCode::NOT_FOUND, r#"{"status":"no such endpoint"}"#);
    };
    for (name, value) in console::HEADERS {
        r.headers_mut().insert(*name, HeaderValue::from_static(value));
    }
    r
}

fn writable(dir: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path; access(2) only reads it.
    unsafe { libc::access(path.as_ptr(), libc::W_OK) == 0 }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn json(status: StatusCode, body: &str) -> Response<Body> {
    respond(status, "application/json", Bytes::from(body.to_owned()))
}
