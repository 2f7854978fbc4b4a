//! ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation, and request
//! payment (every bucket's owner pays: Requester Pays is refused).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::Coffer;
use crate::convert::timestamp;
use crate::error::IntoS3;

pub async fn list_buckets(c: &Coffer, req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
    let caller = c.identity.caller(&req)?;
    // A user sees its own buckets, or every bucket when its policies allow
    // s3:ListAllMyBuckets (as a user of an AWS account sees the account's).
    let sees_all = caller.is_root()
        || crate::ctx::RequestContext::of(&req).is_some_and(|ctx| {
            let action = crate::action::of("ListBuckets", false);
            let resource = crate::action::Resource {
                bucket: None,
                key: None,
            };
            let keys = crate::ctx::RequestKeys::new(&ctx.principal, &req.headers, &req.uri, &req.extensions);
            crate::ctx::user_decision(ctx, action, resource, &keys) == coffer_iam::Decision::Allow
        });
    let owner = (!sees_all).then_some(&caller.canonical_user_id);
    let prefix = req.input.prefix.as_deref().unwrap_or("");
    let buckets = c
        .store
        .list_buckets(owner)
        .s3()?
        .into_iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .map(|(name, rec)| Bucket {
            name: Some(name),
            creation_date: Some(timestamp(rec.created_ms)),
            bucket_region: Some(c.config.region.clone()),
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        owner: Some(caller.owner()),
        prefix: req.input.prefix,
        continuation_token: None,
    }))
}

pub async fn create_bucket(c: &Coffer, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
    let caller = c.identity.caller(&req)?;
    let input = req.input;
    if is_reserved_bucket_name(&input.bucket) {
        return Err(s3_error!(InvalidBucketName, "The specified bucket is not valid."));
    }
    let settings = crate::acl::for_new_bucket(
        c,
        &req.headers,
        input.object_ownership.as_ref(),
        caller.canonical_user_id,
    )?;
    if let Some(lc) = input
        .create_bucket_configuration
        .as_ref()
        .and_then(|cfg| cfg.location_constraint.as_ref())
        && !lc.as_str().is_empty()
        && lc.as_str() != c.config.region
    {
        return Err(s3_error!(
            InvalidLocationConstraint,
            "The specified location-constraint is not valid for this server's region."
        ));
    }
    c.store
        .create_bucket_with(
            &input.bucket,
            caller.canonical_user_id,
            input.object_lock_enabled_for_bucket == Some(true),
            settings,
        )
        .await
        .s3()?;
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(format!("/{}", input.bucket)),
    }))
}

pub async fn head_bucket(c: &Coffer, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
    c.store
        .bucket(&req.input.bucket)
        .s3()?
        .ok_or_else(|| s3_error!(NoSuchBucket))?;
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(c.config.region.clone()),
        ..Default::default()
    }))
}

pub async fn delete_bucket(c: &Coffer, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
    c.store.delete_bucket(&req.input.bucket).await.s3()?;
    Ok(S3Response::new(DeleteBucketOutput {}))
}

pub async fn get_bucket_location(
    c: &Coffer,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    c.store
        .bucket(&req.input.bucket)
        .s3()?
        .ok_or_else(|| s3_error!(NoSuchBucket))?;
    // S3 answers an empty constraint for us-east-1.
    let location_constraint =
        (c.config.region != "us-east-1").then(|| BucketLocationConstraint::from(c.config.region.clone()));
    Ok(S3Response::new(GetBucketLocationOutput { location_constraint }))
}

pub async fn get_bucket_request_payment(
    _c: &Coffer,
    req: S3Request<GetBucketRequestPaymentInput>,
) -> S3Result<S3Response<GetBucketRequestPaymentOutput>> {
    crate::ctx::bucket_of(&req)?;
    Ok(S3Response::new(GetBucketRequestPaymentOutput {
        payer: Some(Payer::from_static(Payer::BUCKET_OWNER)),
    }))
}

/// `BucketOwner` is what every bucket already has. `Requester` would have to refuse
/// anonymous requests and those without `x-amz-request-payer`; coffer has no one to bill,
/// so it is refused rather than stored and ignored.
pub async fn put_bucket_request_payment(
    _c: &Coffer,
    req: S3Request<PutBucketRequestPaymentInput>,
) -> S3Result<S3Response<PutBucketRequestPaymentOutput>> {
    crate::ctx::bucket_of(&req)?;
    match req.input.request_payment_configuration.payer.as_str() {
        Payer::BUCKET_OWNER => Ok(S3Response::new(PutBucketRequestPaymentOutput {})),
        Payer::REQUESTER => Err(s3_error!(NotImplemented, "Requester Pays buckets are not supported.")),
        _ => Err(s3_error!(MalformedXML)),
    }
}

/// Names AWS keeps for its own features (access point aliases, Object Lambda, multi-region
/// access points, directory and table buckets, examples), which clients treat specially.
fn is_reserved_bucket_name(name: &str) -> bool {
    const PREFIXES: &[&str] = &["xn--", "sthree-", "amzn-s3-demo-"];
    const SUFFIXES: &[&str] = &["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    PREFIXES.iter().any(|p| name.starts_with(p)) || SUFFIXES.iter().any(|s| name.ends_with(s))
}

#[cfg(test)]
mod tests {
    #[test]
    fn aws_reserved_names_are_refused() {
        for n in [
            "sthree-x",
            "amzn-s3-demo-bucket",
            "a-s3alias",
            "a--ol-s3",
            "a.mrap",
            "a--x-s3",
            "a--table-s3",
        ] {
            assert!(super::is_reserved_bucket_name(n), "{n}");
        }
        for n in ["sthree", "my-s3alias-data", "mrap", "bucket"] {
            assert!(!super::is_reserved_bucket_name(n), "{n}");
        }
    }
}
