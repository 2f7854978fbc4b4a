//! Scrub: re-reads every stored byte and checks it against the MD5 recorded when it was
//! written (for encrypted data, the CRC32C of its stored bytes), to find bit rot before a
//! client does. Scrubbing needs no key.

use std::ops::Bound;

use futures::StreamExt;
use md5::{Digest as _, Md5};

use crate::Store;
use crate::blob::BlobId;
use crate::error::{StoreError, StoreResult};
use crate::meta::{ReadTxn, Table};
use crate::model::{self, DataRef, ObjectRecord, PartRecord};

/// Records read per metadata snapshot: bounds memory on large stores.
const BATCH: usize = 1000;

/// One object (or stored version) whose bytes do not match their checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// `bucket/key`; a non-current version adds ` (version …)`.
    pub object: String,
    pub detail: String,
}

#[derive(Debug, Default)]
pub struct ScrubReport {
    pub objects: u64,
    pub bytes: u64,
    pub corrupt: Vec<Corruption>,
}

/// Where a piece of an object lives and the digest it must have.
struct Piece {
    data: DataRef,
    size: u64,
    digest: Digest,
    label: String,
}

/// What a piece's stored bytes are checked against.
#[derive(Clone, Copy)]
enum Digest {
    Md5([u8; 16]),
    /// Encrypted data keeps no MD5; the CRC32C of its stored bytes.
    Crc32c(u32),
}

impl Digest {
    fn of(md5: [u8; 16], crc32c: Option<u32>, encrypted: bool) -> Self {
        match (encrypted, crc32c) {
            (true, Some(crc)) => Digest::Crc32c(crc),
            _ => Digest::Md5(md5),
        }
    }
}

/// Hashes the stored bytes a piece's digest needs.
enum Hasher {
    Md5(Md5),
    Crc32c(Box<crc_fast::Digest>),
}

impl Hasher {
    fn new(d: Digest) -> Self {
        match d {
            Digest::Md5(_) => Hasher::Md5(Md5::new()),
            Digest::Crc32c(_) => Hasher::Crc32c(Box::new(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi))),
        }
    }

    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Md5(m) => m.update(b),
            Hasher::Crc32c(c) => c.update(b),
        }
    }

    /// `Err` says how the result differs from `want`.
    fn check(self, want: Digest) -> Result<(), String> {
        match (self, want) {
            (Hasher::Md5(m), Digest::Md5(want)) => {
                let got: [u8; 16] = m.finalize().into();
                (got == want)
                    .then_some(())
                    .ok_or_else(|| format!("MD5 {} does not match {}", hex::encode(got), hex::encode(want)))
            }
            (Hasher::Crc32c(c), Digest::Crc32c(want)) => {
                let got = c.finalize() as u32;
                (got == want)
                    .then_some(())
                    .ok_or_else(|| format!("CRC32C {got:08x} does not match {want:08x}"))
            }
            _ => Err("digest kinds differ".into()),
        }
    }
}

impl Store {
    /// Verifies every object's bytes (each part's, for multipart objects) against the
    /// stored MD5. Meant for a store no server is writing to.
    pub async fn scrub(&self) -> StoreResult<ScrubReport> {
        let mut report = ScrubReport::default();
        for table in [Table::Current, Table::Versions] {
            let mut after: Option<Vec<u8>> = None;
            loop {
                let rows = {
                    let txn = self.meta.read()?;
                    let from = after.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
                    let rows = txn.range(table, from, None, BATCH)?;
                    let mut out = Vec::with_capacity(rows.len());
                    for (k, v) in &rows {
                        let name = object_name(table, k);
                        match model::decode::<ObjectRecord>(v) {
                            Ok(rec) => out.push((name, pieces(&*txn, &rec)?)),
                            Err(e) => report.corrupt.push(Corruption {
                                object: name,
                                detail: e.to_string(),
                            }),
                        }
                    }
                    after = rows.last().map(|(k, _)| k.clone());
                    out
                };
                if after.is_none() {
                    break;
                }
                for (name, pieces) in rows {
                    report.objects += 1;
                    let pieces = match pieces {
                        Ok(p) => p,
                        Err(detail) => {
                            report.corrupt.push(Corruption { object: name, detail });
                            continue;
                        }
                    };
                    for p in pieces {
                        report.bytes += p.size;
                        if let Err(detail) = self.verify(&p).await {
                            report.corrupt.push(Corruption {
                                object: name.clone(),
                                detail: format!("{}: {detail}", p.label),
                            });
                        }
                    }
                }
            }
        }
        Ok(report)
    }

    /// Reads one piece and compares its size and digest; `Err` says what is wrong.
    async fn verify(&self, p: &Piece) -> Result<(), String> {
        let mut md5 = Hasher::new(p.digest);
        let mut size = 0u64;
        match p.data {
            DataRef::Empty => {}
            DataRef::Inline(id) => {
                let txn = self.meta.read().map_err(|e| e.to_string())?;
                let bytes = txn
                    .get(Table::Data, &id.to_be_bytes())
                    .map_err(|e| e.to_string())?
                    .ok_or("inline data missing")?;
                md5.update(&bytes);
                size = bytes.len() as u64;
            }
            DataRef::Blob(id) => self.hash_blob(id, p.size, &mut md5, &mut size).await?,
            DataRef::Parts { .. } => return Err("nested parts".into()),
        }
        if size != p.size {
            return Err(format!("{size} bytes stored, {} recorded", p.size));
        }
        md5.check(p.digest)
    }

    async fn hash_blob(&self, id: BlobId, len: u64, md5: &mut Hasher, size: &mut u64) -> Result<(), String> {
        let reader = self.blobs.open(id).await.map_err(|e| match e {
            StoreError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => "blob file missing".to_owned(),
            e => e.to_string(),
        })?;
        // A blob shorter than recorded fails the read; the MD5 catches any changed byte.
        let mut s = reader.stream(0, len);
        while let Some(chunk) = s.next().await {
            let chunk = chunk.map_err(|e| format!("blob read: {e}"))?;
            md5.update(&chunk);
            *size += chunk.len() as u64;
        }
        Ok(())
    }
}

/// The pieces of an object: itself, or each part of a multipart object. The inner `Err`
/// is a corruption found in the metadata itself.
fn pieces(txn: &dyn ReadTxn, rec: &ObjectRecord) -> StoreResult<Result<Vec<Piece>, String>> {
    if rec.delete_marker {
        return Ok(Ok(Vec::new()));
    }
    let DataRef::Parts { id, count } = rec.data else {
        return Ok(Ok(vec![Piece {
            data: rec.data,
            size: stored_size(rec.size, rec.sse.is_some()),
            digest: Digest::of(rec.md5, rec.crc32c, rec.sse.is_some()),
            label: "body".into(),
        }]));
    };
    let from = id.to_be_bytes();
    let to = model::prefix_successor(&from);
    let rows = txn.range(Table::ObjectParts, Bound::Included(&from), to.as_deref(), usize::MAX)?;
    if rows.len() != count as usize {
        return Ok(Err(format!("{} part records, {count} expected", rows.len())));
    }
    let mut out = Vec::with_capacity(rows.len());
    for (_, v) in rows {
        match model::decode::<PartRecord>(&v) {
            Ok(p) => out.push(Piece {
                data: p.data,
                size: stored_size(p.size, p.sse.is_some()),
                digest: Digest::of(p.md5, Some(p.crc32c), p.sse.is_some()),
                label: format!("part {}", p.part_number),
            }),
            Err(e) => return Ok(Err(e.to_string())),
        }
    }
    Ok(Ok(out))
}

/// The bytes stored for `size` bytes of content: more when encrypted (each package's tag).
fn stored_size(size: u64, encrypted: bool) -> u64 {
    if encrypted { crate::sse::stored_len(size) } else { size }
}

/// `bucket/key` from a `Current` row (`bucket \0 key`); other tables' rows are shown as
/// their bucket and the rest of the row, printable.
fn object_name(table: Table, row: &[u8]) -> String {
    let (bucket, rest) = match row.iter().position(|&b| b == 0) {
        Some(i) => (&row[..i], &row[i + 1..]),
        None => (row, &[][..]),
    };
    let bucket = String::from_utf8_lossy(bucket);
    match table {
        Table::Current => format!("{bucket}/{}", String::from_utf8_lossy(rest)),
        _ => format!(
            "{bucket}/{} (non-current version)",
            String::from_utf8_lossy(rest).escape_debug()
        ),
    }
}
