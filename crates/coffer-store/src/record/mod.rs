//! Versioned record encodings: every record stored in the metadata tables starts with the
//! format version it was written in, then its postcard encoding.
//!
//! A reader decodes the current version directly and migrates an older one in memory
//! (`decode` is where each older version's conversion goes). Format 0, from before records
//! carried a version, cannot be told apart record by record, so a data directory in format
//! 0 is rewritten once, whole, when it is opened (`v0::migrate`). The `format` table says
//! which format a data directory is in; `docs/format.md` describes every table and record
//! byte by byte, and `tests/format.rs` pins the bytes of each version.
//!
//! Format 1, 2 and 3 records are read as they are, in memory ([`Record::from_format_1`],
//! [`Record::from_format_2`], [`Record::from_format_3`]): moving a data directory from
//! format 1, 2 or 3 to 4 rewrites its users' rows (one user, several access keys:
//! [`v3::migrate_users`]) and its `format` row.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{StoreError, StoreResult};
use crate::meta::{Op, ReadTxn, Table};
use crate::model::CanonicalId;

pub mod v0;
pub mod v1;
pub mod v2;
pub mod v3;

/// The record format this release writes.
pub const FORMAT: u8 = 4;

/// A value stored as a record. Types whose encoding a later format changed read their
/// older bytes their own way; the others decode them as they are.
pub trait Record: DeserializeOwned {
    fn from_format_1(rest: &[u8]) -> postcard::Result<Self> {
        postcard::from_bytes(rest)
    }

    fn from_format_2(rest: &[u8]) -> postcard::Result<Self> {
        postcard::from_bytes(rest)
    }

    fn from_format_3(rest: &[u8]) -> postcard::Result<Self> {
        postcard::from_bytes(rest)
    }
}

/// The key of the one row of the `format` table.
pub const FORMAT_KEY: &[u8] = b"format";

/// Encodes `v` in the current format.
pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    postcard::to_extend(v, vec![FORMAT]).expect("records always serialize")
}

/// Decodes a record written in the current format or in format 1, 2 or 3.
pub fn decode<T: Record>(b: &[u8]) -> StoreResult<T> {
    let corrupt = |e: postcard::Error| StoreError::Corrupt(format!("record: {e}"));
    match b.split_first() {
        Some((&FORMAT, rest)) => postcard::from_bytes(rest).map_err(corrupt),
        Some((3, rest)) => T::from_format_3(rest).map_err(corrupt),
        Some((2, rest)) => T::from_format_2(rest).map_err(corrupt),
        Some((1, rest)) => T::from_format_1(rest).map_err(corrupt),
        Some((v, _)) => Err(StoreError::Corrupt(format!(
            "record in format {v}; this release reads format {FORMAT}"
        ))),
        None => Err(StoreError::Corrupt("empty record".into())),
    }
}

/// Decodes a value whose encoding has not changed since format 1: the settings, whose
/// types belong to the S3 areas that version them.
pub fn decode_value<T: DeserializeOwned>(b: &[u8]) -> StoreResult<T> {
    match b.split_first() {
        Some((1..=FORMAT, rest)) => {
            postcard::from_bytes(rest).map_err(|e| StoreError::Corrupt(format!("setting: {e}")))
        }
        Some((v, _)) => Err(StoreError::Corrupt(format!(
            "setting in format {v}; this release reads format {FORMAT}"
        ))),
        None => Err(StoreError::Corrupt("empty setting".into())),
    }
}

/// The format of the data directory behind `txn`: `None` for one with no `format` row
/// (new, or format 0).
pub fn stored_format(txn: &dyn ReadTxn) -> StoreResult<Option<u8>> {
    Ok(txn.get(Table::Format, FORMAT_KEY)?.and_then(|v| v.first().copied()))
}

/// The ops that bring a data directory to the current format, or `None` when it is there:
/// format 0 is rewritten whole; format 1, 2 and 3 records are read in memory, so only the
/// users' rows ([`v3::migrate_users`]) and the `format` row change. `root` is the id the
/// name `root` stood for in format 0.
pub fn upgrade(txn: &dyn ReadTxn, root: CanonicalId) -> StoreResult<Option<Vec<Op>>> {
    let format_row = Op::Put(Table::Format, FORMAT_KEY.to_vec(), vec![FORMAT]);
    match stored_format(txn)? {
        Some(FORMAT) => Ok(None),
        Some(f) if f > FORMAT => Err(StoreError::Corrupt(format!(
            "the data directory is in record format {f}, newer than this release's {FORMAT}"
        ))),
        Some(_) => v3::migrate_users(txn).map(|mut ops| {
            ops.push(format_row);
            Some(ops)
        }),
        None => v0::migrate(txn, root).map(|mut ops| {
            ops.push(format_row);
            Some(ops)
        }),
    }
}

macro_rules! unchanged_since_format_1 {
    ($($t:ty),*) => { $(impl Record for $t {})* };
}

unchanged_since_format_1!(
    crate::model::BucketRecord,
    crate::sse::KmsKeyRecord,
    String,
    u64,
    Vec<(String, String)>,
    Vec<crate::acl::Grant>
);

/// Users and their keys took their format-4 layout in one rewrite at upgrade
/// ([`v3::migrate_users`]), so no older bytes of a user row remain to read.
impl Record for crate::users::UserRecord {
    fn from_format_1(_: &[u8]) -> postcard::Result<Self> {
        Err(postcard::Error::DeserializeBadEncoding)
    }

    fn from_format_2(_: &[u8]) -> postcard::Result<Self> {
        Err(postcard::Error::DeserializeBadEncoding)
    }

    fn from_format_3(_: &[u8]) -> postcard::Result<Self> {
        Err(postcard::Error::DeserializeBadEncoding)
    }
}

/// A key row of format 1-3 is the whole user: read its key in memory.
impl Record for crate::users::AccessKeyRecord {
    fn from_format_1(rest: &[u8]) -> postcard::Result<Self> {
        v3::access_key(rest)
    }

    fn from_format_2(rest: &[u8]) -> postcard::Result<Self> {
        v3::access_key(rest)
    }

    fn from_format_3(rest: &[u8]) -> postcard::Result<Self> {
        v3::access_key(rest)
    }
}
