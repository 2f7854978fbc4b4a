//! Object data too large to inline: blobs, written durably before any metadata points at
//! them.
//!
//! `BlobStore` is the seam between the object model and an engine: `fs` (files under the
//! data directory, the default), `mem` (for tests) and `rados` (a Ceph pool, feature
//! `rados`). What an engine must guarantee:
//!
//! - `finish` returns only once the blob is durable under its id; a blob never finished
//!   is never listed, and its bytes go when its writer is dropped.
//! - `open` of a deleted blob is an error of kind `NotFound`. An engine need not keep a
//!   deleted blob readable for a reader that opened it before (POSIX files do, objects in
//!   RADOS do not): the store pins the blobs its readers use, and deletes a pinned blob only
//!   after its last reader is done.
//! - `list` returns every blob with data stored, finished or not (a crashed writer's
//!   leftovers too), for the orphan sweep, which `delete` of the same id clears.

use std::io;

use bytes::Bytes;

use crate::error::StoreResult;

mod fs;
mod mem;
#[cfg(feature = "rados")]
mod rados;

pub(crate) use fs::sync_dir;
pub use fs::{FsBlobStore, create_dir_all_durable, private_dir};
pub use mem::MemBlobStore;
#[cfg(feature = "rados")]
pub use rados::RadosBlobStore;

/// A blob's name: random, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct BlobId(pub u128);

impl BlobId {
    pub fn random() -> Self {
        BlobId(rand::random())
    }

    pub(crate) fn hex(self) -> String {
        format!("{:032x}", self.0)
    }
}

pub type ByteStream = std::pin::Pin<Box<dyn futures::Stream<Item = io::Result<Bytes>> + Send + Sync>>;

#[async_trait::async_trait]
pub trait BlobWriter: Send {
    /// The id the blob will have, chosen when the writer is made (so a shared store can
    /// announce it before the first byte is written).
    fn id(&self) -> BlobId;
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
    /// Opens a blob for reading (`NotFound` if it was deleted).
    async fn open(&self, id: BlobId) -> StoreResult<Box<dyn BlobReader>>;
    async fn delete(&self, id: BlobId) -> StoreResult<()>;
    /// Every blob with data stored, finished or not, for the orphan sweep.
    async fn list(&self) -> StoreResult<Vec<BlobId>>;
}
