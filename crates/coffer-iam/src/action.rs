//! The S3 actions a policy may name. A name without wildcards must be one of them, as AWS
//! refuses `s3:GetObjekt` with "Policy has invalid action".

/// Every S3 action of the IAM service reference that an S3 API request can need.
pub const S3_ACTIONS: &[&str] = &[
    "AbortMultipartUpload",
    "BypassGovernanceRetention",
    "CreateBucket",
    "DeleteBucket",
    "DeleteBucketOwnershipControls",
    "DeleteBucketPolicy",
    "DeleteBucketWebsite",
    "DeleteObject",
    "DeleteObjectTagging",
    "DeleteObjectVersion",
    "DeleteObjectVersionTagging",
    "GetAccelerateConfiguration",
    "GetAnalyticsConfiguration",
    "GetBucketAcl",
    "GetBucketCORS",
    "GetBucketLocation",
    "GetBucketLogging",
    "GetBucketNotification",
    "GetBucketObjectLockConfiguration",
    "GetBucketOwnershipControls",
    "GetBucketPolicy",
    "GetBucketPolicyStatus",
    "GetBucketPublicAccessBlock",
    "GetBucketRequestPayment",
    "GetBucketTagging",
    "GetBucketVersioning",
    "GetBucketWebsite",
    "GetEncryptionConfiguration",
    "GetIntelligentTieringConfiguration",
    "GetInventoryConfiguration",
    "GetLifecycleConfiguration",
    "GetMetricsConfiguration",
    "GetObject",
    "GetObjectAcl",
    "GetObjectAttributes",
    "GetObjectLegalHold",
    "GetObjectRetention",
    "GetObjectTagging",
    "GetObjectTorrent",
    "GetObjectVersion",
    "GetObjectVersionAcl",
    "GetObjectVersionAttributes",
    "GetObjectVersionForReplication",
    "GetObjectVersionTagging",
    "GetObjectVersionTorrent",
    "GetReplicationConfiguration",
    "ListAllMyBuckets",
    "ListBucket",
    "ListBucketMultipartUploads",
    "ListBucketVersions",
    "ListMultipartUploadParts",
    "PutAccelerateConfiguration",
    "PutAnalyticsConfiguration",
    "PutBucketAcl",
    "PutBucketCORS",
    "PutBucketLogging",
    "PutBucketNotification",
    "PutBucketObjectLockConfiguration",
    "PutBucketOwnershipControls",
    "PutBucketPolicy",
    "PutBucketPublicAccessBlock",
    "PutBucketRequestPayment",
    "PutBucketTagging",
    "PutBucketVersioning",
    "PutBucketWebsite",
    "PutEncryptionConfiguration",
    "PutIntelligentTieringConfiguration",
    "PutInventoryConfiguration",
    "PutLifecycleConfiguration",
    "PutMetricsConfiguration",
    "PutObject",
    "PutObjectAcl",
    "PutObjectLegalHold",
    "PutObjectRetention",
    "PutObjectTagging",
    "PutObjectVersionAcl",
    "PutObjectVersionTagging",
    "PutReplicationConfiguration",
    "ReplicateDelete",
    "ReplicateObject",
    "ReplicateTags",
    "RestoreObject",
];

/// The admin API's actions (coffer's own; `admin:` in a user policy).
pub const ADMIN_ACTIONS: &[&str] = &[
    "ServerInfo",
    "ListUsers",
    "CreateUser",
    "DeleteUser",
    "ListUserPolicies",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "ListAccessKeys",
    "CreateAccessKey",
    "DeleteAccessKey",
    "GetBucketUsage",
    "PutBucketQuota",
    "ListKmsKeys",
    "CreateKmsKey",
    "UpdateKmsKey",
];

/// Whether a user policy may name `a` as an admin action: `admin:` and an action or a
/// wildcard pattern.
pub fn valid_admin(a: &str) -> bool {
    let Some(name) = a.get(..6).filter(|p| p.eq_ignore_ascii_case("admin:")).map(|_| &a[6..]) else {
        return false;
    };
    name.contains(['*', '?']) || ADMIN_ACTIONS.iter().any(|k| k.eq_ignore_ascii_case(name))
}

/// Whether a policy may name `a`: `*`, or `s3:` and an action or a wildcard pattern.
pub fn valid(a: &str) -> bool {
    if a == "*" {
        return true;
    }
    let Some(name) = a.get(..3).filter(|p| p.eq_ignore_ascii_case("s3:")).map(|_| &a[3..]) else {
        return false;
    };
    if name.contains(['*', '?']) {
        return true;
    }
    S3_ACTIONS.iter().any(|k| k.eq_ignore_ascii_case(name))
}
