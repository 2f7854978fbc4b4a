//! The request context: who is calling and the bucket addressed, resolved once by
//! `S3Access` and handed to the operation through the request's extensions; and the one
//! authorization decision, `authorize`.

use coffer_store::BucketRecord;
use s3s::{S3Request, S3Result, s3_error};

use crate::action::{Action, Resource, Scope};
use crate::auth::Caller;

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

/// May the context's principal perform `action` on `resource`? The rules, in AWS's order of evaluation: nothing grants an anonymous
/// principal anything yet; root may do everything; a user may list its own buckets and
/// create new ones (the operation answers BucketAlreadyExists for a taken name), and act on
/// a bucket its canonical id owns. A bucket that does not exist is left to the operation,
/// which answers NoSuchBucket.
pub fn authorize(ctx: &RequestContext, action: Action, _resource: Resource<'_>) -> S3Result<()> {
    let caller = match &ctx.principal {
        Principal::Anonymous => return Err(s3_error!(AccessDenied)),
        Principal::User(c) => c,
    };
    if caller.is_root() || action.scope == Scope::Service || action.name == "s3:CreateBucket" {
        return Ok(());
    }
    match &ctx.bucket {
        Some(b) if b.owner != caller.canonical_user_id => Err(s3_error!(AccessDenied)),
        _ => Ok(()),
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
        let ctx = RequestContext { principal, bucket };
        let a = action::of(op, true);
        let r = Resource {
            bucket: Some("b"),
            key: Some("k"),
        };
        authorize(&ctx, a, r).is_ok()
    }

    #[test]
    fn owners_and_root_pass_everyone_else_is_denied() {
        assert!(allowed(caller("alice", 1), bucket(1), "GetObject"));
        assert!(!allowed(caller("bob", 2), bucket(1), "GetObject"));
        assert!(!allowed(caller("bob", 2), bucket(1), "PutBucketCors"));
        assert!(allowed(caller(crate::ROOT_USER, 9), bucket(1), "DeleteObject"));
        assert!(!allowed(Principal::Anonymous, bucket(1), "GetObject"));
        assert!(!allowed(Principal::Anonymous, None, "ListBuckets"));
        // Left to the operation: NoSuchBucket, BucketAlreadyExists, an owner-filtered list.
        assert!(allowed(caller("bob", 2), None, "GetObject"));
        assert!(allowed(caller("bob", 2), bucket(1), "CreateBucket"));
        assert!(allowed(caller("bob", 2), None, "ListBuckets"));
    }
}
