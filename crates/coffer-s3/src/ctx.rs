//! The request context: who is calling, the bucket addressed and its policy, resolved once
//! by `S3Access` and handed to the operation through the request's extensions; the
//! condition keys a policy may test; and the one authorization decision, `authorize`.

use std::net::IpAddr;
use std::sync::Arc;

use coffer_iam::{Decision, Keys, Policy, Request, Who};
use coffer_store::BucketRecord;
use s3s::{S3Request, S3Result, s3_error};

use crate::action::{Action, Resource, Scope};
use crate::auth::{BucketRules, Caller};

/// The address a request came from, put in its extensions by the HTTP service.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub IpAddr);

/// Present when the request arrived over TLS (`aws:SecureTransport`), put in its
/// extensions by the HTTP service.
#[derive(Debug, Clone, Copy)]
pub struct Secure;

/// Who a request is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// No signature: reaches `authorize` like anyone else, so that what a bucket grants
    /// the public is a policy decision.
    Anonymous,
    User(Caller),
}

#[derive(Debug, Clone)]
pub struct RequestContext {
    pub principal: Principal,
    /// The bucket the request addresses, as read when it was authorized; `None` when the
    /// path names no bucket or the bucket does not exist.
    pub bucket: Option<BucketRecord>,
    /// The bucket's policy, Block Public Access and ACL rules.
    pub rules: BucketRules,
    /// The policies attached to the calling user, if any.
    pub user_policies: Option<Arc<Vec<Policy>>>,
    /// An object read or ACL change in a bucket with ACLs enabled: the version's owner and
    /// ACL decide too, once the operation has read it (`check_object`).
    pub object_check: Option<ObjectCheck>,
}

/// What `check_object` needs: the action, and whether the bucket's owner, its policy or
/// the caller's policies allowed it (which counts only for versions the bucket's owner owns).
#[derive(Debug, Clone, Copy)]
pub struct ObjectCheck {
    pub action: &'static str,
    pub allowed: bool,
}

impl RequestContext {
    /// The authenticated caller; anonymous requests are refused.
    pub fn caller(&self) -> S3Result<&Caller> {
        match &self.principal {
            Principal::User(c) => Ok(c),
            Principal::Anonymous => Err(s3_error!(AccessDenied)),
        }
    }

    /// The context `S3Access` put in the request.
    pub fn of<T>(req: &S3Request<T>) -> Option<&RequestContext> {
        req.extensions.get::<RequestContext>()
    }
}

/// The addressed bucket's record as the request context read it, if it did.
pub fn known_bucket<T>(req: &S3Request<T>) -> Option<&BucketRecord> {
    RequestContext::of(req).and_then(|c| c.bucket.as_ref())
}

/// The addressed bucket's record as the request context read it, for operations on a bucket
/// that must exist: NoSuchBucket without one, AccessDenied without a context.
pub fn bucket_of<T>(req: &S3Request<T>) -> S3Result<&BucketRecord> {
    let ctx = RequestContext::of(req).ok_or_else(|| s3_error!(AccessDenied))?;
    ctx.bucket.as_ref().ok_or_else(|| s3_error!(NoSuchBucket))
}

/// The bucket-policy actions its owner keeps even when the policy denies them, as the
/// owning account's root does on AWS: a bad policy cannot lock the owner out for good.
const OWNER_KEEPS: [&str; 3] = ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"];

/// Actions no policy grants an anonymous caller, whatever it says: those that administer
/// the bucket itself (AWS keeps its policy operations to the owner's account), so that a
/// "public write" policy with `s3:*` cannot hand the bucket to anyone.
const NEVER_ANONYMOUS: [&str; 12] = [
    "s3:GetBucketPolicy",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketAcl",
    "s3:PutObjectAcl",
    "s3:PutObjectVersionAcl",
    "s3:DeleteBucket",
    "s3:PutBucketVersioning",
    "s3:PutBucketObjectLockConfiguration",
    "s3:BypassGovernanceRetention",
];

/// What `decide` concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// An explicit deny: nothing else can allow it.
    Deny,
    /// Nothing allowed it.
    Silent,
}

/// May the context's principal perform `action` on `resource`? In AWS's order: the
/// server's root may do everything (it is the administrator, and no policy binds it); an
/// explicit deny in the bucket's policy or in the user's own policies refuses (the
/// bucket's owner keeps its rights on the bucket policy itself); the bucket's owner may
/// act on it; any user may list its own buckets and create new ones (the operation answers
/// BucketAlreadyExists for a taken name); an allow in the bucket's policy (for anyone it
/// names, anonymous callers included), in the user's policies or in the bucket's ACL
/// admits; everything else is denied. A bucket that does not exist is left to the
/// operation (NoSuchBucket), anonymous callers' too, as on AWS.
pub fn authorize(ctx: &RequestContext, action: Action, resource: Resource<'_>, keys: &dyn Keys) -> S3Result<()> {
    match decide(ctx, action, resource, keys) {
        Verdict::Allow => Ok(()),
        Verdict::Deny | Verdict::Silent => Err(s3_error!(AccessDenied)),
    }
}

/// `authorize`'s decision, with an explicit deny told apart from silence.
pub fn decide(ctx: &RequestContext, action: Action, resource: Resource<'_>, keys: &dyn Keys) -> Verdict {
    let caller = match &ctx.principal {
        Principal::User(c) if c.is_root() => return Verdict::Allow,
        Principal::User(c) => Some(c),
        Principal::Anonymous if NEVER_ANONYMOUS.contains(&action.name) => return Verdict::Deny,
        Principal::Anonymous => None,
    };
    let owner = match (&ctx.bucket, caller) {
        (Some(b), Some(c)) => b.owner == c.canonical_user_id,
        _ => false,
    };
    // The ARN is built once, and only when a policy will read it.
    let arn = match (&ctx.rules.policy, &ctx.user_policies) {
        (None, None) => String::new(),
        _ => resource.arn(action),
    };
    let req = Request {
        who: who_of(caller),
        action: action.name,
        resource: &arn,
        context: keys,
    };
    let said = ctx.rules.policy.as_ref().map_or(Decision::Silent, |p| p.evaluate(&req));
    let said = if said == Decision::Allow && caller.is_none() && ctx.rules.restrict_public {
        Decision::Silent
    } else {
        said
    };
    if said == Decision::Deny && !(owner && OWNER_KEEPS.contains(&action.name)) {
        return Verdict::Deny;
    }
    let own = own_policies(ctx, &req);
    if own == Decision::Deny {
        return Verdict::Deny;
    }
    let user_level = caller.is_some()
        && (action.scope == Scope::Service || action.name == "s3:CreateBucket" || ctx.bucket.is_none());
    // As on AWS, anyone may learn that a bucket does not exist.
    let no_such_bucket = ctx.bucket.is_none() && action.scope != Scope::Service && action.name != "s3:CreateBucket";
    if owner
        || user_level
        || no_such_bucket
        || said == Decision::Allow
        || own == Decision::Allow
        || crate::acl::bucket_allows(ctx, action.name)
    {
        return Verdict::Allow;
    }
    Verdict::Silent
}

/// The object half of a decision `S3Access` left open (`RequestContext::object_check`),
/// now that the operation has read the version: its owner may, the bucket-level allow
/// counts for versions the bucket's owner owns (S3: a bucket owner's grants do not reach
/// objects others own), and otherwise the version's ACL decides.
pub fn check_object<T>(req: &S3Request<T>, rec: &coffer_store::ObjectRecord) -> S3Result<()> {
    // Every S3 operation has a context; one without is refused rather than waved through.
    let ctx = RequestContext::of(req).ok_or_else(|| s3_error!(AccessDenied))?;
    check_object_in(ctx, rec)
}

/// [`check_object`] against a given context (a copy's source has its own).
pub fn check_object_in(ctx: &RequestContext, rec: &coffer_store::ObjectRecord) -> S3Result<()> {
    let (Some(check), Some(bucket)) = (ctx.object_check, &ctx.bucket) else {
        return Ok(());
    };
    let owner = rec.owner.unwrap_or(bucket.owner);
    let who = match &ctx.principal {
        Principal::User(c) => Some(&c.canonical_user_id),
        Principal::Anonymous => None,
    };
    if who == Some(&owner) || (check.allowed && owner == bucket.owner) {
        return Ok(());
    }
    let default = [coffer_store::Grant {
        grantee: coffer_store::Grantee::User(owner),
        permission: coffer_store::Permission::FullControl,
    }];
    let grants = rec.acl.as_deref().unwrap_or(&default);
    match crate::acl::object_permission(check.action) {
        Some(p) if crate::acl::grants_allow(grants, who, p, ctx.rules.acl.ignore_public_acls) => Ok(()),
        _ => Err(s3_error!(AccessDenied)),
    }
}

/// The record of the version a request addresses, as a read of it may see it: a missing
/// one hidden from callers who may not list, and the object half of the decision made.
pub fn read_version<T>(
    store: &coffer_store::Store,
    req: &S3Request<T>,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> S3Result<coffer_store::ObjectRecord> {
    use crate::error::IntoS3;
    let found = store.head_object(bucket, key, version_id).s3();
    let rec = hide_missing(req, bucket, key, found)?;
    check_object(req, &rec)?;
    Ok(rec)
}

/// The principal as a policy names it.
fn who_of(caller: Option<&Caller>) -> Who<'_> {
    match caller {
        Some(c) => Who::User {
            name: &c.name,
            canonical_id: &c.canonical_user_id.0,
            root: false,
        },
        None => Who::Anonymous,
    }
}

/// What the calling user's own policies say about `req`.
fn own_policies(ctx: &RequestContext, req: &Request<'_>) -> Decision {
    match (&ctx.user_policies, &ctx.principal) {
        (Some(policies), Principal::User(_)) => coffer_iam::combine(policies.iter().map(|p| p.evaluate(req))),
        _ => Decision::Silent,
    }
}

/// What the calling user's own policies say about `action` on `resource`.
pub fn user_decision(ctx: &RequestContext, action: Action, resource: Resource<'_>, keys: &dyn Keys) -> Decision {
    let Principal::User(c) = &ctx.principal else {
        return Decision::Silent;
    };
    let arn = resource.arn(action);
    let req = Request {
        who: who_of(Some(c)),
        action: action.name,
        resource: &arn,
        context: keys,
    };
    own_policies(ctx, &req)
}

/// The condition keys of a request, answered when a policy asks: who and from where, the
/// time, how it was signed, and the S3 keys of its headers and query.
pub struct RequestKeys<'a> {
    pub principal: &'a Principal,
    pub headers: &'a http::HeaderMap,
    pub uri: &'a http::Uri,
    pub peer: Option<IpAddr>,
    /// The request arrived over TLS.
    pub secure: bool,
    /// `REST-HEADER`, `REST-QUERY-STRING` or `POST`.
    pub auth_type: &'static str,
    /// The object the request addresses, for `s3:ExistingObjectTag/<key>`.
    pub existing: Option<ExistingTags<'a>>,
}

/// The tags of the version a request addresses, read from the store the first time a
/// policy asks for `s3:ExistingObjectTag/<key>`, at most once per request: requests to
/// buckets whose policies do not test them never pay for the read.
pub struct ExistingTags<'a> {
    store: &'a coffer_store::Store,
    bucket: &'a str,
    key: &'a str,
    version_id: Option<String>,
    read: std::cell::OnceCell<Option<Vec<(String, String)>>>,
}

/// A query parameter's value, decoded, when the request has it and it is not empty.
pub fn query_value(uri: &http::Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.into_owned())
}

impl<'a> ExistingTags<'a> {
    pub fn new(store: &'a coffer_store::Store, bucket: &'a str, key: &'a str, version_id: Option<String>) -> Self {
        ExistingTags {
            store,
            bucket,
            key,
            version_id,
            read: std::cell::OnceCell::new(),
        }
    }

    /// The value of tag `name`; `None` when the object or the tag does not exist.
    fn get(&self, name: &str) -> Option<String> {
        let tags = self.read.get_or_init(|| {
            self.store
                .head_object(self.bucket, self.key, self.version_id.as_deref())
                .ok()
                .map(|r| r.tags)
        });
        tags.as_ref()?.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
}

impl<'a> RequestKeys<'a> {
    /// The keys of a request with these parts; its peer comes from `extensions`.
    pub fn new(
        principal: &'a Principal,
        headers: &'a http::HeaderMap,
        uri: &'a http::Uri,
        extensions: &http::Extensions,
    ) -> Self {
        RequestKeys {
            principal,
            headers,
            uri,
            peer: extensions.get::<Peer>().map(|p| p.0),
            secure: extensions.get::<Secure>().is_some(),
            auth_type: auth_type(headers),
            existing: None,
        }
    }
}

/// Condition keys that are a request header's value.
const HEADER_KEYS: &[(&str, &str)] = &[
    ("aws:useragent", "user-agent"),
    ("aws:referer", "referer"),
    ("s3:x-amz-acl", "x-amz-acl"),
    ("s3:x-amz-server-side-encryption", "x-amz-server-side-encryption"),
    (
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "x-amz-server-side-encryption-aws-kms-key-id",
    ),
    (
        "s3:x-amz-server-side-encryption-customer-algorithm",
        "x-amz-server-side-encryption-customer-algorithm",
    ),
    ("s3:x-amz-copy-source", "x-amz-copy-source"),
    ("s3:x-amz-metadata-directive", "x-amz-metadata-directive"),
    ("s3:x-amz-content-sha256", "x-amz-content-sha256"),
    ("s3:x-amz-storage-class", "x-amz-storage-class"),
    ("s3:object-lock-mode", "x-amz-object-lock-mode"),
    (
        "s3:object-lock-retain-until-date",
        "x-amz-object-lock-retain-until-date",
    ),
    ("s3:object-lock-legal-hold", "x-amz-object-lock-legal-hold"),
    ("s3:x-amz-grant-read", "x-amz-grant-read"),
    ("s3:x-amz-grant-write", "x-amz-grant-write"),
    ("s3:x-amz-grant-read-acp", "x-amz-grant-read-acp"),
    ("s3:x-amz-grant-write-acp", "x-amz-grant-write-acp"),
    ("s3:x-amz-grant-full-control", "x-amz-grant-full-control"),
];

/// Condition keys that are a query parameter's value.
const QUERY_KEYS: &[(&str, &str)] = &[
    ("s3:prefix", "prefix"),
    ("s3:delimiter", "delimiter"),
    ("s3:max-keys", "max-keys"),
    ("s3:versionid", "versionId"),
];

impl Keys for RequestKeys<'_> {
    fn get(&self, key: &str) -> Option<Vec<String>> {
        let lower = key.to_ascii_lowercase();
        let one = |v: String| Some(vec![v]);
        let user = match self.principal {
            Principal::User(u) => Some(u),
            Principal::Anonymous => None,
        };
        let header = |n: &str| self.headers.get(n).and_then(|v| v.to_str().ok());
        match lower.as_str() {
            "aws:currenttime" => one(time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .ok()?),
            "aws:epochtime" => one(time::OffsetDateTime::now_utc().unix_timestamp().to_string()),
            "aws:securetransport" => one(self.secure.to_string()),
            "aws:sourceip" => one(self.peer?.to_string()),
            "aws:principaltype" => one(match user {
                None => "Anonymous",
                Some(u) if u.is_root() => "Account",
                Some(_) => "User",
            }
            .into()),
            "aws:username" => one(user?.name.clone()),
            // coffer is one account; its ARNs carry the account 000000000000.
            "aws:principalarn" => one(match user? {
                u if u.is_root() => "arn:aws:iam::000000000000:root".to_owned(),
                u => format!("arn:aws:iam::000000000000:user/{}", u.name),
            }),
            "aws:userid" => one(user?.canonical_user_id.to_string()),
            "s3:signatureversion" => {
                user?;
                let query = self.uri.query().unwrap_or("");
                let v2 = header("authorization").is_some_and(|a| a.starts_with("AWS "))
                    || query.contains("Signature=") && !query.contains("X-Amz-Signature=");
                one(if v2 { "AWS" } else { "AWS4-HMAC-SHA256" }.into())
            }
            "s3:authtype" => {
                user?;
                one(self.auth_type.into())
            }
            "s3:requestobjecttagkeys" => Some(
                form_urlencoded::parse(header("x-amz-tagging")?.as_bytes())
                    .map(|(k, _)| k.into_owned())
                    .collect(),
            ),
            k if k.starts_with("s3:existingobjecttag/") => {
                let tag = &key["s3:ExistingObjectTag/".len()..];
                self.existing.as_ref()?.get(tag).map(|v| vec![v])
            }
            k if k.starts_with("s3:requestobjecttag/") => {
                let tag = &key["s3:RequestObjectTag/".len()..];
                form_urlencoded::parse(header("x-amz-tagging")?.as_bytes())
                    .find(|(k, _)| k == tag)
                    .map(|(_, v)| vec![v.into_owned()])
            }
            k => {
                if let Some((_, h)) = HEADER_KEYS.iter().find(|(ck, _)| *ck == k) {
                    return one(header(h)?.to_owned());
                }
                let (_, q) = QUERY_KEYS.iter().find(|(ck, _)| *ck == k)?;
                form_urlencoded::parse(self.uri.query()?.as_bytes())
                    .find(|(name, _)| name == q)
                    .map(|(_, v)| vec![v.into_owned()])
            }
        }
    }
}

/// A request's condition keys with `s3:prefix` set to a key: what a ListBucket grant is
/// tested with when a read of that key finds nothing (as Ceph RGW does).
struct PrefixedKeys<'a> {
    inner: &'a dyn Keys,
    prefix: &'a str,
}

impl Keys for PrefixedKeys<'_> {
    fn get(&self, key: &str) -> Option<Vec<String>> {
        if key.eq_ignore_ascii_case("s3:prefix") {
            return Some(vec![self.prefix.to_owned()]);
        }
        self.inner.get(key)
    }
}

/// What a read of a missing key or version answers, as on AWS: NoSuchKey (NoSuchVersion)
/// to a caller who may list the bucket (and could learn it anyway), AccessDenied to anyone
/// else, so that a grant to read objects does not reveal which keys exist.
pub fn hide_missing<T, R>(req: &S3Request<T>, bucket: &str, key: &str, r: S3Result<R>) -> S3Result<R> {
    let Err(e) = r else { return r };
    let Some(ctx) = RequestContext::of(req) else {
        return Err(e);
    };
    let missing = matches!(e.code(), s3s::S3ErrorCode::NoSuchKey | s3s::S3ErrorCode::NoSuchVersion);
    // A read whose object check is still open, by a caller nothing has allowed yet, learns
    // nothing of a version it could not read either (a delete marker's 405 and headers).
    let undecided = ctx.object_check.is_some_and(|c| !c.allowed);
    if !missing {
        return match undecided && *e.code() == s3s::S3ErrorCode::MethodNotAllowed {
            true => Err(s3_error!(AccessDenied)),
            false => Err(e),
        };
    }
    let inner = RequestKeys::new(&ctx.principal, &req.headers, &req.uri, &req.extensions);
    let keys = PrefixedKeys {
        inner: &inner,
        prefix: key,
    };
    let list = crate::action::of("ListObjects", false);
    let resource = Resource {
        bucket: Some(bucket),
        key: None,
    };
    match authorize(ctx, list, resource, &keys) {
        Ok(()) => Err(e),
        Err(_) => Err(s3_error!(AccessDenied)),
    }
}

/// How a signed request carried its signature, as `s3:authType` names it.
pub fn auth_type(headers: &http::HeaderMap) -> &'static str {
    if headers.contains_key(http::header::AUTHORIZATION) {
        "REST-HEADER"
    } else {
        "REST-QUERY-STRING"
    }
}

#[cfg(test)]
mod tests {
    use coffer_store::{CanonicalId, Versioning};

    use super::*;
    use crate::action;

    fn caller(name: &str, id: u8) -> Principal {
        Principal::User(Caller {
            name: name.into(),
            canonical_user_id: CanonicalId([id; 32]),
        })
    }

    fn bucket(owner: u8) -> Option<BucketRecord> {
        Some(BucketRecord {
            owner: CanonicalId([owner; 32]),
            created_ms: 0,
            versioning: Versioning::Unversioned,
            object_lock: false,
            default_retention: None,
        })
    }

    fn allowed(principal: Principal, bucket: Option<BucketRecord>, op: &str) -> bool {
        let ctx = RequestContext {
            principal,
            bucket,
            rules: BucketRules::default(),
            user_policies: None,
            object_check: None,
        };
        let a = action::of(op, true);
        let r = Resource {
            bucket: Some("b"),
            key: Some("k"),
        };
        authorize(&ctx, a, r, &coffer_iam::Context::default()).is_ok()
    }

    #[test]
    fn owners_and_root_pass_everyone_else_is_denied() {
        assert!(allowed(caller("alice", 1), bucket(1), "GetObject"));
        assert!(!allowed(caller("bob", 2), bucket(1), "GetObject"));
        assert!(!allowed(caller("bob", 2), bucket(1), "PutBucketCors"));
        assert!(allowed(caller(crate::ROOT_USER, 9), bucket(1), "DeleteObject"));
        assert!(!allowed(Principal::Anonymous, bucket(1), "GetObject"));
        assert!(!allowed(Principal::Anonymous, None, "ListBuckets"));
        assert!(!allowed(Principal::Anonymous, None, "CreateBucket"));
        // A bucket that does not exist is NoSuchBucket to anyone, as on AWS.
        assert!(allowed(Principal::Anonymous, None, "GetObject"));
        // Left to the operation: NoSuchBucket, BucketAlreadyExists, an owner-filtered list.
        assert!(allowed(caller("bob", 2), None, "GetObject"));
        assert!(allowed(caller("bob", 2), bucket(1), "CreateBucket"));
        assert!(allowed(caller("bob", 2), None, "ListBuckets"));
    }

    /// A policy that allows everyone to read and denies everyone everything on the policy.
    fn with_policy(principal: Principal, op: &str) -> bool {
        let text = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
            {"Effect":"Deny","Principal":"*","Action":["s3:*Policy","s3:DeleteObject"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}]}"#;
        let policy = Policy::parse(text.as_bytes(), coffer_iam::Attached::Bucket("b")).unwrap();
        let ctx = RequestContext {
            principal,
            bucket: bucket(1),
            rules: BucketRules {
                policy: Some(Arc::new(policy)),
                ..BucketRules::default()
            },
            user_policies: None,
            object_check: None,
        };
        let r = Resource {
            bucket: Some("b"),
            key: Some("k"),
        };
        authorize(&ctx, action::of(op, true), r, &coffer_iam::Context::default()).is_ok()
    }

    /// A version's form of an administrative action is as closed to anonymous callers.
    #[test]
    fn never_anonymous_covers_versioned_actions() {
        for name in NEVER_ANONYMOUS {
            let v = Action {
                name,
                scope: Scope::Object,
            }
            .versioned(true);
            assert!(NEVER_ANONYMOUS.contains(&v.name), "{} -> {}", name, v.name);
        }
    }

    #[test]
    fn a_bucket_policy_admits_and_denies() {
        // Anyone the policy names, anonymous included, gets what it allows and no more.
        assert!(with_policy(Principal::Anonymous, "GetObject"));
        assert!(with_policy(caller("bob", 2), "GetObject"));
        assert!(!with_policy(Principal::Anonymous, "PutObject"));
        // Its explicit deny binds the owner...
        assert!(!with_policy(caller("alice", 1), "DeleteObject"));
        assert!(with_policy(caller("alice", 1), "PutObject"));
        // ...except on the policy itself, which the owner always keeps.
        assert!(with_policy(caller("alice", 1), "PutBucketPolicy"));
        assert!(with_policy(caller("alice", 1), "DeleteBucketPolicy"));
        assert!(!with_policy(caller("bob", 2), "GetBucketPolicy"));
        // Root is bound by no policy.
        assert!(with_policy(caller(crate::ROOT_USER, 9), "DeleteObject"));
    }

    /// Every condition key a policy may name is answered from a request that carries it.
    #[test]
    fn request_keys_answer_every_key_a_policy_may_name() {
        let mut headers = http::HeaderMap::new();
        for name in [
            "user-agent",
            "referer",
            "x-amz-acl",
            "x-amz-server-side-encryption",
            "x-amz-server-side-encryption-aws-kms-key-id",
            "x-amz-server-side-encryption-customer-algorithm",
            "x-amz-copy-source",
            "x-amz-metadata-directive",
            "x-amz-content-sha256",
            "x-amz-storage-class",
            "x-amz-object-lock-mode",
            "x-amz-object-lock-retain-until-date",
            "x-amz-object-lock-legal-hold",
            "x-amz-grant-read",
            "x-amz-grant-write",
            "x-amz-grant-read-acp",
            "x-amz-grant-write-acp",
            "x-amz-grant-full-control",
        ] {
            headers.insert(name, http::HeaderValue::from_static("v"));
        }
        headers.insert("x-amz-tagging", http::HeaderValue::from_static("env=prod&team=a"));
        headers.insert("authorization", http::HeaderValue::from_static("AWS4-HMAC-SHA256 ..."));
        let uri: http::Uri = "/b?prefix=p&delimiter=/&max-keys=5&versionId=v".parse().unwrap();
        let principal = caller("alice", 1);
        let keys = RequestKeys {
            principal: &principal,
            headers: &headers,
            uri: &uri,
            peer: Some("127.0.0.1".parse().unwrap()),
            secure: false,
            auth_type: "REST-HEADER",
            existing: None,
        };
        for k in coffer_iam::condition::KEYS {
            assert!(keys.get(k).is_some_and(|v| !v.is_empty()), "{k}");
        }
        assert_eq!(keys.get("s3:RequestObjectTag/env"), Some(vec!["prod".to_owned()]));
        assert_eq!(
            keys.get("aws:PrincipalArn"),
            Some(vec!["arn:aws:iam::000000000000:user/alice".to_owned()])
        );
    }

    #[test]
    fn no_policy_hands_the_bucket_to_anonymous_callers() {
        let text = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}]}"#;
        let policy = Policy::parse(text.as_bytes(), coffer_iam::Attached::Bucket("b")).unwrap();
        let ctx = RequestContext {
            principal: Principal::Anonymous,
            bucket: bucket(1),
            rules: BucketRules {
                policy: Some(Arc::new(policy)),
                ..BucketRules::default()
            },
            user_policies: None,
            object_check: None,
        };
        let r = Resource {
            bucket: Some("b"),
            key: Some("k"),
        };
        let keys = coffer_iam::Context::default();
        assert!(authorize(&ctx, action::of("PutObject", true), r, &keys).is_ok());
        for op in [
            "PutBucketPolicy",
            "DeleteBucketPolicy",
            "DeletePublicAccessBlock",
            "DeleteBucket",
        ] {
            assert!(authorize(&ctx, action::of(op, false), r, &keys).is_err(), "{op}");
        }
        assert!(authorize(&ctx, action::BYPASS_GOVERNANCE, r, &keys).is_err());
    }
}
