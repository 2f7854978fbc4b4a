//! Who is calling, and what they may touch.
//!
//! `S3Auth` finds the secret for an access key (root first, then the user table); s3s
//! verifies the signature with it. `S3Access` then lets a caller reach only the buckets it
//! owns; root reaches every bucket, as an administrator would expect.

use std::sync::Arc;

use coffer_store::{CanonicalId, Store};
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::{CopyObjectInput, CopySource, Owner, UploadPartCopyInput};
use s3s::path::S3Path;
use s3s::{S3Request, S3Result, s3_error};

use crate::action;
use crate::ctx::{Principal, RequestContext, authorize};
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
}

impl Identity {
    pub fn new(store: Store, root: RootCredentials) -> Self {
        Self {
            store,
            root: Arc::new(root),
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

    /// Who is calling and the bucket addressed, in one read of the store.
    pub fn resolve(&self, access_key: Option<&str>, bucket: Option<&str>) -> S3Result<RequestContext> {
        let read_bucket = || {
            bucket
                .map(|b| self.store.bucket(b))
                .transpose()
                .s3()
                .map(Option::flatten)
        };
        let (user, rec) = match access_key {
            Some(k) if k == self.root.access_key_id => (Some(self.root_caller()), read_bucket()?),
            Some(k) => {
                let (u, b) = self.store.user_and_bucket(k, bucket).s3()?;
                let u = u.ok_or_else(|| s3_error!(InvalidAccessKeyId))?;
                (
                    Some(Caller {
                        name: u.name,
                        canonical_user_id: u.canonical_user_id,
                    }),
                    b,
                )
            }
            None => (None, read_bucket()?),
        };
        Ok(RequestContext {
            principal: user.map_or(Principal::Anonymous, Principal::User),
            bucket: rec,
        })
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

impl Identity {
    /// A copy reads its source: the caller must be allowed to read it too.
    fn check_copy_source<T>(&self, req: &S3Request<T>, src: &CopySource) -> S3Result<()> {
        let CopySource::Bucket { bucket, key, .. } = src else {
            return Err(s3_error!(NotImplemented, "Only bucket/key copy sources are supported."));
        };
        let ctx = RequestContext::of(req).ok_or_else(|| s3_error!(AccessDenied))?;
        let source = RequestContext {
            principal: ctx.principal.clone(),
            bucket: self.store.bucket(bucket).s3()?,
        };
        let read = action::of("GetObject", true);
        let resource = action::Resource {
            bucket: Some(bucket),
            key: Some(key),
        };
        authorize(&source, read, resource)
    }
}

/// A request on this connection passed authentication (s3s verified its signature before
/// any of this runs): the connection is no longer one an anonymous flood may evict.
pub fn prove(ext: &http::Extensions) {
    if let Some(t) = ext.get::<crate::service::Ticket>() {
        t.proven();
    }
}

/// Until coffer encrypts, a request that asks for server-side encryption (SSE-S3, SSE-KMS
/// or SSE-C, for itself or a copy source) is refused rather than stored in plain text.
pub(crate) fn refuse_encryption(headers: &http::HeaderMap) -> S3Result<()> {
    if headers.keys().any(|k| {
        let k = k.as_str();
        k.starts_with("x-amz-server-side-encryption") || k.starts_with("x-amz-copy-source-server-side-encryption")
    }) {
        return Err(s3_error!(NotImplemented, "Server-side encryption is not implemented."));
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
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => (None, None),
            S3Path::Bucket { bucket } => (Some(bucket.as_ref()), None),
            S3Path::Object { bucket, key } => (Some(bucket.as_ref()), Some(key.as_ref())),
        };
        let access_key = cx.credentials().map(|c| c.access_key.as_str());
        let ctx = self.resolve(access_key, bucket)?;
        let action = action::of(cx.s3_op().name(), key.is_some());
        authorize(&ctx, action, action::Resource { bucket, key })?;
        if matches!(ctx.principal, Principal::User(_)) {
            prove(cx.extensions_mut());
        }
        refuse_encryption(cx.headers())?;
        cx.extensions_mut().insert(ctx);
        Ok(())
    }

    async fn copy_object(&self, req: &mut S3Request<CopyObjectInput>) -> S3Result<()> {
        self.check_copy_source(req, &req.input.copy_source)
    }

    async fn upload_part_copy(&self, req: &mut S3Request<UploadPartCopyInput>) -> S3Result<()> {
        self.check_copy_source(req, &req.input.copy_source)
    }
}
