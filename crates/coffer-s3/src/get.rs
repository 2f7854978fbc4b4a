//! GetObject and HeadObject: conditional requests, ranges, stored headers.

use coffer_store::ObjectRecord;
use futures::StreamExt;
use http::HeaderMap;
use http::header::{ETAG, LAST_MODIFIED};
use s3s::dto::*;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use crate::Coffer;
use crate::checksum::{set_checksum_fields, set_checksums};
use crate::convert::{http_date, parse_http_date, timestamp, unix_secs};
use crate::ctx::known_bucket;
use crate::encryption::{echo, set_sse};
use crate::error::IntoS3;

/// The conditional headers of a read.
pub struct Conditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

/// RFC 9110 section 13.2.2 order, which S3 follows: If-Match, else If-Unmodified-Since
/// (412); then If-None-Match, else If-Modified-Since (304 on reads).
pub fn check_conditions(
    rec: &ObjectRecord,
    c: &Conditions<'_>,
    not_modified: fn(&ObjectRecord) -> S3Error,
) -> S3Result<()> {
    let modified = rec.last_modified_ms.div_euclid(1000);
    let matches = |cond: &ETagCondition| match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == rec.etag,
    };
    if let Some(m) = c.if_match {
        if !matches(m) {
            return Err(s3_error!(PreconditionFailed));
        }
    } else if let Some(t) = c.if_unmodified_since
        && modified > unix_secs(t)
    {
        return Err(s3_error!(PreconditionFailed));
    }
    if let Some(m) = c.if_none_match {
        if matches(m) {
            return Err(not_modified(rec));
        }
    } else if let Some(t) = c.if_modified_since
        && modified <= unix_secs(t)
    {
        return Err(not_modified(rec));
    }
    Ok(())
}

/// The `x-amz-copy-source-if-*` conditions of CopyObject and UploadPartCopy: a failed one
/// is 412 whichever header it is (S3 does not answer 304 here).
pub fn check_copy_source(rec: &ObjectRecord, c: Conditions<'_>) -> S3Result<()> {
    check_conditions(rec, &c, |_| s3_error!(PreconditionFailed))
}

/// 304 for GET/HEAD, with the validators a cache needs.
pub fn not_modified(rec: &ObjectRecord) -> S3Error {
    let mut e = s3_error!(NotModified);
    let mut h = HeaderMap::new();
    if let Ok(v) = format!("\"{}\"", rec.etag).parse() {
        h.insert(ETAG, v);
    }
    if let Ok(v) = http_date(&timestamp(rec.last_modified_ms)).parse() {
        h.insert(LAST_MODIFIED, v);
    }
    e.set_headers(h);
    e
}

/// What a read serves: the byte range (None for the whole object) and, for a `partNumber`
/// read, the object's part count. `parts` are the spans of a multipart object's parts.
fn resolve_span(
    range: Option<&Range>,
    part_number: Option<i32>,
    size: u64,
    parts: &[(u64, u64)],
) -> S3Result<(Option<std::ops::Range<u64>>, Option<i32>)> {
    let Some(n) = part_number else {
        // A suffix range of an empty object is the whole (empty) object, as AWS serves it;
        // as a range it would be 0..0, whose last byte does not exist.
        if size == 0 && matches!(range, Some(Range::Suffix { .. })) {
            return Ok((None, None));
        }
        let r = range
            .map(|r| r.check(size).map_err(|_| s3_error!(InvalidRange)))
            .transpose()?;
        return Ok((r, None));
    };
    if range.is_some() {
        return Err(s3_error!(
            InvalidRequest,
            "Cannot specify both Range header and partNumber query parameter"
        ));
    }
    if !(1..=10000).contains(&n) {
        return Err(s3_error!(
            InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive"
        ));
    }
    let not_satisfiable = || crate::error::custom("InvalidPartNumber", http::StatusCode::RANGE_NOT_SATISFIABLE);
    if parts.is_empty() {
        // An object not uploaded in parts has exactly one.
        return if n == 1 {
            Ok((None, None))
        } else {
            Err(not_satisfiable())
        };
    }
    let &(off, len) = parts.get(n as usize - 1).ok_or_else(not_satisfiable)?;
    Ok((Some(off..off + len), Some(parts.len() as i32)))
}

fn content_range(r: &std::ops::Range<u64>, size: u64) -> String {
    format!("bytes {}-{}/{}", r.start, r.end - 1, size)
}

macro_rules! fill_headers {
    ($c:expr, $known:expr, $bucket:expr, $out:expr, $rec:expr) => {
        let m = &$rec.meta;
        $out.e_tag = Some(ETag::Strong($rec.etag.clone()));
        $out.last_modified = Some(timestamp($rec.last_modified_ms));
        $out.accept_ranges = Some("bytes".into());
        $out.content_type = Some(m.content_type.clone().unwrap_or_else(|| "binary/octet-stream".into()));
        $out.cache_control = m.cache_control.clone();
        $out.content_disposition = m.content_disposition.clone();
        $out.content_encoding = m.content_encoding.clone();
        $out.content_language = m.content_language.clone();
        $out.expires = m.expires.as_deref().and_then(parse_http_date);
        if !m.user.is_empty() {
            $out.metadata = Some(m.user.iter().cloned().collect());
        }
        if let Some(r) = &$rec.retention {
            $out.object_lock_mode = Some(ObjectLockMode::from_static(r.mode.as_str()));
            $out.object_lock_retain_until_date = Some(timestamp(r.until_ms));
        }
        if $rec.legal_hold {
            $out.object_lock_legal_hold_status =
                Some(ObjectLockLegalHoldStatus::from_static(ObjectLockLegalHoldStatus::ON));
        }
        $out.version_id = crate::versioning::version_header($c, $known, &$bucket, &$rec);
        $out.website_redirect_location = $rec.website_redirect.clone();
    };
}

pub async fn get_object(c: &Coffer, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
    let input = &req.input;
    let found = c
        .store
        .get_object(&input.bucket, &input.key, input.version_id.as_deref())
        .await
        .s3();
    let mut handle = crate::ctx::hide_missing(&req, &input.bucket, &input.key, found)?;
    crate::ctx::check_object(&req, &handle.record)?;
    let asked = crate::encryption::asked(&req);
    c.store
        .unlock(&mut handle, asked.customer.as_ref().map(|k| &k.key))
        .s3()?;
    let rec = handle.record.clone();
    check_conditions(
        &rec,
        &Conditions {
            if_match: input.if_match.as_ref(),
            if_none_match: input.if_none_match.as_ref(),
            if_modified_since: input.if_modified_since.as_ref(),
            if_unmodified_since: input.if_unmodified_since.as_ref(),
        },
        not_modified,
    )?;
    let (range, parts_count) = resolve_span(input.range.as_ref(), input.part_number, rec.size, &handle.part_spans())?;
    let span = range.clone().unwrap_or(0..rec.size);
    let stream = handle
        .stream(span.start, span.end - span.start)
        .map(|r| r.map_err(|e| Box::new(e) as s3s::StdError));
    let mut out = GetObjectOutput {
        body: Some(StreamingBlob::new(SizedStream {
            inner: stream,
            remaining: span.end - span.start,
        })),
        content_length: Some((span.end - span.start) as i64),
        content_range: range.as_ref().map(|r| content_range(r, rec.size)),
        parts_count,
        ..Default::default()
    };
    fill_headers!(c, known_bucket(&req), input.bucket, out, rec);
    set_sse!(out, echo(c, rec.sse.as_ref().map(|s| &s.mode), asked.customer.as_ref()));
    if input.version_id.is_none() {
        out.expiration = crate::lifecycle::header(c, &req, &input.key, &rec);
    }
    out.tag_count = crate::tagging::count(&rec.tags);
    if range.is_none()
        && input
            .checksum_mode
            .as_ref()
            .is_some_and(|m| m.as_str() == ChecksumMode::ENABLED)
    {
        set_checksums!(out, &rec.meta.checksums);
    }
    Ok(S3Response::new(out))
}

pub async fn head_object(c: &Coffer, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
    let input = &req.input;
    // Part boundaries need the part rows; otherwise the record is enough.
    let found = if input.part_number.is_some() {
        c.store
            .get_object(&input.bucket, &input.key, input.version_id.as_deref())
            .await
            .s3()
            .map(|h| {
                let spans = h.part_spans();
                (h.record, spans)
            })
    } else {
        c.store
            .head_object(&input.bucket, &input.key, input.version_id.as_deref())
            .s3()
            .map(|r| (r, Vec::new()))
    };
    let (rec, parts) = crate::ctx::hide_missing(&req, &input.bucket, &input.key, found)?;
    crate::ctx::check_object(&req, &rec)?;
    let asked = crate::encryption::asked(&req);
    c.store
        .check_read_key(&rec, asked.customer.as_ref().map(|k| &k.key))
        .s3()?;
    check_conditions(
        &rec,
        &Conditions {
            if_match: input.if_match.as_ref(),
            if_none_match: input.if_none_match.as_ref(),
            if_modified_since: input.if_modified_since.as_ref(),
            if_unmodified_since: input.if_unmodified_since.as_ref(),
        },
        not_modified,
    )?;
    let (range, parts_count) = resolve_span(input.range.as_ref(), input.part_number, rec.size, &parts)?;
    let span = range.clone().unwrap_or(0..rec.size);
    let mut out = HeadObjectOutput {
        content_length: Some((span.end - span.start) as i64),
        content_range: range.as_ref().map(|r| content_range(r, rec.size)),
        parts_count,
        ..Default::default()
    };
    fill_headers!(c, known_bucket(&req), input.bucket, out, rec);
    set_sse!(out, echo(c, rec.sse.as_ref().map(|s| &s.mode), asked.customer.as_ref()));
    if input.version_id.is_none() {
        out.expiration = crate::lifecycle::header(c, &req, &input.key, &rec);
    }
    // response-* overrides apply to HEAD as to GET; s3s applies them to GET only.
    if let Some(v) = &input.response_content_type {
        out.content_type = Some(v.clone());
    }
    if let Some(v) = &input.response_cache_control {
        out.cache_control = Some(v.clone());
    }
    if let Some(v) = &input.response_content_disposition {
        out.content_disposition = Some(v.clone());
    }
    if let Some(v) = &input.response_content_encoding {
        out.content_encoding = Some(v.clone());
    }
    if let Some(v) = &input.response_content_language {
        out.content_language = Some(v.clone());
    }
    if let Some(v) = &input.response_expires {
        out.expires = Some(v.clone());
    }
    if range.is_none()
        && input
            .checksum_mode
            .as_ref()
            .is_some_and(|m| m.as_str() == ChecksumMode::ENABLED)
    {
        set_checksums!(out, &rec.meta.checksums);
    }
    // HeadObjectOutput has no field for it; S3 sends it on HEAD as on GET.
    let mut resp = S3Response::new(out);
    if let Some(n) = crate::tagging::count(&rec.tags) {
        resp.headers.insert("x-amz-tagging-count", http::HeaderValue::from(n));
    }
    Ok(resp)
}

/// A body stream that knows its length, so hyper sends Content-Length instead of chunks.
pub struct SizedStream<S> {
    pub inner: S,
    pub remaining: u64,
}

impl<S> futures::Stream for SizedStream<S>
where
    S: futures::Stream<Item = Result<bytes::Bytes, s3s::StdError>> + Unpin,
{
    type Item = Result<bytes::Bytes, s3s::StdError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let p = self.inner.poll_next_unpin(cx);
        if let std::task::Poll::Ready(Some(Ok(b))) = &p {
            self.remaining = self.remaining.saturating_sub(b.len() as u64);
        }
        p
    }
}

impl<S> s3s::stream::ByteStream for SizedStream<S>
where
    S: futures::Stream<Item = Result<bytes::Bytes, s3s::StdError>> + Unpin,
{
    fn remaining_length(&self) -> s3s::stream::RemainingLength {
        s3s::stream::RemainingLength::new_exact(self.remaining as usize)
    }
}

/// GetObjectAttributes: what was asked for in `x-amz-object-attributes` (a list, which
/// clients send as one comma-separated header or several), for a version or the current
/// one. A multipart object shows its part count and, when it was uploaded with an
/// additional checksum, its parts with their checksums, paged by `x-amz-max-parts` and
/// `x-amz-part-number-marker`; AWS lists no parts for objects without one.
pub async fn get_object_attributes(
    c: &Coffer,
    req: S3Request<GetObjectAttributesInput>,
) -> S3Result<S3Response<GetObjectAttributesOutput>> {
    let input = &req.input;
    let mut wanted = std::collections::HashSet::new();
    for a in &input.object_attributes {
        for name in a.as_str().split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !matches!(
                name,
                "ETag" | "Checksum" | "ObjectParts" | "StorageClass" | "ObjectSize"
            ) {
                return Err(s3_error!(InvalidArgument, "Invalid attribute name specified."));
            }
            wanted.insert(name.to_owned());
        }
    }
    if wanted.is_empty() {
        return Err(s3_error!(InvalidArgument, "Invalid attribute name specified."));
    }
    let found = c
        .store
        .object_with_parts(&input.bucket, &input.key, input.version_id.as_deref())
        .s3();
    let (rec, parts) = crate::ctx::hide_missing(&req, &input.bucket, &input.key, found)?;
    crate::ctx::check_object(&req, &rec)?;
    let asked = crate::encryption::asked(&req);
    c.store
        .check_read_key(&rec, asked.customer.as_ref().map(|k| &k.key))
        .s3()?;
    let has = |n: &str| wanted.contains(n);
    let mut out = GetObjectAttributesOutput {
        last_modified: Some(timestamp(rec.last_modified_ms)),
        version_id: crate::versioning::version_header(c, known_bucket(&req), &input.bucket, &rec),
        ..Default::default()
    };
    if has("ETag") {
        out.e_tag = Some(ETag::Strong(rec.etag.clone()));
    }
    if has("ObjectSize") {
        out.object_size = Some(rec.size as i64);
    }
    if has("StorageClass") {
        out.storage_class = Some(StorageClass::from_static(StorageClass::STANDARD));
    }
    if has("Checksum") && !rec.meta.checksums.is_empty() {
        let mut sum = Checksum::default();
        set_checksums!(sum, &rec.meta.checksums);
        out.checksum = Some(sum);
    }
    if has("ObjectParts") && !parts.is_empty() {
        let max = match input.max_parts {
            Some(n) if !(0..=1000).contains(&n) => {
                return Err(s3_error!(
                    InvalidArgument,
                    "Argument max-parts must be an integer between 0 and 1000"
                ));
            }
            Some(n) => n as usize,
            None => 1000,
        };
        let marker = u32::try_from(input.part_number_marker.unwrap_or(0))
            .map_err(|_| s3_error!(InvalidArgument, "Invalid part number marker"))?;
        let with_sums = parts.iter().any(|p| !p.checksums.is_empty());
        let after: Vec<_> = parts.iter().filter(|p| p.part_number > marker).collect();
        let page = &after[..after.len().min(max)];
        let truncated = after.len() > page.len();
        out.object_parts = Some(GetObjectAttributesParts {
            total_parts_count: Some(parts.len() as i32),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: page.last().filter(|_| truncated).map(|p| p.part_number as i32),
            max_parts: Some(max as i32),
            is_truncated: Some(truncated),
            parts: with_sums.then(|| {
                page.iter()
                    .map(|p| {
                        let mut part = ObjectPart {
                            part_number: Some(p.part_number as i32),
                            size: Some(p.size as i64),
                            ..Default::default()
                        };
                        set_checksum_fields!(part, &p.checksums);
                        part
                    })
                    .collect()
            }),
        });
    }
    Ok(S3Response::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[derive(Debug, PartialEq)]
    enum Served {
        Whole,
        Unsatisfiable,
        Span(std::ops::Range<u64>),
    }

    /// RFC 9110's byte ranges as AWS serves them, written from the grammar: one
    /// `bytes=first-[last]` or `bytes=-suffix`, numbers no larger than i64; anything else is
    /// ignored (the whole object), and a suffix of an empty object is the empty object.
    fn model(header: &str, size: u64) -> Served {
        let num = |s: &str| -> Option<u64> {
            let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            ok.then(|| s.parse::<u64>().ok()).flatten()
        };
        let Some((a, b)) = header.strip_prefix("bytes=").and_then(|s| s.split_once('-')) else {
            return Served::Whole;
        };
        if a.is_empty() {
            return match num(b) {
                None => Served::Whole,
                Some(_) if size == 0 => Served::Whole,
                Some(0) => Served::Unsatisfiable,
                Some(n) => Served::Span(size - n.min(size)..size),
            };
        }
        let big = |n: u64| n > i64::MAX as u64;
        let Some(first) = num(a).filter(|&f| !big(f)) else {
            return Served::Whole;
        };
        let last = if b.is_empty() {
            None
        } else {
            match num(b) {
                Some(l) if !big(l) && l >= first => Some(l),
                _ => return Served::Whole,
            }
        };
        if first >= size {
            return Served::Unsatisfiable;
        }
        Served::Span(first..last.map_or(size, |l| l.min(size - 1) + 1))
    }

    /// What coffer serves: s3s parses the header (and, patched, drops one that does not
    /// parse), then `resolve_span`.
    fn served(header: &str, size: u64) -> Served {
        let range = Range::parse(header).ok();
        match resolve_span(range.as_ref(), None, size, &[]) {
            Ok((None, None)) => Served::Whole,
            Ok((Some(r), None)) => {
                // Every span has a last byte, so Content-Range cannot underflow.
                assert!(r.start < r.end && r.end <= size, "{header} of {size}: {r:?}");
                assert_eq!(
                    content_range(&r, size),
                    format!("bytes {}-{}/{size}", r.start, r.end - 1)
                );
                Served::Span(r)
            }
            Ok(other) => panic!("{header}: {other:?}"),
            Err(e) => {
                assert_eq!(e.code().as_str(), "InvalidRange", "{header}");
                Served::Unsatisfiable
            }
        }
    }

    #[test]
    fn ranges_are_served_as_the_model_says() {
        const PIECES: &[&str] = &[
            "bytes=",
            "bytes",
            "items=",
            "Bytes=",
            "-",
            "-",
            "-",
            ",",
            " ",
            "+",
            "0",
            "1",
            "5",
            "9",
            "10",
            "0",
            "42",
            "007",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            ";",
            "a",
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(16);
        for _ in 0..200_000 {
            let mut h = String::new();
            if rng.random_bool(0.8) {
                h.push_str("bytes=");
            }
            for _ in 0..rng.random_range(0..5) {
                h.push_str(PIECES[rng.random_range(0..PIECES.len())]);
            }
            let size = match rng.random_range(0..4) {
                0 => 0,
                1 => rng.random_range(1..20),
                2 => rng.random_range(0..u64::MAX / 2),
                _ => u64::MAX,
            };
            assert_eq!(served(&h, size), model(&h, size), "{h:?} of {size}");
        }
        for (h, size, want) in [
            ("bytes=0--1", 0, Served::Whole),
            ("bytes=-1", 0, Served::Whole),
            ("bytes=0-", 0, Served::Unsatisfiable),
            ("bytes=-0", 10, Served::Unsatisfiable),
            ("bytes=2-4", 10, Served::Span(2..5)),
            ("bytes=-3", 10, Served::Span(7..10)),
            ("bytes=8-99", 10, Served::Span(8..10)),
        ] {
            assert_eq!(served(h, size), want, "{h} of {size}");
            assert_eq!(model(h, size), want, "{h} of {size}");
        }
    }
}
