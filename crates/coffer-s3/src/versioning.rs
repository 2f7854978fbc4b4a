//! Put/GetBucketVersioning, ListObjectVersions, and object lock: bucket configuration,
//! retention and legal hold of versions.

use coffer_store::{BucketRecord, DefaultRetention, ObjectRecord, Retention, StoreError, Versioning, VersionsQuery};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::Coffer;
use crate::error::store_error;
use crate::get::timestamp;

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
        .map_err(store_error)?
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
    let input = req.input;
    let max = crate::list::page_size(input.max_keys, "max-keys")?;
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
        delimiter: input.delimiter.as_deref(),
        key_marker: input.key_marker.as_deref(),
        version_id_marker: input.version_id_marker.as_deref(),
        max_keys: max as usize,
    };
    let page = c.store.list_versions(&input.bucket, &q).map_err(store_error)?;
    let b = c
        .store
        .bucket(&input.bucket)
        .map_err(store_error)?
        .ok_or_else(|| s3_error!(NoSuchBucket))?;
    let owner = c.identity.owner_of(&b.owner);
    let mut versions = Vec::new();
    let mut markers = Vec::new();
    for (key, rec, latest) in page.versions {
        if rec.delete_marker {
            markers.push(DeleteMarkerEntry {
                key: Some(key),
                version_id: Some(rec.version_id_str().to_owned()),
                is_latest: Some(latest),
                last_modified: Some(timestamp(rec.last_modified_ms)),
                owner: Some(owner.clone()),
            });
        } else {
            versions.push(ObjectVersion {
                key: Some(key),
                version_id: Some(rec.version_id_str().to_owned()),
                is_latest: Some(latest),
                last_modified: Some(timestamp(rec.last_modified_ms)),
                e_tag: Some(ETag::Strong(rec.etag)),
                size: Some(rec.size as i64),
                storage_class: Some(ObjectVersionStorageClass::from_static(
                    ObjectVersionStorageClass::STANDARD,
                )),
                owner: Some(owner.clone()),
                ..Default::default()
            });
        }
    }
    let (next_key, next_version) = match page.next {
        Some((k, v)) => (Some(k), (!v.is_empty()).then_some(v)),
        None => (None, None),
    };
    Ok(S3Response::new(ListObjectVersionsOutput {
        name: Some(input.bucket),
        prefix: Some(prefix),
        delimiter: input.delimiter,
        key_marker: Some(input.key_marker.unwrap_or_default()),
        version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
        next_key_marker: next_key,
        next_version_id_marker: next_version,
        max_keys: Some(max),
        is_truncated: Some(page.truncated),
        versions: Some(versions),
        delete_markers: Some(markers),
        common_prefixes: Some(
            page.common_prefixes
                .into_iter()
                .map(|p| CommonPrefix { prefix: Some(p) })
                .collect(),
        ),
        encoding_type: input.encoding_type,
        request_charged: None,
    }))
}

fn missing_lock_config() -> s3s::S3Error {
    s3_error!(InvalidRequest, "Bucket is missing Object Lock Configuration")
}

fn lock_bucket(c: &Coffer, bucket: &str) -> S3Result<coffer_store::BucketRecord> {
    let b = c
        .store
        .bucket(bucket)
        .map_err(store_error)?
        .ok_or_else(|| s3_error!(NoSuchBucket))?;
    if b.object_lock {
        Ok(b)
    } else {
        Err(missing_lock_config())
    }
}

/// A version of an object in a lock-enabled bucket, for the retention and legal-hold reads.
fn locked_version(c: &Coffer, bucket: &str, key: &str, version_id: Option<&str>) -> S3Result<ObjectRecord> {
    lock_bucket(c, bucket)?;
    c.store.head_object(bucket, key, version_id).map_err(store_error)
}

fn mode(m: &str) -> S3Result<String> {
    match m {
        ObjectLockRetentionMode::GOVERNANCE | ObjectLockRetentionMode::COMPLIANCE => Ok(m.to_owned()),
        _ => Err(s3_error!(MalformedXML, "Unknown object lock mode")),
    }
}

fn ms_of(t: &Timestamp) -> i64 {
    (time::OffsetDateTime::from(t.clone()).unix_timestamp_nanos() / 1_000_000) as i64
}

/// Lock settings sent with a write (PutObject, CopyObject, CreateMultipartUpload).
pub fn lock_headers(
    c: &Coffer,
    bucket: &str,
    m: Option<&ObjectLockMode>,
    until: Option<&Timestamp>,
    hold: Option<&ObjectLockLegalHoldStatus>,
) -> S3Result<(Option<Retention>, bool)> {
    if m.is_none() && until.is_none() && hold.is_none() {
        return Ok((None, false));
    }
    lock_bucket(c, bucket)?;
    let retention = match (m, until) {
        (None, None) => None,
        (Some(m), Some(t)) => {
            let until_ms = ms_of(t);
            if until_ms <= coffer_now_ms() {
                return Err(s3_error!(
                    InvalidArgument,
                    "The retain until date must be in the future!"
                ));
            }
            Some(Retention {
                mode: mode(m.as_str())?,
                until_ms,
            })
        }
        _ => {
            return Err(s3_error!(
                InvalidArgument,
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"
            ));
        }
    };
    Ok((
        retention,
        hold.is_some_and(|h| h.as_str() == ObjectLockLegalHoldStatus::ON),
    ))
}

fn coffer_now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

pub async fn put_object_lock_configuration(
    c: &Coffer,
    req: S3Request<PutObjectLockConfigurationInput>,
) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
    let input = req.input;
    let cfg = input.object_lock_configuration.ok_or_else(|| s3_error!(MalformedXML))?;
    if cfg.object_lock_enabled.as_ref().map(ObjectLockEnabled::as_str) != Some(ObjectLockEnabled::ENABLED) {
        return Err(s3_error!(MalformedXML));
    }
    let default = match cfg.rule.and_then(|r| r.default_retention) {
        None => None,
        Some(d) => {
            let m = mode(d.mode.as_ref().ok_or_else(|| s3_error!(MalformedXML))?.as_str())?;
            let days = match (d.days, d.years) {
                (Some(n), None) if n > 0 => n,
                (None, Some(y)) if y > 0 && y <= 100 => y * 365,
                _ => {
                    return Err(s3_error!(
                        InvalidArgument,
                        "Default retention needs exactly one of Days or Years, greater than zero"
                    ));
                }
            };
            Some(DefaultRetention {
                mode: m,
                days: days as u32,
            })
        }
    };
    c.store
        .set_object_lock(&input.bucket, default)
        .await
        .map_err(|e| match e {
            StoreError::InvalidBucketState => s3_error!(
                InvalidBucketState,
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
            ),
            e => store_error(e),
        })?;
    Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
}

pub async fn get_object_lock_configuration(
    c: &Coffer,
    req: S3Request<GetObjectLockConfigurationInput>,
) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
    let b = c
        .store
        .bucket(&req.input.bucket)
        .map_err(store_error)?
        .ok_or_else(|| s3_error!(NoSuchBucket))?;
    if !b.object_lock {
        return Err(s3_error!(
            ObjectLockConfigurationNotFoundError,
            "Object Lock configuration does not exist for this bucket"
        ));
    }
    let rule = b.default_retention.map(|d| ObjectLockRule {
        default_retention: Some(s3s::dto::DefaultRetention {
            mode: Some(ObjectLockRetentionMode::from(d.mode)),
            days: Some(d.days as i32),
            years: None,
        }),
    });
    Ok(S3Response::new(GetObjectLockConfigurationOutput {
        object_lock_configuration: Some(ObjectLockConfiguration {
            object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
            rule,
        }),
    }))
}

pub async fn put_object_retention(
    c: &Coffer,
    req: S3Request<PutObjectRetentionInput>,
) -> S3Result<S3Response<PutObjectRetentionOutput>> {
    let input = req.input;
    lock_bucket(c, &input.bucket)?;
    let bypass = input.bypass_governance_retention.unwrap_or(false);
    let new = match input.retention {
        Some(ObjectLockRetention {
            mode: Some(m),
            retain_until_date: Some(t),
        }) => Some(Retention {
            mode: mode(m.as_str())?,
            until_ms: ms_of(&t),
        }),
        Some(ObjectLockRetention {
            mode: None,
            retain_until_date: None,
        })
        | None => None,
        _ => return Err(s3_error!(MalformedXML)),
    };
    if new.as_ref().is_some_and(|r| r.until_ms <= coffer_now_ms()) {
        return Err(s3_error!(
            InvalidArgument,
            "The retain until date must be in the future!"
        ));
    }
    c.store
        .update_version(&input.bucket, &input.key, input.version_id.as_deref(), move |rec| {
            if let Some(old) = rec.retention.as_ref().filter(|r| r.until_ms > coffer_now_ms()) {
                let weaker = match &new {
                    None => true,
                    Some(n) => n.until_ms < old.until_ms || (old.mode == "COMPLIANCE" && n.mode != "COMPLIANCE"),
                };
                // COMPLIANCE only lengthens; GOVERNANCE weakens only with the bypass header.
                if weaker && (old.mode == "COMPLIANCE" || !bypass) {
                    return Err(StoreError::ObjectLocked);
                }
            }
            rec.retention = new.clone();
            Ok(())
        })
        .await
        .map_err(store_error)?;
    Ok(S3Response::new(PutObjectRetentionOutput::default()))
}

pub async fn get_object_retention(
    c: &Coffer,
    req: S3Request<GetObjectRetentionInput>,
) -> S3Result<S3Response<GetObjectRetentionOutput>> {
    let input = req.input;
    let rec = locked_version(c, &input.bucket, &input.key, input.version_id.as_deref())?;
    let r = rec.retention.ok_or_else(|| {
        s3_error!(
            NoSuchObjectLockConfiguration,
            "The specified object does not have a ObjectLock configuration"
        )
    })?;
    Ok(S3Response::new(GetObjectRetentionOutput {
        retention: Some(ObjectLockRetention {
            mode: Some(ObjectLockRetentionMode::from(r.mode)),
            retain_until_date: Some(timestamp(r.until_ms)),
        }),
    }))
}

pub async fn put_object_legal_hold(
    c: &Coffer,
    req: S3Request<PutObjectLegalHoldInput>,
) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
    let input = req.input;
    lock_bucket(c, &input.bucket)?;
    let on = match input.legal_hold.and_then(|h| h.status) {
        Some(s) if s.as_str() == ObjectLockLegalHoldStatus::ON => true,
        Some(s) if s.as_str() == ObjectLockLegalHoldStatus::OFF => false,
        _ => return Err(s3_error!(MalformedXML)),
    };
    c.store
        .update_version(&input.bucket, &input.key, input.version_id.as_deref(), move |rec| {
            rec.legal_hold = on;
            Ok(())
        })
        .await
        .map_err(store_error)?;
    Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
}

pub async fn get_object_legal_hold(
    c: &Coffer,
    req: S3Request<GetObjectLegalHoldInput>,
) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
    let input = req.input;
    let rec = locked_version(c, &input.bucket, &input.key, input.version_id.as_deref())?;
    let status = if rec.legal_hold {
        ObjectLockLegalHoldStatus::ON
    } else {
        ObjectLockLegalHoldStatus::OFF
    };
    Ok(S3Response::new(GetObjectLegalHoldOutput {
        legal_hold: Some(ObjectLockLegalHold {
            status: Some(ObjectLockLegalHoldStatus::from_static(status)),
        }),
    }))
}
