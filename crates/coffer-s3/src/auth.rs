//! Who is calling, and what they may touch.
//!
//! `S3Auth` finds the secret for an access key (root first, then the user table); s3s
//! verifies the signature with it. `S3Access` then builds the request context and asks
//! `ctx::authorize` (owners, root, and the bucket's policy).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use coffer_iam::{Attached, Policy};
use coffer_store::{CanonicalId, SettingKind, Store};
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::{CopyObjectInput, CopySource, Owner, UploadPartCopyInput};
use s3s::path::S3Path;
use s3s::{S3Request, S3Result, s3_error};

use crate::acl::AclRules;
use crate::action;
use crate::ctx::{ObjectCheck, Peer, Principal, RequestContext, RequestKeys, Verdict, authorize, decide};
use crate::error::IntoS3;

pub const ROOT_USER: &str = "root";

#[derive(Clone)]
pub struct RootCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub canonical_user_id: CanonicalId,
}

/// An authenticated caller: its immutable id, and its name for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub canonical_user_id: CanonicalId,
}

impl Caller {
    pub fn is_root(&self) -> bool {
        self.name == ROOT_USER
    }

    pub fn owner(&self) -> Owner {
        Owner {
            display_name: Some(self.name.clone()),
            id: Some(self.canonical_user_id.to_string()),
        }
    }
}

#[derive(Clone)]
pub struct Identity {
    store: Store,
    root: Arc<RootCredentials>,
    policies: Arc<PolicyCache>,
    user_policies: Arc<UserPolicyCache>,
    /// SSE-C keys may come over plain HTTP (`Config::sse_c_over_http`).
    pub(crate) sse_c_over_http: bool,
}

/// Bucket policies as parsed, by bucket, with the settings stamp they were read at: a
/// request reads the stamp with the bucket, in the same transaction, and the policy is
/// read and parsed again only when the bucket's settings changed (on any gateway).
#[derive(Default)]
struct PolicyCache(RwLock<HashMap<String, Cached>>);

/// A settings stamp and what authorization needs of the settings read at it.
type Cached = (u64, BucketRules);

/// The settings that decide access to a bucket: its policy, whether Block Public Access
/// keeps that policy's public grants from anonymous callers, and its ACL rules.
#[derive(Debug, Clone, Default)]
pub struct BucketRules {
    pub policy: Option<Arc<Policy>>,
    pub restrict_public: bool,
    pub acl: AclRules,
    /// The bucket's CORS rules, if it has any.
    pub cors: Option<Arc<[crate::cors::Rule]>>,
    /// The bucket's lifecycle rules, if it has any (for `x-amz-expiration`).
    pub lifecycle: Option<Arc<[crate::lifecycle::Rule]>>,
    /// The bucket's website configuration, if it has one.
    pub website: Option<Arc<crate::website::Website>>,
    /// The bucket's default encryption, if it has one.
    pub encryption: Option<Arc<crate::encryption::DefaultEncryption>>,
}

impl PolicyCache {
    fn get(&self, store: &Store, bucket: &str, stamp: u64) -> S3Result<BucketRules> {
        if let Some((s, p)) = self.0.read().unwrap_or_else(PoisonError::into_inner).get(bucket)
            && *s == stamp
        {
            return Ok(p.clone());
        }
        let kinds = [
            SettingKind::Policy,
            SettingKind::PublicAccessBlock,
            SettingKind::Ownership,
            SettingKind::Acl,
            SettingKind::Cors,
            SettingKind::Lifecycle,
            SettingKind::Website,
            SettingKind::Encryption,
        ];
        let (stamp, rows) = store.bucket_settings(bucket, &kinds).s3()?;
        let row = |kind| rows.iter().find(|(k, _)| *k == kind).map(|(_, r)| r.as_slice());
        let policy = match row(SettingKind::Policy) {
            Some(row) => {
                let text: String = coffer_store::settings::decode(row).s3()?;
                // Stored policies were checked when they were put; one that no longer
                // parses is corrupt, and denies rather than being skipped.
                let p = Policy::parse(text.as_bytes(), Attached::Bucket(bucket)).map_err(|e| {
                    tracing::error!(bucket, error = %e, "stored bucket policy does not parse");
                    s3_error!(InternalError)
                })?;
                Some(Arc::new(p))
            }
            None => None,
        };
        let block: Option<crate::public_access::Block> = row(SettingKind::PublicAccessBlock)
            .map(coffer_store::settings::decode)
            .transpose()
            .s3()?;
        let block = block.unwrap_or_default();
        let rules = BucketRules {
            restrict_public: block.restrict_public_buckets && policy.as_ref().is_some_and(|p| p.is_public()),
            policy,
            acl: AclRules {
                ownership: row(SettingKind::Ownership)
                    .map(coffer_store::settings::decode)
                    .transpose()
                    .s3()?
                    .unwrap_or_default(),
                grants: row(SettingKind::Acl)
                    .map(coffer_store::settings::decode::<Vec<coffer_store::Grant>>)
                    .transpose()
                    .s3()?
                    .map(Into::into),
                block_public_acls: block.block_public_acls,
                ignore_public_acls: block.ignore_public_acls,
            },
            cors: row(SettingKind::Cors)
                .map(coffer_store::settings::decode::<Vec<crate::cors::Rule>>)
                .transpose()
                .s3()?
                .map(Into::into),
            lifecycle: row(SettingKind::Lifecycle)
                .map(coffer_store::settings::decode::<Vec<crate::lifecycle::Rule>>)
                .transpose()
                .s3()?
                .map(Into::into),
            website: row(SettingKind::Website)
                .map(coffer_store::settings::decode::<crate::website::Website>)
                .transpose()
                .s3()?
                .map(Arc::new),
            encryption: row(SettingKind::Encryption)
                .map(coffer_store::settings::decode::<crate::encryption::DefaultEncryption>)
                .transpose()
                .s3()?
                .map(Arc::new),
        };
        if let Some(stamp) = stamp {
            let mut m = self.0.write().unwrap_or_else(PoisonError::into_inner);
            m.insert(bucket.to_owned(), (stamp, rules.clone()));
        }
        Ok(rules)
    }
}

/// Users' attached policies as parsed, by canonical id, with the stored row they were
/// parsed from (rows are small: compared whole, re-parsed only when they changed).
#[derive(Default)]
struct UserPolicyCache(RwLock<HashMap<[u8; 32], ParsedRow>>);

/// A stored row and the policies it holds.
type ParsedRow = (Vec<u8>, Arc<Vec<Policy>>);

impl UserPolicyCache {
    fn get(&self, id: &CanonicalId, row: Vec<u8>) -> S3Result<Arc<Vec<Policy>>> {
        if let Some((r, p)) = self.0.read().unwrap_or_else(PoisonError::into_inner).get(&id.0)
            && *r == row
        {
            return Ok(p.clone());
        }
        let attached = coffer_store::decode_policies(&row).s3()?;
        let parsed = attached
            .iter()
            .map(|(name, text)| {
                Policy::parse(text.as_bytes(), Attached::User).map_err(|e| {
                    tracing::error!(policy = name, error = %e, "stored user policy does not parse");
                    s3_error!(InternalError)
                })
            })
            .collect::<S3Result<Vec<_>>>()?;
        let parsed = Arc::new(parsed);
        let mut m = self.0.write().unwrap_or_else(PoisonError::into_inner);
        m.insert(id.0, (row, parsed.clone()));
        Ok(parsed)
    }
}

impl Identity {
    pub fn new(store: Store, root: RootCredentials) -> Self {
        Self {
            store,
            root: Arc::new(root),
            policies: Arc::default(),
            user_policies: Arc::default(),
            sse_c_over_http: false,
        }
    }

    pub fn root(&self) -> &RootCredentials {
        &self.root
    }

    pub fn by_access_key(&self, access_key: &str) -> S3Result<Option<Caller>> {
        if access_key == self.root.access_key_id {
            return Ok(Some(self.root_caller()));
        }
        Ok(self.store.user_by_access_key(access_key).s3()?.map(|u| Caller {
            name: u.name,
            canonical_user_id: u.canonical_user_id,
        }))
    }

    fn root_caller(&self) -> Caller {
        Caller {
            name: ROOT_USER.into(),
            canonical_user_id: self.root.canonical_user_id,
        }
    }

    /// The caller of an authenticated request: from the request context `S3Access` made,
    /// or looked up for routes that have none (the admin API).
    pub fn caller<T>(&self, req: &S3Request<T>) -> S3Result<Caller> {
        if let Some(ctx) = RequestContext::of(req) {
            return ctx.caller().cloned();
        }
        let cred = req.credentials.as_ref().ok_or_else(|| s3_error!(AccessDenied))?;
        self.by_access_key(&cred.access_key)?
            .ok_or_else(|| s3_error!(InvalidAccessKeyId))
    }

    /// Who is calling, the bucket addressed and its policy, in one read of the store. The
    /// condition keys are left empty: the caller fills them when `policy` is set.
    pub fn resolve(&self, access_key: Option<&str>, bucket: Option<&str>) -> S3Result<RequestContext> {
        let is_root = access_key == Some(self.root.access_key_id.as_str());
        let user_key = access_key.filter(|_| !is_root);
        let view = self.store.access_view(user_key, bucket).s3()?;
        let mut user_policies = None;
        let principal = if is_root {
            Principal::User(self.root_caller())
        } else if user_key.is_some() {
            let u = view.user.ok_or_else(|| s3_error!(InvalidAccessKeyId))?;
            if let Some(row) = view.user_policies {
                user_policies = Some(self.user_policies.get(&u.canonical_user_id, row)?);
            }
            Principal::User(Caller {
                name: u.name,
                canonical_user_id: u.canonical_user_id,
            })
        } else {
            Principal::Anonymous
        };
        let rules = match (bucket, view.settings_stamp, &view.bucket) {
            (Some(b), Some(stamp), Some(_)) => self.policies.get(&self.store, b, stamp)?,
            _ => BucketRules::default(),
        };
        Ok(RequestContext {
            principal,
            bucket: view.bucket,
            rules,
            user_policies,
            object_check: None,
        })
    }

    /// Whether `id` is a user of this server (root included): what an ACL may name.
    pub fn user_exists(&self, id: &CanonicalId) -> S3Result<bool> {
        Ok(*id == self.root.canonical_user_id || self.store.user_by_id(id).s3()?.is_some())
    }

    /// The id of the user named `name`.
    pub fn user_id_by_name(&self, name: &str) -> S3Result<Option<CanonicalId>> {
        if name == ROOT_USER {
            return Ok(Some(self.root.canonical_user_id));
        }
        Ok(self.store.user_by_name(name).s3()?.map(|u| u.canonical_user_id))
    }

    /// An owner as S3 shows it: its id, and the name of the user who has it (none once the
    /// user is removed).
    pub fn owner_of(&self, id: &CanonicalId) -> Owner {
        if *id == self.root.canonical_user_id {
            return self.root_caller().owner();
        }
        let name = self.store.user_by_id(id).ok().flatten().map(|u| u.name);
        Owner {
            display_name: name,
            id: Some(id.to_string()),
        }
    }
}

/// The context a copy's source was authorized in, for the operation to finish the object
/// check once it has read the source version (`ctx::check_object_in`).
#[derive(Debug, Clone)]
pub struct CopySourceContext(pub RequestContext);

/// The context `S3Access` authorized a copy's source in.
pub fn copy_source_context<T>(req: &S3Request<T>) -> S3Result<RequestContext> {
    req.extensions
        .get::<CopySourceContext>()
        .map(|c| c.0.clone())
        .ok_or_else(|| s3_error!(AccessDenied))
}

impl Identity {
    /// Whether the caller started the upload a ListParts or AbortMultipartUpload names.
    fn is_initiator(
        &self,
        ctx: &RequestContext,
        operation: &str,
        bucket: Option<&str>,
        key: Option<&str>,
        uri: &http::Uri,
    ) -> S3Result<bool> {
        let (Principal::User(caller), Some(b), Some(k)) = (&ctx.principal, bucket, key) else {
            return Ok(false);
        };
        if !matches!(operation, "ListParts" | "AbortMultipartUpload") {
            return Ok(false);
        }
        let Some(id) = crate::ctx::query_value(uri, "uploadId") else {
            return Ok(false);
        };
        Ok(self
            .store
            .upload(b, k, &id)
            .is_ok_and(|u| u.owner == caller.canonical_user_id))
    }

    /// A copy reads its source: the caller must be allowed to read it too.
    fn check_copy_source<T>(&self, req: &mut S3Request<T>, src: &CopySource) -> S3Result<()> {
        let CopySource::Bucket { bucket, key, .. } = src else {
            return Err(s3_error!(NotImplemented, "Only bucket/key copy sources are supported."));
        };
        let ctx = RequestContext::of(req).ok_or_else(|| s3_error!(AccessDenied))?;
        // The same caller, against the source bucket and its policy.
        let mut source = RequestContext {
            principal: ctx.principal.clone(),
            user_policies: ctx.user_policies.clone(),
            ..self.resolve(None, Some(bucket))?
        };
        // Answered now: a source bucket missing at authorization must not be read later.
        if source.bucket.is_none() {
            return Err(s3_error!(NoSuchBucket));
        }
        let keys = RequestKeys::new(&source.principal, &req.headers, &req.uri, &req.extensions);
        let versioned = matches!(
            src,
            CopySource::Bucket {
                version_id: Some(_),
                ..
            }
        );
        let read = action::of("GetObject", true).versioned(versioned);
        let resource = action::Resource {
            bucket: Some(bucket),
            key: Some(key),
        };
        // As for a GET: where ACLs count, the source version's owner and ACL decide too,
        // once the operation has read it.
        let root = matches!(&source.principal, Principal::User(c) if c.is_root());
        if !root && source.rules.acl.ownership.acls_enabled() {
            let check = match decide(&source, read, resource, &keys) {
                Verdict::Deny => return Err(s3_error!(AccessDenied)),
                v => ObjectCheck {
                    action: read.name,
                    allowed: v == Verdict::Allow,
                },
            };
            drop(keys);
            source.object_check = Some(check);
        } else {
            authorize(&source, read, resource, &keys)?;
        }
        req.extensions.insert(CopySourceContext(source));
        Ok(())
    }
}

/// A request on this connection passed authentication (s3s verified its signature before
/// any of this runs): the connection is no longer one an anonymous flood may evict.
pub fn prove(ext: &http::Extensions) {
    if let Some(t) = ext.get::<crate::service::Ticket>() {
        t.proven();
    }
}

/// The storage classes S3 defines; coffer keeps every object in one, STANDARD.
const STORAGE_CLASSES: [&str; 11] = [
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "OUTPOSTS",
    "GLACIER_IR",
    "SNOW",
    "EXPRESS_ONEZONE",
];

/// What a write asks for that coffer does not do yet is refused, not stored and ignored:
/// a storage class other than STANDARD (an unknown one
/// is InvalidStorageClass, as on AWS).
fn refuse_unsupported_write_headers(headers: &http::HeaderMap) -> S3Result<()> {
    if let Some(class) = headers.get("x-amz-storage-class") {
        let class = class.to_str().unwrap_or("?");
        if !STORAGE_CLASSES.contains(&class) {
            return Err(s3_error!(
                InvalidStorageClass,
                "The storage class you specified is not valid"
            ));
        }
        if class != "STANDARD" {
            return Err(s3_error!(
                NotImplemented,
                "Storage class {class} is not implemented; coffer stores every object as STANDARD."
            ));
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl S3Auth for Identity {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if access_key == self.root.access_key_id {
            return Ok(SecretKey::from(self.root.secret_access_key.clone()));
        }
        match self.store.user_by_access_key(access_key).s3()? {
            Some(u) => Ok(SecretKey::from(u.secret_access_key)),
            None => Err(s3_error!(InvalidAccessKeyId)),
        }
    }
}

#[async_trait::async_trait]
impl S3Access for Identity {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if let Some(seen) = cx.extensions_mut().get::<crate::service::Seen>().cloned() {
            seen.set(cx.s3_op().name(), cx.credentials().map(|c| c.access_key.as_str()));
        }
        let peer = cx.extensions_mut().get::<Peer>().map(|p| p.0);
        let secure = cx.extensions_mut().get::<crate::ctx::Secure>().is_some();
        let sse_c_allowed = crate::encryption::sse_c_allowed(self.sse_c_over_http, cx.extensions_mut());
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => (None, None),
            S3Path::Bucket { bucket } => (Some(bucket.as_ref()), None),
            S3Path::Object { bucket, key } => (Some(bucket.as_ref()), Some(key.as_ref())),
        };
        let access_key = cx.credentials().map(|c| c.access_key.as_str());
        let mut ctx = self.resolve(access_key, bucket)?;
        let version_id = crate::ctx::query_value(cx.uri(), "versionId");
        let versioned = version_id.is_some();
        let action = action::of(cx.s3_op().name(), key.is_some()).versioned(versioned);
        // DeleteObjects names its keys in the body: with a policy, which may grant some
        // keys and not others, each key is authorized by the operation. Without one, the
        // answer is the same for every key and is given before the body is read.
        let per_key =
            cx.s3_op().name() == "DeleteObjects" && (ctx.rules.policy.is_some() || ctx.user_policies.is_some());
        let keys = RequestKeys {
            principal: &ctx.principal,
            headers: cx.headers(),
            uri: cx.uri(),
            peer,
            secure,
            auth_type: crate::ctx::auth_type(cx.headers()),
            existing: match (bucket, key) {
                (Some(b), Some(k)) => Some(crate::ctx::ExistingTags::new(&self.store, b, k, version_id.clone())),
                _ => None,
            },
        };
        let resource = action::Resource { bucket, key };
        // Where ACLs count, an object's own ACL may grant what nothing else does: the
        // operation finishes the decision once it has read the version.
        let root = matches!(&ctx.principal, Principal::User(c) if c.is_root());
        let per_object = key.is_some()
            && !root
            && ctx.rules.acl.ownership.acls_enabled()
            && crate::acl::object_permission(action.name).is_some();
        let mut object_check = None;
        if per_object {
            match decide(&ctx, action, resource, &keys) {
                Verdict::Deny => return Err(s3_error!(AccessDenied)),
                v => {
                    object_check = Some(ObjectCheck {
                        action: action.name,
                        allowed: v == Verdict::Allow,
                    })
                }
            }
        } else if !per_key {
            match decide(&ctx, action, resource, &keys) {
                Verdict::Allow => {}
                // As on AWS, an upload's initiator may list and abort its parts whatever
                // else allows it (a bucket WRITE grant lets it start one).
                Verdict::Silent if self.is_initiator(&ctx, cx.s3_op().name(), bucket, key, cx.uri())? => {}
                _ => return Err(s3_error!(AccessDenied)),
            }
        }
        // What some headers ask for is an action of its own: locking the object written,
        // or deleting through a GOVERNANCE retention.
        if key.is_some() {
            for extra in action::implied_by_headers(cx.s3_op().name(), cx.headers()) {
                authorize(&ctx, extra.versioned(versioned), resource, &keys)?;
            }
        }
        ctx.object_check = object_check;
        // PutObjectAcl has a body: its version's ACL is read and checked now, not after it.
        if object_check.is_some()
            && cx.s3_op().name() == "PutObjectAcl"
            && let (Some(b), Some(k)) = (bucket, key)
            && let Ok(rec) = self.store.head_object(b, k, version_id.as_deref())
        {
            crate::ctx::check_object_in(&ctx, &rec)?;
        }
        // AWS serves response-* overrides to signed requests only.
        if matches!(ctx.principal, Principal::Anonymous)
            && cx
                .uri()
                .query()
                .is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k.starts_with("response-")))
        {
            return Err(s3_error!(
                InvalidRequest,
                "Request specific response headers cannot be used for anonymous GET requests."
            ));
        }
        // The request was authorized against a bucket that did not exist: it is ordered
        // before any later creation of that name, so it must not land in a bucket someone
        // else creates while its body is still arriving.
        let missing = bucket.is_some() && ctx.bucket.is_none() && action.name != "s3:CreateBucket";
        if matches!(ctx.principal, Principal::User(_)) {
            prove(cx.extensions_mut());
        }
        if missing {
            return Err(s3_error!(NoSuchBucket));
        }
        if let Some(asked) = crate::encryption::check_request(sse_c_allowed, cx.s3_op().name(), cx.headers())? {
            cx.extensions_mut().insert(asked);
        }
        // The owner and ACL of what a write makes: a refused ACL fails before the body.
        if matches!(cx.s3_op().name(), "PutObject" | "CopyObject" | "CreateMultipartUpload") {
            let asked = crate::acl::from_headers(self, cx.headers())?;
            let (owner, acl) = crate::acl::for_write(&ctx, asked.as_ref())?;
            let tags = crate::tagging::from_headers(cx.headers())?;
            let website_redirect = crate::website::redirect_location(
                cx.headers()
                    .get("x-amz-website-redirect-location")
                    .map(|v| v.to_str().unwrap_or("?")),
            )?;
            cx.extensions_mut().insert(crate::acl::WriteAccess {
                owner,
                acl,
                tags,
                website_redirect,
            });
        }
        if matches!(cx.s3_op().name(), "PutObject" | "CopyObject" | "CreateMultipartUpload") {
            refuse_unsupported_write_headers(cx.headers())?;
        }
        cx.extensions_mut().insert(ctx);
        Ok(())
    }

    async fn copy_object(&self, req: &mut S3Request<CopyObjectInput>) -> S3Result<()> {
        let src = req.input.copy_source.clone();
        self.check_copy_source(req, &src)
    }

    async fn upload_part_copy(&self, req: &mut S3Request<UploadPartCopyInput>) -> S3Result<()> {
        let src = req.input.copy_source.clone();
        self.check_copy_source(req, &src)
    }
}
