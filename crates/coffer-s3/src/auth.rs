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

use crate::error::store_error;

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
        Ok(self
            .store
            .user_by_access_key(access_key)
            .map_err(store_error)?
            .map(|u| Caller {
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

    /// The caller of an authenticated request.
    pub fn caller<T>(&self, req: &S3Request<T>) -> S3Result<Caller> {
        let cred = req.credentials.as_ref().ok_or_else(|| s3_error!(AccessDenied))?;
        self.by_access_key(&cred.access_key)?
            .ok_or_else(|| s3_error!(InvalidAccessKeyId))
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

    /// AccessDenied unless `caller` may use `bucket`. A bucket that does not exist passes,
    /// so the operation itself answers NoSuchBucket.
    pub(crate) fn check_bucket(&self, caller: &Caller, bucket: &str) -> S3Result<()> {
        if caller.is_root() {
            return Ok(());
        }
        match self.store.bucket(bucket).map_err(store_error)? {
            Some(b) if b.owner != caller.canonical_user_id => Err(s3_error!(AccessDenied)),
            _ => Ok(()),
        }
    }
}

impl Identity {
    /// A copy reads its source: the caller must be allowed that bucket too.
    fn check_copy_source(&self, caller: Caller, src: &CopySource) -> S3Result<()> {
        match src {
            CopySource::Bucket { bucket, .. } => self.check_bucket(&caller, bucket),
            _ => Err(s3_error!(NotImplemented, "Only bucket/key copy sources are supported.")),
        }
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
        match self.store.user_by_access_key(access_key).map_err(store_error)? {
            Some(u) => Ok(SecretKey::from(u.secret_access_key)),
            None => Err(s3_error!(InvalidAccessKeyId)),
        }
    }
}

#[async_trait::async_trait]
impl S3Access for Identity {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(cred) = cx.credentials() else {
            return Err(s3_error!(AccessDenied));
        };
        let caller = self
            .by_access_key(&cred.access_key)?
            .ok_or_else(|| s3_error!(InvalidAccessKeyId))?;
        prove(cx.extensions_mut());
        refuse_encryption(cx.headers())?;
        // Creating a bucket someone else owns is BucketAlreadyExists, answered by the operation.
        if cx.s3_op().name() == "CreateBucket" {
            return Ok(());
        }
        match cx.s3_path() {
            S3Path::Root => Ok(()),
            S3Path::Bucket { bucket } | S3Path::Object { bucket, .. } => self.check_bucket(&caller, bucket),
        }
    }

    async fn copy_object(&self, req: &mut S3Request<CopyObjectInput>) -> S3Result<()> {
        self.check_copy_source(self.caller(req)?, &req.input.copy_source)
    }

    async fn upload_part_copy(&self, req: &mut S3Request<UploadPartCopyInput>) -> S3Result<()> {
        self.check_copy_source(self.caller(req)?, &req.input.copy_source)
    }
}
