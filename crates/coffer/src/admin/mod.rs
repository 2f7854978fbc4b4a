//! The admin API, reached through s3s as a custom route so that it is signed and verified
//! exactly like an S3 request (SigV4, header or presigned).
//!
//! Version 1, `/_coffer/admin/v1/...` (path-style requests only; bucket names cannot
//! contain `_`): JSON bodies in and out, errors as
//! `{"error":{"code","message"},"request_id"}` with their HTTP status. One file per
//! resource: `info`, `users` (and their policies), `buckets` (usage and quotas), `kms`
//! (the key service's keys); `cli` is `coffer admin ...`. Root may do everything; a user
//! what its policies allow, the actions being `admin:ServerInfo`, `admin:ListUsers`, ...
//! (`coffer_iam::action::ADMIN_ACTIONS`; the built-in policy `admin` allows them all).
//!
//! The first version, `/?coffer-admin=...` (`legacy`), stays for `coffer user` and
//! `coffer kms`: root only, S3 XML errors.

mod buckets;
pub mod cli;
mod info;
mod kms;
mod legacy;
mod users;

use std::path::PathBuf;
use std::time::Instant;

use bytes::Bytes;
use coffer_s3::Identity;
use coffer_s3::auth::Caller;
use coffer_store::{Store, StoreError};
use http::{HeaderMap, Method, StatusCode, Uri};
use s3s::route::S3Route;
use s3s::{Body, S3Request, S3Response, S3Result};
use serde::Serialize;

pub use coffer_store::{random_access_key_id, random_secret};
pub use legacy::{ADMIN_QUERY, AddUser, AttachPolicy};

/// Where version 1 lives.
pub const V1_PREFIX: &str = "/_coffer/admin/v1/";

/// The most a request body may hold; larger ones are refused before they are read.
const MAX_BODY: usize = 64 << 10;

pub struct AdminRoute {
    pub store: Store,
    pub identity: Identity,
    /// For `info`.
    pub started: Instant,
    pub data_dir: PathBuf,
    pub region: String,
}

/// An error of version 1: its status, code and message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
    }

    fn denied() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "The caller may not use this part of the admin API.",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        use StatusCode as S;
        match e {
            StoreError::NoSuchUser => Self::new(S::NOT_FOUND, "NoSuchUser", "The user does not exist."),
            StoreError::UserExists => Self::new(
                S::CONFLICT,
                "UserAlreadyExists",
                "A user with this name or access key already exists.",
            ),
            StoreError::AccessKeyExists => Self::new(
                S::CONFLICT,
                "AccessKeyAlreadyExists",
                "An access key with this id already exists.",
            ),
            StoreError::NoSuchAccessKey => Self::new(
                S::NOT_FOUND,
                "NoSuchAccessKey",
                "The user has no access key with this id.",
            ),
            StoreError::TooManyAccessKeys => Self::new(
                S::CONFLICT,
                "LimitExceeded",
                format!("A user may hold at most {} access keys.", coffer_store::MAX_ACCESS_KEYS),
            ),
            StoreError::NoSuchBucket => Self::new(S::NOT_FOUND, "NoSuchBucket", "The bucket does not exist."),
            StoreError::KmsKeyNotFound(k) => Self::new(S::NOT_FOUND, "NoSuchKmsKey", format!("No KMS key {k}.")),
            StoreError::KmsKeyExists(k) => Self::new(
                S::CONFLICT,
                "KmsKeyAlreadyExists",
                format!("The KMS key {k} already exists."),
            ),
            StoreError::ShuttingDown => Self::new(S::SERVICE_UNAVAILABLE, "ServiceUnavailable", "Shutting down."),
            e => {
                tracing::error!(error = %e, "admin API: internal error");
                Self::new(
                    S::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "We encountered an internal error.",
                )
            }
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// A successful answer: a JSON body, or 204 with none.
enum Reply {
    Json(Vec<u8>),
    NoContent,
}

fn reply(v: &impl Serialize) -> ApiResult<Reply> {
    serde_json::to_vec(v)
        .map(Reply::Json)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string()))
}

fn respond(status: StatusCode, body: Vec<u8>) -> S3Response<Body> {
    let mut resp = S3Response::with_status(Body::from(Bytes::from(body)), status);
    resp.headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp.headers
        .insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    resp
}

/// What a v1 request may do, settled in `check_access` and read by `call`.
#[derive(Clone)]
enum Admission {
    Root,
    User(Caller),
    Anonymous,
}

/// One v1 request, as the resource handlers see it.
pub(crate) struct Call<'a> {
    route: &'a AdminRoute,
    method: Method,
    /// The path's segments after the prefix, percent-decoded.
    segments: Vec<String>,
    body: Body,
    admission: Admission,
}

impl Call<'_> {
    /// Refuses the call unless the caller may do `action` (`admin:...`) on `resource`
    /// (`*`, or a bucket's ARN).
    fn allow(&self, action: &str, resource: &str) -> ApiResult<()> {
        let c = match &self.admission {
            Admission::Root => return Ok(()),
            Admission::User(c) => c,
            Admission::Anonymous => return Err(ApiError::denied()),
        };
        let policies = self.route.store.user_policies(&c.name)?;
        let id = c.canonical_user_id.0;
        let keys = coffer_iam::Context::default();
        let req = coffer_iam::Request {
            who: coffer_iam::Who::User {
                name: &c.name,
                canonical_id: &id,
                root: false,
            },
            action,
            resource,
            context: &keys,
        };
        let decision = coffer_iam::combine(policies.iter().filter_map(|(_, text)| {
            coffer_iam::Policy::parse(text.as_bytes(), coffer_iam::Attached::User)
                .ok()
                .map(|p| p.evaluate(&req))
        }));
        if decision == coffer_iam::Decision::Allow {
            Ok(())
        } else {
            Err(ApiError::denied())
        }
    }

    /// The body as JSON, at most [`MAX_BODY`] bytes; an empty body is `{}`.
    async fn json<T: serde::de::DeserializeOwned>(&mut self) -> ApiResult<T> {
        use s3s::stream::ByteStream;
        if self.body.remaining_length().exact().is_some_and(|n| n > MAX_BODY) {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "MaxMessageLengthExceeded",
                format!("Admin request bodies are at most {MAX_BODY} bytes."),
            ));
        }
        let bytes = self.body.store_all_limited(MAX_BODY).await.map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "MaxMessageLengthExceeded",
                format!("Admin request bodies are at most {MAX_BODY} bytes."),
            )
        })?;
        let bytes: &[u8] = if bytes.is_empty() { b"{}" } else { &bytes };
        serde_json::from_slice(bytes).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "MalformedJSON",
                format!("The body is not the JSON expected: {e}"),
            )
        })
    }

    fn method_not_allowed(&self) -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{} is not allowed on this resource.", self.method),
        )
    }
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NoSuchResource", "No such admin resource.")
}

fn is_v1(uri: &Uri) -> bool {
    uri.path().starts_with(V1_PREFIX)
}

impl AdminRoute {
    async fn v1(&self, req: S3Request<Body>) -> S3Response<Body> {
        let request_id = req
            .extensions
            .get::<coffer_s3::service::RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        let admission = req
            .extensions
            .get::<Admission>()
            .cloned()
            .unwrap_or(Admission::Anonymous);
        let rest = &req.uri.path()[V1_PREFIX.len()..];
        let segments = rest
            .split('/')
            .map(|s| percent_decode(s).unwrap_or_default())
            .collect::<Vec<_>>();
        let mut call = Call {
            route: self,
            method: req.method.clone(),
            segments,
            body: req.input,
            admission,
        };
        let result = match call.segments.first().map(String::as_str) {
            Some("info") => info::serve(&mut call).await,
            Some("users") => users::serve(&mut call).await,
            Some("buckets") => buckets::serve(&mut call).await,
            Some("kms-keys") => kms::serve(&mut call).await,
            _ => Err(not_found()),
        };
        match result {
            Ok(Reply::Json(body)) => respond(StatusCode::OK, body),
            Ok(Reply::NoContent) => {
                let mut r = S3Response::with_status(Body::empty(), StatusCode::NO_CONTENT);
                r.headers
                    .insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
                r
            }
            Err(e) => {
                let body = serde_json::json!({
                    "error": { "code": e.code, "message": e.message },
                    "request_id": request_id,
                });
                respond(e.status, serde_json::to_vec(&body).unwrap_or_default())
            }
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[async_trait::async_trait]
impl S3Route for AdminRoute {
    fn is_match(&self, _: &Method, uri: &Uri, _: &HeaderMap, _: &mut http::Extensions) -> bool {
        is_v1(uri) || (uri.path() == "/" && legacy::query_param(uri, ADMIN_QUERY).is_some())
    }

    async fn check_access(&self, req: &mut S3Request<Body>) -> S3Result<()> {
        if is_v1(&req.uri) {
            // Version 1 answers refusals itself, as JSON.
            let admission = match req.credentials {
                None => Admission::Anonymous,
                Some(_) => {
                    let caller = self.identity.caller(req)?;
                    coffer_s3::auth::prove(&req.extensions);
                    if caller.is_root() {
                        Admission::Root
                    } else {
                        Admission::User(caller)
                    }
                }
            };
            req.extensions.insert(admission);
            return Ok(());
        }
        let caller = self.identity.caller(req)?;
        coffer_s3::auth::prove(&req.extensions);
        if caller.is_root() {
            Ok(())
        } else {
            Err(s3s::s3_error!(AccessDenied))
        }
    }

    async fn call(&self, req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        if is_v1(&req.uri) {
            Ok(self.v1(req).await)
        } else {
            self.legacy_call(req).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_paths_are_percent_decoded() {
        assert_eq!(percent_decode("bob%40x.com").as_deref(), Some("bob@x.com"));
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
        assert_eq!(percent_decode("bad%4"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
