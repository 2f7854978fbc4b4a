//! CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload,
//! AbortMultipartUpload, ListParts, ListMultipartUploads.

use coffer_store::{
    ChecksumAlgorithm as StoreAlgorithm, ChecksumType as StoreType, CompletePart, NewVersion, ObjectMeta, UploadsQuery,
};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::Coffer;
use crate::checksum::{sent_checksums, set_checksum_fields, set_checksums};
use crate::convert::{http_date, page_size, timestamp};
use crate::encryption::{echo, part_sealing, set_sse};
use crate::error::IntoS3;
use crate::get::{Conditions, check_copy_source};
use crate::put::{MAX_PUT_SIZE, put_condition, stage_body, user_metadata};

fn part_number(n: i32) -> S3Result<u32> {
    match u32::try_from(n) {
        Ok(n @ 1..=10000) => Ok(n),
        _ => Err(s3_error!(
            InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive"
        )),
    }
}

pub async fn create_multipart_upload(
    c: &Coffer,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    // An upload is its initiator's; an anonymous one (a bucket policy let it in) is the
    // bucket owner's, as its objects are.
    let owner = match crate::ctx::RequestContext::of(&req) {
        Some(ctx) => match (&ctx.principal, &ctx.bucket) {
            (crate::ctx::Principal::User(u), _) => u.canonical_user_id,
            (crate::ctx::Principal::Anonymous, Some(b)) => b.owner,
            (crate::ctx::Principal::Anonymous, None) => return Err(s3_error!(NoSuchBucket)),
        },
        None => c.identity.caller(&req)?.canonical_user_id,
    };
    let w = crate::acl::write_access(&req);
    let asked = crate::encryption::asked(&req);
    let sealing = crate::encryption::sealing_for(c, &req).await?;
    let input = req.input;
    // Refused rather than ignored: the completed object would not carry them.
    if input.object_lock_mode.is_some()
        || input.object_lock_retain_until_date.is_some()
        || input.object_lock_legal_hold_status.is_some()
    {
        return Err(s3_error!(
            NotImplemented,
            "Object lock settings on CreateMultipartUpload are not implemented; set them on the completed object with PutObjectRetention or PutObjectLegalHold."
        ));
    }
    let algorithm = input
        .checksum_algorithm
        .as_ref()
        .map(|a| {
            StoreAlgorithm::parse(a.as_str()).ok_or_else(|| {
                s3_error!(
                    InvalidRequest,
                    "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]"
                )
            })
        })
        .transpose()?;
    let ctype = match (algorithm, input.checksum_type.as_ref()) {
        (None, Some(_)) => {
            return Err(s3_error!(
                InvalidRequest,
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
            ));
        }
        (None, None) => None,
        (Some(a), t) => {
            let t = match t {
                Some(t) => StoreType::parse(t.as_str()).filter(|t| a.allows(*t)),
                None => Some(a.default_type()),
            };
            let Some(t) = t else {
                return Err(s3_error!(
                    InvalidRequest,
                    "The {} checksum type cannot be used with the {} algorithm.",
                    input.checksum_type.as_ref().map_or("", |t| t.as_str()),
                    a.as_str()
                ));
            };
            Some(t)
        }
    };
    let meta = ObjectMeta {
        content_type: input.content_type,
        cache_control: input.cache_control,
        content_disposition: input.content_disposition,
        content_encoding: crate::put::stored_encoding(input.content_encoding),
        content_language: input.content_language,
        expires: input.expires.as_ref().map(http_date),
        user: user_metadata(input.metadata)?,
        checksums: Vec::new(),
    };
    let version = NewVersion {
        meta,
        owner: w.owner,
        acl: w.acl,
        tags: w.tags,
        website_redirect: w.website_redirect,
        ..NewVersion::default()
    };
    let up = c
        .store
        .create_upload(
            &input.bucket,
            &input.key,
            owner,
            version,
            coffer_store::UploadOptions {
                checksum_algorithm: algorithm,
                checksum_type: ctype,
                sse: sealing.map(|s| s.mode().clone()),
            },
        )
        .await
        .s3()?;
    let mut out = CreateMultipartUploadOutput {
        bucket: Some(up.bucket),
        key: Some(up.key),
        upload_id: Some(up.upload_id),
        checksum_algorithm: up
            .checksum_algorithm
            .map(|a| ChecksumAlgorithm::from_static(a.as_str())),
        checksum_type: up.checksum_type.map(|t| ChecksumType::from_static(t.as_str())),
        ..Default::default()
    };
    out.ssekms_encryption_context = set_sse!(out, echo(c, up.sse.as_ref(), asked.customer.as_ref()));
    Ok(S3Response::new(out))
}

pub async fn upload_part(c: &Coffer, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
    let asked = crate::encryption::asked(&req);
    let S3Request {
        input,
        headers,
        trailing_headers,
        ..
    } = req;
    let number = part_number(input.part_number)?;
    // Before reading a byte of the body.
    let upload = c.store.upload(&input.bucket, &input.key, &input.upload_id).s3()?;
    let sealing = part_sealing(c, upload.sse.as_ref(), asked.customer.as_ref()).await?;
    if let Some(len) = input.content_length.and_then(|n| u64::try_from(n).ok()) {
        c.store.check_quota(&input.bucket, None, len).s3()?;
    }
    let (staged, checksums) = stage_body(
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
    let part = c
        .store
        .put_part(&input.bucket, &input.key, &input.upload_id, number, staged, checksums)
        .await
        .s3()?;
    let mut out = UploadPartOutput {
        e_tag: Some(ETag::Strong(part.etag)),
        ..Default::default()
    };
    set_checksum_fields!(out, &part.checksums);
    set_sse!(out, echo(c, upload.sse.as_ref(), asked.customer.as_ref()));
    Ok(S3Response::new(out))
}

/// `bytes=first-last`, both required, within the source.
fn copy_range(range: Option<&str>, size: u64) -> S3Result<(u64, u64)> {
    let Some(r) = range else { return Ok((0, size)) };
    let bad = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        )
    };
    let (a, b) = r
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(bad)?;
    let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a > b {
        return Err(bad());
    }
    if b >= size {
        return Err(s3_error!(InvalidRange));
    }
    Ok((a, b - a + 1))
}

pub async fn upload_part_copy(
    c: &Coffer,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let source_ctx = crate::auth::copy_source_context(&req)?;
    let asked = crate::encryption::asked(&req);
    let input = req.input;
    let number = part_number(input.part_number)?;
    let CopySource::Bucket {
        bucket: src_bucket,
        key: src_key,
        version_id,
    } = &input.copy_source
    else {
        return Err(s3_error!(NotImplemented, "Only bucket/key copy sources are supported."));
    };
    let upload = c.store.upload(&input.bucket, &input.key, &input.upload_id).s3()?;
    let sealing = part_sealing(c, upload.sse.as_ref(), asked.customer.as_ref()).await?;
    let mut handle = c
        .store
        .get_object(src_bucket, src_key, version_id.as_deref())
        .await
        .s3()?;
    crate::ctx::check_object_in(&source_ctx, &handle.record)?;
    c.store
        .unlock(&mut handle, asked.source.as_ref().map(|k| &k.key))
        .s3()?;
    check_copy_source(
        &handle.record,
        Conditions {
            if_match: input.copy_source_if_match.as_ref(),
            if_none_match: input.copy_source_if_none_match.as_ref(),
            if_modified_since: input.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: input.copy_source_if_unmodified_since.as_ref(),
        },
    )?;
    let (offset, len) = copy_range(input.copy_source_range.as_deref(), handle.record.size)?;
    if len > MAX_PUT_SIZE {
        return Err(s3_error!(EntityTooLarge));
    }
    let staged = c
        .store
        .stage_sealed(handle.stream(offset, len), Some(len), &mut |_| {}, sealing.as_ref())
        .await
        .s3()?;
    let part = c
        .store
        .put_part(&input.bucket, &input.key, &input.upload_id, number, staged, Vec::new())
        .await
        .s3()?;
    let mut out = UploadPartCopyOutput {
        copy_part_result: Some(CopyPartResult {
            e_tag: Some(ETag::Strong(part.etag)),
            last_modified: Some(timestamp(part.last_modified_ms)),
            ..Default::default()
        }),
        ..Default::default()
    };
    set_sse!(out, echo(c, upload.sse.as_ref(), asked.customer.as_ref()));
    Ok(S3Response::new(out))
}

pub async fn complete_multipart_upload(
    c: &Coffer,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let known = crate::ctx::known_bucket(&req).cloned();
    let asked = crate::encryption::asked(&req);
    let input = req.input;
    // An SSE-C key is not needed to complete, but one that is sent must be the upload's.
    if let Some(k) = &asked.customer
        && let Ok(up) = c.store.upload(&input.bucket, &input.key, &input.upload_id)
    {
        part_sealing(c, up.sse.as_ref(), Some(k)).await?;
    }
    let parts = input.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
    if parts.is_empty() {
        return Err(s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema."
        ));
    }
    let mut chosen = Vec::with_capacity(parts.len());
    for p in &parts {
        let n = part_number(p.part_number.ok_or_else(|| s3_error!(MalformedXML))?)?;
        if chosen.last().is_some_and(|l: &CompletePart| l.part_number >= n) {
            return Err(s3_error!(InvalidPartOrder));
        }
        let etag = p.e_tag.as_ref().ok_or_else(|| s3_error!(MalformedXML))?;
        chosen.push(CompletePart {
            part_number: n,
            etag: etag.value().trim_matches('"').to_owned(),
            checksums: sent_checksums!(p),
        });
    }
    let cond = put_condition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    let whole = sent_checksums!(input);
    let expected = completed_etag(&chosen);
    let rec = match c
        .store
        .complete_upload(&input.bucket, &input.key, &input.upload_id, chosen, cond, whole)
        .await
    {
        Ok(rec) => rec,
        // A retry of a completion that went through (the client timed out waiting): the
        // upload is gone, and the key holds what those very parts made. AWS answers it
        // again rather than NoSuchUpload.
        Err(coffer_store::StoreError::NoSuchUpload) => {
            match (c.store.head_object(&input.bucket, &input.key, None), expected) {
                (Ok(rec), Some(etag))
                    if rec.etag == etag && matches!(rec.data, coffer_store::DataRef::Parts { .. }) =>
                {
                    rec
                }
                _ => return Err(s3_error!(NoSuchUpload)),
            }
        }
        Err(e) => return Err(e).s3(),
    };
    let mut out = CompleteMultipartUploadOutput {
        bucket: Some(input.bucket.clone()),
        key: Some(input.key.clone()),
        location: Some(format!("/{}/{}", input.bucket, input.key)),
        version_id: crate::versioning::version_header(c, known.as_ref(), &input.bucket, &rec),
        e_tag: Some(ETag::Strong(rec.etag.clone())),
        ..Default::default()
    };
    set_checksums!(out, &rec.meta.checksums);
    // The output has no SSE-C fields: S3 echoes only the other modes here.
    let e = echo(c, rec.sse.as_ref().map(|s| &s.mode), asked.customer.as_ref());
    (out.server_side_encryption, out.ssekms_key_id, out.bucket_key_enabled) = (e.sse, e.kms_key_id, e.bucket_key);
    Ok(S3Response::new(out))
}

/// The ETag a completion of these parts gives: the MD5 of their MD5s, and their count.
fn completed_etag(parts: &[CompletePart]) -> Option<String> {
    use md5::Digest;
    let mut md5 = md5::Md5::new();
    for p in parts {
        let mut b = [0u8; 16];
        hex::decode_to_slice(&p.etag, &mut b).ok()?;
        md5.update(b);
    }
    Some(format!("{}-{}", hex::encode(md5.finalize()), parts.len()))
}

pub async fn abort_multipart_upload(
    c: &Coffer,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let input = req.input;
    c.store
        .abort_upload(&input.bucket, &input.key, &input.upload_id)
        .await
        .s3()?;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

pub async fn list_parts(c: &Coffer, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
    let bucket_owner = crate::acl::bucket_owner(c, &req, &req.input.bucket)?;
    let acls = crate::acl::acls_enabled(&req);
    let asked = crate::encryption::asked(&req);
    let input = req.input;
    let max = page_size(input.max_parts, "max-parts")?;
    let marker = match input.part_number_marker {
        None => 0,
        Some(m) => u32::try_from(m)
            .map_err(|_| s3_error!(InvalidArgument, "part-number-marker must be a non-negative integer"))?,
    };
    let (up, parts, truncated) = c
        .store
        .list_parts(&input.bucket, &input.key, &input.upload_id, marker, max as usize)
        .s3()?;
    // Owner: who will own the completed object; Initiator: who started the upload.
    let mut owners = crate::acl::Owners::new(c, bucket_owner, acls);
    let (owner, initiator) = (owners.of(up.object_owner), owners.of(Some(up.owner)));
    // The checksums of an SSE-C upload's parts are of its plaintext: shown only to whoever
    // brings the upload's key, as AWS asks for it then.
    let show_checksums = match &up.sse {
        Some(mode @ coffer_store::SseMode::Customer { .. }) => c
            .store
            .read_kek(Some(mode), asked.customer.as_ref().map(|k| &k.key))
            .is_ok(),
        _ => true,
    };
    let next = parts.last().map(|p| p.part_number as i32);
    let parts = parts
        .into_iter()
        .map(|p| {
            let mut part = Part {
                part_number: Some(p.part_number as i32),
                e_tag: Some(ETag::Strong(p.etag)),
                size: Some(p.size as i64),
                last_modified: Some(timestamp(p.last_modified_ms)),
                ..Default::default()
            };
            if show_checksums {
                set_checksum_fields!(part, &p.checksums);
            }
            part
        })
        .collect();
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(input.upload_id),
        max_parts: Some(max),
        part_number_marker: input.part_number_marker,
        next_part_number_marker: next,
        is_truncated: Some(truncated),
        parts: Some(parts),
        initiator: Some(Initiator {
            display_name: initiator.display_name,
            id: initiator.id,
        }),
        owner: Some(owner),
        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
        checksum_algorithm: up
            .checksum_algorithm
            .map(|a| ChecksumAlgorithm::from_static(a.as_str())),
        checksum_type: up.checksum_type.map(|t| ChecksumType::from_static(t.as_str())),
        ..Default::default()
    }))
}

pub async fn list_multipart_uploads(
    c: &Coffer,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let bucket_owner = crate::acl::bucket_owner(c, &req, &req.input.bucket)?;
    let acls = crate::acl::acls_enabled(&req);
    let input = req.input;
    let max = page_size(input.max_uploads, "max-uploads")?;
    let url = crate::convert::url_encoding(input.encoding_type.as_ref())?;
    let enc = |s: &str| crate::convert::encode(s, url);
    let prefix = input.prefix.clone().unwrap_or_default();
    let q = UploadsQuery {
        prefix: &prefix,
        delimiter: input.delimiter.as_deref().filter(|d| !d.is_empty()),
        key_marker: input.key_marker.as_deref(),
        upload_id_marker: input.upload_id_marker.as_deref().filter(|u| !u.is_empty()),
        max_uploads: max as usize,
    };
    let page = c.store.list_uploads(&input.bucket, &q).s3()?;
    let (next_key, next_id) = match page.uploads.last() {
        Some(u) if page.truncated => (Some(enc(&u.key)), Some(u.upload_id.clone())),
        _ => (None, None),
    };
    let mut owners = crate::acl::Owners::new(c, bucket_owner, acls);
    let uploads = page
        .uploads
        .into_iter()
        .map(|u| {
            let (owner, initiator) = (owners.of(u.object_owner), owners.of(Some(u.owner)));
            MultipartUpload {
                key: Some(enc(&u.key)),
                upload_id: Some(u.upload_id),
                initiated: Some(timestamp(u.initiated_ms)),
                initiator: Some(Initiator {
                    display_name: initiator.display_name,
                    id: initiator.id,
                }),
                owner: Some(owner),
                storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                checksum_algorithm: u.checksum_algorithm.map(|a| ChecksumAlgorithm::from_static(a.as_str())),
                checksum_type: u.checksum_type.map(|t| ChecksumType::from_static(t.as_str())),
            }
        })
        .collect();
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(input.bucket),
        prefix: input.prefix.as_deref().map(enc),
        delimiter: input.delimiter.as_deref().filter(|d| !d.is_empty()).map(enc),
        key_marker: input.key_marker.as_deref().map(enc),
        upload_id_marker: input.upload_id_marker,
        next_key_marker: next_key,
        next_upload_id_marker: next_id,
        max_uploads: Some(max),
        is_truncated: Some(page.truncated),
        uploads: Some(uploads),
        common_prefixes: Some(
            page.common_prefixes
                .iter()
                .map(|p| CommonPrefix { prefix: Some(enc(p)) })
                .collect(),
        ),
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}
