//! Conversions shared by the S3 areas: store times to S3 timestamps and HTTP dates, page
//! size parameters, URL-encoded keys.

use s3s::S3Result;
use s3s::dto::{Timestamp, TimestampFormat};
use s3s::s3_error;

/// Milliseconds since the epoch (the store's times) as an S3 timestamp.
pub fn timestamp(ms: i64) -> Timestamp {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Timestamp::from(t)
}

pub fn http_date(t: &Timestamp) -> String {
    let mut buf = Vec::new();
    let _ = t.format(TimestampFormat::HttpDate, &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

pub fn parse_http_date(s: &str) -> Option<Timestamp> {
    Timestamp::parse(TimestampFormat::HttpDate, s).ok()
}

pub fn unix_secs(t: &Timestamp) -> i64 {
    time::OffsetDateTime::from(t.clone()).unix_timestamp()
}

const MAX_KEYS: i32 = 1000;

/// A page size parameter (`max-keys`, `max-parts`, `max-uploads`): 1000 by default and at
/// most, negative is InvalidArgument.
pub fn page_size(v: Option<i32>, name: &str) -> S3Result<i32> {
    match v {
        None => Ok(MAX_KEYS),
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "{name} must be a non-negative integer")),
        Some(n) => Ok(n.min(MAX_KEYS)),
    }
}

/// Whether a listing's `encoding-type` asks for URL-encoded keys (the only type S3 has).
pub fn url_encoding(e: Option<&s3s::dto::EncodingType>) -> s3s::S3Result<bool> {
    match e {
        None => Ok(false),
        Some(e) if e.as_str() == s3s::dto::EncodingType::URL => Ok(true),
        Some(_) => Err(s3s::s3_error!(
            InvalidArgument,
            "Invalid Encoding Method specified in Request"
        )),
    }
}

/// What S3 does for `encoding-type=url`: percent-encode all but unreserved characters and `/`.
pub fn encode(s: &str, on: bool) -> String {
    if !on {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
