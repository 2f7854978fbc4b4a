//! DeleteObject and DeleteObjects.

use futures::future::join_all;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::Coffer;
use crate::error::{IntoS3, store_error};
use coffer_store::PutCondition;

/// S3's limit on keys in one DeleteObjects request.
const MAX_DELETE_KEYS: usize = 1000;

pub async fn delete_object(c: &Coffer, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
    let input = req.input;
    let cond = match &input.if_match {
        Some(ETagCondition::ETag(e)) => PutCondition::IfMatch(e.value().to_owned()),
        Some(_) => PutCondition::IfExists,
        None => PutCondition::None,
    };
    let bypass = input.bypass_governance_retention.unwrap_or(false);
    let d = c
        .store
        .delete_object(&input.bucket, &input.key, input.version_id.as_deref(), bypass, cond)
        .await
        .s3()?;
    Ok(S3Response::new(DeleteObjectOutput {
        delete_marker: d.delete_marker.then_some(true),
        version_id: d.version_id,
        ..Default::default()
    }))
}

pub async fn delete_objects(
    c: &Coffer,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let ctx = crate::ctx::RequestContext::of(&req).cloned();
    let (headers, uri, extensions) = (req.headers, req.uri, req.extensions);
    let input = req.input;
    let objects = input.delete.objects;
    if objects.is_empty() || objects.len() > MAX_DELETE_KEYS {
        return Err(s3_error!(MalformedXML));
    }
    let bypass = input.bypass_governance_retention.unwrap_or(false);
    // Each key as its own DeleteObject would be authorized (the bucket's policy may name
    // keys); a refused key is an AccessDenied entry, the rest go ahead.
    let allowed = |o: &ObjectIdentifier| {
        let Some(ctx) = &ctx else { return false };
        let action = crate::action::of("DeleteObject", true).versioned(o.version_id.is_some());
        let resource = crate::action::Resource {
            bucket: Some(&input.bucket),
            key: Some(&o.key),
        };
        let keys = crate::ctx::RequestKeys::new(&ctx.principal, &headers, &uri, &extensions);
        crate::ctx::authorize(ctx, action, resource, &keys).is_ok()
            && (!bypass || crate::ctx::authorize(ctx, crate::action::BYPASS_GOVERNANCE, resource, &keys).is_ok())
    };
    if c.store.bucket(&input.bucket).s3()?.is_none() {
        return Err(s3_error!(NoSuchBucket));
    }
    let quiet = input.delete.quiet.unwrap_or(false);
    // Issued together so the group commit folds them into few transactions.
    let results = join_all(objects.iter().map(|o| async {
        if !allowed(o) {
            return Err(("AccessDenied".to_owned(), "Access Denied".to_owned()));
        }
        c.store
            .delete_object(
                &input.bucket,
                &o.key,
                o.version_id.as_deref(),
                bypass,
                PutCondition::None,
            )
            .await
            .map_err(|e| {
                let e = store_error(e);
                let code = e.code().as_str().to_owned();
                let msg = e
                    .message()
                    .map_or_else(|| crate::error::default_message(&code).to_owned(), str::to_owned);
                (code, msg)
            })
    }))
    .await;
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for (o, r) in objects.into_iter().zip(results) {
        match r {
            Ok(d) if !quiet => {
                // A marker created answers with its id; a version removed, with the one asked for.
                let created = o.version_id.is_none() && d.delete_marker;
                deleted.push(DeletedObject {
                    key: Some(o.key),
                    version_id: o.version_id,
                    delete_marker: d.delete_marker.then_some(true),
                    delete_marker_version_id: if created || d.delete_marker { d.version_id } else { None },
                })
            }
            Ok(_) => {}
            Err((code, message)) => errors.push(Error {
                code: Some(code),
                key: Some(o.key),
                message: Some(message),
                version_id: o.version_id,
            }),
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: Some(errors),
        ..Default::default()
    }))
}
