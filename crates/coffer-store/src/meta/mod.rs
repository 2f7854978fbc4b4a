//! Metadata: an ordered key-value store with atomic read-check-write transactions.
//!
//! `MetaStore` is the seam between the object model and an engine: it speaks only of
//! tables, byte keys and byte values. Engines: `redb` (embedded, the default), `postgres`
//! (shared by many gateways, behind the `postgres` feature), `mem` (for tests). What an engine must guarantee:
//!
//! - **Reads** see one consistent snapshot for the life of a `ReadTxn`.
//! - **Writes** are closures that read through the transaction, check their preconditions
//!   and return the ops to apply. An engine applies a write's ops atomically and only if
//!   nothing the closure read changed before the commit (redb: one writer thread, so
//!   nothing can; a multi-writer engine detects the conflict). A write is acknowledged
//!   only once durable.
//! - **A closure may run more than once**: an engine may discard a run (a serialization
//!   conflict) and run it again on a newer snapshot. Closures are `Fn` and have no side
//!   effects outside the ops they return.
//! - A closure's own error fails that write alone; an engine's error (I/O, a full disk)
//!   fails it too and leaves nothing of it written.

use std::any::Any;
use std::ops::Bound;

use tokio::sync::oneshot;

use crate::error::{StoreError, StoreResult};

mod mem;
#[cfg(feature = "postgres")]
mod postgres;
mod redb;

pub use mem::MemMeta;
#[cfg(feature = "postgres")]
pub use postgres::PostgresMeta;
pub use redb::{DEFAULT_CACHE_BYTES, RedbMeta};

/// The logical tables. Each engine maps them to its own storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// bucket name -> bucket record
    Buckets,
    /// bucket \0 key -> current version record (live keys only)
    Current,
    /// encoded (bucket, key, version) -> non-current version record
    Versions,
    /// data id -> bytes of a small object stored inline
    Data,
    /// access key id -> user record
    Users,
    /// user name -> access key id
    UserNames,
    /// encoded (bucket, key, upload id) -> multipart upload record
    Uploads,
    /// upload id + part number -> part record of an upload in progress
    Parts,
    /// data id + part index -> part of a completed multipart object
    ObjectParts,
    /// canonical user id (32 bytes) -> access key id
    UserIds,
    /// `format` -> the record format of the data directory (one byte)
    Format,
    /// bucket \0 kind -> a bucket setting (ACL, policy, CORS, ...)
    Settings,
    /// canonical user id (32 bytes) -> the policies attached to the user
    UserPolicies,
    /// `master` -> the id of the master key; `kms \0 name` -> a key of the key service
    Keys,
    /// bucket name -> the bucket's usage counts (objects, bytes, uploads)
    Usage,
    /// release time (ms) + blob id -> nothing: blobs to free after a grace period (shared stores)
    Frees,
    /// blob id -> gateway + time: blobs being written (shared stores)
    Intents,
    /// worker name -> gateway + expiry (ms): who runs a background worker (shared stores)
    Leases,
    /// gateway id -> last heartbeat (ms) (shared stores)
    Gateways,
}

impl Table {
    pub const ALL: [Table; 19] = [
        Table::Buckets,
        Table::Current,
        Table::Versions,
        Table::Data,
        Table::Users,
        Table::UserNames,
        Table::Uploads,
        Table::Parts,
        Table::ObjectParts,
        Table::UserIds,
        Table::Format,
        Table::Settings,
        Table::UserPolicies,
        Table::Keys,
        Table::Usage,
        Table::Frees,
        Table::Intents,
        Table::Leases,
        Table::Gateways,
    ];

    /// The table's name, which engines use for their own tables.
    pub fn name(self) -> &'static str {
        match self {
            Table::Buckets => "buckets",
            Table::Current => "current",
            Table::Versions => "versions",
            Table::Data => "data",
            Table::Users => "users",
            Table::UserNames => "user_names",
            Table::Uploads => "uploads",
            Table::Parts => "parts",
            Table::ObjectParts => "object_parts",
            Table::UserIds => "user_ids",
            Table::Format => "format",
            Table::Settings => "settings",
            Table::UserPolicies => "user_policies",
            Table::Keys => "keys",
            Table::Usage => "usage",
            Table::Frees => "frees",
            Table::Intents => "intents",
            Table::Leases => "leases",
            Table::Gateways => "gateways",
        }
    }

    /// The table's position in `ALL`.
    pub fn index(self) -> usize {
        Table::ALL
            .iter()
            .position(|t| *t == self)
            .expect("every table is in ALL")
    }
}

pub type Entry = (Vec<u8>, Vec<u8>);

/// What a scan does after visiting an entry.
pub enum Scan {
    Next,
    Stop,
    /// Continue from this key (inclusive): how a listing jumps over a common prefix.
    Seek(Vec<u8>),
}

pub type Visitor<'v> = &'v mut dyn FnMut(&[u8], &[u8]) -> StoreResult<Scan>;

/// Reads through one consistent snapshot (or, inside a write, the transaction so far).
pub trait ReadTxn {
    fn get(&self, table: Table, key: &[u8]) -> StoreResult<Option<Vec<u8>>>;
    /// Visits entries in key order from `from` up to `to` (exclusive).
    fn scan(&self, table: Table, from: Bound<&[u8]>, to: Option<&[u8]>, visit: Visitor<'_>) -> StoreResult<()>;

    /// Whether the store is shared by gateways (see [`MetaStore::shared`]).
    fn shared(&self) -> bool {
        false
    }

    /// At most `limit` entries in key order.
    fn range(&self, table: Table, from: Bound<&[u8]>, to: Option<&[u8]>, limit: usize) -> StoreResult<Vec<Entry>> {
        let mut out = Vec::new();
        if limit > 0 {
            self.scan(table, from, to, &mut |k, v| {
                out.push((k.to_vec(), v.to_vec()));
                Ok(if out.len() >= limit { Scan::Stop } else { Scan::Next })
            })?;
        }
        Ok(out)
    }
}

#[derive(Debug)]
pub enum Op {
    Put(Table, Vec<u8>, Vec<u8>),
    Delete(Table, Vec<u8>),
}

pub type AnyBox = Box<dyn Any + Send>;
/// A write: reads what it needs, checks its preconditions, and returns the ops to apply.
/// It may run more than once (see the module's contract).
pub type WriteFn = Box<dyn Fn(&dyn ReadTxn) -> StoreResult<(Vec<Op>, AnyBox)> + Send + Sync>;

pub trait MetaStore: Send + Sync + 'static {
    fn read(&self) -> StoreResult<Box<dyn ReadTxn + '_>>;
    /// Applies `f` atomically; resolves once the result is durable.
    fn write(&self, f: WriteFn) -> oneshot::Receiver<StoreResult<AnyBox>>;
    /// Whether other processes (gateways) write to this store too: then nothing kept in
    /// this process is the whole truth (blob frees, blobs being written, workers).
    fn shared(&self) -> bool {
        false
    }
}

impl dyn MetaStore {
    /// Typed wrapper over [`MetaStore::write`].
    pub async fn commit<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&dyn ReadTxn) -> StoreResult<(Vec<Op>, T)> + Send + Sync + 'static,
    {
        let rx = self.write(Box::new(move |txn| f(txn).map(|(ops, t)| (ops, Box::new(t) as AnyBox))));
        let any = rx.await.map_err(|_| StoreError::ShuttingDown)??;
        Ok(*any.downcast::<T>().expect("commit result type"))
    }
}

/// What one pass of a scan ended with.
pub(crate) enum Pass {
    Done,
    /// Continue from this key (inclusive).
    SeekTo(Vec<u8>),
}

/// One pass over entries in key order, as the visitor directs.
pub(crate) fn visit_pass<K, V>(
    entries: impl Iterator<Item = StoreResult<(K, V)>>,
    visit: Visitor<'_>,
) -> StoreResult<Pass>
where
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    for item in entries {
        let (k, v) = item?;
        match visit(k.as_ref(), v.as_ref())? {
            Scan::Next => {}
            Scan::Stop => return Ok(Pass::Done),
            Scan::Seek(to) => return Ok(Pass::SeekTo(to)),
        }
    }
    Ok(Pass::Done)
}

/// A scan from `from` to `to` (exclusive) made of passes over an engine's ordered range:
/// a `Scan::Seek` starts a new pass at the key it names. Every engine scans with it, so
/// seeking behaves the same on all.
pub(crate) fn scan_passes(
    from: Bound<&[u8]>,
    to: Option<&[u8]>,
    visit: Visitor<'_>,
    mut pass: impl FnMut(Bound<&[u8]>, Bound<&[u8]>, Visitor<'_>) -> StoreResult<Pass>,
) -> StoreResult<()> {
    let upper = to.map_or(Bound::Unbounded, Bound::Excluded);
    let mut seek: Option<Vec<u8>> = None;
    loop {
        let lower = match &seek {
            Some(k) => Bound::Included(k.as_slice()),
            None => from,
        };
        if let (Bound::Included(l) | Bound::Excluded(l), Some(u)) = (lower, to)
            && l >= u
        {
            return Ok(());
        }
        match pass(lower, upper, &mut *visit)? {
            Pass::Done => return Ok(()),
            Pass::SeekTo(k) => seek = Some(k),
        }
    }
}
