//! Bucket settings (ACL, policy, CORS, lifecycle, ...): one row per bucket and kind in
//! their own table, behind one generic get/put/delete. The bucket record, which every
//! PUT and DELETE reads in its transaction, stays small; versioning and object lock stay
//! in it because those very transactions need them.

use std::ops::Bound;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Store;
use crate::error::{StoreError, StoreResult};
use crate::meta::{Op, ReadTxn, Table};
use crate::model;

/// The kinds of bucket setting. The name is part of the row key: never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SettingKind {
    Acl,
    Policy,
    Cors,
    Lifecycle,
    Website,
    Encryption,
    Tagging,
    Ownership,
    PublicAccessBlock,
    Notification,
}

impl SettingKind {
    pub const ALL: [SettingKind; 10] = [
        SettingKind::Acl,
        SettingKind::Policy,
        SettingKind::Cors,
        SettingKind::Lifecycle,
        SettingKind::Website,
        SettingKind::Encryption,
        SettingKind::Tagging,
        SettingKind::Ownership,
        SettingKind::PublicAccessBlock,
        SettingKind::Notification,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SettingKind::Acl => "acl",
            SettingKind::Policy => "policy",
            SettingKind::Cors => "cors",
            SettingKind::Lifecycle => "lifecycle",
            SettingKind::Website => "website",
            SettingKind::Encryption => "encryption",
            SettingKind::Tagging => "tagging",
            SettingKind::Ownership => "ownership",
            SettingKind::PublicAccessBlock => "public-access-block",
            SettingKind::Notification => "notification",
        }
    }
}

/// `bucket \0 kind`: a bucket's settings are contiguous.
fn key(bucket: &str, kind: SettingKind) -> Vec<u8> {
    named(bucket, kind.name())
}

fn named(bucket: &str, name: &str) -> Vec<u8> {
    let mut k = model::bucket_prefix(bucket);
    k.extend_from_slice(name.as_bytes());
    k
}

/// `bucket \0 stamp`: a random number rewritten with every change to the bucket's
/// settings. Authorization reads these 9 bytes with the bucket on every request and
/// re-reads the settings it caches (a policy of up to 20 KiB) only when they changed.
fn stamp_key(bucket: &str) -> Vec<u8> {
    named(bucket, "stamp")
}

fn restamp(bucket: &str) -> Op {
    Op::Put(
        Table::Settings,
        stamp_key(bucket),
        model::encode(&rand::random::<u64>()),
    )
}

/// A new bucket's first settings, and their stamp.
pub(crate) fn initial(bucket: &str, settings: &[SettingRow], ops: &mut Vec<Op>) {
    if settings.is_empty() {
        return;
    }
    for (kind, row) in settings {
        ops.push(Op::Put(Table::Settings, key(bucket, *kind), row.clone()));
    }
    ops.push(restamp(bucket));
}

/// The bucket's settings stamp: `None` until its first setting.
pub(crate) fn stamp(txn: &dyn ReadTxn, bucket: &str) -> StoreResult<Option<u64>> {
    txn.get(Table::Settings, &stamp_key(bucket))?
        .map(|v| model::decode(&v))
        .transpose()
}

/// Deletes every setting of `bucket` in `ops` (DeleteBucket's commit).
pub(crate) fn drop_all(txn: &dyn ReadTxn, bucket: &str, ops: &mut Vec<Op>) -> StoreResult<()> {
    let prefix = model::bucket_prefix(bucket);
    let end = model::prefix_successor(&prefix);
    for (k, _) in txn.range(Table::Settings, Bound::Included(&prefix), end.as_deref(), usize::MAX)? {
        ops.push(Op::Delete(Table::Settings, k));
    }
    Ok(())
}

/// A setting's stored row, undecoded.
pub(crate) fn row(txn: &dyn ReadTxn, bucket: &str, kind: SettingKind) -> StoreResult<Option<Vec<u8>>> {
    txn.get(Table::Settings, &key(bucket, kind))
}

/// Decodes a row [`Store::access_view`] returned.
pub fn decode<T: DeserializeOwned>(row: &[u8]) -> StoreResult<T> {
    crate::record::decode_value(row)
}

/// A setting's row, for [`Store::create_bucket`]'s initial settings.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    model::encode(value)
}

/// A setting's kind and its stored row.
pub type SettingRow = (SettingKind, Vec<u8>);

fn require_bucket(txn: &dyn ReadTxn, bucket: &str) -> StoreResult<()> {
    match txn.get(Table::Buckets, bucket.as_bytes())? {
        Some(_) => Ok(()),
        None => Err(StoreError::NoSuchBucket),
    }
}

impl Store {
    /// A bucket's settings of `kinds` that it has, and its stamp, in one read: what a
    /// cache of settings keyed by the stamp [`Store::access_view`] returns reloads.
    pub fn bucket_settings(&self, bucket: &str, kinds: &[SettingKind]) -> StoreResult<(Option<u64>, Vec<SettingRow>)> {
        let txn = self.meta.read()?;
        require_bucket(&*txn, bucket)?;
        let mut rows = Vec::new();
        for &kind in kinds {
            if let Some(r) = row(&*txn, bucket, kind)? {
                rows.push((kind, r));
            }
        }
        Ok((stamp(&*txn, bucket)?, rows))
    }

    /// A bucket's setting of `kind`, if it has one. A missing bucket is NoSuchBucket.
    pub fn bucket_setting<T: DeserializeOwned>(&self, bucket: &str, kind: SettingKind) -> StoreResult<Option<T>> {
        let txn = self.meta.read()?;
        require_bucket(&*txn, bucket)?;
        row(&*txn, bucket, kind)?.map(|v| decode::<T>(&v)).transpose()
    }

    /// Sets (replaces) a bucket's setting of `kind`.
    pub async fn put_bucket_setting<T: Serialize>(
        &self,
        bucket: &str,
        kind: SettingKind,
        value: &T,
    ) -> StoreResult<()> {
        let (bucket, row) = (bucket.to_owned(), model::encode(value));
        self.meta
            .commit(move |txn| {
                require_bucket(txn, &bucket)?;
                Ok((
                    vec![
                        Op::Put(Table::Settings, key(&bucket, kind), row.clone()),
                        restamp(&bucket),
                    ],
                    (),
                ))
            })
            .await
    }

    /// Removes a bucket's setting of `kind`; removing one that is not there succeeds.
    pub async fn delete_bucket_setting(&self, bucket: &str, kind: SettingKind) -> StoreResult<()> {
        let bucket = bucket.to_owned();
        self.meta
            .commit(move |txn| {
                require_bucket(txn, &bucket)?;
                Ok((
                    vec![Op::Delete(Table::Settings, key(&bucket, kind)), restamp(&bucket)],
                    (),
                ))
            })
            .await
    }
}
