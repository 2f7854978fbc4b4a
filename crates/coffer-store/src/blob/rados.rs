//! The RADOS engine (feature `rados`): blobs as objects in a Ceph pool, through a thin
//! binding of librados's C API (`librados-dev`), so gateways on many hosts share them.
//!
//! A blob `<hex>` is striped over objects `<hex>.0`, `<hex>.1`, ... of [`STRIPE`] bytes,
//! each written whole by one op, then a small head object `<hex>` (size and stripe size):
//! the blob exists once its head does. Stripes are written in order and deleted last
//! first, so the stripes of any blob, even after a crash mid-write or mid-delete, are
//! `0..k`. A write is on the OSDs' journals when librados returns: nothing to sync.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ffi::{CStr, CString, c_int};
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::RwLock;
use tokio::task::JoinHandle;

use super::{BlobId, BlobReader, BlobStore, BlobWriter, ByteStream};
use crate::error::{StoreError, StoreResult};
use crate::stats;

/// Bytes per RADOS object; one op writes each. Far below the OSD's limits
/// (`osd_max_write_size` 90 MiB, `osd_max_object_size` 128 MiB).
const STRIPE: usize = 4 << 20;
/// Most bytes one read asks for, and a reader holds (two reads are in flight).
const READ_CHUNK: u64 = 1 << 20;
/// Head object: format version, blob size (u64 LE), stripe size (u32 LE).
const HEAD_V1: u8 = 1;
const HEAD_LEN: usize = 13;

#[allow(non_camel_case_types)]
mod ffi {
    use std::ffi::{c_char, c_int, c_void};

    pub type rados_t = *mut c_void;
    pub type rados_ioctx_t = *mut c_void;
    pub type rados_list_ctx_t = *mut c_void;
    pub type rados_write_op_t = *mut c_void;

    /// Send even when the pool is full, to fail with ENOSPC rather than wait for space.
    /// An OSD past its fail-safe ratio still drops such writes: `rados_osd_op_timeout`
    /// bounds that wait.
    pub const LIBRADOS_OPERATION_FULL_TRY: c_int = 32;
    /// Run even when the pool is full: for deletes, which are how space comes back.
    pub const LIBRADOS_OPERATION_FULL_FORCE: c_int = 128;

    // librados.h (Ceph 16), only what this engine calls.
    #[link(name = "rados")]
    unsafe extern "C" {
        pub fn rados_create(cluster: *mut rados_t, id: *const c_char) -> c_int;
        pub fn rados_conf_read_file(cluster: rados_t, path: *const c_char) -> c_int;
        pub fn rados_connect(cluster: rados_t) -> c_int;
        pub fn rados_shutdown(cluster: rados_t);
        pub fn rados_ioctx_create(cluster: rados_t, pool: *const c_char, io: *mut rados_ioctx_t) -> c_int;
        pub fn rados_ioctx_destroy(io: rados_ioctx_t);
        pub fn rados_ioctx_set_namespace(io: rados_ioctx_t, nspace: *const c_char);
        pub fn rados_conf_set(cluster: rados_t, option: *const c_char, value: *const c_char) -> c_int;
        pub fn rados_conf_get(cluster: rados_t, option: *const c_char, buf: *mut c_char, len: usize) -> c_int;
        pub fn rados_create_write_op() -> rados_write_op_t;
        pub fn rados_release_write_op(op: rados_write_op_t);
        pub fn rados_write_op_write_full(op: rados_write_op_t, buf: *const c_char, len: usize);
        pub fn rados_write_op_remove(op: rados_write_op_t);
        pub fn rados_write_op_operate(
            op: rados_write_op_t,
            io: rados_ioctx_t,
            oid: *const c_char,
            mtime: *mut libc::time_t,
            flags: c_int,
        ) -> c_int;
        pub fn rados_read(io: rados_ioctx_t, oid: *const c_char, buf: *mut c_char, len: usize, off: u64) -> c_int;
        pub fn rados_stat(io: rados_ioctx_t, oid: *const c_char, size: *mut u64, mtime: *mut libc::time_t) -> c_int;
        pub fn rados_nobjects_list_open(io: rados_ioctx_t, ctx: *mut rados_list_ctx_t) -> c_int;
        pub fn rados_nobjects_list_next(
            ctx: rados_list_ctx_t,
            entry: *mut *const c_char,
            key: *mut *const c_char,
            nspace: *mut *const c_char,
        ) -> c_int;
        pub fn rados_nobjects_list_close(ctx: rados_list_ctx_t);
    }
}

/// librados's negative errno as an error (ENOENT is of kind `NotFound`).
fn check(ret: c_int) -> io::Result<c_int> {
    if ret < 0 {
        Err(io::Error::from_raw_os_error(-ret))
    } else {
        Ok(ret)
    }
}

/// The same error, saying what failed; it keeps the kind.
fn context(what: impl std::fmt::Display, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("rados: {what}: {e}"))
}

fn invalid(msg: String) -> StoreError {
    StoreError::Io(io::Error::new(io::ErrorKind::InvalidInput, msg))
}

/// An object name: hex and digits, never a NUL.
fn oid(name: String) -> CString {
    CString::new(name).unwrap_or_default()
}

fn head_oid(id: BlobId) -> CString {
    oid(id.hex())
}

fn stripe_oid(id: BlobId, n: u64) -> CString {
    oid(format!("{}.{n}", id.hex()))
}

/// The blob an object belongs to: `<32 hex>` (head) or `<32 hex>.<n>` (stripe).
fn parse_name(name: &str) -> Option<BlobId> {
    let (hex, rest) = (name.get(..32)?, name.get(32..)?);
    // Lowercase only, as written (a name deletes by); from_str_radix alone would take a sign.
    if !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    let stripe = rest.strip_prefix('.');
    if !rest.is_empty() && !stripe.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    u128::from_str_radix(hex, 16).ok().map(BlobId)
}

#[derive(Clone, Copy)]
struct Head {
    size: u64,
    stripe: u64,
}

impl Head {
    fn encode(self) -> [u8; HEAD_LEN] {
        let mut b = [0; HEAD_LEN];
        b[0] = HEAD_V1;
        b[1..9].copy_from_slice(&self.size.to_le_bytes());
        b[9..].copy_from_slice(&(self.stripe as u32).to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<Head> {
        if b.len() != HEAD_LEN || b[0] != HEAD_V1 {
            return None;
        }
        let size = u64::from_le_bytes(b[1..9].try_into().ok()?);
        let stripe = u32::from_le_bytes(b[9..].try_into().ok()?) as u64;
        (stripe > 0).then_some(Head { size, stripe })
    }

    fn stripes(self) -> u64 {
        self.size.div_ceil(self.stripe)
    }
}

/// A connected cluster handle and one I/O context on the pool and namespace.
struct Rados {
    cluster: ffi::rados_t,
    io: ffi::rados_ioctx_t,
}

// SAFETY: librados's cluster handle and I/O contexts may be used for I/O by many threads at
// once; only changing an I/O context's settings (namespace, locator key, snapshot) is not
// thread-safe, and that happens in `connect` alone, before the handle is shared.
unsafe impl Send for Rados {}
unsafe impl Sync for Rados {}

impl Drop for Rados {
    fn drop(&mut self) {
        // SAFETY: both handles came from librados and are released once, the I/O context
        // before the cluster it belongs to. `rados_shutdown` also frees a handle that
        // never connected.
        unsafe {
            if !self.io.is_null() {
                ffi::rados_ioctx_destroy(self.io);
            }
            ffi::rados_shutdown(self.cluster);
        }
    }
}

/// The blocking calls; run them on tokio's blocking threads.
impl Rados {
    fn write_full(&self, oid: &CStr, data: &[u8]) -> io::Result<()> {
        // SAFETY: `data` outlives the op, which runs within this call; its length is at
        // most a stripe, far below librados's UINT_MAX/2 limit.
        self.operate(oid, ffi::LIBRADOS_OPERATION_FULL_TRY, |op| unsafe {
            ffi::rados_write_op_write_full(op, data.as_ptr().cast(), data.len())
        })?;
        Ok(())
    }

    /// Runs one write op on `oid` with `flags` for a full pool, where a plain op would wait
    /// until an operator frees space.
    fn operate(&self, oid: &CStr, flags: c_int, build: impl FnOnce(ffi::rados_write_op_t)) -> io::Result<c_int> {
        // SAFETY: librados returns a new op, or null when out of memory.
        let op = unsafe { ffi::rados_create_write_op() };
        if op.is_null() {
            return Err(io::Error::from(io::ErrorKind::OutOfMemory));
        }
        build(op);
        // SAFETY: a live I/O context, a built op, a NUL-terminated name; a null mtime
        // means now. The op is released once, after it ran.
        unsafe {
            let ret = ffi::rados_write_op_operate(op, self.io, oid.as_ptr(), std::ptr::null_mut(), flags);
            ffi::rados_release_write_op(op);
            check(ret)
        }
    }

    /// Reads up to `len` bytes at `off`; fewer if the object ends first.
    fn read(&self, oid: &CStr, off: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut buf = Vec::<u8>::with_capacity(len);
        // SAFETY: `buf` has room for `len` bytes; librados writes at most `len` and returns
        // how many, which become the vector's initialized length.
        unsafe {
            let n = check(ffi::rados_read(
                self.io,
                oid.as_ptr(),
                buf.as_mut_ptr().cast(),
                len,
                off,
            ))?;
            buf.set_len((n as usize).min(len));
        }
        Ok(buf)
    }

    /// Removes an object; false if it was not there.
    fn remove(&self, oid: &CStr) -> io::Result<bool> {
        // SAFETY: the op is being built.
        match self.operate(oid, ffi::LIBRADOS_OPERATION_FULL_FORCE, |op| unsafe {
            ffi::rados_write_op_remove(op)
        }) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn exists(&self, oid: &CStr) -> io::Result<bool> {
        let (mut size, mut mtime) = (0u64, 0 as libc::time_t);
        // SAFETY: a live I/O context, a NUL-terminated name, and two out-parameters.
        match check(unsafe { ffi::rados_stat(self.io, oid.as_ptr(), &mut size, &mut mtime) }) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn head(&self, id: BlobId) -> io::Result<Head> {
        let b = self.read(&head_oid(id), 0, HEAD_LEN + 1)?;
        Head::decode(&b).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable blob head"))
    }

    /// Every object name in the I/O context's namespace.
    fn list(&self) -> io::Result<Vec<String>> {
        struct Listing(ffi::rados_list_ctx_t);
        impl Drop for Listing {
            fn drop(&mut self) {
                // SAFETY: opened by `rados_nobjects_list_open`, closed once.
                unsafe { ffi::rados_nobjects_list_close(self.0) }
            }
        }
        let mut ctx = std::ptr::null_mut();
        // SAFETY: a live I/O context; `ctx` receives the listing handle.
        check(unsafe { ffi::rados_nobjects_list_open(self.io, &mut ctx) })?;
        let listing = Listing(ctx);
        let mut names = Vec::new();
        loop {
            let mut entry = std::ptr::null();
            // SAFETY: an open listing; key and namespace are not asked for. `entry` points
            // at a NUL-terminated name valid until the next call, copied at once.
            let ret = unsafe {
                ffi::rados_nobjects_list_next(listing.0, &mut entry, std::ptr::null_mut(), std::ptr::null_mut())
            };
            match check(ret) {
                Ok(_) if !entry.is_null() => {
                    // SAFETY: as above.
                    names.push(unsafe { CStr::from_ptr(entry) }.to_string_lossy().into_owned());
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(names),
                Err(e) => return Err(e),
            }
        }
    }

    /// Deletes a blob's objects, the head first; true if its head was there.
    /// Deletes a blob's head and stripes; `listed` is how many stripes a listing saw of a
    /// headless blob, whose stripes may start past a gap (a stripe that landed after an
    /// earlier delete of a crashed writer's leftovers).
    fn delete(&self, id: BlobId, listed: u64) -> io::Result<bool> {
        let known = match self.head(id) {
            Ok(h) => h.stripes(),
            Err(e) if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::InvalidData => 0,
            Err(e) => return Err(e),
        };
        let had_head = self.remove(&head_oid(id))?;
        // Stripes are `0..k`: find k (a crashed writer's or deleter's leftovers have no
        // head to say), then remove the last first, so a crash here leaves `0..j`.
        let mut count = known.max(listed);
        while self.exists(&stripe_oid(id, count))? {
            count += 1;
        }
        for n in (0..count).rev() {
            self.remove(&stripe_oid(id, n))?;
        }
        Ok(had_head)
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    join(tokio::task::spawn_blocking(f)).await
}

async fn join<T>(h: JoinHandle<io::Result<T>>) -> io::Result<T> {
    h.await.unwrap_or_else(|e| Err(io::Error::other(e)))
}

/// Blobs in a RADOS pool, under a namespace if given (so many stores may share a pool).
pub struct RadosBlobStore {
    rados: Arc<Rados>,
    /// Held (shared) by the cleanup of each writer dropped unfinished; `list` waits for
    /// them, so it does not report what this process is already deleting.
    cleanups: Arc<RwLock<()>>,
    /// Of each headless blob the last `list` saw: one past its highest stripe, for `delete`.
    headless: std::sync::Mutex<HashMap<BlobId, u64>>,
}

impl RadosBlobStore {
    /// Connects to `rados://POOL?conf=/path/ceph.conf&namespace=NS&user=ID` (conf defaults
    /// to /etc/ceph/ceph.conf, user to `admin`, namespace to the pool's default). Blocks
    /// until the monitors answer, at most `client_mount_timeout` (ceph.conf's, else 300 s).
    pub fn connect(url: &str) -> StoreResult<Self> {
        let usage = || {
            invalid(format!(
                "blob engine {url:?}: expected rados://POOL?conf=/path/ceph.conf&namespace=NS&user=ID"
            ))
        };
        let rest = url.strip_prefix("rados://").ok_or_else(usage)?;
        let (pool, query) = rest.split_once('?').unwrap_or((rest, ""));
        let pool = decode(pool).ok_or_else(usage)?;
        let (mut conf, mut namespace, mut user) = ("/etc/ceph/ceph.conf".to_owned(), None, "admin".to_owned());
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or_else(usage)?;
            let v = decode(v).ok_or_else(usage)?;
            match k {
                "conf" => conf = v,
                "namespace" => namespace = Some(v),
                "user" => user = v.strip_prefix("client.").unwrap_or(&v).to_owned(),
                _ => return Err(invalid(format!("blob engine {url:?}: unknown parameter {k:?}"))),
            }
        }
        let cstr = |s: &str| CString::new(s).map_err(|_| usage());
        let (pool_c, conf_c, user_c) = (cstr(&pool)?, cstr(&conf)?, cstr(&user)?);
        let ns_c = namespace.as_deref().map(cstr).transpose()?;

        let mut cluster = std::ptr::null_mut();
        // SAFETY: `cluster` receives a new handle; the id is NUL-terminated.
        check(unsafe { ffi::rados_create(&mut cluster, user_c.as_ptr()) }).map_err(|e| context("create", e))?;
        // From here `Rados::drop` releases what was made, on every error below.
        let mut rados = Rados {
            cluster,
            io: std::ptr::null_mut(),
        };
        // SAFETY: a handle not yet connected, and a NUL-terminated path.
        check(unsafe { ffi::rados_conf_read_file(rados.cluster, conf_c.as_ptr()) })
            .map_err(|e| context(format_args!("reading {conf}"), e))?;
        // A bounded wait for each op, so that a lost or full cluster fails requests instead
        // of hanging them, unless ceph.conf chose one (librados's default is no bound).
        let mut value = [0u8; 32];
        // SAFETY: a configured handle, a NUL-terminated name, and a buffer of its length.
        let got = unsafe {
            ffi::rados_conf_get(
                rados.cluster,
                c"rados_osd_op_timeout".as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        if got == 0 && value.starts_with(b"0\0") {
            // SAFETY: as above, with NUL-terminated strings.
            check(unsafe { ffi::rados_conf_set(rados.cluster, c"rados_osd_op_timeout".as_ptr(), c"60".as_ptr()) })
                .map_err(|e| context("setting rados_osd_op_timeout", e))?;
        }
        // SAFETY: a configured handle.
        check(unsafe { ffi::rados_connect(rados.cluster) })
            .map_err(|e| context(format_args!("connecting as client.{user} with {conf}"), e))?;
        let mut io = std::ptr::null_mut();
        // SAFETY: a connected handle, a NUL-terminated pool name; `io` receives the context.
        check(unsafe { ffi::rados_ioctx_create(rados.cluster, pool_c.as_ptr(), &mut io) })
            .map_err(|e| context(format_args!("pool {pool:?}"), e))?;
        rados.io = io;
        if let Some(ns) = &ns_c {
            // SAFETY: the context is not shared yet; librados copies the name.
            unsafe { ffi::rados_ioctx_set_namespace(rados.io, ns.as_ptr()) };
        }
        Ok(Self {
            rados: Arc::new(rados),
            cleanups: Arc::default(),
            headless: Default::default(),
        })
    }
}

/// `%XX` escapes decoded (a conf path may hold any byte but NUL).
fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .ok()
        .filter(|s| !s.is_empty() && !s.contains('\0'))
}

#[async_trait::async_trait]
impl BlobStore for RadosBlobStore {
    async fn create(&self) -> StoreResult<Box<dyn BlobWriter>> {
        Ok(Box::new(RadosWriter {
            rados: self.rados.clone(),
            cleanups: self.cleanups.clone(),
            id: BlobId::random(),
            buf: Vec::new(),
            pending: None,
            stripes: 0,
            size: 0,
            head_tried: false,
            failed: false,
            done: false,
        }))
    }

    async fn open(&self, id: BlobId) -> StoreResult<Box<dyn BlobReader>> {
        let rados = self.rados.clone();
        let head = blocking(move || rados.head(id)).await?;
        Ok(Box::new(RadosReader {
            rados: self.rados.clone(),
            id,
            head,
        }))
    }

    async fn delete(&self, id: BlobId) -> StoreResult<()> {
        let rados = self.rados.clone();
        let listed = self
            .headless
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id)
            .unwrap_or(0);
        if blocking(move || rados.delete(id, listed)).await? {
            stats::BLOBS_DELETED.fetch_add(1, Relaxed);
        }
        Ok(())
    }

    async fn list(&self) -> StoreResult<Vec<BlobId>> {
        drop(self.cleanups.write().await);
        let rados = self.rados.clone();
        let names = blocking(move || rados.list()).await?;
        // A blob's stripes without its head are listed too: a crashed writer's leftovers,
        // for the sweep (blobs still being written are protected by their intent rows).
        let mut ids = BTreeSet::new();
        let (mut heads, mut stripes) = (HashSet::new(), HashMap::new());
        for name in &names {
            let Some(id) = parse_name(name) else { continue };
            ids.insert(id);
            // `parse_name` took it: the head is the bare id, a stripe `<id>.<digits>`.
            if name.len() == 32 {
                heads.insert(id);
            } else if let Ok(n) = name[33..].parse::<u64>() {
                let top = stripes.entry(id).or_insert(0);
                *top = (*top).max(n.saturating_add(1));
            }
        }
        stripes.retain(|id, _| !heads.contains(id));
        *self.headless.lock().unwrap_or_else(|e| e.into_inner()) = stripes;
        Ok(ids.into_iter().collect())
    }
}

struct RadosWriter {
    rados: Arc<Rados>,
    cleanups: Arc<RwLock<()>>,
    id: BlobId,
    /// The stripe being filled.
    buf: Vec<u8>,
    /// The previous stripe's write, in flight while this one fills; it hands its buffer
    /// back. One at a time, so stripes land in order.
    pending: Option<JoinHandle<io::Result<Vec<u8>>>>,
    /// Stripes handed to RADOS so far.
    stripes: u64,
    size: u64,
    /// The head's write began: a failed one may still have landed.
    head_tried: bool,
    failed: bool,
    done: bool,
}

impl RadosWriter {
    /// Waits for the write in flight; its buffer is returned for the next stripe.
    async fn settle(&mut self) -> io::Result<Option<Vec<u8>>> {
        match self.pending.take() {
            Some(p) => join(p).await.map(Some),
            None => Ok(None),
        }
    }

    /// Starts writing the full buffer as the next stripe.
    async fn flush(&mut self) -> io::Result<()> {
        let spare = self.settle().await?.unwrap_or_default();
        let data = std::mem::replace(&mut self.buf, spare);
        self.buf.clear();
        let (rados, oid) = (self.rados.clone(), stripe_oid(self.id, self.stripes));
        self.stripes += 1;
        self.pending = Some(tokio::task::spawn_blocking(move || {
            rados.write_full(&oid, &data)?;
            Ok(data)
        }));
        Ok(())
    }

    async fn finish_io(&mut self) -> io::Result<()> {
        self.settle().await?;
        if !self.buf.is_empty() {
            let data = std::mem::take(&mut self.buf);
            let (rados, oid) = (self.rados.clone(), stripe_oid(self.id, self.stripes));
            self.stripes += 1;
            blocking(move || rados.write_full(&oid, &data)).await?;
        }
        let head = Head {
            size: self.size,
            stripe: STRIPE as u64,
        };
        let (rados, id) = (self.rados.clone(), self.id);
        self.head_tried = true;
        blocking(move || rados.write_full(&head_oid(id), &head.encode())).await
    }
}

fn earlier_failure() -> StoreError {
    StoreError::Io(io::Error::other("an earlier blob write failed"))
}

#[async_trait::async_trait]
impl BlobWriter for RadosWriter {
    fn id(&self) -> BlobId {
        self.id
    }

    async fn write(&mut self, chunk: Bytes) -> StoreResult<()> {
        if self.failed {
            return Err(earlier_failure());
        }
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            if self.buf.capacity() == 0 {
                self.buf.reserve_exact(STRIPE);
            }
            let n = (STRIPE - self.buf.len()).min(rest.len());
            self.buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            self.size += n as u64;
            if self.buf.len() == STRIPE
                && let Err(e) = self.flush().await
            {
                self.failed = true;
                return Err(e.into());
            }
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> StoreResult<BlobId> {
        if self.failed {
            return Err(earlier_failure());
        }
        // On error, `drop` removes what was written.
        let began = std::time::Instant::now();
        self.finish_io().await?;
        // What makes the blob durable here: its last stripe and its head, acknowledged.
        stats::FSYNC_LATENCY.observe_duration(began.elapsed());
        self.done = true;
        stats::BLOBS_WRITTEN.fetch_add(1, Relaxed);
        stats::BLOB_BYTES_WRITTEN.fetch_add(self.size, Relaxed);
        Ok(self.id)
    }
}

impl Drop for RadosWriter {
    /// An unfinished blob's objects are removed in the background, best effort (the sweep
    /// catches what this misses: the id stays listed while any stripe is left).
    fn drop(&mut self) {
        if self.done || (self.stripes == 0 && !self.head_tried) {
            return;
        }
        let (rados, id, pending, stripes) = (self.rados.clone(), self.id, self.pending.take(), self.stripes);
        // None only while `list` waits: it then may list this blob, as after a crash.
        let guard = self.cleanups.clone().try_read_owned().ok();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    let _guard = guard;
                    // The stripe in flight must land before the delete looks for it.
                    if let Some(p) = pending {
                        let _ = p.await;
                    }
                    let _ = blocking(move || rados.delete(id, stripes)).await;
                });
            }
            // Outside a runtime nothing is in flight (writes run on a runtime's threads).
            Err(_) => {
                let _ = rados.delete(id, stripes);
            }
        }
    }
}

struct RadosReader {
    rados: Arc<Rados>,
    id: BlobId,
    head: Head,
}

impl BlobReader for RadosReader {
    /// Reads of at most [`READ_CHUNK`] bytes, none across a stripe's end, two in flight.
    /// A stripe removed meanwhile (the blob deleted) fails the stream with `NotFound`.
    fn stream(self: Box<Self>, offset: u64, len: u64) -> ByteStream {
        let Self { rados, id, head } = *self;
        if offset.checked_add(len).is_none_or(|end| end > head.size) {
            let e = io::Error::new(io::ErrorKind::UnexpectedEof, "range beyond the blob's end");
            return Box::pin(futures::stream::iter([Err(e)]));
        }
        let (mut at, end, stripe) = (offset, offset + len, head.stripe);
        let ranges = std::iter::from_fn(move || {
            if at >= end {
                return None;
            }
            let (n, off) = (at / stripe, at % stripe);
            let want = (end - at).min(READ_CHUNK).min(stripe - off);
            at += want;
            Some((n, off, want as usize))
        });
        let reads = futures::stream::iter(ranges)
            .map(move |(n, off, want)| {
                let rados = rados.clone();
                async move {
                    let data = blocking(move || rados.read(&stripe_oid(id, n), off, want)).await?;
                    if data.len() < want {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "blob stripe shorter than its head says",
                        ));
                    }
                    Ok(Bytes::from(data))
                }
            })
            .buffered(2)
            // Nothing after the first error.
            .scan(false, |failed, r| {
                let item = (!*failed).then(|| {
                    *failed = r.is_err();
                    r
                });
                futures::future::ready(item)
            });
        Box::pin(reads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_parse_to_their_blob_and_nothing_else_does() {
        let id = BlobId(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
        for name in [id.hex(), format!("{}.0", id.hex()), format!("{}.12", id.hex())] {
            assert_eq!(parse_name(&name), Some(id), "{name}");
        }
        let upper = id.hex().to_uppercase();
        let signed = format!("+{}", &id.hex()[1..]);
        for bad in [
            "",
            "ready",
            &id.hex()[..31],
            &format!("{}.", id.hex()),
            &format!("{}.x", id.hex()),
            &format!("{}0", id.hex()),
            &format!("{}.-1", id.hex()),
            &signed,
            &upper,
            "é0123456789abcdef0123456789abcde",
        ] {
            assert_eq!(parse_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn heads_round_trip_and_bad_ones_are_refused() {
        let h = Head {
            size: 9 << 20,
            stripe: STRIPE as u64,
        };
        let b = h.encode();
        let back = Head::decode(&b).unwrap();
        assert_eq!((back.size, back.stripe, back.stripes()), (9 << 20, STRIPE as u64, 3));
        assert!(Head::decode(&b[..12]).is_none());
        let mut zero_stripe = b;
        zero_stripe[9..].fill(0);
        assert!(Head::decode(&zero_stripe).is_none());
        let mut v2 = b;
        v2[0] = 2;
        assert!(Head::decode(&v2).is_none());
    }

    #[test]
    fn urls_are_checked_before_any_connection() {
        for bad in [
            "rados://",
            "s3://pool",
            "rados://pool?conf",
            "rados://pool?colour=blue",
            "rados://pool?conf=%zz",
            "rados://pool?namespace=a%00b",
        ] {
            let e = RadosBlobStore::connect(bad).err().expect(bad);
            assert!(
                matches!(&e, StoreError::Io(e) if e.kind() == io::ErrorKind::InvalidInput),
                "{bad}: {e}"
            );
        }
        assert_eq!(decode("a%20b%2Fc").as_deref(), Some("a b/c"));
    }
}
