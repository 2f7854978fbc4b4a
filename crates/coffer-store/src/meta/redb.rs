//! The embedded engine: redb. All writes go through one writer thread that drains its
//! queue into a single transaction, so many concurrent writers share one fsync (group
//! commit), and nothing commits between a closure's reads and its writes.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::{mpsc, oneshot};

use super::{AnyBox, MetaStore, Op, Pass, ReadTxn, Scan, Table, Visitor, WriteFn, scan_passes};
use crate::error::{StoreError, StoreResult};

fn def(t: Table) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    TableDefinition::new(t.name())
}

struct WriteReq {
    f: WriteFn,
    tx: oneshot::Sender<StoreResult<AnyBox>>,
}

/// redb's page cache unless told otherwise (`--meta-cache-mb`). Its 1 GiB default filled
/// with inline objects and set the server's peak RSS; the OS page cache still holds hot
/// pages below this, so a miss costs a pread, not a disk read.
pub const DEFAULT_CACHE_BYTES: usize = 16 << 20;

/// Most writes one group commit takes; bounds the latency of the first in the group.
const MAX_GROUP: usize = 512;

pub struct RedbMeta {
    db: Arc<SharedDb>,
    queue: mpsc::Sender<WriteReq>,
}

/// The open database, or none while the writer reopens it. redb refuses every call after
/// an I/O error (a full disk, say) until the database is reopened; reopening recovers the
/// last committed state, so the server carries on once space returns.
struct SharedDb {
    path: PathBuf,
    cache_bytes: usize,
    db: RwLock<Option<Arc<Database>>>,
}

/// How long a reopen waits for read transactions on the old database to end.
const REOPEN_WAIT: Duration = Duration::from_secs(5);

impl SharedDb {
    fn get(&self) -> Option<Arc<Database>> {
        self.db.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The open database, reopening it if a failed commit closed it.
    fn get_or_reopen(&self) -> StoreResult<Arc<Database>> {
        if let Some(db) = self.get() {
            return Ok(db);
        }
        let started = std::time::Instant::now();
        loop {
            match open_db(&self.path, self.cache_bytes) {
                Ok(db) => {
                    let db = Arc::new(db);
                    *self.db.write().unwrap_or_else(|e| e.into_inner()) = Some(db.clone());
                    tracing::warn!("metadata database reopened after a failed commit");
                    return Ok(db);
                }
                // A reader still holds the old one (its transactions are short), or another
                // thread reopened it first.
                Err(redb::DatabaseError::DatabaseAlreadyOpen) if started.elapsed() < REOPEN_WAIT => {
                    if let Some(db) = self.get() {
                        return Ok(db);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(StoreError::meta(e)),
            }
        }
    }

    fn close(&self) {
        self.db.write().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// Every open, first or after a failure, uses the same settings.
fn open_db(path: &Path, cache_bytes: usize) -> Result<Database, redb::DatabaseError> {
    Database::builder().set_cache_size(cache_bytes).create(path)
}

impl RedbMeta {
    pub fn open(path: &Path) -> StoreResult<Self> {
        Self::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// Opens with a page cache of `cache_bytes`: the part of the server's memory that does
    /// not depend on its traffic.
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> StoreResult<Self> {
        let db = open_db(path, cache_bytes).map_err(StoreError::meta)?;
        let txn = db.begin_write().map_err(StoreError::meta)?;
        for t in Table::ALL {
            txn.open_table(def(t)).map_err(StoreError::meta)?;
        }
        txn.commit().map_err(StoreError::meta)?;
        let db = Arc::new(SharedDb {
            path: path.to_owned(),
            cache_bytes,
            db: RwLock::new(Some(Arc::new(db))),
        });
        let (queue, rx) = mpsc::channel(4 * MAX_GROUP);
        let writer_db = db.clone();
        std::thread::Builder::new()
            .name("coffer-meta-writer".into())
            .spawn(move || writer_loop(&writer_db, rx))
            .map_err(StoreError::Io)?;
        Ok(Self { db, queue })
    }
}

impl MetaStore for RedbMeta {
    fn read(&self) -> StoreResult<Box<dyn ReadTxn + '_>> {
        // Closed only between a failed commit and the writer's reopen: a reader waits for
        // it (or does it) rather than failing.
        let db = self.db.get_or_reopen()?;
        Ok(Box::new(RedbRead(db.begin_read().map_err(StoreError::meta)?)))
    }

    fn write(&self, f: WriteFn) -> oneshot::Receiver<StoreResult<AnyBox>> {
        let (tx, rx) = oneshot::channel();
        // A full queue is the back-pressure: try_send would drop the write, so wait for room.
        match self.queue.try_send(WriteReq { f, tx }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(req)) => {
                let queue = self.queue.clone();
                tokio::spawn(async move {
                    let _ = queue.send(req).await;
                });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
        rx
    }
}

fn writer_loop(shared: &SharedDb, mut rx: mpsc::Receiver<WriteReq>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.blocking_recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(req) => group.push(req),
                Err(_) => break,
            }
        }
        let db = match shared.get_or_reopen() {
            Ok(db) => db,
            Err(e) => {
                tracing::error!(error = %e, "metadata database cannot be reopened");
                for req in group.drain(..) {
                    let _ = req.tx.send(Err(e.duplicate()));
                }
                continue;
            }
        };
        let began = std::time::Instant::now();
        crate::stats::COMMIT_BATCH.observe(group.len() as u64);
        let committed = commit_group(&db, &mut group);
        crate::stats::COMMIT_LATENCY.observe_duration(began.elapsed());
        crate::stats::LAST_COMMIT_FAILED.store(!committed, std::sync::atomic::Ordering::Relaxed);
        if !committed {
            crate::stats::COMMIT_FAILURES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // redb may be poisoned (an I/O error): drop every handle and reopen now, so
            // readers are back at once and the next group finds a working database.
            shared.close();
            drop(db);
            if let Err(e) = shared.get_or_reopen() {
                tracing::error!(error = %e, "metadata database cannot be reopened");
            }
        }
    }
}

/// Commits one group and answers its writers; false if the commit itself failed.
fn commit_group(db: &Database, group: &mut Vec<WriteReq>) -> bool {
    let mut results: Vec<(oneshot::Sender<StoreResult<AnyBox>>, StoreResult<AnyBox>)> = Vec::with_capacity(group.len());
    let outcome = (|| -> StoreResult<()> {
        let mut txn = db.begin_write().map_err(StoreError::meta)?;
        txn.set_durability(Durability::Immediate).map_err(StoreError::meta)?;
        for req in group.drain(..) {
            let r = (req.f)(&RedbWrite(&txn));
            match r {
                Ok((ops, out)) => {
                    apply(&txn, ops)?;
                    results.push((req.tx, Ok(out)));
                }
                Err(e) => results.push((req.tx, Err(e))),
            }
        }
        txn.commit().map_err(StoreError::meta)?;
        Ok(())
    })();
    match outcome {
        Ok(()) => {
            for (tx, r) in results {
                let _ = tx.send(r);
            }
            true
        }
        Err(e) => {
            // The transaction is gone: nothing in this group was written.
            tracing::error!(error = %e, "metadata commit failed");
            for (tx, r) in results
                .into_iter()
                .chain(group.drain(..).map(|req| (req.tx, Ok(Box::new(()) as AnyBox))))
            {
                let _ = tx.send(match r {
                    Ok(_) => Err(e.duplicate()),
                    Err(own) => Err(own),
                });
            }
            false
        }
    }
}

fn apply(txn: &redb::WriteTransaction, ops: Vec<Op>) -> StoreResult<()> {
    for op in ops {
        match op {
            Op::Put(t, k, v) => {
                let mut table = txn.open_table(def(t)).map_err(StoreError::meta)?;
                table.insert(k.as_slice(), v.as_slice()).map_err(StoreError::meta)?;
            }
            Op::Delete(t, k) => {
                let mut table = txn.open_table(def(t)).map_err(StoreError::meta)?;
                table.remove(k.as_slice()).map_err(StoreError::meta)?;
            }
        }
    }
    Ok(())
}

fn scan_table<T: ReadableTable<&'static [u8], &'static [u8]>>(
    table: &T,
    from: Bound<&[u8]>,
    to: Option<&[u8]>,
    visit: Visitor<'_>,
) -> StoreResult<()> {
    scan_passes(from, to, visit, |lower, upper, visit| {
        for item in table.range::<&[u8]>((lower, upper)).map_err(StoreError::meta)? {
            let (k, v) = item.map_err(StoreError::meta)?;
            match visit(k.value(), v.value())? {
                Scan::Next => {}
                Scan::Stop => return Ok(Pass::Done),
                Scan::Seek(to) => return Ok(Pass::SeekTo(to)),
            }
        }
        Ok(Pass::Done)
    })
}

struct RedbRead(redb::ReadTransaction);

impl ReadTxn for RedbRead {
    fn get(&self, table: Table, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let t = self.0.open_table(def(table)).map_err(StoreError::meta)?;
        Ok(t.get(key).map_err(StoreError::meta)?.map(|v| v.value().to_vec()))
    }

    fn scan(&self, table: Table, from: Bound<&[u8]>, to: Option<&[u8]>, visit: Visitor<'_>) -> StoreResult<()> {
        let t = self.0.open_table(def(table)).map_err(StoreError::meta)?;
        scan_table(&t, from, to, visit)
    }
}

struct RedbWrite<'a>(&'a redb::WriteTransaction);

impl ReadTxn for RedbWrite<'_> {
    fn get(&self, table: Table, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let t = self.0.open_table(def(table)).map_err(StoreError::meta)?;
        Ok(t.get(key).map_err(StoreError::meta)?.map(|v| v.value().to_vec()))
    }

    fn scan(&self, table: Table, from: Bound<&[u8]>, to: Option<&[u8]>, visit: Visitor<'_>) -> StoreResult<()> {
        let t = self.0.open_table(def(table)).map_err(StoreError::meta)?;
        scan_table(&t, from, to, visit)
    }
}
