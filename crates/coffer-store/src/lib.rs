//! coffer's object model and its use cases, over two engine traits: [`MetaStore`] (ordered
//! KV with atomic check-and-write) and [`BlobStore`] (streamed blobs). Nothing here knows
//! HTTP, XML or S3 wire types.

pub mod acl;
pub mod blob;
mod bucket;
pub mod checksum;
pub mod error;
mod keyring;
mod list;
pub mod lock;
mod md5_lanes;
pub mod meta;
pub mod model;
mod multipart;
mod object;
pub mod record;
mod scrub;
pub mod settings;
mod shared;
pub mod sse;
pub mod stats;
mod usage;
mod users;
mod version;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub use acl::{Grant, Grantee, Permission};
pub use blob::{BlobId, BlobStore, ByteStream, FsBlobStore};
pub use checksum::{ChecksumAlgorithm, ChecksumType, Checksums};
pub use error::{BoxError, StoreError, StoreResult};
pub use keyring::{KmsKeyInfo, default_key_path};
pub use list::{ListPage, ListQuery};
pub use lock::LockMode;
pub use meta::{MetaStore, RedbMeta};
pub use model::{
    BucketRecord, CanonicalId, DataRef, DefaultRetention, ObjectMeta, ObjectRecord, PartRecord, Retention,
    UploadRecord, Versioning,
};
pub use multipart::{CompletePart, UploadOptions, UploadsPage, UploadsQuery};
pub use object::{NewVersion, ObjectBody, ObjectHandle, PutCondition, Staged};
pub use scrub::{Corruption, ScrubReport};
pub use settings::SettingKind;
pub use shared::Collected;
pub use sse::{CustomerKey, Encrypt, MasterKey, Sealing, Sse, SseMode};
pub use usage::{Quota, Usage};
pub use users::{
    AccessKey, AccessKeyRecord, AccessView, MAX_ACCESS_KEYS, NewUser, UserPolicies, UserRecord, decode_policies,
    random_access_key_id, random_secret,
};
pub use version::{Deleted, VersionsPage, VersionsQuery};

use meta::{Scan, Table};

/// Objects up to this size live in the metadata store: one commit, no file.
pub const DEFAULT_INLINE_MAX: usize = 128 << 10;

/// How the store is opened.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// redb's page cache, in bytes.
    pub meta_cache_bytes: usize,
    /// The metadata engine: `postgres://...`, or none for redb in the data directory.
    pub meta: Option<String>,
    /// The blob engine: `rados://...`, or none for files in the data directory.
    pub blobs: Option<String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            meta_cache_bytes: meta::DEFAULT_CACHE_BYTES,
            meta: None,
            blobs: None,
        }
    }
}

fn engine_error(what: &str, url: &str, feature: &str) -> StoreError {
    StoreError::Meta(format!(
        "{what} {:?}: this coffer supports it only when built with the `{feature}` feature",
        redacted(url)
    ))
}

/// `url` with the password of its `user:password@` (if any) masked, for messages and
/// `--print-config`; anything else is returned as it is.
pub fn redacted(url: &str) -> std::borrow::Cow<'_, str> {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.into();
    };
    let authority = &url[start..url[start..].find(['/', '?', '#']).map_or(url.len(), |i| start + i)];
    match authority
        .rfind('@')
        .and_then(|at| authority[..at].find(':').map(|c| (c, at)))
    {
        Some((colon, at)) => format!("{}********{}", &url[..start + colon + 1], &url[start + at..]).into(),
        None => url.into(),
    }
}

/// The metadata engine a URL names (none: redb at `dir/meta.redb`).
fn open_meta(dir: &Path, options: &StoreOptions) -> StoreResult<Arc<dyn MetaStore>> {
    match options.meta.as_deref() {
        None => {
            let path = dir.join("meta.redb");
            let meta = RedbMeta::open_with_cache(&path, options.meta_cache_bytes)?;
            // It holds every user's secret key.
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
            // redb syncs the file it creates, not the directory entry naming it.
            blob::sync_dir(dir)?;
            Ok(Arc::new(meta))
        }
        #[cfg(feature = "postgres")]
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(meta::PostgresMeta::connect(url)?))
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Err(engine_error("metadata engine", url, "postgres"))
        }
        Some(url) => Err(StoreError::Meta(format!(
            "metadata engine {:?}: expected postgres://USER@HOST:PORT/DB",
            redacted(url)
        ))),
    }
}

/// The blob engine a URL names (none: files under `dir`). Files shared by gateways keep
/// the staging area of the others' writes.
fn open_blobs(dir: &Path, options: &StoreOptions, shared: bool) -> StoreResult<Arc<dyn BlobStore>> {
    match options.blobs.as_deref() {
        None if shared => Ok(Arc::new(FsBlobStore::open_shared(dir)?)),
        None => Ok(Arc::new(FsBlobStore::open(dir)?)),
        #[cfg(feature = "rados")]
        Some(url) if url.starts_with("rados://") => Ok(Arc::new(blob::RadosBlobStore::connect(url)?)),
        Some(url) if url.starts_with("rados://") => Err(engine_error("blob engine", url, "rados")),
        Some(url) => Err(StoreError::Meta(format!(
            "blob engine {:?}: expected rados://POOL?conf=/path/ceph.conf",
            redacted(url)
        ))),
    }
}

#[derive(Clone)]
pub struct Store {
    meta: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
    inline_max: usize,
    pins: Arc<object::Pins>,
    /// This process among the gateways of a shared store.
    gateway: u128,
    /// Blobs the last collection found unprotected (`shared.rs`).
    suspects: Arc<std::sync::Mutex<HashSet<BlobId>>>,
    /// Seals SSE-S3 data keys and the key service's keys.
    master: Arc<MasterKey>,
}

impl Store {
    /// Opens (or creates) the embedded store in `dir`: redb metadata and blob files.
    /// A data directory in an older record format is brought to the current one first;
    /// `root` is the canonical id of the server's root user, whom format 0 named `root`.
    /// `master` is the key SSE-S3 and the key service seal under; with none, the data
    /// directory keeps its own in `master.key`, made on first start.
    pub async fn open(dir: &Path, root: CanonicalId, master: Option<MasterKey>) -> StoreResult<Self> {
        Self::open_with(dir, root, master, StoreOptions::default()).await
    }

    pub async fn open_with(
        dir: &Path,
        root: CanonicalId,
        master: Option<MasterKey>,
        options: StoreOptions,
    ) -> StoreResult<Self> {
        blob::create_dir_all_durable(dir)?;
        let meta = open_meta(dir, &options)?;
        let blobs = open_blobs(dir, &options, meta.shared())?;
        let mut store = Self::with_engines(meta, blobs, DEFAULT_INLINE_MAX);
        store.master = Arc::new(match master {
            Some(k) => k,
            None => {
                let (k, made) = store.default_master_key(dir)?;
                if made {
                    tracing::warn!(
                        path = %keyring::default_key_path(dir).display(),
                        "generated a master key for encryption at rest; back it up apart from the data: without it, SSE-S3 and SSE-KMS objects cannot be read"
                    );
                }
                k
            }
        });
        store.upgrade_format(root).await?;
        let counted = store.count_usage().await?;
        if counted > 0 {
            tracing::info!(
                buckets = counted,
                "counted the usage of buckets from before usage was kept"
            );
        }
        store.check_master_key().await?;
        // Other gateways may be writing blobs not yet named: the shared collector, under
        // its lease, handles those (`Store::collect`).
        let swept = if store.shared() {
            0
        } else {
            store.sweep_orphans().await?
        };
        if swept > 0 {
            tracing::info!(swept, "removed orphan blobs left by an interrupted write");
        }
        Ok(store)
    }

    pub fn with_engines(meta: Arc<dyn MetaStore>, blobs: Arc<dyn BlobStore>, inline_max: usize) -> Self {
        Self {
            meta,
            blobs,
            inline_max,
            pins: Arc::default(),
            gateway: rand::random(),
            suspects: Arc::default(),
            master: Arc::new(MasterKey::generate()),
        }
    }

    /// Rewrites an older data directory in the current record format, in one commit: after
    /// a crash it is either all old (and done again) or all new.
    async fn upgrade_format(&self, root: CanonicalId) -> StoreResult<()> {
        let (rewritten, from) = self
            .meta
            .commit(move |txn| {
                let from = record::stored_format(txn)?;
                let ops = record::upgrade(txn, root)?.unwrap_or_default();
                let n = ops.len().saturating_sub(1);
                Ok((ops, (n, from)))
            })
            .await?;
        if rewritten > 0 {
            tracing::info!(
                rewritten,
                from = from.unwrap_or(0),
                to = record::FORMAT,
                "upgraded the data directory's record format"
            );
        }
        Ok(())
    }

    /// Deletes blobs no record points at: left by a crash between a blob's write and its
    /// metadata commit, or between a delete's commit and its unlink. Run before serving.
    pub async fn sweep_orphans(&self) -> StoreResult<usize> {
        let stored = self.blobs.list().await?;
        if stored.is_empty() {
            return Ok(0);
        }
        let live = self.referenced(&*self.meta.read()?)?;
        let mut swept = 0;
        for id in stored.into_iter().filter(|id| !live.contains(id)) {
            self.blobs.delete(id).await?;
            swept += 1;
        }
        Ok(swept)
    }

    /// Every blob a record names: objects' versions, parts of uploads and of objects.
    pub(crate) fn referenced(&self, txn: &dyn meta::ReadTxn) -> StoreResult<HashSet<BlobId>> {
        let mut live = HashSet::new();
        for table in [Table::Current, Table::Versions] {
            txn.scan(table, std::ops::Bound::Unbounded, None, &mut |_, v| {
                if let DataRef::Blob(id) = model::decode::<ObjectRecord>(v)?.data {
                    live.insert(id);
                }
                Ok(Scan::Next)
            })?;
        }
        for table in [Table::Parts, Table::ObjectParts] {
            txn.scan(table, std::ops::Bound::Unbounded, None, &mut |_, v| {
                if let DataRef::Blob(id) = model::decode::<model::PartRecord>(v)?.data {
                    live.insert(id);
                }
                Ok(Scan::Next)
            })?;
        }
        Ok(live)
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_urls_password_is_masked_and_nothing_else() {
        for (url, shown) in [
            (
                "postgres://coffer:s3cret@db:5432/coffer?pool=4",
                "postgres://coffer:********@db:5432/coffer?pool=4",
            ),
            ("postgres://coffer@db/coffer", "postgres://coffer@db/coffer"),
            (
                "rados://coffer?conf=/etc/ceph/ceph.conf",
                "rados://coffer?conf=/etc/ceph/ceph.conf",
            ),
            ("u:p@not-a-url", "u:p@not-a-url"),
        ] {
            assert_eq!(super::redacted(url), shown);
        }
    }
}
