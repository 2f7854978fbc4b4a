//! Objects: staging a body, committing it, reading it back, deleting it.
//!
//! A PUT is two steps. `stage` drains the body: small bodies into memory, larger ones into
//! a blob made durable before `stage` returns. `put` then commits the record (and inline
//! bytes) in one metadata transaction that also checks the bucket and any precondition.
//! Between the two the caller can verify digests; dropping a `Staged` discards its blob.

use std::ops::Bound;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt, stream};

use crate::blob::{BlobId, BlobReader, BlobStore, BlobWriter, ByteStream};
use crate::error::{BoxError, StoreError, StoreResult};
use crate::meta::{Op, ReadTxn, Table};
use crate::model::{self, DataRef, ObjectMeta, ObjectRecord, PartRecord};
use crate::sse::{CustomerKey, Kek, Sse};
use crate::version::{self, Deleted};
use crate::{Store, now_ms};

/// A precondition a write must meet, checked atomically with the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutCondition {
    None,
    /// `If-None-Match: *`: only if no live object has the key.
    IfAbsent,
    /// `If-Match: *`: only if a live object has the key.
    IfExists,
    /// `If-Match: <etag>`: only if the live object has this ETag (unquoted).
    IfMatch(String),
    /// `If-None-Match: <etag>`: unless the live object has this ETag (unquoted).
    IfNoneMatch(String),
    /// Only if the version addressed is still this one (its sort key): a background delete
    /// of what it judged due must not hit a newer version written since.
    IsVersion(u128),
}

/// What a write sets on the version it makes, besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct NewVersion {
    pub meta: ObjectMeta,
    /// Object lock; with none, the bucket's default retention applies.
    pub retention: Option<crate::model::Retention>,
    pub legal_hold: bool,
    /// `None`: the bucket's owner.
    pub owner: Option<crate::model::CanonicalId>,
    /// `None`: the owner's FULL_CONTROL alone.
    pub acl: Option<Vec<crate::acl::Grant>>,
    /// Object tags (key, value).
    pub tags: Vec<(String, String)>,
    /// `x-amz-website-redirect-location`.
    pub website_redirect: Option<String>,
}

/// A body that has been read and stored but not yet committed.
pub struct Staged {
    pub size: u64,
    /// MD5 of the body as it arrived (what Content-MD5 is checked against).
    pub md5: [u8; 16],
    /// What its ETag is made of: the MD5, or for SSE-KMS and SSE-C a MAC of it
    /// ([`crate::sse::Sealing::etag`]).
    etag: [u8; 16],
    /// MD5 of the body when stored as it came; none (zeros) when encrypted: an MD5 of the
    /// ciphertext would cost a pass for nothing the CRC32C does not catch, and one of the
    /// plaintext would say something about it. CRC32C of the bytes as stored.
    pub(crate) stored_md5: [u8; 16],
    pub(crate) crc32c: u32,
    /// The encryption and sealed data key of an encrypted body.
    pub(crate) sse: Option<crate::sse::Sse>,
    data: StagedData,
    store: Store,
}

enum StagedData {
    Empty,
    Inline(Bytes),
    Blob(Option<BlobId>),
}

impl Staged {
    /// The 16 bytes whose hex is the ETag of what was staged.
    pub fn etag_md5(&self) -> [u8; 16] {
        self.etag
    }

    /// Where the staged bytes will live once committed; inline bytes are returned to be
    /// written with the record.
    pub(crate) fn take_data(&mut self) -> (DataRef, Option<Bytes>) {
        match &mut self.data {
            StagedData::Empty => (DataRef::Empty, None),
            StagedData::Inline(b) => (DataRef::Inline(rand::random()), Some(b.clone())),
            StagedData::Blob(id) => (DataRef::Blob(id.expect("staged blob")), None),
        }
    }

    /// The commit succeeded: the blob now belongs to a record.
    pub(crate) fn committed(&mut self) {
        if let StagedData::Blob(id) = &mut self.data {
            id.take();
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let StagedData::Blob(Some(id)) = self.data {
            let store = self.store.clone();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    if store.blobs.delete(id).await.is_ok() && store.shared() {
                        let _ = store.withdraw(id).await;
                    }
                });
            }
        }
    }
}

pub enum ObjectBody {
    Empty,
    Inline(Bytes),
    /// A blob, kept from being freed while this lives.
    Blob {
        reader: Box<dyn BlobReader>,
        pin: PinGuard,
    },
    /// A multipart object: its parts in order, kept from being freed while this lives.
    Parts {
        segments: Vec<Segment>,
        blobs: Arc<dyn BlobStore>,
        pin: PinGuard,
    },
}

/// One part of a multipart object as read.
pub struct Segment {
    pub size: u64,
    crc32c: u32,
    sse: Option<crate::sse::Sse>,
    src: SegmentSrc,
}

enum SegmentSrc {
    Inline(Bytes),
    Blob(BlobId),
}

/// A readable object: its record and its bytes, pinned when it was looked up. An
/// encrypted one streams only once [`Store::unlock`] has given it its key.
pub struct ObjectHandle {
    pub record: ObjectRecord,
    pub body: ObjectBody,
    kek: Option<Arc<Kek>>,
}

impl ObjectHandle {
    /// Streams `len` bytes from `offset`; the caller has checked the range.
    pub fn stream(self, offset: u64, len: u64) -> ByteStream {
        let (size, crc, sse, kek) = (self.record.size, self.record.crc32c, self.record.sse, self.kek);
        match self.body {
            ObjectBody::Empty => Box::pin(stream::empty()),
            ObjectBody::Inline(b) => {
                piece_stream(inline_reader(b), size, offset, len, None, sse.as_ref(), kek.as_deref())
            }
            ObjectBody::Blob { reader, pin } => {
                let s = piece_stream(
                    move |from, n| reader.stream(from, n),
                    size,
                    offset,
                    len,
                    crc,
                    sse.as_ref(),
                    kek.as_deref(),
                );
                // The pin lives as long as the stream.
                Box::pin(SyncStream(std::sync::Mutex::new(Box::pin(s.map(move |chunk| {
                    let _ = &pin;
                    chunk
                })))))
            }
            ObjectBody::Parts { segments, blobs, pin } => parts_stream(segments, blobs, pin, offset, len, kek),
        }
    }

    /// Byte offset and size of each part, for multipart objects.
    pub fn part_spans(&self) -> Vec<(u64, u64)> {
        let ObjectBody::Parts { segments, .. } = &self.body else {
            return Vec::new();
        };
        let mut off = 0;
        segments
            .iter()
            .map(|s| {
                let span = (off, s.size);
                off += s.size;
                span
            })
            .collect()
    }
}

/// Streams `len` bytes from `offset` of a piece of data of `size` bytes whose stored bytes
/// `read(from, n)` streams: decrypted (reading only the packages the range touches) when
/// it is encrypted, and checked against `crc` when its stored bytes are read whole.
fn piece_stream(
    read: impl FnOnce(u64, u64) -> ByteStream,
    size: u64,
    offset: u64,
    len: u64,
    crc: Option<u32>,
    sse: Option<&Sse>,
    kek: Option<&Kek>,
) -> ByteStream {
    let Some(sse) = sse else {
        let s = read(offset, len);
        return match crc {
            Some(crc) if offset == 0 && len == size => verified(s, crc, len),
            _ => s,
        };
    };
    let cipher = match kek.map(|k| k.cipher_of(Some(sse))) {
        Some(Ok(c)) => c,
        Some(Err(e)) => return failed(e.to_string()),
        None => return failed("encrypted data read without its key".into()),
    };
    let (first, from, n, skip) = crate::sse::stored_range(offset, len, size);
    let s = read(from, n);
    let s = match crc {
        Some(crc) if from == 0 && n == crate::sse::stored_len(size) => verified(s, crc, n),
        _ => s,
    };
    crate::sse::open_stream(s, cipher, first, size, skip, len)
}

/// Reads stored bytes held in memory, as `piece_stream` reads a blob.
fn inline_reader(b: Bytes) -> impl FnOnce(u64, u64) -> ByteStream {
    move |from, n| {
        let piece = b.slice(from as usize..(from + n) as usize);
        Box::pin(stream::once(async move { Ok(piece) }))
    }
}

fn failed(msg: String) -> ByteStream {
    Box::pin(stream::once(async move { Err(std::io::Error::other(msg)) }))
}

/// Streams a range across parts, opening each part's blob only when the range reaches it.
fn parts_stream(
    segments: Vec<Segment>,
    blobs: Arc<dyn BlobStore>,
    pin: PinGuard,
    offset: u64,
    len: u64,
    kek: Option<Arc<Kek>>,
) -> ByteStream {
    let mut pieces = Vec::new();
    let (mut start, end) = (offset, offset + len);
    let mut seg_start = 0;
    for seg in segments {
        let seg_end = seg_start + seg.size;
        if start < seg_end && seg_start < end {
            let (from, to) = (start - seg_start, end.min(seg_end) - seg_start);
            pieces.push((seg.src, seg.size, seg.sse, from, to - from, seg.crc32c));
            start = seg_end.min(end);
        }
        seg_start = seg_end;
    }
    let s = stream::iter(pieces)
        .then(move |(src, size, sse, from, n, crc)| {
            let (blobs, kek) = (blobs.clone(), kek.clone());
            async move {
                match src {
                    SegmentSrc::Inline(b) => {
                        piece_stream(inline_reader(b), size, from, n, None, sse.as_ref(), kek.as_deref())
                    }
                    SegmentSrc::Blob(id) => match blobs.open(id).await {
                        Ok(r) => piece_stream(
                            move |from, n| r.stream(from, n),
                            size,
                            from,
                            n,
                            Some(crc),
                            sse.as_ref(),
                            kek.as_deref(),
                        ),
                        Err(e) => failed(e.to_string()),
                    },
                }
            }
        })
        .flatten()
        // The pin lives as long as the stream.
        .map(move |item| {
            let _ = &pin;
            item
        });
    Box::pin(SyncStream(std::sync::Mutex::new(Box::pin(s))))
}

/// Checks a whole blob against the CRC32C recorded when it was written; on a mismatch the
/// stream ends in an error, so the response is cut short and the client sees a failed
/// read rather than a complete one with wrong bytes.
fn verified(inner: ByteStream, expect: u32, len: u64) -> ByteStream {
    let state = (
        inner,
        crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi),
        0u64,
        false,
    );
    Box::pin(stream::unfold(
        state,
        move |(mut inner, mut crc, mut seen, done)| async move {
            if done {
                return None;
            }
            match inner.next().await {
                Some(Ok(b)) => {
                    crc.update(&b);
                    seen += b.len() as u64;
                    if seen == len && crc.finalize() as u32 != expect {
                        tracing::error!("stored data failed its CRC32C check; refusing to complete the read");
                        let e = std::io::Error::new(std::io::ErrorKind::InvalidData, "stored data failed its checksum");
                        return Some((Err(e), (inner, crc, seen, true)));
                    }
                    Some((Ok(b), (inner, crc, seen, false)))
                }
                other => other.map(|r| (r, (inner, crc, seen, true))),
            }
        },
    ))
}

/// Makes a `Send` stream `Sync` (s3s bodies must be); polling takes `&mut`, so the mutex is
/// never contended.
struct SyncStream(std::sync::Mutex<std::pin::Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>>);

impl Stream for SyncStream {
    type Item = std::io::Result<Bytes>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        match self.0.get_mut() {
            Ok(s) => s.as_mut().poll_next(cx),
            Err(_) => std::task::Poll::Ready(None),
        }
    }
}

/// Readers of blobs and multipart objects, by blob or data id, and the blobs whose
/// deletion waits for them. Blob engines need not keep a deleted blob readable, so the
/// store does.
#[derive(Default)]
pub(crate) struct Pins(std::sync::Mutex<std::collections::HashMap<u128, (usize, Vec<BlobId>)>>);

pub struct PinGuard {
    id: u128,
    store: Store,
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        let deferred = {
            let mut map = self.store.pins.0.lock().unwrap_or_else(|e| e.into_inner());
            match map.get_mut(&self.id) {
                Some((n, _)) if *n > 1 => {
                    *n -= 1;
                    Vec::new()
                }
                _ => map.remove(&self.id).map(|(_, v)| v).unwrap_or_default(),
            }
        };
        if !deferred.is_empty()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let store = self.store.clone();
            rt.spawn(async move { store.delete_blobs(deferred).await });
        }
    }
}

/// What a commit no longer references and must free once durable.
#[derive(Default)]
pub(crate) struct Released {
    blobs: Vec<BlobId>,
    /// Blob and multipart data ids of what `blobs` holds: deferred while a reader pins one.
    pinnable: Vec<u128>,
}

/// Adds the ops that drop `data`'s rows and notes the blobs to free after the commit.
pub(crate) fn release(txn: &dyn ReadTxn, data: DataRef, ops: &mut Vec<Op>, out: &mut Released) -> StoreResult<()> {
    match data {
        DataRef::Empty => {}
        DataRef::Inline(id) => ops.push(Op::Delete(Table::Data, id.to_be_bytes().to_vec())),
        // Another gateway may be reading it: freed after a grace period (`shared.rs`).
        DataRef::Blob(id) if txn.shared() => ops.push(crate::shared::free_op(id)),
        DataRef::Blob(id) => {
            out.blobs.push(id);
            out.pinnable.push(id.0);
        }
        DataRef::Parts { id, .. } => {
            let from = id.to_be_bytes();
            let to = model::prefix_successor(&from);
            for (k, v) in txn.range(Table::ObjectParts, Bound::Included(&from), to.as_deref(), usize::MAX)? {
                let part: PartRecord = model::decode(&v)?;
                release(txn, part.data, ops, out)?;
                ops.push(Op::Delete(Table::ObjectParts, k));
            }
            out.pinnable.push(id);
        }
    }
    Ok(())
}

/// Where staged bytes go as stored: memory while they fit inline, then a blob.
struct Sink {
    crc: crc_fast::Digest,
    size: u64,
    buf: BytesMut,
    writer: Option<Box<dyn BlobWriter>>,
    inline_max: usize,
    store: Store,
    /// The blob's announcement on a shared store, until a `Staged` owns the blob.
    intent: Option<Intent>,
}

/// A blob's row in `intents`, withdrawn when dropped armed: a write that failed (a client
/// gone mid-body, a blob engine error) must not leave it for as long as the gateway lives.
struct Intent {
    store: Store,
    id: Option<BlobId>,
}

impl Drop for Intent {
    fn drop(&mut self) {
        if let (Some(id), Ok(rt)) = (self.id.take(), tokio::runtime::Handle::try_current()) {
            let store = self.store.clone();
            rt.spawn(async move {
                let _ = store.withdraw(id).await;
            });
        }
    }
}

impl Sink {
    async fn write(&mut self, chunk: Bytes) -> StoreResult<()> {
        self.crc.update(&chunk);
        self.size += chunk.len() as u64;
        if let Some(w) = self.writer.as_mut() {
            w.write(chunk).await?;
        } else if self.buf.len() + chunk.len() <= self.inline_max {
            self.buf.extend_from_slice(&chunk);
        } else {
            let mut w = self.store.blobs.create().await?;
            if self.store.shared() {
                self.store.announce(w.id()).await?;
                self.intent = Some(Intent {
                    store: self.store.clone(),
                    id: Some(w.id()),
                });
            }
            w.write(self.buf.split().freeze()).await?;
            w.write(chunk).await?;
            self.writer = Some(w);
        }
        Ok(())
    }
}

/// How many times a GET re-reads metadata when a concurrent overwrite deleted the blob it
/// was about to open.
const OPEN_RETRIES: usize = 5;

impl Store {
    /// Reads `body` to its end. `observe` sees every byte (for checksums the caller wants);
    /// `expected_len`, when known, must match what arrives.
    pub async fn stage<S, E>(
        &self,
        body: S,
        expected_len: Option<u64>,
        observe: &mut (dyn FnMut(&[u8]) + Send),
    ) -> StoreResult<Staged>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: Into<BoxError>,
    {
        self.stage_sealed(body, expected_len, observe, None).await
    }

    /// [`Store::stage`], encrypting what it stores under a fresh data key when `sealing`
    /// is given.
    pub async fn stage_sealed<S, E>(
        &self,
        body: S,
        expected_len: Option<u64>,
        observe: &mut (dyn FnMut(&[u8]) + Send),
        sealing: Option<&crate::sse::Sealing>,
    ) -> StoreResult<Staged>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: Into<BoxError>,
    {
        let mut body = std::pin::pin!(body);
        let mut md5 = crate::md5_lanes::BodyMd5::new(expected_len);
        let mut size = 0u64;
        let (sse, mut packager) = match sealing.map(|s| s.start()) {
            Some((sse, p)) => (Some(sse), Some(p)),
            None => (None, None),
        };
        let mut sink = Sink {
            crc: crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi),
            size: 0,
            buf: BytesMut::new(),
            writer: None,
            inline_max: self.inline_max,
            store: self.clone(),
            intent: None,
        };
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| StoreError::Body(e.into()))?;
            md5.update(&chunk).await;
            observe(&chunk);
            size += chunk.len() as u64;
            match packager.as_mut() {
                Some(p) => {
                    for pkg in p.push(&chunk) {
                        sink.write(pkg).await?;
                    }
                }
                None => sink.write(chunk).await?,
            }
        }
        if let Some(last) = packager.and_then(|p| p.finish()) {
            sink.write(last).await?;
        }
        if expected_len.is_some_and(|n| n != size) {
            return Err(StoreError::IncompleteBody);
        }
        let data = match sink.writer {
            Some(w) => StagedData::Blob(Some(w.finish().await?)),
            None if sink.size == 0 => StagedData::Empty,
            None => StagedData::Inline(sink.buf.freeze()),
        };
        let md5 = md5.finalize().await;
        if let Some(intent) = sink.intent.as_mut() {
            // From here the `Staged` withdraws it if dropped, the collector once committed.
            intent.id = None;
        }
        Ok(Staged {
            size,
            md5,
            etag: sealing.map_or(md5, |s| s.etag(md5)),
            stored_md5: if sealing.is_some() { [0; 16] } else { md5 },
            crc32c: sink.crc.finalize() as u32,
            sse,
            data,
            store: self.clone(),
        })
    }

    /// Commits a staged body as the new current version of `bucket/key`, under the bucket's
    /// versioning state. Replaced data is freed after the commit.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        mut staged: Staged,
        meta: ObjectMeta,
        cond: PutCondition,
    ) -> StoreResult<ObjectRecord> {
        let v = NewVersion {
            meta,
            ..NewVersion::default()
        };
        self.put_version(bucket, key, &mut staged, cond, v).await
    }

    /// [`Store::put_object`] with everything a write may set on the version besides its
    /// metadata; with no retention given, the bucket's default retention applies.
    pub async fn put_version(
        &self,
        bucket: &str,
        key: &str,
        staged: &mut Staged,
        cond: PutCondition,
        v: NewVersion,
    ) -> StoreResult<ObjectRecord> {
        let (data, inline) = staged.take_data();
        let rec = ObjectRecord {
            version_id: None,
            // Set by `version::install`, inside the transaction.
            sort: 0,
            delete_marker: false,
            size: staged.size,
            etag: hex::encode(staged.etag_md5()),
            md5: staged.stored_md5,
            crc32c: Some(staged.crc32c),
            last_modified_ms: now_ms(),
            data,
            meta: v.meta,
            retention: v.retention,
            legal_hold: v.legal_hold,
            owner: v.owner,
            acl: v.acl,
            tags: v.tags,
            website_redirect: v.website_redirect,
            sse: staged.sse.clone(),
        };
        let (bucket_s, key_s) = (bucket.to_owned(), key.to_owned());
        let (rec, released) = self
            .commit_counted(move |txn| {
                let b = version::bucket_record(txn, &bucket_s)?;
                let old = current(txn, &model::current_key(&bucket_s, &key_s))?;
                check_condition(old.as_ref(), &cond)?;
                let mut rec = rec.clone();
                if rec.retention.is_none() {
                    rec.retention = b.default_retention.as_ref().map(|d| d.from_now());
                }
                let mut ops = Vec::with_capacity(4);
                if let (DataRef::Inline(id), Some(bytes)) = (rec.data, &inline) {
                    ops.push(Op::Put(Table::Data, id.to_be_bytes().to_vec(), bytes.to_vec()));
                }
                let mut released = Released::default();
                version::install(
                    txn,
                    &b,
                    &bucket_s,
                    &key_s,
                    &mut rec,
                    old.as_ref(),
                    &mut ops,
                    &mut released,
                )?;
                Ok((ops, (rec, released)))
            })
            .await?;
        staged.committed();
        self.free(released).await;
        Ok(rec)
    }

    /// A version's record without its data: the current one, or `version_id`.
    pub fn head_object(&self, bucket: &str, key: &str, version_id: Option<&str>) -> StoreResult<ObjectRecord> {
        let txn = self.meta.read()?;
        version::lookup(&*txn, bucket, key, version_id)
    }

    /// A version's record and, for a multipart object, its parts' records in order (read
    /// together, so they agree): what GetObjectAttributes shows.
    pub fn object_with_parts(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> StoreResult<(ObjectRecord, Vec<PartRecord>)> {
        let txn = self.meta.read()?;
        let record = version::lookup(&*txn, bucket, key, version_id)?;
        let parts = match record.data {
            DataRef::Parts { id, .. } => {
                let from = id.to_be_bytes();
                let to = model::prefix_successor(&from);
                txn.range(Table::ObjectParts, Bound::Included(&from), to.as_deref(), usize::MAX)?
                    .iter()
                    .map(|(_, v)| model::decode(v))
                    .collect::<StoreResult<Vec<PartRecord>>>()?
            }
            _ => Vec::new(),
        };
        Ok((record, parts))
    }

    /// The current version and its bytes, pinned: a later overwrite does not change what
    /// this handle reads.
    pub async fn get_object(&self, bucket: &str, key: &str, version_id: Option<&str>) -> StoreResult<ObjectHandle> {
        for _ in 0..OPEN_RETRIES {
            // The record and, for a small object, its bytes in one read.
            let (record, inline) = {
                let txn = self.meta.read()?;
                let record = version::lookup(&*txn, bucket, key, version_id)?;
                let inline = match record.data {
                    DataRef::Inline(id) => Some(
                        txn.get(Table::Data, &id.to_be_bytes())?
                            .ok_or_else(|| StoreError::Corrupt(format!("inline data of {bucket}/{key} missing")))?,
                    ),
                    _ => None,
                };
                (record, inline)
            };
            let body = match record.data {
                DataRef::Empty => ObjectBody::Empty,
                DataRef::Inline(_) => ObjectBody::Inline(Bytes::from(inline.unwrap_or_default())),
                DataRef::Blob(id) => {
                    let pin = self.pin(id.0);
                    // Pinned before this read: if the record is still current now, no commit
                    // has freed the blob, and none will until the pin is dropped.
                    if version::lookup(&*self.meta.read()?, bucket, key, version_id)?.data != record.data {
                        continue;
                    }
                    match self.blobs.open(id).await {
                        Ok(reader) => ObjectBody::Blob { reader, pin },
                        // Freed before the pin: read again.
                        Err(StoreError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(e),
                    }
                }
                DataRef::Parts { id, .. } => {
                    let pin = self.pin(id);
                    // Pinned before this read: if the record is still current now, its
                    // blobs stay until the pin is dropped.
                    let txn = self.meta.read()?;
                    let now = version::lookup(&*txn, bucket, key, version_id)?;
                    if now.data != record.data {
                        continue;
                    }
                    let segments = parts_of(&*txn, id)?;
                    ObjectBody::Parts {
                        segments,
                        blobs: self.blobs.clone(),
                        pin,
                    }
                }
            };
            return Ok(ObjectHandle {
                record,
                body,
                kek: None,
            });
        }
        Err(StoreError::Corrupt(format!("data of {bucket}/{key} missing")))
    }

    /// DeleteObject: without a version id, removes the current version or adds a delete
    /// marker as the bucket's versioning state says; with one, removes that version for
    /// good. Deleting what does not exist succeeds, as in S3, unless `cond` (checked against the
    /// version to delete, in the same transaction) asks for it to exist.
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        bypass_governance: bool,
        cond: PutCondition,
    ) -> StoreResult<Deleted> {
        let (bucket, key, version_id) = (bucket.to_owned(), key.to_owned(), version_id.map(str::to_owned));
        let (deleted, released) = self
            .commit_counted(move |txn| {
                if cond != PutCondition::None {
                    let target = version::lookup(txn, &bucket, &key, version_id.as_deref())?;
                    check_condition(Some(&target), &cond)?;
                }
                let mut ops = Vec::new();
                let mut released = Released::default();
                let d = match &version_id {
                    None => {
                        let b = version::bucket_record(txn, &bucket)?;
                        version::delete_latest(txn, &b, &bucket, &key, &mut ops, &mut released)?
                    }
                    Some(v) => {
                        version::delete_version(txn, &bucket, &key, v, bypass_governance, &mut ops, &mut released)?
                    }
                };
                Ok((ops, (d, released)))
            })
            .await?;
        self.free(released).await;
        Ok(deleted)
    }

    /// Unlinks blobs a commit released; those of a multipart object being read wait for
    /// its last reader. A failure only leaves an orphan for the next sweep.
    pub(crate) async fn free(&self, released: Released) {
        let mut now = released.blobs;
        if !released.pinnable.is_empty() {
            let mut map = self.pins.0.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(id) = released.pinnable.iter().find(|id| map.contains_key(id)) {
                // Rare: the pinned reader's guard frees every blob of this commit.
                map.get_mut(id).expect("pinned").1.append(&mut now);
            }
        }
        self.delete_blobs(now).await;
    }

    pub(crate) async fn delete_blobs(&self, ids: Vec<BlobId>) {
        for id in ids {
            if let Err(e) = self.blobs.delete(id).await {
                tracing::warn!(error = %e, "could not free a blob; the next sweep will");
            }
        }
    }

    /// Gives an encrypted handle its key: the SSE-C key a read brought, checked against the
    /// version's; SSE-S3 and SSE-KMS keys are the store's (a disabled KMS key fails).
    pub fn unlock(&self, h: &mut ObjectHandle, customer: Option<&CustomerKey>) -> StoreResult<()> {
        h.kek = self
            .read_kek(h.record.sse.as_ref().map(|s| &s.mode), customer)?
            .map(Arc::new);
        Ok(())
    }

    /// Checks the SSE-C key a read brings against a version's encryption, without reading
    /// it (HeadObject, GetObjectAttributes): the server's own keys are not needed for that,
    /// so a disabled KMS key does not hide an object's metadata, as on AWS.
    pub fn check_read_key(&self, rec: &ObjectRecord, customer: Option<&CustomerKey>) -> StoreResult<()> {
        match (rec.sse.as_ref().map(|s| &s.mode), customer) {
            (Some(crate::sse::SseMode::Customer { .. }), _) => {
                self.read_kek(rec.sse.as_ref().map(|s| &s.mode), customer).map(|_| ())
            }
            (_, Some(_)) => Err(StoreError::SseNotCustomer),
            (_, None) => Ok(()),
        }
    }

    fn pin(&self, id: u128) -> PinGuard {
        let mut map = self.pins.0.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(id).or_default().0 += 1;
        PinGuard {
            id,
            store: self.clone(),
        }
    }
}

fn parts_of(txn: &dyn ReadTxn, id: u128) -> StoreResult<Vec<Segment>> {
    let from = id.to_be_bytes();
    let to = model::prefix_successor(&from);
    let mut out = Vec::new();
    for (_, v) in txn.range(Table::ObjectParts, Bound::Included(&from), to.as_deref(), usize::MAX)? {
        let part: PartRecord = model::decode(&v)?;
        let src = match part.data {
            DataRef::Blob(b) => SegmentSrc::Blob(b),
            DataRef::Inline(i) => SegmentSrc::Inline(Bytes::from(
                txn.get(Table::Data, &i.to_be_bytes())?
                    .ok_or_else(|| StoreError::Corrupt("inline part missing".into()))?,
            )),
            DataRef::Empty => SegmentSrc::Inline(Bytes::new()),
            DataRef::Parts { .. } => return Err(StoreError::Corrupt("nested parts".into())),
        };
        out.push(Segment {
            size: part.size,
            crc32c: part.crc32c,
            sse: part.sse,
            src,
        });
    }
    Ok(out)
}

pub(crate) fn current(txn: &dyn ReadTxn, ckey: &[u8]) -> StoreResult<Option<ObjectRecord>> {
    txn.get(Table::Current, ckey)?.map(|v| model::decode(&v)).transpose()
}

pub(crate) fn check_condition(old: Option<&ObjectRecord>, cond: &PutCondition) -> StoreResult<()> {
    match (cond, old) {
        (PutCondition::None, _) | (PutCondition::IfAbsent, None) => Ok(()),
        (PutCondition::IfAbsent, Some(_)) => Err(StoreError::PreconditionFailed),
        (PutCondition::IfExists | PutCondition::IfMatch(_), None) => Err(StoreError::NoSuchKey),
        (PutCondition::IfExists, Some(_)) => Ok(()),
        (PutCondition::IfMatch(etag), Some(o)) if *etag == o.etag => Ok(()),
        (PutCondition::IfMatch(_), Some(_)) => Err(StoreError::PreconditionFailed),
        (PutCondition::IfNoneMatch(etag), Some(o)) if *etag == o.etag => Err(StoreError::PreconditionFailed),
        (PutCondition::IfNoneMatch(_), _) => Ok(()),
        (PutCondition::IsVersion(sort), Some(o)) if *sort == o.sort => Ok(()),
        (PutCondition::IsVersion(_), _) => Err(StoreError::PreconditionFailed),
    }
}
