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

/// How the embedded store is opened.
#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    /// redb's page cache, in bytes.
    pub meta_cache_bytes: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            meta_cache_bytes: meta::DEFAULT_CACHE_BYTES,
        }
    }
}

#[derive(Clone)]
pub struct Store {
    meta: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
    inline_max: usize,
    pins: Arc<object::Pins>,
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
        let blobs = FsBlobStore::open(dir)?;
        let meta = RedbMeta::open_with_cache(&dir.join("meta.redb"), options.meta_cache_bytes)?;
        // It holds every user's secret key.
        std::fs::set_permissions(
            dir.join("meta.redb"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )?;
        // redb syncs the file it creates, not the directory entry naming it.
        blob::sync_dir(dir)?;
        let mut store = Self::with_engines(Arc::new(meta), Arc::new(blobs), DEFAULT_INLINE_MAX);
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
        let swept = store.sweep_orphans().await?;
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
        let mut live = HashSet::new();
        {
            let txn = self.meta.read()?;
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
        }
        let mut swept = 0;
        for id in stored.into_iter().filter(|id| !live.contains(id)) {
            self.blobs.delete(id).await?;
            swept += 1;
        }
        Ok(swept)
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
