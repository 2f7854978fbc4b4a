//! Checks on a request's signature scheme that s3s leaves out, made on the headers and query
//! alone, before s3s reads a byte of the body.
//!
//! - SigV2 signs its `Date` but s3s never checks it, so a captured request could be replayed
//!   forever: more than 15 minutes off the server clock is `RequestTimeTooSkewed`, a missing
//!   or unparsable date `AccessDenied`, as on AWS.
//! - SigV2 signs only the subresources on its list; a signature made for one operation must
//!   not carry another (a signed PutObject reused as `?retention` until 2120). Operations
//!   routed on a parameter SigV2 does not sign need SigV4, as AWS answers SigV4-only features.
//! - A presigned SigV4 URL lives at most seven days (`X-Amz-Expires` <= 604800), and its
//!   `X-Amz-Expires` is a non-negative number.

use http::{Request, StatusCode};
use s3s::Body;
use s3s::dto::{Timestamp, TimestampFormat};

/// Why a request is refused before s3s sees it.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: &'static str,
}

/// SigV2 requests more than this far from the server clock are refused, as on AWS.
const MAX_SKEW_SECS: i64 = 15 * 60;

/// AWS's cap on a presigned URL's lifetime, in seconds.
pub const MAX_PRESIGNED_EXPIRES: u64 = 604_800;

/// Query parameters s3s routes on that SigV2's string to sign leaves out (its list is
/// `s3s::sig_v2::INCLUDED_QUERY`, private to s3s). `id` selects one of several analytics,
/// inventory or metrics configurations.
const SIGV2_UNSIGNED_SUBRESOURCES: &[&str] = &[
    "attributes",
    "encryption",
    "id",
    "intelligent-tiering",
    "legal-hold",
    "metadataTable",
    "ownershipControls",
    "policyStatus",
    "publicAccessBlock",
    "retention",
    "session",
];

pub fn check(req: &Request<Body>, now: impl FnOnce() -> time::OffsetDateTime) -> Result<(), Refusal> {
    let query = req.uri().query().unwrap_or("");
    // Decoded as s3s decodes them: `X-Amz-%45xpires` is X-Amz-Expires.
    let params = || form_urlencoded::parse(query.as_bytes());
    let expires: Vec<_> = params().filter(|(k, _)| k == "X-Amz-Expires").map(|(_, v)| v).collect();
    if expires.len() > 1 {
        return Err(Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "AuthorizationQueryParametersError",
            message: "X-Amz-Expires may be given once",
        });
    }
    if let Some(v) = expires.first() {
        // AWS's three answers; s3s would call a negative one a missing field.
        let message = match v.parse::<i64>() {
            Ok(n) if n < 0 => Some("X-Amz-Expires must be non-negative"),
            Ok(n) if n as u64 > MAX_PRESIGNED_EXPIRES => {
                Some("X-Amz-Expires must be less than a week (in seconds) that is 604800")
            }
            Ok(_) => None,
            Err(_) => Some("X-Amz-Expires should be a number"),
        };
        if let Some(message) = message {
            return Err(Refusal {
                status: StatusCode::BAD_REQUEST,
                code: "AuthorizationQueryParametersError",
                message,
            });
        }
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let v2_header = header("authorization").is_some_and(|a| a.starts_with("AWS ") && !a.starts_with("AWS4-"));
    let v2_query = params().any(|(k, _)| k == "Signature") && params().any(|(k, _)| k == "AWSAccessKeyId");
    if !(v2_header || v2_query) {
        return Ok(());
    }
    if params().any(|(k, _)| SIGV2_UNSIGNED_SUBRESOURCES.contains(&k.as_ref())) {
        return Err(Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidRequest",
            message: "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        });
    }
    if v2_header {
        // With x-amz-date present, SigV2 signs it and not Date.
        let date = header("x-amz-date").or_else(|| header("date"));
        // A date before the epoch is no valid date (AWS: AccessDenied, not a skew).
        let Some(t) = date.and_then(parse_date).filter(|t| t.unix_timestamp() >= 0) else {
            return Err(Refusal {
                status: StatusCode::FORBIDDEN,
                code: "AccessDenied",
                message: "AWS authentication requires a valid Date or x-amz-date header",
            });
        };
        if (now() - t).whole_seconds().abs() > MAX_SKEW_SECS {
            return Err(Refusal {
                status: StatusCode::FORBIDDEN,
                code: "RequestTimeTooSkewed",
                message: "The difference between the request time and the current time is too large.",
            });
        }
    }
    Ok(())
}

/// An HTTP date (RFC 9110's preferred form), or ISO 8601 basic (`20130524T000000Z`),
/// which some SigV2 clients put in `x-amz-date`.
fn parse_date(s: &str) -> Option<time::OffsetDateTime> {
    if let Ok(t) = Timestamp::parse(TimestampFormat::HttpDate, s.trim()) {
        return Some(t.into());
    }
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(s.trim(), fmt)
        .ok()
        .map(|t| t.assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(target: &str, headers: &[(&str, &str)]) -> Request<Body> {
        let mut b = Request::builder().uri(target);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    const NOW: &str = "Mon, 30 Nov 2026 04:00:00 GMT";

    fn now() -> time::OffsetDateTime {
        parse_date(NOW).unwrap()
    }

    fn code(r: Result<(), Refusal>) -> Option<&'static str> {
        r.err().map(|r| r.code)
    }

    #[test]
    fn sigv2_dates_must_be_present_valid_and_recent() {
        let auth = ("authorization", "AWS AKID:c2ln");
        assert_eq!(code(check(&req("/b/k", &[auth, ("date", NOW)]), now)), None);
        assert_eq!(
            code(check(&req("/b/k", &[auth, ("x-amz-date", "20261130T041400Z")]), now)),
            None
        );
        assert_eq!(
            code(check(
                &req("/b/k", &[auth, ("date", "Mon, 30 Nov 2026 03:44:59 GMT")]),
                now
            )),
            Some("RequestTimeTooSkewed")
        );
        assert_eq!(
            code(check(
                &req("/b/k", &[auth, ("date", "Thu, 01 Jan 1970 00:00:00 GMT")]),
                now
            )),
            Some("RequestTimeTooSkewed")
        );
        assert_eq!(
            code(check(&req("/b/k", &[auth, ("date", "not a date at all")]), now)),
            Some("AccessDenied")
        );
        // Before the epoch: not a date AWS takes, rather than a skewed one.
        assert_eq!(
            code(check(
                &req("/b/k", &[auth, ("x-amz-date", "Tue, 07 Jul 1950 21:53:04 GMT")]),
                now
            )),
            Some("AccessDenied")
        );
        assert_eq!(code(check(&req("/b/k", &[auth]), now)), Some("AccessDenied"));
        // x-amz-date is what SigV2 signs when both are present.
        assert_eq!(
            code(check(
                &req(
                    "/b/k",
                    &[auth, ("date", NOW), ("x-amz-date", "Tue, 01 Jan 2019 00:00:00 GMT")]
                ),
                now
            )),
            Some("RequestTimeTooSkewed")
        );
    }

    #[test]
    fn sigv2_cannot_carry_subresources_it_does_not_sign() {
        let h = [("authorization", "AWS AKID:c2ln"), ("date", NOW)];
        for sub in ["retention", "legal-hold", "attributes", "publicAccessBlock"] {
            assert_eq!(
                code(check(&req(&format!("/b/k?{sub}"), &h), now)),
                Some("InvalidRequest"),
                "{sub}"
            );
        }
        assert_eq!(code(check(&req("/b/k?tagging", &h), now)), None);
        assert_eq!(code(check(&req("/b/k?object-lock", &h), now)), None);
        let presigned = "/b/k?retention&AWSAccessKeyId=AKID&Expires=1&Signature=c2ln";
        assert_eq!(code(check(&req(presigned, &[]), now)), Some("InvalidRequest"));
        // SigV4 signs the whole query.
        let v4 = [(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20261130/us-east-1/s3/aws4_request",
        )];
        assert_eq!(code(check(&req("/b/k?retention", &v4), now)), None);
    }

    #[test]
    fn presigned_urls_live_at_most_a_week() {
        let url = |n: &str| format!("/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires={n}&X-Amz-Signature=00");
        let refusal = |n: &str| check(&req(&url(n), &[]), now).err().map(|r| r.message);
        assert_eq!(refusal("604800"), None);
        assert_eq!(refusal("0"), None);
        for n in ["604801", "4294967295"] {
            assert_eq!(
                refusal(n),
                Some("X-Amz-Expires must be less than a week (in seconds) that is 604800")
            );
        }
        assert_eq!(refusal("-7"), Some("X-Amz-Expires must be non-negative"));
        assert_eq!(refusal("soon"), Some("X-Amz-Expires should be a number"));
        // The name percent-encoded is the same name, as s3s reads it; and only once.
        let encoded = "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-%45xpires=4294967295&X-Amz-Signature=00";
        assert!(check(&req(encoded, &[]), now).is_err());
        let twice = "/b/k?X-Amz-Expires=60&X-Amz-Expires=4294967295&X-Amz-Signature=00";
        assert!(check(&req(twice, &[]), now).is_err());
    }
}
