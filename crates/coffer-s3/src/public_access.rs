//! Block Public Access for a bucket: Put/Get/DeletePublicAccessBlock, and what its flags do.
//! BlockPublicPolicy refuses a public bucket policy (403 AccessDenied); RestrictPublicBuckets
//! makes a public policy's grants reach no anonymous caller. The two ACL flags act in
//! `acl`: BlockPublicAcls refuses a public ACL, IgnorePublicAcls voids public grants.

use coffer_store::SettingKind;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};
use serde::{Deserialize, Serialize};

use crate::Coffer;
use crate::error::{IntoS3, custom_with};

/// The four flags, as stored. Never reorder: it is the record's encoding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

pub fn stored(c: &Coffer, bucket: &str) -> S3Result<Option<Block>> {
    c.store.bucket_setting(bucket, SettingKind::PublicAccessBlock).s3()
}

pub async fn put_public_access_block(
    c: &Coffer,
    req: S3Request<PutPublicAccessBlockInput>,
) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
    let input = req.input;
    let cfg = input.public_access_block_configuration;
    let block = Block {
        block_public_acls: cfg.block_public_acls.unwrap_or(false),
        ignore_public_acls: cfg.ignore_public_acls.unwrap_or(false),
        block_public_policy: cfg.block_public_policy.unwrap_or(false),
        restrict_public_buckets: cfg.restrict_public_buckets.unwrap_or(false),
    };
    c.store
        .put_bucket_setting(&input.bucket, SettingKind::PublicAccessBlock, &block)
        .await
        .s3()?;
    Ok(S3Response::new(PutPublicAccessBlockOutput {}))
}

pub async fn get_public_access_block(
    c: &Coffer,
    req: S3Request<GetPublicAccessBlockInput>,
) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
    let b = stored(c, &req.input.bucket)?.ok_or_else(|| {
        custom_with(
            "NoSuchPublicAccessBlockConfiguration",
            http::StatusCode::NOT_FOUND,
            "The public access block configuration was not found",
        )
    })?;
    Ok(S3Response::new(GetPublicAccessBlockOutput {
        public_access_block_configuration: Some(PublicAccessBlockConfiguration {
            block_public_acls: Some(b.block_public_acls),
            ignore_public_acls: Some(b.ignore_public_acls),
            block_public_policy: Some(b.block_public_policy),
            restrict_public_buckets: Some(b.restrict_public_buckets),
        }),
    }))
}

pub async fn delete_public_access_block(
    c: &Coffer,
    req: S3Request<DeletePublicAccessBlockInput>,
) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
    c.store
        .delete_bucket_setting(&req.input.bucket, SettingKind::PublicAccessBlock)
        .await
        .s3()?;
    Ok(S3Response::with_status(
        DeletePublicAccessBlockOutput {},
        http::StatusCode::NO_CONTENT,
    ))
}
