//! Every S3 operation as IAM names it: the action a policy grants or denies, and what it
//! acts on. One table, so authorization is one call whatever the operation.

/// What an action applies to, which decides its resource ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The account: ListBuckets. Resource `*`.
    Service,
    /// A bucket: `arn:aws:s3:::bucket`.
    Bucket,
    /// An object: `arn:aws:s3:::bucket/key`.
    Object,
}

/// An IAM action (`s3:GetObject`) and its scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    pub name: &'static str,
    pub scope: Scope,
}

const fn on(name: &'static str, scope: Scope) -> Action {
    Action { name, scope }
}

/// The action of an s3s operation (`S3Operation::name`). An operation coffer does not
/// implement maps to a bucket- or object-level action of its own name, so that even its
/// `501 NotImplemented` is only reached by whoever may use the bucket.
pub fn of(operation: &str, has_key: bool) -> Action {
    use Scope::{Bucket, Object, Service};
    match operation {
        "ListBuckets" => on("s3:ListAllMyBuckets", Service),
        "CreateBucket" => on("s3:CreateBucket", Bucket),
        "DeleteBucket" => on("s3:DeleteBucket", Bucket),
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => on("s3:ListBucket", Bucket),
        "GetBucketLocation" => on("s3:GetBucketLocation", Bucket),
        "GetBucketRequestPayment" => on("s3:GetBucketRequestPayment", Bucket),
        "PutBucketRequestPayment" => on("s3:PutBucketRequestPayment", Bucket),
        "ListObjectVersions" => on("s3:ListBucketVersions", Bucket),
        "ListMultipartUploads" => on("s3:ListBucketMultipartUploads", Bucket),
        "PutBucketVersioning" => on("s3:PutBucketVersioning", Bucket),
        "GetBucketVersioning" => on("s3:GetBucketVersioning", Bucket),
        "PutObjectLockConfiguration" => on("s3:PutBucketObjectLockConfiguration", Bucket),
        "GetObjectLockConfiguration" => on("s3:GetBucketObjectLockConfiguration", Bucket),
        // DeleteObjects is checked per key by the operation; the bucket must allow deletes.
        "DeleteObjects" => on("s3:DeleteObject", Bucket),
        "PutObject"
        | "PostObject"
        | "CopyObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload" => on("s3:PutObject", Object),
        "GetObject" | "HeadObject" => on("s3:GetObject", Object),
        "GetObjectAttributes" => on("s3:GetObjectAttributes", Object),
        "DeleteObject" => on("s3:DeleteObject", Object),
        "AbortMultipartUpload" => on("s3:AbortMultipartUpload", Object),
        "ListParts" => on("s3:ListMultipartUploadParts", Object),
        "GetBucketAcl" => on("s3:GetBucketAcl", Bucket),
        "PutBucketAcl" => on("s3:PutBucketAcl", Bucket),
        "GetObjectAcl" => on("s3:GetObjectAcl", Object),
        "PutObjectAcl" => on("s3:PutObjectAcl", Object),
        "GetBucketOwnershipControls" => on("s3:GetBucketOwnershipControls", Bucket),
        // IAM has no Delete action for these: removing them is a Put.
        "PutBucketOwnershipControls" | "DeleteBucketOwnershipControls" => on("s3:PutBucketOwnershipControls", Bucket),
        "GetPublicAccessBlock" => on("s3:GetBucketPublicAccessBlock", Bucket),
        "PutPublicAccessBlock" | "DeletePublicAccessBlock" => on("s3:PutBucketPublicAccessBlock", Bucket),
        "PutBucketPolicy" => on("s3:PutBucketPolicy", Bucket),
        "GetBucketPolicy" => on("s3:GetBucketPolicy", Bucket),
        "DeleteBucketPolicy" => on("s3:DeleteBucketPolicy", Bucket),
        "GetBucketPolicyStatus" => on("s3:GetBucketPolicyStatus", Bucket),
        "PutObjectTagging" => on("s3:PutObjectTagging", Object),
        "GetObjectTagging" => on("s3:GetObjectTagging", Object),
        "DeleteObjectTagging" => on("s3:DeleteObjectTagging", Object),
        "GetBucketTagging" => on("s3:GetBucketTagging", Bucket),
        "GetBucketCors" => on("s3:GetBucketCORS", Bucket),
        "GetBucketWebsite" => on("s3:GetBucketWebsite", Bucket),
        "PutBucketWebsite" => on("s3:PutBucketWebsite", Bucket),
        "DeleteBucketWebsite" => on("s3:DeleteBucketWebsite", Bucket),
        "GetBucketLifecycleConfiguration" => on("s3:GetLifecycleConfiguration", Bucket),
        "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => on("s3:PutLifecycleConfiguration", Bucket),
        "PutBucketCors" | "DeleteBucketCors" => on("s3:PutBucketCORS", Bucket),
        "GetBucketEncryption" => on("s3:GetEncryptionConfiguration", Bucket),
        // IAM has no Delete action for it: removing it is a Put.
        "PutBucketEncryption" | "DeleteBucketEncryption" => on("s3:PutEncryptionConfiguration", Bucket),
        "PutBucketTagging" | "DeleteBucketTagging" => on("s3:PutBucketTagging", Bucket),
        "PutObjectRetention" => on("s3:PutObjectRetention", Object),
        "GetObjectRetention" => on("s3:GetObjectRetention", Object),
        "PutObjectLegalHold" => on("s3:PutObjectLegalHold", Object),
        "GetObjectLegalHold" => on("s3:GetObjectLegalHold", Object),
        _ if has_key => on("s3:*", Object),
        _ => on("s3:*", Bucket),
    }
}

impl Action {
    /// The action of a request that names a version (`versionId`): reading or deleting a
    /// version is an action of its own in IAM.
    pub fn versioned(self, versioned: bool) -> Action {
        if !versioned {
            return self;
        }
        match self.name {
            "s3:GetObject" => on("s3:GetObjectVersion", self.scope),
            "s3:DeleteObject" => on("s3:DeleteObjectVersion", self.scope),
            "s3:GetObjectAcl" => on("s3:GetObjectVersionAcl", self.scope),
            "s3:PutObjectAcl" => on("s3:PutObjectVersionAcl", self.scope),
            "s3:GetObjectTagging" => on("s3:GetObjectVersionTagging", self.scope),
            "s3:GetObjectAttributes" => on("s3:GetObjectVersionAttributes", self.scope),
            "s3:PutObjectTagging" => on("s3:PutObjectVersionTagging", self.scope),
            "s3:DeleteObjectTagging" => on("s3:DeleteObjectVersionTagging", self.scope),
            _ => self,
        }
    }
}

/// Deleting or shortening through a GOVERNANCE retention.
pub const BYPASS_GOVERNANCE: Action = on("s3:BypassGovernanceRetention", Scope::Object);

/// The actions a request's headers ask for beyond its operation's: object-lock settings
/// and tags on a write need the right to set them, and `x-amz-bypass-governance-retention: true`
/// needs s3:BypassGovernanceRetention, as on AWS.
pub fn implied_by_headers(operation: &str, headers: &http::HeaderMap) -> Vec<Action> {
    let mut out = Vec::new();
    if matches!(operation, "PutObject" | "CopyObject" | "CreateMultipartUpload") {
        if headers.contains_key("x-amz-object-lock-mode") || headers.contains_key("x-amz-object-lock-retain-until-date")
        {
            out.push(of("PutObjectRetention", true));
        }
        if headers.contains_key("x-amz-object-lock-legal-hold") {
            out.push(of("PutObjectLegalHold", true));
        }
        // Tags set with the object need the right to tag it, as on AWS.
        if headers.get("x-amz-tagging").is_some_and(|v| !v.is_empty()) {
            out.push(of("PutObjectTagging", true));
        }
    }
    if bypasses_governance(headers) {
        out.push(BYPASS_GOVERNANCE);
    }
    // GetObjectAttributes reads what GetObject reads: AWS asks for both rights.
    if operation == "GetObjectAttributes" {
        out.push(of("GetObject", true));
    }
    out
}

/// Whether the request asks to bypass GOVERNANCE retention.
pub fn bypasses_governance(headers: &http::HeaderMap) -> bool {
    headers
        .get("x-amz-bypass-governance-retention")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// What a request acts on. Its ARN is built only when a rule needs it (a policy), not on
/// every request.
#[derive(Debug, Clone, Copy)]
pub struct Resource<'a> {
    pub bucket: Option<&'a str>,
    pub key: Option<&'a str>,
}

impl Resource<'_> {
    /// The resource ARN `action` names: `arn:aws:s3:::*` (the service), `arn:aws:s3:::bucket`
    /// or `arn:aws:s3:::bucket/key`.
    pub fn arn(&self, action: Action) -> String {
        match (action.scope, self.bucket, self.key) {
            // `*` and `arn:aws:s3:::*` both name it in a policy; this matches either.
            (Scope::Service, ..) | (_, None, _) => "arn:aws:s3:::*".to_owned(),
            (Scope::Object, Some(b), Some(k)) => format!("arn:aws:s3:::{b}/{k}"),
            (_, Some(b), _) => format!("arn:aws:s3:::{b}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_map_to_iam_actions_and_arns() {
        let r = |bucket, key| Resource { bucket, key };
        let a = of("GetObject", true);
        assert_eq!((a.name, a.scope), ("s3:GetObject", Scope::Object));
        assert_eq!(r(Some("b"), Some("k/1")).arn(a), "arn:aws:s3:::b/k/1");
        let a = of("ListObjectsV2", false);
        assert_eq!((a.name, a.scope), ("s3:ListBucket", Scope::Bucket));
        assert_eq!(r(Some("b"), Some("ignored")).arn(a), "arn:aws:s3:::b");
        let a = of("ListBuckets", false);
        assert_eq!(a.scope, Scope::Service);
        assert_eq!(r(None, None).arn(a), "arn:aws:s3:::*");
        assert_eq!(of("UploadPart", true).name, "s3:PutObject");
        assert_eq!(of("HeadObject", true).versioned(true).name, "s3:GetObjectVersion");
        assert_eq!(of("DeleteObject", true).versioned(true).name, "s3:DeleteObjectVersion");
        assert_eq!(of("PutObject", true).versioned(true).name, "s3:PutObject");
        assert_eq!(of("DeleteBucketCors", false), on("s3:PutBucketCORS", Scope::Bucket));
        assert_eq!(
            of("GetObjectTagging", true).versioned(true),
            on("s3:GetObjectVersionTagging", Scope::Object)
        );
        // Unimplemented operations still need the bucket.
        assert_eq!(
            of("PutBucketNotificationConfiguration", false),
            on("s3:*", Scope::Bucket)
        );
        assert_eq!(of("RestoreObject", true), on("s3:*", Scope::Object));
        let mut h = http::HeaderMap::new();
        assert!(implied_by_headers("PutObject", &h).is_empty());
        h.insert("x-amz-object-lock-mode", http::HeaderValue::from_static("COMPLIANCE"));
        h.insert("x-amz-object-lock-legal-hold", http::HeaderValue::from_static("ON"));
        h.insert(
            "x-amz-bypass-governance-retention",
            http::HeaderValue::from_static("True"),
        );
        let names: Vec<_> = implied_by_headers("PutObject", &h).iter().map(|a| a.name).collect();
        assert_eq!(
            names,
            [
                "s3:PutObjectRetention",
                "s3:PutObjectLegalHold",
                "s3:BypassGovernanceRetention"
            ]
        );
        let names: Vec<_> = implied_by_headers("DeleteObject", &h).iter().map(|a| a.name).collect();
        assert_eq!(names, ["s3:BypassGovernanceRetention"]);
    }
}
