//! Bucket policies: PutBucketPolicy checks a document against the grammar AWS accepts
//! (`coffer_iam`) and stores it as sent; GetBucketPolicy returns it; GetBucketPolicyStatus
//! says whether it makes the bucket public. `ctx::authorize` applies it.

use coffer_iam::{Attached, Policy};
use coffer_store::SettingKind;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::Coffer;
use crate::error::IntoS3;

fn stored(c: &Coffer, bucket: &str) -> S3Result<String> {
    c.store
        .bucket_setting::<String>(bucket, SettingKind::Policy)
        .s3()?
        .ok_or_else(|| s3_error!(NoSuchBucketPolicy, "The bucket policy does not exist"))
}

pub async fn put_bucket_policy(
    c: &Coffer,
    req: S3Request<PutBucketPolicyInput>,
) -> S3Result<S3Response<PutBucketPolicyOutput>> {
    let input = req.input;
    let policy = Policy::parse(input.policy.as_bytes(), Attached::Bucket(&input.bucket))
        .map_err(|e| s3_error!(MalformedPolicy, "{e}"))?;
    if policy.is_public() && crate::public_access::stored(c, &input.bucket)?.is_some_and(|b| b.block_public_policy) {
        return Err(s3_error!(
            AccessDenied,
            "The bucket's Block Public Access settings forbid a public bucket policy."
        ));
    }
    c.store
        .put_bucket_setting(&input.bucket, SettingKind::Policy, &input.policy)
        .await
        .s3()?;
    Ok(S3Response::with_status(
        PutBucketPolicyOutput {},
        http::StatusCode::NO_CONTENT,
    ))
}

pub async fn get_bucket_policy(
    c: &Coffer,
    req: S3Request<GetBucketPolicyInput>,
) -> S3Result<S3Response<GetBucketPolicyOutput>> {
    Ok(S3Response::new(GetBucketPolicyOutput {
        policy: Some(stored(c, &req.input.bucket)?),
    }))
}

pub async fn delete_bucket_policy(
    c: &Coffer,
    req: S3Request<DeleteBucketPolicyInput>,
) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
    c.store
        .delete_bucket_setting(&req.input.bucket, SettingKind::Policy)
        .await
        .s3()?;
    Ok(S3Response::with_status(
        DeleteBucketPolicyOutput {},
        http::StatusCode::NO_CONTENT,
    ))
}

/// Public when a statement allows everyone without a condition. A bucket without a policy
/// is not public (as Ceph RGW answers; AWS answers NoSuchBucketPolicy).
pub async fn get_bucket_policy_status(
    c: &Coffer,
    req: S3Request<GetBucketPolicyStatusInput>,
) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
    let bucket = &req.input.bucket;
    let public = match c.store.bucket_setting::<String>(bucket, SettingKind::Policy).s3()? {
        Some(text) => Policy::parse(text.as_bytes(), Attached::Bucket(bucket))
            .map_err(|_| s3_error!(InternalError))?
            .is_public(),
        None => false,
    };
    Ok(S3Response::new(GetBucketPolicyStatusOutput {
        policy_status: Some(PolicyStatus {
            is_public: Some(public),
        }),
    }))
}
