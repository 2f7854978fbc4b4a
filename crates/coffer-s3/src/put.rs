//! PutObject.

use coffer_store::{NewVersion, ObjectMeta, PutCondition, Staged};
use s3s::dto::*;
use s3s::stream::ByteStream as _;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::Coffer;
use crate::checksum::{ChecksumCheck, set_checksums};
use crate::encryption::{echo, set_sse};
use crate::error::IntoS3;

/// S3's limit for a single PUT; larger objects need multipart.
pub const MAX_PUT_SIZE: u64 = 5 << 30;

pub async fn put_object(c: &Coffer, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
    let known = crate::ctx::known_bucket(&req).cloned();
    let w = crate::acl::write_access(&req);
    let lifecycle = crate::ctx::RequestContext::of(&req).and_then(|ctx| ctx.rules.lifecycle.clone());
    let asked = crate::encryption::asked(&req);
    let sealing = crate::encryption::sealing_for(c, &req).await?;
    let S3Request {
        input,
        headers,
        trailing_headers,
        ..
    } = req;
    let cond = put_condition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    let (retention, legal_hold) = crate::object_lock::lock_headers(
        c,
        &input.bucket,
        input.object_lock_mode.as_ref(),
        input.object_lock_retain_until_date.as_ref(),
        input.object_lock_legal_hold_status.as_ref(),
    )?;
    // Before a byte of the body: a write its declared length would take past the
    // bucket's quota (the commit checks again).
    if let Some(len) = input.content_length.and_then(|n| u64::try_from(n).ok()) {
        c.store.check_quota(&input.bucket, Some(&input.key), len).s3()?;
    }
    let meta = ObjectMeta {
        content_type: input.content_type,
        cache_control: input.cache_control,
        content_disposition: input.content_disposition,
        content_encoding: stored_encoding(input.content_encoding),
        content_language: input.content_language,
        expires: input.expires.as_ref().map(crate::convert::http_date),
        user: user_metadata(input.metadata)?,
        checksums: Vec::new(),
    };
    let (mut staged, checksums) = stage_body(
        c,
        input.body,
        input.content_length,
        input.content_md5.as_deref(),
        &headers,
        input.checksum_algorithm.as_ref(),
        trailing_headers,
        sealing.as_ref(),
    )
    .await?;
    let meta = ObjectMeta { checksums, ..meta };
    let rec = c
        .store
        .put_version(
            &input.bucket,
            &input.key,
            &mut staged,
            cond,
            NewVersion {
                meta,
                retention,
                legal_hold,
                owner: w.owner,
                acl: w.acl,
                tags: w.tags,
                website_redirect: w.website_redirect,
            },
        )
        .await
        .s3()?;
    let mut out = PutObjectOutput {
        version_id: crate::versioning::version_header(c, known.as_ref(), &input.bucket, &rec),
        e_tag: Some(ETag::Strong(rec.etag.clone())),
        size: Some(rec.size as i64),
        ..Default::default()
    };
    if let Some(rules) = lifecycle {
        out.expiration = crate::lifecycle::expiration_header(&rules, &input.key, &rec, c.config.lifecycle_day_secs);
    }
    set_checksums!(out, &rec.meta.checksums);
    out.ssekms_encryption_context = set_sse!(out, echo(c, rec.sse.as_ref().map(|s| &s.mode), asked.customer.as_ref()));
    Ok(S3Response::new(out))
}

/// Reads a request body to its end into the store: its declared length (411 without one),
/// S3's single-request size cap, Content-MD5 and any additional checksums all checked,
/// sealed when `sealing` says so. Returns the staged body and the checksums to store.
#[allow(clippy::too_many_arguments)]
pub async fn stage_body(
    c: &Coffer,
    body: Option<StreamingBlob>,
    content_length: Option<i64>,
    content_md5: Option<&str>,
    headers: &http::HeaderMap,
    checksum_algorithm: Option<&ChecksumAlgorithm>,
    trailing_headers: Option<s3s::TrailingHeaders>,
    sealing: Option<&coffer_store::Sealing>,
) -> S3Result<(Staged, coffer_store::Checksums)> {
    let body = body.ok_or_else(|| s3_error!(MissingContentLength))?;
    let declared = match content_length {
        Some(n) => Some(u64::try_from(n).map_err(|_| s3_error!(InvalidArgument, "Content-Length is negative."))?),
        None => body.remaining_length().exact().map(|n| n as u64),
    };
    let declared = declared.ok_or_else(|| s3_error!(MissingContentLength))?;
    if declared > MAX_PUT_SIZE {
        return Err(s3_error!(EntityTooLarge));
    }
    // s3s reads an empty Content-MD5 as none; AWS answers it InvalidDigest.
    let content_md5 = content_md5.or(headers.get("content-md5").map(|_| ""));
    let md5 = content_md5.map(decode_md5).transpose()?;
    let mut check = ChecksumCheck::from_request(headers, checksum_algorithm)?;
    let staged = c
        .store
        .stage_sealed(body, Some(declared), &mut |b| check.update(b), sealing)
        .await
        .s3()?;
    if md5.is_some_and(|m| m != staged.md5) {
        return Err(s3_error!(BadDigest));
    }
    let trailers = trailing_headers.and_then(|t| t.take());
    let checksums = check.finish(trailers.as_ref())?;
    Ok((staged, checksums))
}

pub fn decode_md5(b64: &str) -> S3Result<[u8; 16]> {
    base64_simd::STANDARD
        .decode_to_vec(b64.trim())
        .ok()
        .and_then(|v| <[u8; 16]>::try_from(v).ok())
        .ok_or_else(|| s3_error!(InvalidDigest))
}

pub fn put_condition(if_match: Option<&IfMatch>, if_none_match: Option<&IfNoneMatch>) -> S3Result<PutCondition> {
    match (if_match, if_none_match) {
        (None, None) => Ok(PutCondition::None),
        (None, Some(ETagCondition::Any)) => Ok(PutCondition::IfAbsent),
        (Some(ETagCondition::Any), None) => Ok(PutCondition::IfExists),
        (Some(ETagCondition::ETag(e)), None) => Ok(PutCondition::IfMatch(e.value().to_owned())),
        (None, Some(ETagCondition::ETag(e))) => Ok(PutCondition::IfNoneMatch(e.value().to_owned())),
        (Some(_), Some(_)) => Err(s3_error!(
            NotImplemented,
            "If-Match and If-None-Match cannot be combined on a write."
        )),
    }
}

/// Content-Encoding as S3 stores it: without `aws-chunked`, which describes how the
/// request body was sent, not the object (none left: no encoding at all).
pub fn stored_encoding(v: Option<String>) -> Option<String> {
    let v = v?;
    let kept: Vec<&str> = v
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(", "))
}

/// S3's limit on user metadata: names and values of `x-amz-meta-*` together, in bytes.
const MAX_USER_METADATA: usize = 2 << 10;

/// `x-amz-meta-*` as stored: lower-cased names, sorted, within S3's size limit.
pub fn user_metadata(m: Option<Metadata>) -> S3Result<Vec<(String, String)>> {
    let mut v: Vec<(String, String)> = m
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    if v.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() > MAX_USER_METADATA {
        return Err(s3_error!(
            MetadataTooLarge,
            "Your metadata headers exceed the maximum allowed metadata size."
        ));
    }
    v.sort();
    Ok(v)
}
