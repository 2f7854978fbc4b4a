//! Object lock: the bucket's configuration, and the retention and legal hold of versions.

use coffer_store::lock::check_retention_change;
use coffer_store::{DefaultRetention, LockMode, ObjectRecord, Retention, StoreError};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::Coffer;
use crate::convert::timestamp;
use crate::error::{IntoS3, store_error};

fn missing_lock_config() -> s3s::S3Error {
    s3_error!(InvalidRequest, "Bucket is missing Object Lock Configuration")
}

fn lock_bucket(c: &Coffer, bucket: &str) -> S3Result<coffer_store::BucketRecord> {
    let b = c.store.bucket(bucket).s3()?.ok_or_else(|| s3_error!(NoSuchBucket))?;
    if b.object_lock {
        Ok(b)
    } else {
        Err(missing_lock_config())
    }
}

/// A version of an object in a lock-enabled bucket, for the retention and legal-hold reads.
fn locked_version(c: &Coffer, bucket: &str, key: &str, version_id: Option<&str>) -> S3Result<ObjectRecord> {
    lock_bucket(c, bucket)?;
    c.store.head_object(bucket, key, version_id).s3()
}

fn mode(m: &str) -> S3Result<LockMode> {
    LockMode::parse(m).ok_or_else(|| s3_error!(MalformedXML, "Unknown object lock mode"))
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
            // Exactly one of Days and Years (else the document is malformed), positive.
            let invalid = || {
                crate::error::custom_with(
                    "InvalidRetentionPeriod",
                    http::StatusCode::BAD_REQUEST,
                    "Default retention period must be a positive integer value",
                )
            };
            let days = match (d.days, d.years) {
                (Some(n), None) if n > 0 => n,
                (None, Some(y)) if y > 0 && y <= 100 => y * 365,
                (Some(_), None) | (None, Some(_)) => return Err(invalid()),
                _ => return Err(s3_error!(MalformedXML)),
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
        .s3()?
        .ok_or_else(|| s3_error!(NoSuchBucket))?;
    if !b.object_lock {
        return Err(s3_error!(
            ObjectLockConfigurationNotFoundError,
            "Object Lock configuration does not exist for this bucket"
        ));
    }
    let rule = b.default_retention.map(|d| ObjectLockRule {
        default_retention: Some(s3s::dto::DefaultRetention {
            mode: Some(ObjectLockRetentionMode::from_static(d.mode.as_str())),
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
            check_retention_change(rec.retention.as_ref(), new.as_ref(), bypass, coffer_now_ms())?;
            rec.retention = new.clone();
            Ok(())
        })
        .await
        .s3()?;
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
            mode: Some(ObjectLockRetentionMode::from_static(r.mode.as_str())),
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
        .s3()?;
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
