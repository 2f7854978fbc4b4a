//! DeleteObject and DeleteObjects.

use futures::future::join_all;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::Coffer;
use crate::error::store_error;

/// S3's limit on keys in one DeleteObjects request.
const MAX_DELETE_KEYS: usize = 1000;

pub async fn delete_object(c: &Coffer, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
    let input = req.input;
    if input.version_id.as_deref().is_some_and(|v| v != "null") {
        return Err(s3_error!(InvalidArgument, "Invalid version id specified"));
    }
    if let Some(m) = &input.if_match {
        let rec = c.store.head_object(&input.bucket, &input.key).map_err(store_error)?;
        if let ETagCondition::ETag(e) = m
            && e.value() != rec.etag
        {
            return Err(s3_error!(PreconditionFailed));
        }
    }
    c.store
        .delete_object(&input.bucket, &input.key)
        .await
        .map_err(store_error)?;
    Ok(S3Response::new(DeleteObjectOutput::default()))
}

pub async fn delete_objects(
    c: &Coffer,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let input = req.input;
    let objects = input.delete.objects;
    if objects.is_empty() || objects.len() > MAX_DELETE_KEYS {
        return Err(s3_error!(MalformedXML));
    }
    if c.store.bucket(&input.bucket).map_err(store_error)?.is_none() {
        return Err(s3_error!(NoSuchBucket));
    }
    let quiet = input.delete.quiet.unwrap_or(false);
    // Issued together so the group commit folds them into few transactions.
    let results = join_all(objects.iter().map(|o| async {
        if o.version_id.as_deref().is_some_and(|v| v != "null") {
            return Err(("InvalidArgument".to_owned(), "Invalid version id specified".to_owned()));
        }
        c.store.delete_object(&input.bucket, &o.key).await.map_err(|e| {
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
            Ok(()) if !quiet => deleted.push(DeletedObject {
                key: Some(o.key),
                version_id: o.version_id,
                ..Default::default()
            }),
            Ok(()) => {}
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
