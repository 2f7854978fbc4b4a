//! Versioned record encodings: every record stored in the metadata tables starts with the
//! format version it was written in, then its postcard encoding.
//!
//! A reader decodes the current version directly and migrates an older one in memory
//! (`decode` is where each older version's conversion goes). Format 0, from before records
//! carried a version, cannot be told apart record by record, so a data directory in format
//! 0 is rewritten once, whole, when it is opened (`v0::migrate`). The `format` table says
//! which format a data directory is in; `docs/format.md` describes every table and record
//! byte by byte, and `tests/format.rs` pins the bytes of each version.

use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
use crate::meta::{ReadTxn, Table};

pub mod v0;

/// The record format this release writes.
pub const FORMAT: u8 = 1;

/// The key of the one row of the `format` table.
pub const FORMAT_KEY: &[u8] = b"format";

/// Encodes `v` in the current format.
pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    postcard::to_extend(v, vec![FORMAT]).expect("records always serialize")
}

/// Decodes a record written in the current format.
pub fn decode<'a, T: Deserialize<'a>>(b: &'a [u8]) -> StoreResult<T> {
    match b.split_first() {
        Some((&FORMAT, rest)) => postcard::from_bytes(rest).map_err(|e| StoreError::Corrupt(format!("record: {e}"))),
        Some((v, _)) => Err(StoreError::Corrupt(format!(
            "record in format {v}; this release reads format {FORMAT}"
        ))),
        None => Err(StoreError::Corrupt("empty record".into())),
    }
}

/// The format of the data directory behind `txn`: `None` for one with no `format` row
/// (new, or format 0).
pub fn stored_format(txn: &dyn ReadTxn) -> StoreResult<Option<u8>> {
    Ok(txn.get(Table::Format, FORMAT_KEY)?.and_then(|v| v.first().copied()))
}
