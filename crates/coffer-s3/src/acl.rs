//! ACLs and object ownership. Every coffer bucket has S3's default for new buckets,
//! BucketOwnerEnforced: ACLs are disabled, the bucket owner owns every object, and access
//! is decided by ownership and policies alone. As on AWS, ACLs can still be read (the
//! owner has FULL_CONTROL), a request may carry an ACL that grants only the owner full
//! control (`private`, `bucket-owner-full-control`, or that grant spelled out), and any
//! other ACL is refused with AccessControlListNotSupported. The other ownership modes,
//! which need real ACLs, are refused with NotImplemented rather than stored and ignored.

use coffer_store::CanonicalId;
use http::HeaderMap;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::Coffer;
use crate::error::{IntoS3, custom_with};

/// Canned ACLs a bucket with ACLs disabled accepts: they grant only its owner full control.
fn owner_only(canned: &str) -> bool {
    matches!(canned, "private" | "bucket-owner-full-control")
}

fn not_supported() -> s3s::S3Error {
    custom_with(
        "AccessControlListNotSupported",
        http::StatusCode::BAD_REQUEST,
        "The bucket does not allow ACLs",
    )
}

/// The ACL headers of a write (`x-amz-acl`, `x-amz-grant-*`): only an owner-only canned
/// ACL is accepted. CreateBucket refuses others with AWS's own code for it.
pub fn check_headers(operation: &str, headers: &HeaderMap) -> S3Result<()> {
    let canned = headers.get("x-amz-acl").map(|v| v.to_str().unwrap_or("?"));
    let grants = headers.keys().any(|k| k.as_str().starts_with("x-amz-grant-"));
    if !grants && canned.is_none_or(owner_only) {
        return Ok(());
    }
    if operation == "CreateBucket" {
        return Err(custom_with(
            "InvalidBucketAclWithObjectOwnership",
            http::StatusCode::BAD_REQUEST,
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
        ));
    }
    Err(not_supported())
}

/// The ownership a CreateBucket asks for: BucketOwnerEnforced, the default, is all there is.
pub fn check_ownership(o: Option<&ObjectOwnership>) -> S3Result<()> {
    match o.map(ObjectOwnership::as_str) {
        None | Some(ObjectOwnership::BUCKET_OWNER_ENFORCED) => Ok(()),
        Some(other) => Err(s3_error!(
            NotImplemented,
            "Object ownership {other} needs ACLs, which coffer does not implement; buckets are BucketOwnerEnforced."
        )),
    }
}

/// The ACL every bucket and object has: its owner, with FULL_CONTROL.
fn owner_acl(c: &Coffer, owner: &CanonicalId) -> (Owner, Grants) {
    let owner = c.identity.owner_of(owner);
    let grant = Grant {
        grantee: Some(Grantee {
            display_name: owner.display_name.clone(),
            email_address: None,
            id: owner.id.clone(),
            type_: Type::from_static(Type::CANONICAL_USER),
            uri: None,
        }),
        permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
    };
    (owner, vec![grant])
}

/// Whether a body ACL grants only `owner` full control.
fn policy_is_owner_only(p: &AccessControlPolicy, owner: &CanonicalId) -> bool {
    let id = owner.to_string();
    p.grants.as_ref().is_some_and(|g| {
        !g.is_empty()
            && g.iter().all(|g| {
                g.permission.as_ref().map(Permission::as_str) == Some(Permission::FULL_CONTROL)
                    && g.grantee.as_ref().is_some_and(|e| {
                        e.type_.as_str() == Type::CANONICAL_USER && e.id.as_deref() == Some(id.as_str())
                    })
            })
    })
}

fn bucket_owner(c: &Coffer, req_bucket: Option<&coffer_store::BucketRecord>, bucket: &str) -> S3Result<CanonicalId> {
    match req_bucket {
        Some(b) => Ok(b.owner),
        None => Ok(c
            .store
            .bucket(bucket)
            .s3()?
            .ok_or_else(|| s3_error!(NoSuchBucket))?
            .owner),
    }
}

pub async fn get_bucket_acl(c: &Coffer, req: S3Request<GetBucketAclInput>) -> S3Result<S3Response<GetBucketAclOutput>> {
    let owner = bucket_owner(c, crate::ctx::known_bucket(&req), &req.input.bucket)?;
    let (owner, grants) = owner_acl(c, &owner);
    Ok(S3Response::new(GetBucketAclOutput {
        owner: Some(owner),
        grants: Some(grants),
    }))
}

pub async fn get_object_acl(c: &Coffer, req: S3Request<GetObjectAclInput>) -> S3Result<S3Response<GetObjectAclOutput>> {
    let owner = bucket_owner(c, crate::ctx::known_bucket(&req), &req.input.bucket)?;
    let input = req.input;
    // The object (or version) must exist, as for any read of it.
    c.store
        .head_object(&input.bucket, &input.key, input.version_id.as_deref())
        .s3()?;
    let (owner, grants) = owner_acl(c, &owner);
    Ok(S3Response::new(GetObjectAclOutput {
        owner: Some(owner),
        grants: Some(grants),
        request_charged: None,
    }))
}

pub async fn put_bucket_acl(c: &Coffer, req: S3Request<PutBucketAclInput>) -> S3Result<S3Response<PutBucketAclOutput>> {
    let owner = bucket_owner(c, crate::ctx::known_bucket(&req), &req.input.bucket)?;
    check_headers("PutBucketAcl", &req.headers)?;
    if let Some(p) = &req.input.access_control_policy
        && !policy_is_owner_only(p, &owner)
    {
        return Err(not_supported());
    }
    Ok(S3Response::new(PutBucketAclOutput {}))
}

pub async fn put_object_acl(c: &Coffer, req: S3Request<PutObjectAclInput>) -> S3Result<S3Response<PutObjectAclOutput>> {
    let owner = bucket_owner(c, crate::ctx::known_bucket(&req), &req.input.bucket)?;
    check_headers("PutObjectAcl", &req.headers)?;
    if let Some(p) = &req.input.access_control_policy
        && !policy_is_owner_only(p, &owner)
    {
        return Err(not_supported());
    }
    let input = req.input;
    c.store
        .head_object(&input.bucket, &input.key, input.version_id.as_deref())
        .s3()?;
    Ok(S3Response::new(PutObjectAclOutput { request_charged: None }))
}

pub async fn get_bucket_ownership_controls(
    c: &Coffer,
    req: S3Request<GetBucketOwnershipControlsInput>,
) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
    bucket_owner(c, crate::ctx::known_bucket(&req), &req.input.bucket)?;
    Ok(S3Response::new(GetBucketOwnershipControlsOutput {
        ownership_controls: Some(OwnershipControls {
            rules: vec![OwnershipControlsRule {
                object_ownership: ObjectOwnership::from_static(ObjectOwnership::BUCKET_OWNER_ENFORCED),
            }],
        }),
    }))
}

pub async fn put_bucket_ownership_controls(
    c: &Coffer,
    req: S3Request<PutBucketOwnershipControlsInput>,
) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
    bucket_owner(c, crate::ctx::known_bucket(&req), &req.input.bucket)?;
    let rules = &req.input.ownership_controls.rules;
    let [rule] = rules.as_slice() else {
        return Err(s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema."
        ));
    };
    check_ownership(Some(&rule.object_ownership))?;
    Ok(S3Response::new(PutBucketOwnershipControlsOutput {}))
}

/// Without controls a bucket would take ObjectWriter ownership, which needs ACLs.
pub async fn delete_bucket_ownership_controls(
    c: &Coffer,
    req: S3Request<DeleteBucketOwnershipControlsInput>,
) -> S3Result<S3Response<DeleteBucketOwnershipControlsOutput>> {
    bucket_owner(c, crate::ctx::known_bucket(&req), &req.input.bucket)?;
    Err(s3_error!(
        NotImplemented,
        "Removing ownership controls would enable ACLs, which coffer does not implement."
    ))
}
