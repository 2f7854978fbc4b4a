//! The file engine: one file per blob under `blobs/xx/<id>`, staged in `tmp/`, written
//! with O_DIRECT where the filesystem allows it, fsynced with its directory before it
//! counts as written.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use futures::stream;

use super::{BlobId, BlobReader, BlobStore, BlobWriter, ByteStream};
use crate::error::{StoreError, StoreResult};
use crate::stats;

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
        let store = Self::open_shared(root)?;
        for entry in fs::read_dir(&store.tmp)? {
            let _ = fs::remove_file(entry?.path());
        }
        Ok(store)
    }

    /// Prepares the directories, keeping the staging area: gateways sharing the directory
    /// may be writing there. A crashed writer's leftovers are listed, for the collector.
    pub fn open_shared(root: &Path) -> StoreResult<Self> {
        let blobs = root.join("blobs");
        let tmp = root.join("tmp");
        private_dir(&tmp)?;
        private_dir(&blobs)?;
        for i in 0..=255u8 {
            private_dir(&blobs.join(format!("{i:02x}")))?;
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

/// Creates a blob file for direct I/O where the filesystem allows it: writes then go from
/// our buffer to the device without a copy into the page cache, which cost the server more
/// CPU than MD5 on large PUTs. Durability still comes from the fsync in `finish`. tmpfs
/// and some others refuse O_DIRECT (EINVAL); those get ordinary buffered writes.
fn create_blob_file(path: &Path) -> io::Result<(File, bool)> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_DIRECT)
            .open(path)
        {
            Ok(f) => return Ok((f, true)),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(e),
        }
    }
    use std::os::unix::fs::OpenOptionsExt;
    let f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    Ok((f, false))
}

/// Makes `path` (and missing parents) a directory only the server's user can enter, and
/// takes that right from others on one an older release made 0755.
pub fn private_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new().recursive(true).mode(0o700).create(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o700))
}

/// Turns direct I/O off for the unaligned tail of a blob.
fn clear_direct(file: &File) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        // SAFETY: fcntl on a valid descriptor we own, changing only its status flags.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_DIRECT) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
    Ok(())
}

pub(crate) fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// Creates `path` private to the server's user (see [`private_dir`]), then fsyncs the parent
/// of `path` and of every directory it made: a new
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
    private_dir(path)?;
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
        let (file, direct) = blocking(move || create_blob_file(&t)).await?;
        let mut buf = WRITE_BUFS.take();
        buf.len = 0;
        Ok(Box::new(FsWriter {
            id,
            file: Some(file),
            direct,
            tmp,
            fin,
            buf: Some(buf),
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
        let (path, tmp) = (self.path(id), self.tmp.join(id.hex()));
        blocking(move || {
            // A crashed writer's leftover, which the collector deletes by the same id.
            let _ = fs::remove_file(tmp);
            match fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                Err(_) => Ok(()),
                Ok(()) => {
                    stats::BLOBS_DELETED.fetch_add(1, Relaxed);
                    Ok(())
                }
            }
        })
        .await
    }

    async fn list(&self) -> StoreResult<Vec<BlobId>> {
        let (blobs, tmp) = (self.blobs.clone(), self.tmp.clone());
        blocking(move || {
            let mut out = Vec::new();
            let dirs = fs::read_dir(&blobs)?.map(|d| d.map(|d| d.path())).chain([Ok(tmp)]);
            for dir in dirs {
                for f in fs::read_dir(dir?)? {
                    let name = f?.file_name();
                    if let Some(id) = name.to_str().and_then(|s| u128::from_str_radix(s, 16).ok()) {
                        out.push(BlobId(id));
                    }
                }
            }
            out.sort_unstable();
            out.dedup();
            Ok(out)
        })
        .await
    }
}

struct FsWriter {
    id: BlobId,
    file: Option<File>,
    /// Opened with O_DIRECT: every write but the last must be whole aligned blocks.
    direct: bool,
    tmp: PathBuf,
    fin: PathBuf,
    /// Bytes not yet written, in a pooled aligned buffer kept for the blob's whole life (it
    /// travels to the blocking write and back); `None` after a failed write.
    buf: Option<AlignedBuf>,
    done: bool,
    /// Bytes written so far, and how far writeback has been started.
    written: u64,
    flushed: u64,
}

impl FsWriter {
    /// Writes the buffer out at the blob's end. Writes flush at exactly `WRITE_BUF`, so only
    /// the last one (from `finish`) can end in a partial block: that tail, and any write a
    /// filesystem refuses to do directly (EINVAL), turn direct I/O off and go buffered.
    async fn flush_buf(&mut self) -> StoreResult<()> {
        let Some(data) = self.buf.take() else {
            return Err(StoreError::Io(io::Error::other("an earlier blob write failed")));
        };
        if data.len == 0 {
            self.buf = Some(data);
            return Ok(());
        }
        let len = data.len;
        let file = self.file.take().expect("blob file");
        let (from, at) = (self.flushed, self.written);
        let to = at + len as u64;
        let mut direct = self.direct;
        let start_writeback = !direct && to - from >= WRITEBACK_EVERY;
        let (file, mut data, direct) = blocking(move || {
            let bytes = data.as_slice();
            let aligned = if direct { len / ALIGN * ALIGN } else { len };
            if aligned > 0 {
                match file.write_all_at(&bytes[..aligned], at) {
                    Err(e) if direct && e.raw_os_error() == Some(libc::EINVAL) => {
                        clear_direct(&file)?;
                        direct = false;
                        file.write_all_at(&bytes[..aligned], at)?;
                    }
                    r => r?,
                }
            }
            if aligned < len {
                if direct {
                    clear_direct(&file)?;
                    direct = false;
                }
                file.write_all_at(&bytes[aligned..], at + aligned as u64)?;
            }
            if start_writeback {
                start_writeback_range(&file, from, to - from);
            }
            Ok((file, data, direct))
        })
        .await?;
        data.len = 0;
        self.buf = Some(data);
        self.file = Some(file);
        self.direct = direct;
        self.written = to;
        if start_writeback {
            self.flushed = to;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl BlobWriter for FsWriter {
    fn id(&self) -> BlobId {
        self.id
    }

    async fn write(&mut self, chunk: Bytes) -> StoreResult<()> {
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            let Some(buf) = self.buf.as_mut() else {
                return Err(StoreError::Io(io::Error::other("an earlier blob write failed")));
            };
            let n = buf.push(rest);
            rest = &rest[n..];
            if buf.len == WRITE_BUF {
                self.flush_buf().await?;
            }
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> StoreResult<BlobId> {
        self.flush_buf().await?;
        let file = self.file.take().expect("blob file");
        let (tmp, fin) = (self.tmp.clone(), self.fin.clone());
        blocking(move || {
            let began = std::time::Instant::now();
            file.sync_data()?;
            drop(file);
            fs::rename(&tmp, &fin)?;
            sync_dir(fin.parent().expect("blob dir"))?;
            stats::FSYNC_LATENCY.observe_duration(began.elapsed());
            Ok(())
        })
        .await?;
        stats::BLOBS_WRITTEN.fetch_add(1, Relaxed);
        stats::BLOB_BYTES_WRITTEN.fetch_add(self.written, Relaxed);
        self.done = true;
        Ok(self.id)
    }
}

impl Drop for FsWriter {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            WRITE_BUFS.put(buf);
        }
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
struct BufPool<T> {
    keep: usize,
    make: fn() -> T,
    bufs: std::sync::Mutex<Vec<T>>,
}

impl<T> BufPool<T> {
    const fn new(keep: usize, make: fn() -> T) -> Self {
        BufPool {
            keep,
            make,
            bufs: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// A buffer holding whatever its last user left.
    fn take(&self) -> T {
        let pooled = self.bufs.lock().unwrap_or_else(|e| e.into_inner()).pop();
        pooled.unwrap_or_else(self.make)
    }

    fn put(&self, buf: T) {
        let mut bufs = self.bufs.lock().unwrap_or_else(|e| e.into_inner());
        if bufs.len() < self.keep {
            bufs.push(buf);
        }
    }
}

/// 64 read chunks (16 MiB) and 16 write buffers (16 MiB) are kept; more in flight at once
/// are allocated and freed.
static READ_BUFS: BufPool<Vec<u8>> = BufPool::new(64, || vec![0; READ_CHUNK]);
static WRITE_BUFS: BufPool<AlignedBuf> = BufPool::new(16, || AlignedBuf::new(WRITE_BUF));

/// Block alignment direct I/O needs for buffers, offsets and lengths.
const ALIGN: usize = 4096;

/// A zeroed heap buffer aligned for O_DIRECT, with `len` bytes in use.
struct AlignedBuf {
    ptr: std::ptr::NonNull<u8>,
    cap: usize,
    len: usize,
}

// SAFETY: the buffer is uniquely owned plain memory.
unsafe impl Send for AlignedBuf {}
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    fn layout(cap: usize) -> std::alloc::Layout {
        std::alloc::Layout::from_size_align(cap, ALIGN).expect("buffer layout")
    }

    fn new(cap: usize) -> Self {
        let layout = Self::layout(cap);
        // SAFETY: the layout has a non-zero size; zeroed, so every byte is initialized.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr = std::ptr::NonNull::new(ptr).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        AlignedBuf { ptr, cap, len: 0 }
    }

    fn as_slice(&self) -> &[u8] {
        // SAFETY: `len <= cap` bytes of initialized memory we own.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// Appends as much of `data` as fits; returns how much.
    fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.cap - self.len);
        // SAFETY: `len + n <= cap`, and `data` cannot overlap memory we own exclusively.
        unsafe { copy_for_device(self.ptr.as_ptr().add(self.len), &data[..n]) };
        self.len += n;
        n
    }
}

/// Copies `src` to `dst`, memory only the disk reads next. Large copies use streaming
/// stores, which skip fetching each destination line into the cache first: this copy was
/// 11-12% of the server's CPU on 64 MiB PUTs (perf), half of it those fetches.
///
/// # Safety
/// `dst` must be valid for `src.len()` bytes and not overlap `src`.
unsafe fn copy_for_device(dst: *mut u8, src: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    if src.len() >= 4096 && std::is_x86_feature_detected!("avx512f") {
        // SAFETY: the caller's promise; AVX-512F is present.
        return unsafe { copy_streaming(dst, src) };
    }
    // SAFETY: the caller's promise.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn copy_streaming(dst: *mut u8, src: &[u8]) {
    use std::arch::x86_64::{_mm_sfence, _mm512_loadu_si512, _mm512_stream_si512};
    let n = src.len();
    let head = dst.align_offset(64).min(n);
    // SAFETY: every offset stays below `n`, which the caller vouched for; streaming stores
    // go to 64-byte aligned addresses, and the fence orders them before the write that
    // hands the buffer to the kernel.
    unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr(), dst, head);
        let mut i = head;
        while i + 64 <= n {
            let v = _mm512_loadu_si512(src.as_ptr().add(i).cast());
            _mm512_stream_si512(dst.add(i).cast(), v);
            i += 64;
        }
        std::ptr::copy_nonoverlapping(src.as_ptr().add(i), dst.add(i), n - i);
        _mm_sfence();
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this same layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), Self::layout(self.cap)) };
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    /// Sizes around the direct-I/O block and the write buffer, written in uneven chunks,
    /// read back byte-exact, on the build disk and on tmpfs.
    #[test]
    fn copies_for_the_device_are_exact_at_every_alignment() {
        let src: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 253) as u8).collect();
        for offset in 0..130 {
            for len in [0, 1, 63, 64, 65, 4095, 4096, 4097, 4159, 10_000, 19_000 - offset] {
                let mut buf = AlignedBuf::new(ALIGN * 8);
                buf.len = offset;
                assert_eq!(buf.push(&src[..len]), len);
                let got = buf.as_slice();
                assert!(got[..offset].iter().all(|&b| b == 0), "bytes before {offset} touched");
                assert!(got[offset..] == src[..len], "offset {offset}, {len} bytes");
            }
        }
    }

    #[tokio::test]
    async fn blobs_read_back_exactly_around_block_and_buffer_edges() {
        let shm = Path::new("/dev/shm");
        let roots = [
            Some(tempfile::tempdir().unwrap()),
            shm.is_dir().then(|| tempfile::tempdir_in(shm).unwrap()),
        ];
        for root in roots.iter().flatten() {
            let store = FsBlobStore::open(root.path()).unwrap();
            for size in [
                1,
                ALIGN - 1,
                ALIGN,
                ALIGN + 1,
                WRITE_BUF - 1,
                WRITE_BUF,
                WRITE_BUF + 1,
                3 * WRITE_BUF + 12_345,
            ] {
                let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
                let mut w = store.create().await.unwrap();
                // Uneven chunk boundaries, and a second chunk larger than the buffer.
                let (mut at, mut i) = (0, 0);
                while at < size {
                    let n = if i == 1 { 2 * WRITE_BUF + 5 } else { 7_919 + size % 13 }.min(size - at);
                    w.write(Bytes::copy_from_slice(&data[at..at + n])).await.unwrap();
                    (at, i) = (at + n, i + 1);
                }
                let id = w.finish().await.unwrap();
                let r = store.open(id).await.unwrap();
                let mut got = Vec::new();
                let mut s = r.stream(0, size as u64);
                while let Some(c) = s.next().await {
                    got.extend_from_slice(&c.unwrap());
                }
                let want = data;
                assert_eq!(got.len(), want.len(), "size {size} in {:?}", root.path());
                assert!(got == want, "size {size} in {:?}: bytes differ", root.path());
            }
        }
    }
}
