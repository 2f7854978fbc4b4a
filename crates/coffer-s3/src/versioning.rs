//! Put/GetBucketVersioning and ListObjectVersions.

use coffer_store::{BucketRecord, ObjectRecord, StoreError, Versioning, VersionsQuery};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::Coffer;
use crate::convert::timestamp;
use crate::error::{IntoS3, store_error};

/// The `x-amz-version-id` of a version: its id, or "null" in a bucket that has had
/// versioning; none in a bucket that never had it. `known` is the bucket's record when the
/// request context has it; otherwise it is read.
pub fn version_header(c: &Coffer, known: Option<&BucketRecord>, bucket: &str, rec: &ObjectRecord) -> Option<String> {
    if let Some(v) = &rec.version_id {
        return Some(v.clone());
    }
    let versioned = |b: &BucketRecord| b.versioning != Versioning::Unversioned;
    let has_had = match known {
        Some(b) => versioned(b),
        None => c.store.bucket(bucket).ok().flatten().is_some_and(|b| versioned(&b)),
    };
    has_had.then(|| "null".to_owned())
}

pub async fn put_bucket_versioning(
    c: &Coffer,
    req: S3Request<PutBucketVersioningInput>,
) -> S3Result<S3Response<PutBucketVersioningOutput>> {
    let input = req.input;
    let cfg = input.versioning_configuration;
    if cfg
        .mfa_delete
        .as_ref()
        .is_some_and(|m| m.as_str() == MFADelete::ENABLED)
    {
        return Err(s3_error!(NotImplemented, "MFA delete is not supported."));
    }
    let state = match cfg.status.as_ref().map(BucketVersioningStatus::as_str) {
        Some(BucketVersioningStatus::ENABLED) => Versioning::Enabled,
        Some(BucketVersioningStatus::SUSPENDED) => Versioning::Suspended,
        _ => return Err(s3_error!(MalformedXML)),
    };
    c.store
        .set_versioning(&input.bucket, state)
        .await
        .map_err(|e| match e {
            StoreError::InvalidBucketState => s3_error!(
                InvalidBucketState,
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed."
            ),
            e => store_error(e),
        })?;
    Ok(S3Response::new(PutBucketVersioningOutput {}))
}

pub async fn get_bucket_versioning(
    c: &Coffer,
    req: S3Request<GetBucketVersioningInput>,
) -> S3Result<S3Response<GetBucketVersioningOutput>> {
    let b = c
        .store
        .bucket(&req.input.bucket)
        .s3()?
        .ok_or_else(|| s3_error!(NoSuchBucket))?;
    let status = match b.versioning {
        Versioning::Unversioned => None,
        Versioning::Enabled => Some(BucketVersioningStatus::from_static(BucketVersioningStatus::ENABLED)),
        Versioning::Suspended => Some(BucketVersioningStatus::from_static(BucketVersioningStatus::SUSPENDED)),
    };
    Ok(S3Response::new(GetBucketVersioningOutput {
        status,
        mfa_delete: None,
    }))
}

pub async fn list_object_versions(
    c: &Coffer,
    req: S3Request<ListObjectVersionsInput>,
) -> S3Result<S3Response<ListObjectVersionsOutput>> {
    let acls = crate::acl::acls_enabled(&req);
    let input = req.input;
    let max = crate::convert::page_size(input.max_keys, "max-keys")?;
    let url = crate::convert::url_encoding(input.encoding_type.as_ref())?;
    let enc = |s: &str| crate::convert::encode(s, url);
    if input.version_id_marker.as_deref().is_some_and(|v| !v.is_empty())
        && input.key_marker.as_deref().unwrap_or("").is_empty()
    {
        return Err(s3_error!(
            InvalidArgument,
            "A version-id marker cannot be specified without a key marker."
        ));
    }
    let prefix = input.prefix.clone().unwrap_or_default();
    let q = VersionsQuery {
        prefix: &prefix,
        delimiter: input.delimiter.as_deref().filter(|d| !d.is_empty()),
        key_marker: input.key_marker.as_deref(),
        version_id_marker: input.version_id_marker.as_deref(),
        max_keys: max as usize,
    };
    let page = c.store.list_versions(&input.bucket, &q).s3()?;
    let b = c
        .store
        .bucket(&input.bucket)
        .s3()?
        .ok_or_else(|| s3_error!(NoSuchBucket))?;
    let mut owners = crate::acl::Owners::new(c, b.owner, acls);
    let mut versions = Vec::new();
    let mut markers = Vec::new();
    for (key, rec, latest) in page.versions {
        if rec.delete_marker {
            markers.push(DeleteMarkerEntry {
                key: Some(enc(&key)),
                version_id: Some(rec.version_id_str().to_owned()),
                is_latest: Some(latest),
                last_modified: Some(timestamp(rec.last_modified_ms)),
                owner: Some(owners.of(rec.owner)),
            });
        } else {
            versions.push(ObjectVersion {
                key: Some(enc(&key)),
                version_id: Some(rec.version_id_str().to_owned()),
                is_latest: Some(latest),
                last_modified: Some(timestamp(rec.last_modified_ms)),
                e_tag: Some(ETag::Strong(rec.etag)),
                size: Some(rec.size as i64),
                storage_class: Some(ObjectVersionStorageClass::from_static(
                    ObjectVersionStorageClass::STANDARD,
                )),
                owner: Some(owners.of(rec.owner)),
                ..Default::default()
            });
        }
    }
    let (next_key, next_version) = match page.next {
        Some((k, v)) => (Some(enc(&k)), (!v.is_empty()).then_some(v)),
        None => (None, None),
    };
    Ok(S3Response::new(ListObjectVersionsOutput {
        name: Some(input.bucket),
        prefix: Some(enc(&prefix)),
        delimiter: input.delimiter.as_deref().filter(|d| !d.is_empty()).map(enc),
        key_marker: Some(enc(input.key_marker.as_deref().unwrap_or_default())),
        version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
        next_key_marker: next_key,
        next_version_id_marker: next_version,
        max_keys: Some(max),
        is_truncated: Some(page.truncated),
        versions: Some(versions),
        delete_markers: Some(markers),
        common_prefixes: Some(
            page.common_prefixes
                .iter()
                .map(|p| CommonPrefix { prefix: Some(enc(p)) })
                .collect(),
        ),
        encoding_type: input.encoding_type,
        request_charged: None,
    }))
}
