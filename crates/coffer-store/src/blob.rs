//! Object data too large to inline: one file per blob, written durably before any
//! metadata points at it.
//!
//! `BlobStore` is the seam for other engines (Ceph RADOS is planned); `FsBlobStore`
//! keeps blobs under `blobs/xx/<id>` with a `tmp/` staging area.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::stream;

use crate::error::{StoreError, StoreResult};

/// A blob's name: random, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct BlobId(pub u128);

impl BlobId {
    pub fn random() -> Self {
        BlobId(rand::random())
    }

    fn hex(self) -> String {
        format!("{:032x}", self.0)
    }
}

pub type ByteStream = std::pin::Pin<Box<dyn futures::Stream<Item = io::Result<Bytes>> + Send + Sync>>;

#[async_trait::async_trait]
pub trait BlobWriter: Send {
    async fn write(&mut self, chunk: Bytes) -> StoreResult<()>;
    /// Makes the blob durable and visible under its id.
    async fn finish(self: Box<Self>) -> StoreResult<BlobId>;
}

#[async_trait::async_trait]
pub trait BlobReader: Send {
    /// Streams `len` bytes from `offset`.
    fn stream(self: Box<Self>, offset: u64, len: u64) -> ByteStream;
}

#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + 'static {
    async fn create(&self) -> StoreResult<Box<dyn BlobWriter>>;
    /// Opens a blob; once open it stays readable even if deleted meanwhile.
    async fn open(&self, id: BlobId) -> StoreResult<Box<dyn BlobReader>>;
    async fn delete(&self, id: BlobId) -> StoreResult<()>;
    /// Every blob stored, for the orphan sweep.
    async fn list(&self) -> StoreResult<Vec<BlobId>>;
}

/// Bytes gathered before one write to the file: fewer, larger blocking calls.
const WRITE_BUF: usize = 1 << 20;
const READ_CHUNK: usize = 256 << 10;
/// Start writeback of a large blob as it arrives, so the fsync at its end waits for the
/// last few MiB rather than all of them.
const WRITEBACK_EVERY: u64 = 8 << 20;

/// Asks the kernel to begin writing a range back without waiting (durability still comes
/// from the fsync in `finish`).
fn start_writeback_range(file: &File, offset: u64, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid open descriptor; the call only schedules I/O.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset as i64, len as i64, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
}

pub struct FsBlobStore {
    blobs: PathBuf,
    tmp: PathBuf,
}

impl FsBlobStore {
    /// Prepares the directories and clears the staging area, which holds only the
    /// leftovers of writes that never finished.
    pub fn open(root: &Path) -> StoreResult<Self> {
        let blobs = root.join("blobs");
        let tmp = root.join("tmp");
        fs::create_dir_all(&tmp)?;
        for entry in fs::read_dir(&tmp)? {
            let _ = fs::remove_file(entry?.path());
        }
        for i in 0..=255u8 {
            fs::create_dir_all(blobs.join(format!("{i:02x}")))?;
        }
        sync_dir(&blobs)?;
        sync_dir(root)?;
        Ok(Self { blobs, tmp })
    }

    fn path(&self, id: BlobId) -> PathBuf {
        let hex = id.hex();
        self.blobs.join(&hex[..2]).join(hex)
    }
}

pub(crate) fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// `create_dir_all`, then fsync the parent of `path` and of every directory it made: a new
/// directory's entry is not durable until its parent is synced, and everything below hangs
/// on it. `path`'s parent is synced even if `path` existed: an earlier start may have died
/// between making it and syncing.
pub fn create_dir_all_durable(path: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut p = path;
    while !p.exists() {
        missing.push(p.to_owned());
        match p.parent() {
            Some(q) if !q.as_os_str().is_empty() => p = q,
            _ => break,
        }
    }
    fs::create_dir_all(path)?;
    if missing.is_empty() {
        missing.push(path.to_owned());
    }
    for dir in &missing {
        sync_dir(
            dir.parent()
                .filter(|q| !q.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        )?;
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> StoreResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(StoreError::from),
        Err(e) => Err(StoreError::Io(io::Error::other(e))),
    }
}

#[async_trait::async_trait]
impl BlobStore for FsBlobStore {
    async fn create(&self) -> StoreResult<Box<dyn BlobWriter>> {
        let id = BlobId::random();
        let tmp = self.tmp.join(id.hex());
        let fin = self.path(id);
        let t = tmp.clone();
        let file = blocking(move || File::create_new(&t)).await?;
        Ok(Box::new(FsWriter {
            id,
            file: Some(file),
            tmp,
            fin,
            buf: {
                let mut buf = WRITE_BUFS.take();
                buf.clear();
                buf
            },
            done: false,
            written: 0,
            flushed: 0,
        }))
    }

    async fn open(&self, id: BlobId) -> StoreResult<Box<dyn BlobReader>> {
        let path = self.path(id);
        let file = blocking(move || File::open(path)).await?;
        Ok(Box::new(FsReader(file)))
    }

    async fn delete(&self, id: BlobId) -> StoreResult<()> {
        let path = self.path(id);
        blocking(move || match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        })
        .await
    }

    async fn list(&self) -> StoreResult<Vec<BlobId>> {
        let blobs = self.blobs.clone();
        blocking(move || {
            let mut out = Vec::new();
            for dir in fs::read_dir(&blobs)? {
                for f in fs::read_dir(dir?.path())? {
                    let name = f?.file_name();
                    if let Some(id) = name.to_str().and_then(|s| u128::from_str_radix(s, 16).ok()) {
                        out.push(BlobId(id));
                    }
                }
            }
            Ok(out)
        })
        .await
    }
}

struct FsWriter {
    id: BlobId,
    file: Option<File>,
    tmp: PathBuf,
    fin: PathBuf,
    /// Bytes not yet written, in a pooled buffer kept for the blob's whole life (it travels
    /// to the blocking write and back).
    buf: Vec<u8>,
    done: bool,
    /// Bytes written so far, and how far writeback has been started.
    written: u64,
    flushed: u64,
}

impl FsWriter {
    async fn flush_buf(&mut self) -> StoreResult<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::take(&mut self.buf);
        let len = data.len();
        let mut file = self.file.take().expect("blob file");
        let (from, to) = (self.flushed, self.written + len as u64);
        let start_writeback = to - from >= WRITEBACK_EVERY;
        let (file, mut data) = blocking(move || {
            file.write_all(&data)?;
            if start_writeback {
                start_writeback_range(&file, from, to - from);
            }
            Ok((file, data))
        })
        .await?;
        data.clear();
        self.buf = data;
        self.file = Some(file);
        self.written = to;
        if start_writeback {
            self.flushed = to;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl BlobWriter for FsWriter {
    async fn write(&mut self, chunk: Bytes) -> StoreResult<()> {
        // Flushing before the buffer would grow keeps it at its pooled size.
        if self.buf.len() + chunk.len() > self.buf.capacity() {
            self.flush_buf().await?;
        }
        self.buf.extend_from_slice(&chunk);
        if self.buf.len() >= WRITE_BUF {
            self.flush_buf().await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> StoreResult<BlobId> {
        self.flush_buf().await?;
        let file = self.file.take().expect("blob file");
        let (tmp, fin) = (self.tmp.clone(), self.fin.clone());
        blocking(move || {
            file.sync_data()?;
            drop(file);
            fs::rename(&tmp, &fin)?;
            sync_dir(fin.parent().expect("blob dir"))
        })
        .await?;
        self.done = true;
        Ok(self.id)
    }
}

impl Drop for FsWriter {
    fn drop(&mut self) {
        WRITE_BUFS.put(std::mem::take(&mut self.buf));
        if !self.done {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

struct FsReader(File);

impl BlobReader for FsReader {
    fn stream(self: Box<Self>, offset: u64, len: u64) -> ByteStream {
        let state = (Some(self.0), offset, len);
        Box::pin(stream::unfold(state, |(file, pos, left)| async move {
            let file = file?;
            if left == 0 {
                return None;
            }
            let want = left.min(READ_CHUNK as u64) as usize;
            let r = tokio::task::spawn_blocking(move || {
                let mut buf = READ_BUFS.take();
                // Zeroed once, when first made; later reads overwrite what they return.
                buf.resize(READ_CHUNK, 0);
                file.read_exact_at(&mut buf[..want], pos)?;
                Ok::<_, io::Error>((file, Chunk { buf, len: want }))
            })
            .await
            .unwrap_or_else(|e| Err(io::Error::other(e)));
            match r {
                Ok((file, buf)) => Some((
                    Ok(Bytes::from_owner(buf)),
                    (Some(file), pos + want as u64, left - want as u64),
                )),
                Err(e) => Some((Err(e), (None, pos, 0))),
            }
        }))
    }
}

/// Buffers of one size, recycled. Large bodies would otherwise allocate and free a buffer
/// per chunk or per blob, and glibc keeps such freed buffers in per-thread arenas: RSS
/// stayed high long after the large transfers ended.
struct BufPool {
    size: usize,
    keep: usize,
    bufs: std::sync::Mutex<Vec<Vec<u8>>>,
}

impl BufPool {
    const fn new(size: usize, keep: usize) -> Self {
        BufPool {
            size,
            keep,
            bufs: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// A buffer with room for `size` bytes, holding whatever its last user left.
    fn take(&self) -> Vec<u8> {
        let pooled = self.bufs.lock().unwrap_or_else(|e| e.into_inner()).pop();
        pooled.unwrap_or_else(|| Vec::with_capacity(self.size))
    }

    fn put(&self, buf: Vec<u8>) {
        let mut bufs = self.bufs.lock().unwrap_or_else(|e| e.into_inner());
        if bufs.len() < self.keep && buf.capacity() == self.size {
            bufs.push(buf);
        }
    }
}

/// 64 read chunks (16 MiB) and 16 write buffers (16 MiB) are kept; more in flight at once
/// are allocated and freed.
static READ_BUFS: BufPool = BufPool::new(READ_CHUNK, 64);
static WRITE_BUFS: BufPool = BufPool::new(WRITE_BUF, 16);

/// `len` bytes read into a pooled buffer; dropping it (once hyper has sent the bytes)
/// returns the buffer.
struct Chunk {
    buf: Vec<u8>,
    len: usize,
}

impl AsRef<[u8]> for Chunk {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        READ_BUFS.put(std::mem::take(&mut self.buf));
    }
}
