//! Error bodies in the seed's form (Code, Message, Resource, RequestId) and the ids every
//! response carries.

use std::fmt::Write as _;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use s3s::Body;

use crate::error::default_message;

/// Rewrites an s3s error body into the seed's form (Code, Message, Resource, RequestId).
pub(super) fn finish_error(
    mut resp: Response<Body>,
    resource: &str,
    request_id: &str,
    presigned: bool,
) -> Response<Body> {
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
pub(super) fn s3_error_response(e: s3s::S3Error, resource: &str, request_id: &str) -> Response<Body> {
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

/// Rewrites an XML error as the admin API's JSON error, for errors raised before the
/// admin route runs (a bad signature, an unknown key): a JSON client gets JSON.
pub(super) fn as_admin_json(resp: &mut Response<Body>) {
    let is_xml = resp
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/xml"));
    if !is_xml || resp.status().is_success() {
        return;
    }
    let Some(xml) = resp.body_mut().take_bytes() else {
        return;
    };
    let xml = String::from_utf8_lossy(&xml);
    let field = |name| xml_field(&xml, name).map(|v| unescape(&v)).unwrap_or_default();
    let body = serde_json::json!({
        "error": {"code": field("Code"), "message": field("Message")},
        "request_id": field("RequestId"),
    })
    .to_string();
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    *resp.body_mut() = Body::from(body);
}

/// The inverse of [`escape`].
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
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
pub(super) fn resource(path: &str) -> String {
    match path.strip_suffix('/') {
        Some(b) if b.len() > 1 && b.rfind('/') == Some(0) => b.to_owned(),
        _ => path.to_owned(),
    }
}

pub(super) fn new_request_id() -> String {
    format!("{:016X}", rand::random::<u64>())
}

pub(super) fn new_host_id() -> String {
    let bytes: [u8; 24] = rand::random();
    hex::encode(bytes)
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
    fn admin_errors_become_json() {
        let mut r = error_response(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            Some(&escape("a <b> & \"c\"")),
            "/_coffer/admin/v1/users",
            "ABC",
        );
        as_admin_json(&mut r);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        let body = r.body_mut().take_bytes().unwrap();
        assert_eq!(r.headers()[CONTENT_LENGTH], body.len().to_string().as_str());
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": {"code": "SignatureDoesNotMatch", "message": "a <b> & \"c\""}, "request_id": "ABC"})
        );
    }

    #[test]
    fn resource_names_the_bucket_without_trailing_slash() {
        assert_eq!(resource("/b/"), "/b");
        assert_eq!(resource("/b"), "/b");
        assert_eq!(resource("/b/dir/"), "/b/dir/");
        assert_eq!(resource("/"), "/");
    }
}
