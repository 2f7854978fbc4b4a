//! An in-memory blob engine, for tests. A deleted blob is gone at once, even for a reader
//! that opened it before (what RADOS does, and the store must cope with).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};

use super::{BlobId, BlobReader, BlobStore, BlobWriter, ByteStream};
use crate::error::StoreResult;

type Blobs = Arc<Mutex<HashMap<BlobId, Bytes>>>;

#[derive(Default)]
pub struct MemBlobStore {
    blobs: Blobs,
}

impl MemBlobStore {
    pub fn new() -> Self {
        Self::default()
    }
}

fn lock(b: &Blobs) -> std::sync::MutexGuard<'_, HashMap<BlobId, Bytes>> {
    b.lock().unwrap_or_else(|e| e.into_inner())
}

struct MemWriter {
    blobs: Blobs,
    id: BlobId,
    buf: BytesMut,
}

#[async_trait::async_trait]
impl BlobWriter for MemWriter {
    fn id(&self) -> BlobId {
        self.id
    }

    async fn write(&mut self, chunk: Bytes) -> StoreResult<()> {
        self.buf.extend_from_slice(&chunk);
        Ok(())
    }

    async fn finish(self: Box<Self>) -> StoreResult<BlobId> {
        lock(&self.blobs).insert(self.id, self.buf.freeze());
        Ok(self.id)
    }
}

/// Reads from the store at each chunk, so a blob deleted mid-read fails the read.
struct MemReader {
    blobs: Blobs,
    id: BlobId,
}

const CHUNK: usize = 64 << 10;

#[async_trait::async_trait]
impl BlobReader for MemReader {
    fn stream(self: Box<Self>, offset: u64, len: u64) -> ByteStream {
        let (blobs, id) = (self.blobs, self.id);
        let end = offset + len;
        Box::pin(futures::stream::unfold(offset, move |at| {
            let blobs = blobs.clone();
            async move {
                if at >= end {
                    return None;
                }
                let item = match lock(&blobs).get(&id) {
                    Some(b) if end as usize <= b.len() => {
                        let to = end.min(at + CHUNK as u64);
                        Ok(b.slice(at as usize..to as usize))
                    }
                    Some(_) => Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "blob shorter than asked",
                    )),
                    None => Err(std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "blob deleted while read",
                    )),
                };
                let next = item.as_ref().map_or(end, |c| at + c.len() as u64);
                Some((item, next))
            }
        }))
    }
}

#[async_trait::async_trait]
impl BlobStore for MemBlobStore {
    async fn create(&self) -> StoreResult<Box<dyn BlobWriter>> {
        Ok(Box::new(MemWriter {
            blobs: self.blobs.clone(),
            id: BlobId::random(),
            buf: BytesMut::new(),
        }))
    }

    async fn open(&self, id: BlobId) -> StoreResult<Box<dyn BlobReader>> {
        if !lock(&self.blobs).contains_key(&id) {
            return Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no such blob").into());
        }
        Ok(Box::new(MemReader {
            blobs: self.blobs.clone(),
            id,
        }))
    }

    async fn delete(&self, id: BlobId) -> StoreResult<()> {
        lock(&self.blobs).remove(&id);
        Ok(())
    }

    async fn list(&self) -> StoreResult<Vec<BlobId>> {
        Ok(lock(&self.blobs).keys().copied().collect())
    }
}
