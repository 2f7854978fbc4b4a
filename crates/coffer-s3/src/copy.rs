//! CopyObject: the source streams through a fresh stage, so a copy is as durable as a PUT
//! and bounded in memory whatever its size.

use coffer_store::{NewVersion, ObjectMeta, PutCondition};
use futures::StreamExt;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::Coffer;
use crate::convert::{http_date, timestamp};
use crate::encryption::set_sse;
use crate::error::IntoS3;
use crate::get::{Conditions, check_copy_source};
use crate::put::{stored_encoding, user_metadata};

pub async fn copy_object(c: &Coffer, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
    let known = crate::ctx::known_bucket(&req).cloned();
    let w = crate::acl::write_access(&req);
    let source_ctx = crate::auth::copy_source_context(&req)?;
    let asked = crate::encryption::asked(&req);
    let sealing = crate::encryption::sealing_for(c, &req).await?;
    let input = req.input;
    let CopySource::Bucket {
        bucket: src_bucket,
        key: src_key,
        version_id,
    } = &input.copy_source
    else {
        return Err(s3_error!(NotImplemented, "Only bucket/key copy sources are supported."));
    };
    let replace = input
        .metadata_directive
        .as_ref()
        .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
    // Encryption asked for is a change too: S3 re-encrypts an object in place so.
    if !replace
        && version_id.is_none()
        && asked.write.is_none()
        && **src_bucket == *input.bucket
        && **src_key == *input.key
    {
        return Err(s3_error!(
            InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
        ));
    }
    let mut handle = c
        .store
        .get_object(src_bucket, src_key, version_id.as_deref())
        .await
        .s3()?;
    crate::ctx::check_object_in(&source_ctx, &handle.record)?;
    c.store
        .unlock(&mut handle, asked.source.as_ref().map(|k| &k.key))
        .s3()?;
    let src = handle.record.clone();
    check_copy_source(
        &src,
        Conditions {
            if_match: input.copy_source_if_match.as_ref(),
            if_none_match: input.copy_source_if_none_match.as_ref(),
            if_modified_since: input.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: input.copy_source_if_unmodified_since.as_ref(),
        },
    )?;
    // Tags are copied unless the request replaces them (with its x-amz-tagging, or none).
    let tags = match input.tagging_directive.as_ref().map(TaggingDirective::as_str) {
        Some(TaggingDirective::REPLACE) => w.tags,
        _ => src.tags.clone(),
    };
    let meta = if replace {
        ObjectMeta {
            content_type: input.content_type,
            cache_control: input.cache_control,
            content_disposition: input.content_disposition,
            content_encoding: stored_encoding(input.content_encoding),
            content_language: input.content_language,
            expires: input.expires.as_ref().map(http_date),
            user: user_metadata(input.metadata)?,
            checksums: src.meta.checksums.clone(),
        }
    } else {
        src.meta.clone()
    };
    let size = src.size;
    let staged = c
        .store
        .stage_sealed(
            handle.stream(0, size).map(|r| r),
            Some(size),
            &mut |_| {},
            sealing.as_ref(),
        )
        .await
        .s3()?;
    let (retention, legal_hold) = crate::object_lock::lock_headers(
        c,
        &input.bucket,
        input.object_lock_mode.as_ref(),
        input.object_lock_retain_until_date.as_ref(),
        input.object_lock_legal_hold_status.as_ref(),
    )?;
    let mut staged = staged;
    let rec = c
        .store
        .put_version(
            &input.bucket,
            &input.key,
            &mut staged,
            PutCondition::None,
            NewVersion {
                meta,
                retention,
                legal_hold,
                owner: w.owner,
                acl: w.acl,
                tags,
                website_redirect: w.website_redirect,
            },
        )
        .await
        .s3()?;
    let mut out = CopyObjectOutput {
        copy_source_version_id: crate::versioning::version_header(c, None, src_bucket, &src),
        version_id: crate::versioning::version_header(c, known.as_ref(), &input.bucket, &rec),
        copy_object_result: Some(CopyObjectResult {
            e_tag: Some(ETag::Strong(rec.etag.clone())),
            last_modified: Some(timestamp(rec.last_modified_ms)),
            ..Default::default()
        }),
        ..Default::default()
    };
    out.ssekms_encryption_context = set_sse!(
        out,
        crate::encryption::echo(c, rec.sse.as_ref().map(|s| &s.mode), asked.customer.as_ref())
    );
    Ok(S3Response::new(out))
}
