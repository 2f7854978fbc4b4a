//! Objects: staging a body, committing it, reading it back, deleting it.
//!
//! A PUT is two steps. `stage` drains the body: small bodies into memory, larger ones into
//! a blob made durable before `stage` returns. `put` then commits the record (and inline
//! bytes) in one metadata transaction that also checks the bucket and any precondition.
//! Between the two the caller can verify digests; dropping a `Staged` discards its blob.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt, stream};
use md5::{Digest, Md5};

use crate::blob::{BlobId, BlobReader, BlobStore, BlobWriter, ByteStream};
use crate::error::{BoxError, StoreError, StoreResult};
use crate::meta::{Op, ReadTxn, Table};
use crate::model::{self, DataRef, ObjectMeta, ObjectRecord};
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
}

/// A body that has been read and stored but not yet committed.
pub struct Staged {
    pub size: u64,
    pub md5: [u8; 16],
    data: StagedData,
    blobs: Arc<dyn BlobStore>,
}

enum StagedData {
    Empty,
    Inline(Bytes),
    Blob(Option<BlobId>),
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let StagedData::Blob(Some(id)) = self.data {
            let blobs = self.blobs.clone();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move { blobs.delete(id).await });
            }
        }
    }
}

pub enum ObjectBody {
    Empty,
    Inline(Bytes),
    Blob(Box<dyn BlobReader>),
}

/// A readable object: its record and its bytes, pinned when it was looked up.
pub struct ObjectHandle {
    pub record: ObjectRecord,
    pub body: ObjectBody,
}

impl ObjectHandle {
    /// Streams `len` bytes from `offset`; the caller has checked the range.
    pub fn stream(self, offset: u64, len: u64) -> ByteStream {
        match self.body {
            ObjectBody::Empty => Box::pin(stream::empty()),
            ObjectBody::Inline(b) => {
                let (start, end) = (offset as usize, (offset + len) as usize);
                Box::pin(stream::once(async move { Ok(b.slice(start..end)) }))
            }
            ObjectBody::Blob(r) => r.stream(offset, len),
        }
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
        let mut body = std::pin::pin!(body);
        let mut md5 = Md5::new();
        let mut size = 0u64;
        let mut buf = BytesMut::new();
        let mut writer: Option<Box<dyn BlobWriter>> = None;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| StoreError::Body(e.into()))?;
            md5.update(&chunk);
            observe(&chunk);
            size += chunk.len() as u64;
            if let Some(w) = writer.as_mut() {
                w.write(chunk).await?;
            } else if buf.len() + chunk.len() <= self.inline_max {
                buf.extend_from_slice(&chunk);
            } else {
                let mut w = self.blobs.create().await?;
                w.write(buf.split().freeze()).await?;
                w.write(chunk).await?;
                writer = Some(w);
            }
        }
        if expected_len.is_some_and(|n| n != size) {
            return Err(StoreError::IncompleteBody);
        }
        let data = match writer {
            Some(w) => StagedData::Blob(Some(w.finish().await?)),
            None if size == 0 => StagedData::Empty,
            None => StagedData::Inline(buf.freeze()),
        };
        Ok(Staged {
            size,
            md5: md5.finalize().into(),
            data,
            blobs: self.blobs.clone(),
        })
    }

    /// Commits a staged body as the current version of `bucket/key`. Replaced data is freed
    /// after the commit.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        mut staged: Staged,
        meta: ObjectMeta,
        cond: PutCondition,
    ) -> StoreResult<ObjectRecord> {
        let (data, inline) = match &mut staged.data {
            StagedData::Empty => (DataRef::Empty, None),
            StagedData::Inline(b) => (DataRef::Inline(rand::random()), Some(b.clone())),
            StagedData::Blob(id) => (DataRef::Blob(id.expect("staged blob")), None),
        };
        let record = ObjectRecord {
            version_id: None,
            delete_marker: false,
            size: staged.size,
            etag: hex::encode(staged.md5),
            md5: staged.md5,
            last_modified_ms: now_ms(),
            data,
            meta,
        };
        let ckey = model::current_key(bucket, key);
        let bkey = bucket.as_bytes().to_vec();
        let rec = record.clone();
        let old = self
            .meta
            .commit(move |txn| {
                if txn.get(Table::Buckets, &bkey)?.is_none() {
                    return Err(StoreError::NoSuchBucket);
                }
                let old = current(txn, &ckey)?;
                check_condition(old.as_ref(), &cond)?;
                let mut ops = Vec::with_capacity(3);
                if let (DataRef::Inline(id), Some(bytes)) = (rec.data, inline) {
                    ops.push(Op::Put(Table::Data, id.to_be_bytes().to_vec(), bytes.to_vec()));
                }
                if let Some(DataRef::Inline(id)) = old.as_ref().map(|o| o.data) {
                    ops.push(Op::Delete(Table::Data, id.to_be_bytes().to_vec()));
                }
                ops.push(Op::Put(Table::Current, ckey, model::encode(&rec)));
                Ok((ops, old))
            })
            .await?;
        // Committed: the blob now belongs to the record.
        if let StagedData::Blob(id) = &mut staged.data {
            id.take();
        }
        self.free(old).await;
        Ok(record)
    }

    /// The current version's record, without its data.
    pub fn head_object(&self, bucket: &str, key: &str) -> StoreResult<ObjectRecord> {
        let txn = self.meta.read()?;
        lookup(&*txn, bucket, key)
    }

    /// The current version and its bytes, pinned: a later overwrite does not change what
    /// this handle reads.
    pub async fn get_object(&self, bucket: &str, key: &str) -> StoreResult<ObjectHandle> {
        for _ in 0..OPEN_RETRIES {
            let (record, body) = {
                let txn = self.meta.read()?;
                let record = lookup(&*txn, bucket, key)?;
                let body = match record.data {
                    DataRef::Empty => ObjectBody::Empty,
                    DataRef::Inline(id) => {
                        let bytes = txn
                            .get(Table::Data, &id.to_be_bytes())?
                            .ok_or_else(|| StoreError::Corrupt(format!("inline data of {bucket}/{key} missing")))?;
                        ObjectBody::Inline(Bytes::from(bytes))
                    }
                    DataRef::Blob(_) => ObjectBody::Empty,
                };
                (record, body)
            };
            let body = match record.data {
                DataRef::Blob(id) => match self.blobs.open(id).await {
                    Ok(r) => ObjectBody::Blob(r),
                    // Overwritten and freed since we read the record: read again.
                    Err(StoreError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                },
                _ => body,
            };
            return Ok(ObjectHandle { record, body });
        }
        Err(StoreError::Corrupt(format!("blob of {bucket}/{key} missing")))
    }

    /// Deletes the current version. Deleting a key that does not exist succeeds, as in S3.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> StoreResult<()> {
        let ckey = model::current_key(bucket, key);
        let bkey = bucket.as_bytes().to_vec();
        let old = self
            .meta
            .commit(move |txn| {
                if txn.get(Table::Buckets, &bkey)?.is_none() {
                    return Err(StoreError::NoSuchBucket);
                }
                let old = current(txn, &ckey)?;
                let mut ops = Vec::new();
                if let Some(o) = &old {
                    if let DataRef::Inline(id) = o.data {
                        ops.push(Op::Delete(Table::Data, id.to_be_bytes().to_vec()));
                    }
                    ops.push(Op::Delete(Table::Current, ckey));
                }
                Ok((ops, old))
            })
            .await?;
        self.free(old).await;
        Ok(())
    }

    /// Unlinks the blob of a record no longer referenced. A failure only leaves an orphan
    /// for the next sweep.
    async fn free(&self, old: Option<ObjectRecord>) {
        if let Some(ObjectRecord {
            data: DataRef::Blob(id),
            ..
        }) = old
            && let Err(e) = self.blobs.delete(id).await
        {
            tracing::warn!(error = %e, "could not free a replaced blob; the next sweep will");
        }
    }
}

fn current(txn: &dyn ReadTxn, ckey: &[u8]) -> StoreResult<Option<ObjectRecord>> {
    txn.get(Table::Current, ckey)?.map(|v| model::decode(&v)).transpose()
}

fn lookup(txn: &dyn ReadTxn, bucket: &str, key: &str) -> StoreResult<ObjectRecord> {
    match current(txn, &model::current_key(bucket, key))? {
        Some(r) => Ok(r),
        None if txn.get(Table::Buckets, bucket.as_bytes())?.is_none() => Err(StoreError::NoSuchBucket),
        None => Err(StoreError::NoSuchKey),
    }
}

fn check_condition(old: Option<&ObjectRecord>, cond: &PutCondition) -> StoreResult<()> {
    match (cond, old) {
        (PutCondition::None, _) | (PutCondition::IfAbsent, None) => Ok(()),
        (PutCondition::IfAbsent, Some(_)) => Err(StoreError::PreconditionFailed),
        (PutCondition::IfExists | PutCondition::IfMatch(_), None) => Err(StoreError::NoSuchKey),
        (PutCondition::IfExists, Some(_)) => Ok(()),
        (PutCondition::IfMatch(etag), Some(o)) if *etag == o.etag => Ok(()),
        (PutCondition::IfMatch(_), Some(_)) => Err(StoreError::PreconditionFailed),
    }
}
