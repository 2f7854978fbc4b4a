//! Format 0: records as the first releases wrote them, with no version byte, and owners
//! named by user name. A data directory in format 0 is rewritten to the current format in
//! one commit when it is opened.
//!
//! Nested types (`ObjectMeta`, `DataRef`, `Retention`, ...) are the current ones: they have
//! not changed since format 0. One that changes must first be copied here as it was.

use std::collections::HashMap;
use std::ops::Bound;

use serde::Deserialize;

use crate::checksum::{ChecksumAlgorithm, ChecksumType};
use crate::error::{StoreError, StoreResult};
use crate::meta::{Op, ReadTxn, Table};
use crate::model::{
    BucketRecord, CanonicalId, DataRef, DefaultRetention, LockMode, ObjectMeta, ObjectRecord, Retention, UploadRecord,
    Versioning,
};

/// The owner name format 0 gave the server's root user.
const ROOT_NAME: &str = "root";

#[derive(Debug, Deserialize)]
pub struct BucketRecordV0 {
    pub owner: String,
    pub created_ms: i64,
    pub versioning: Versioning,
    pub object_lock: bool,
    pub default_retention: Option<DefaultRetentionV0>,
}

/// Lock modes were S3's names then.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DefaultRetentionV0 {
    pub mode: String,
    pub days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RetentionV0 {
    pub mode: String,
    pub until_ms: i64,
}

fn mode(s: &str) -> StoreResult<LockMode> {
    LockMode::parse(s).ok_or_else(|| StoreError::Corrupt(format!("format 0 lock mode {s:?}")))
}

impl DefaultRetentionV0 {
    pub fn upgrade(self) -> StoreResult<DefaultRetention> {
        Ok(DefaultRetention {
            mode: mode(&self.mode)?,
            days: self.days,
        })
    }
}

impl RetentionV0 {
    pub fn upgrade(self) -> StoreResult<Retention> {
        Ok(Retention {
            mode: mode(&self.mode)?,
            until_ms: self.until_ms,
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct ObjectRecordV0 {
    pub version_id: Option<String>,
    pub sort: u128,
    pub delete_marker: bool,
    pub size: u64,
    pub etag: String,
    pub md5: [u8; 16],
    pub crc32c: Option<u32>,
    pub last_modified_ms: i64,
    pub data: DataRef,
    pub meta: ObjectMeta,
    pub retention: Option<RetentionV0>,
    pub legal_hold: bool,
}

#[derive(Debug, Deserialize)]
pub struct UploadRecordV0 {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub owner: String,
    pub initiated_ms: i64,
    pub meta: ObjectMeta,
    /// Strings then; the enums decode the same bytes.
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub checksum_type: Option<ChecksumType>,
}

#[derive(Debug, Deserialize)]
pub struct UserRecordV0 {
    pub name: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub canonical_user_id: String,
    pub created_ms: i64,
}

/// Parts are format 2's but for the version byte.
pub type PartRecordV0 = super::v2::PartRecordV2;

pub fn decode<'a, T: Deserialize<'a>>(b: &'a [u8]) -> StoreResult<T> {
    postcard::from_bytes(b).map_err(|e| StoreError::Corrupt(format!("format 0 record: {e}")))
}

impl ObjectRecordV0 {
    /// Objects were their bucket's owner's: `owner: None` says so.
    pub fn upgrade(self) -> StoreResult<ObjectRecord> {
        Ok(ObjectRecord {
            version_id: self.version_id,
            sort: self.sort,
            delete_marker: self.delete_marker,
            size: self.size,
            etag: self.etag,
            md5: self.md5,
            crc32c: self.crc32c,
            last_modified_ms: self.last_modified_ms,
            data: self.data,
            meta: self.meta,
            retention: self.retention.map(RetentionV0::upgrade).transpose()?,
            legal_hold: self.legal_hold,
            owner: None,
            acl: None,
            tags: Vec::new(),
            website_redirect: None,
            sse: None,
        })
    }
}

/// The ops that rewrite a format-0 data directory in the current format (the caller adds
/// the `format` row). `root` is the id the name `root` stood for. A name with no user left
/// (a removed user's buckets) gets a fresh id that no user has: only root reaches those
/// buckets, and a later user of the same name does not inherit them.
pub fn migrate(txn: &dyn ReadTxn, root: CanonicalId) -> StoreResult<Vec<Op>> {
    let mut ops = Vec::new();
    let mut ids: HashMap<String, CanonicalId> = HashMap::from([(ROOT_NAME.to_owned(), root)]);

    let mut users = Vec::new();
    for (_, v) in all(txn, Table::Users)? {
        let u: UserRecordV0 = decode(&v)?;
        let id = CanonicalId::parse(&u.canonical_user_id).unwrap_or_else(CanonicalId::random);
        ids.insert(u.name.clone(), id);
        users.push(super::v3::UserRecordV3 {
            name: u.name,
            access_key_id: u.access_key_id,
            secret_access_key: u.secret_access_key,
            canonical_user_id: id,
            created_ms: u.created_ms,
        });
    }
    ops.extend(super::v3::users_ops(users));
    let mut id_of = |name: String| *ids.entry(name).or_insert_with(CanonicalId::random);

    for (k, v) in all(txn, Table::Buckets)? {
        let b: BucketRecordV0 = decode(&v)?;
        let rec = BucketRecord {
            owner: id_of(b.owner),
            created_ms: b.created_ms,
            versioning: b.versioning,
            object_lock: b.object_lock,
            default_retention: b.default_retention.map(DefaultRetentionV0::upgrade).transpose()?,
        };
        ops.push(Op::Put(Table::Buckets, k, super::encode(&rec)));
    }
    for table in [Table::Current, Table::Versions] {
        for (k, v) in all(txn, table)? {
            let rec = decode::<ObjectRecordV0>(&v)?.upgrade()?;
            ops.push(Op::Put(table, k, super::encode(&rec)));
        }
    }
    for (k, v) in all(txn, Table::Uploads)? {
        let u: UploadRecordV0 = decode(&v)?;
        let rec = UploadRecord {
            bucket: u.bucket,
            key: u.key,
            upload_id: u.upload_id,
            owner: id_of(u.owner),
            initiated_ms: u.initiated_ms,
            meta: u.meta,
            checksum_algorithm: u.checksum_algorithm,
            checksum_type: u.checksum_type,
            object_owner: None,
            acl: None,
            tags: Vec::new(),
            website_redirect: None,
            sse: None,
        };
        ops.push(Op::Put(Table::Uploads, k, super::encode(&rec)));
    }
    for table in [Table::Parts, Table::ObjectParts] {
        for (k, v) in all(txn, table)? {
            let p: PartRecordV0 = decode(&v)?;
            ops.push(Op::Put(table, k, super::encode(&p.upgrade())));
        }
    }
    Ok(ops)
}

fn all(txn: &dyn ReadTxn, table: Table) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
    txn.range(table, Bound::Unbounded, None, usize::MAX)
}
