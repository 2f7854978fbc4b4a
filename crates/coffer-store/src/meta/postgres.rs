//! The PostgreSQL engine: one table per logical table (`k bytea PRIMARY KEY, v bytea`),
//! so any number of gateways share one metadata store. bytea compares byte by byte, as
//! redb's keys do, so scans and seeks visit the same order on both.
//!
//! - Reads run in a `REPEATABLE READ READ ONLY` transaction (one snapshot), begun lazily
//!   with the first query; scans page with keysets.
//! - Writes run in a `SERIALIZABLE` transaction: PostgreSQL aborts one of two writes
//!   whose reads and writes overlap (SQLSTATE 40001/40P01), and the closure runs again on
//!   a new snapshot. That is what makes conditional writes linearizable across gateways.
//! - A commit returns once PostgreSQL has flushed its WAL (`synchronous_commit` on, its
//!   default): durable as redb's.
//!
//! The store's code is synchronous over `ReadTxn`; queries block the calling thread (off
//! the async workers via `block_in_place`) while a runtime of the engine's own drives the
//! connections, so waiting never starves them.

use std::collections::HashMap;
use std::future::Future;
use std::ops::Bound;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, Statement};

use super::{AnyBox, MetaStore, Op, ReadTxn, Scan, Table, Visitor, WriteFn};
use crate::error::{StoreError, StoreResult};

/// The schema version this build creates and reads.
const SCHEMA_VERSION: i32 = 1;
/// Rows a scan fetches per round trip.
const PAGE: i64 = 256;
/// Connections per gateway unless `?pool=N` says otherwise.
const DEFAULT_POOL: usize = 16;
/// Runs of one write before its serialization failures are reported.
const MAX_RUNS: u32 = 256;

/// What a prepared statement does; one of each per table and connection.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Stmt {
    Get,
    Put,
    Delete,
    /// `k >= $1` (`>` with `Gt`), then optionally `k < $2`, in key order, `LIMIT $n`.
    Scan {
        gt: bool,
        upper: bool,
    },
}

struct Conn {
    client: Client,
    prepared: HashMap<(usize, Stmt), Statement>,
}

/// Connections shared by reads and writes, made on demand up to `max`.
struct Pool {
    idle: Mutex<(Vec<Conn>, usize)>,
    freed: Condvar,
    max: usize,
}

pub struct PostgresMeta {
    inner: Arc<Inner>,
    /// Drives the connections' sockets; queries wait on them from other threads. Shut
    /// down with the engine, never dropped by a task of its own.
    rt: Option<tokio::runtime::Runtime>,
}

struct Inner {
    config: tokio_postgres::Config,
    schema: String,
    pool: Pool,
    rt: tokio::runtime::Handle,
}

/// Waits for `f` on this thread; on an async worker, hands the worker's other tasks to
/// another thread first.
fn wait<T>(f: impl Future<Output = T>) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| futures::executor::block_on(f))
        }
        _ => futures::executor::block_on(f),
    }
}

fn pg_err(e: tokio_postgres::Error) -> StoreError {
    StoreError::Meta(match e.as_db_error() {
        Some(db) => format!("postgres: {} ({})", db.message(), db.code().code()),
        None => format!("postgres: {e}"),
    })
}

fn is_conflict(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// A quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl PostgresMeta {
    /// Connects to `postgres://USER[:PASSWORD]@HOST:PORT/DB[?schema=NAME&pool=N&...]`, and
    /// creates or checks the schema. `schema` (default `coffer`) lets several stores share
    /// one database; the other parameters are libpq's, as tokio-postgres reads them.
    pub fn connect(url: &str) -> StoreResult<Self> {
        let (base, params) = url.split_once('?').unwrap_or((url, ""));
        let (mut schema, mut pool) = ("coffer".to_owned(), DEFAULT_POOL);
        let mut rest = Vec::new();
        for kv in params.split('&').filter(|p| !p.is_empty()) {
            match kv.split_once('=') {
                Some(("schema", v)) => schema = v.to_owned(),
                Some(("pool", v)) => {
                    pool = v
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| StoreError::Meta(format!("postgres: pool={v} is not a positive number")))?
                }
                _ => rest.push(kv),
            }
        }
        let url = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let config: tokio_postgres::Config = url.parse().map_err(|e| StoreError::Meta(format!("postgres: {e}")))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("coffer-postgres")
            .enable_all()
            .build()?;
        let inner = Arc::new(Inner {
            config,
            schema,
            pool: Pool {
                idle: Mutex::new((Vec::new(), 0)),
                freed: Condvar::new(),
                max: pool,
            },
            rt: rt.handle().clone(),
        });
        let meta = PostgresMeta { inner, rt: Some(rt) };
        meta.migrate()?;
        Ok(meta)
    }

    /// Creates the schema and its tables, or checks the version of those there. Gateways
    /// starting together take turns under an advisory lock.
    fn migrate(&self) -> StoreResult<()> {
        let conn = self.inner.take()?;
        let s = ident(&self.inner.schema);
        let mut sql = format!(
            "SET client_min_messages = warning; BEGIN; SELECT pg_advisory_xact_lock(hashtext('coffer-schema:' || {lit}));
             CREATE SCHEMA IF NOT EXISTS {s};
             CREATE TABLE IF NOT EXISTS {s}.schema_version (version int NOT NULL);",
            lit = literal(&self.inner.schema)
        );
        for t in Table::ALL {
            sql.push_str(&format!(
                "CREATE TABLE IF NOT EXISTS {s}.{} (k bytea PRIMARY KEY, v bytea NOT NULL);",
                ident(t.name())
            ));
        }
        sql.push_str(&format!(
            "INSERT INTO {s}.schema_version SELECT {SCHEMA_VERSION} WHERE NOT EXISTS (SELECT 1 FROM {s}.schema_version); COMMIT;"
        ));
        let done = wait(conn.client.batch_execute(&sql)).map_err(pg_err);
        let version = done.and_then(|()| {
            let row = wait(
                conn.client
                    .query_one(&format!("SELECT max(version) FROM {s}.schema_version"), &[]),
            )
            .map_err(pg_err)?;
            Ok(row.get::<_, i32>(0))
        });
        self.inner.give(conn);
        let version = version?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Meta(format!(
                "postgres: schema {} is at version {version}, written by a newer coffer (this one knows {SCHEMA_VERSION})",
                self.inner.schema
            )));
        }
        Ok(())
    }
}

/// A quoted SQL string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl Inner {
    /// A connection from the pool, a new one while the pool is below its size, or the
    /// next one given back.
    fn take(&self) -> StoreResult<Conn> {
        {
            let mut idle = self.pool.idle.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(c) = idle.0.pop() {
                    return Ok(c);
                }
                if idle.1 < self.pool.max {
                    idle.1 += 1;
                    break;
                }
                idle = self.pool.freed.wait(idle).unwrap_or_else(|e| e.into_inner());
            }
        }
        let made = wait(self.rt.spawn({
            let config = self.config.clone();
            async move {
                let (client, connection) = config.connect(NoTls).await?;
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::warn!(error = %e, "postgres connection ended");
                    }
                });
                Ok::<_, tokio_postgres::Error>(client)
            }
        }));
        match made {
            Ok(Ok(client)) => Ok(Conn {
                client,
                prepared: HashMap::new(),
            }),
            Ok(Err(e)) => {
                self.forget();
                Err(pg_err(e))
            }
            Err(e) => {
                self.forget();
                Err(StoreError::Meta(format!("postgres: {e}")))
            }
        }
    }

    /// Gives a connection back; a broken one is dropped and a new one made when needed.
    fn give(&self, conn: Conn) {
        if conn.client.is_closed() {
            return self.forget();
        }
        let mut idle = self.pool.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.0.push(conn);
        self.pool.freed.notify_one();
    }

    fn forget(&self) {
        let mut idle = self.pool.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.1 -= 1;
        self.pool.freed.notify_one();
    }

    fn sql(&self, table: Table, stmt: Stmt) -> String {
        let t = format!("{}.{}", ident(&self.schema), ident(table.name()));
        match stmt {
            Stmt::Get => format!("SELECT v FROM {t} WHERE k = $1"),
            Stmt::Put => format!("INSERT INTO {t} (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v"),
            Stmt::Delete => format!("DELETE FROM {t} WHERE k = $1"),
            Stmt::Scan { gt, upper } => format!(
                "SELECT k, v FROM {t} WHERE k {} $1 {} ORDER BY k LIMIT $3",
                if gt { ">" } else { ">=" },
                if upper { "AND k < $2" } else { "AND $2::bytea IS NULL" }
            ),
        }
    }
}

impl Conn {
    fn statement(&mut self, inner: &Inner, table: Table, stmt: Stmt) -> Result<Statement, tokio_postgres::Error> {
        if let Some(s) = self.prepared.get(&(table.index(), stmt)) {
            return Ok(s.clone());
        }
        let s = wait(self.client.prepare(&inner.sql(table, stmt)))?;
        self.prepared.insert((table.index(), stmt), s.clone());
        Ok(s)
    }
}

/// A transaction on one connection: a read snapshot, or a write's view.
struct Txn {
    inner: Arc<Inner>,
    conn: std::cell::RefCell<Option<Conn>>,
    /// The `BEGIN` to send with the first query; none once sent.
    begin: std::cell::Cell<Option<&'static str>>,
    /// A query failed with a serialization conflict: the write runs again.
    conflict: std::cell::Cell<bool>,
}

const BEGIN_READ: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
const BEGIN_WRITE: &str = "BEGIN ISOLATION LEVEL SERIALIZABLE";

impl Txn {
    fn new(inner: &Arc<Inner>, begin: &'static str) -> StoreResult<Self> {
        Ok(Txn {
            inner: inner.clone(),
            conn: std::cell::RefCell::new(Some(inner.take()?)),
            begin: std::cell::Cell::new(Some(begin)),
            conflict: std::cell::Cell::new(false),
        })
    }

    fn err(&self, e: tokio_postgres::Error) -> StoreError {
        if is_conflict(&e) {
            self.conflict.set(true);
        }
        pg_err(e)
    }

    /// Runs one query of `stmt` on `table`, after the transaction's `BEGIN` if it is the
    /// first (sent in the same round trip).
    fn query(
        &self,
        table: Table,
        stmt: Stmt,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> StoreResult<Vec<tokio_postgres::Row>> {
        let mut conn = self.conn.borrow_mut();
        let conn = conn.as_mut().expect("connection held until drop");
        let prepared = conn.statement(&self.inner, table, stmt).map_err(|e| self.err(e))?;
        let rows = match self.begin.take() {
            Some(begin) => {
                let (b, rows) = wait(async {
                    futures::join!(conn.client.batch_execute(begin), conn.client.query(&prepared, params))
                });
                b.and(rows)
            }
            None => wait(conn.client.query(&prepared, params)),
        };
        rows.map_err(|e| self.err(e))
    }

    /// Applies a write's ops, pipelined on the connection, in their order.
    fn apply(&self, ops: &[Op]) -> StoreResult<()> {
        let mut conn = self.conn.borrow_mut();
        let conn = conn.as_mut().expect("connection held until drop");
        let mut calls = Vec::with_capacity(ops.len());
        for op in ops {
            let (t, stmt) = match op {
                Op::Put(t, ..) => (*t, Stmt::Put),
                Op::Delete(t, _) => (*t, Stmt::Delete),
            };
            calls.push(conn.statement(&self.inner, t, stmt).map_err(|e| self.err(e))?);
        }
        if let Some(begin) = self.begin.take() {
            wait(conn.client.batch_execute(begin)).map_err(|e| self.err(e))?;
        }
        let client = &conn.client;
        let mut calls: Vec<_> = ops
            .iter()
            .zip(&calls)
            .map(|(op, s)| {
                Box::pin(async move {
                    match op {
                        Op::Put(_, k, v) => client.execute(s, &[k, v]).await,
                        Op::Delete(_, k) => client.execute(s, &[k]).await,
                    }
                })
            })
            .collect();
        wait(async {
            // A call is sent when first polled: all go out at once, in the ops' order; then
            // their answers are read in that order, so the first error is the one that
            // aborted the transaction (the others say only that it was aborted).
            let mut early = Vec::with_capacity(calls.len());
            for call in &mut calls {
                early.push(match futures::poll!(call.as_mut()) {
                    std::task::Poll::Ready(r) => Some(r),
                    std::task::Poll::Pending => None,
                });
            }
            for (call, early) in calls.iter_mut().zip(early) {
                match early {
                    Some(r) => r?,
                    None => call.await?,
                };
            }
            Ok(())
        })
        .map_err(|e| self.err(e))
    }

    /// Ends the transaction: `COMMIT` when asked and begun, else `ROLLBACK`.
    fn end(&self, commit: bool) -> StoreResult<()> {
        let Some(conn) = self.conn.borrow_mut().take() else {
            return Ok(());
        };
        let begun = self.begin.take().is_none();
        let result = if begun {
            wait(conn.client.batch_execute(if commit { "COMMIT" } else { "ROLLBACK" }))
        } else {
            Ok(())
        };
        self.inner.give(conn);
        result.map_err(|e| self.err(e))
    }
}

impl Drop for Txn {
    fn drop(&mut self) {
        // A read ends without waiting: its connection goes back to the pool once the
        // rollback is through, on the engine's runtime.
        if let Some(conn) = self.conn.get_mut().take() {
            if self.begin.get_mut().is_some() {
                return self.inner.give(conn);
            }
            let inner = self.inner.clone();
            self.inner.rt.spawn(async move {
                match conn.client.batch_execute("ROLLBACK").await {
                    Ok(()) => inner.give(conn),
                    Err(_) => inner.forget(),
                }
            });
        }
    }
}

impl Drop for PostgresMeta {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl ReadTxn for Txn {
    fn shared(&self) -> bool {
        true
    }

    fn get(&self, table: Table, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let rows = self.query(table, Stmt::Get, &[&key])?;
        Ok(rows.into_iter().next().map(|r| r.get::<_, Vec<u8>>(0)))
    }

    fn scan(&self, table: Table, from: Bound<&[u8]>, to: Option<&[u8]>, visit: Visitor<'_>) -> StoreResult<()> {
        let mut lower: (Vec<u8>, bool) = match from {
            Bound::Included(k) => (k.to_vec(), false),
            Bound::Excluded(k) => (k.to_vec(), true),
            Bound::Unbounded => (Vec::new(), false),
        };
        loop {
            if let Some(u) = to
                && lower.0.as_slice() >= u
            {
                return Ok(());
            }
            let stmt = Stmt::Scan {
                gt: lower.1,
                upper: to.is_some(),
            };
            let rows = self.query(table, stmt, &[&lower.0, &to, &PAGE])?;
            let full = rows.len() as i64 == PAGE;
            let mut last = None;
            for row in &rows {
                let (k, v): (&[u8], &[u8]) = (row.get(0), row.get(1));
                match visit(k, v)? {
                    Scan::Next => last = Some(k),
                    Scan::Stop => return Ok(()),
                    Scan::Seek(to) => {
                        last = None;
                        lower = (to, false);
                        break;
                    }
                }
            }
            match last {
                Some(k) if full => lower = (k.to_vec(), true),
                Some(_) => return Ok(()),
                // Seeking, or nothing left.
                None if rows.is_empty() => return Ok(()),
                None => {}
            }
        }
    }
}

impl MetaStore for PostgresMeta {
    fn read(&self) -> StoreResult<Box<dyn ReadTxn + '_>> {
        Ok(Box::new(Txn::new(&self.inner, BEGIN_READ)?))
    }

    fn write(&self, f: WriteFn) -> oneshot::Receiver<StoreResult<AnyBox>> {
        let (tx, rx) = oneshot::channel();
        let inner = self.inner.clone();
        self.inner.rt.spawn_blocking(move || {
            let _ = tx.send(write_blocking(&inner, &f));
        });
        rx
    }

    fn shared(&self) -> bool {
        true
    }
}

/// Runs a write to its commit, again on a new snapshot after each serialization conflict.
fn write_blocking(inner: &Arc<Inner>, f: &WriteFn) -> StoreResult<AnyBox> {
    use std::sync::atomic::Ordering::Relaxed;
    let began = std::time::Instant::now();
    let mut runs = 0;
    let result = loop {
        runs += 1;
        let txn = match Txn::new(inner, BEGIN_WRITE) {
            Ok(t) => t,
            Err(e) => break Err(e),
        };
        let result = f(&txn).and_then(|(ops, out)| {
            txn.apply(&ops)?;
            txn.end(true)?;
            Ok(out)
        });
        match result {
            Err(_) if txn.conflict.get() && runs < MAX_RUNS => {
                let _ = txn.end(false);
                crate::stats::COMMIT_RETRIES.fetch_add(1, Relaxed);
                // Spread the retries of writers that collided, wider each time, so they
                // do not collide again (up to about 25 ms).
                let jitter = rand::random::<u64>() % (1 << runs.min(8));
                std::thread::sleep(Duration::from_micros(100 * jitter));
            }
            other => {
                let _ = txn.end(false);
                break other;
            }
        }
    };
    crate::stats::COMMIT_BATCH.observe(1);
    crate::stats::COMMIT_LATENCY.observe_duration(began.elapsed());
    // A closure's own refusal is no failure of the store.
    let failed = matches!(result, Err(StoreError::Meta(_) | StoreError::Io(_)));
    crate::stats::LAST_COMMIT_FAILED.store(failed, Relaxed);
    if failed {
        crate::stats::COMMIT_FAILURES.fetch_add(1, Relaxed);
    }
    result
}
