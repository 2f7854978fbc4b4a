//! Buckets: create, look up, list, delete.

use std::ops::Bound;

use crate::error::{StoreError, StoreResult};
use crate::meta::{Op, Scan, Table};
use crate::model::{self, BucketRecord, CanonicalId, Versioning};
use crate::multipart;
use crate::object::Released;
use crate::{Store, now_ms};

impl Store {
    /// Creates `name` for `owner`; a name is global, as in S3.
    pub async fn create_bucket(&self, name: &str, owner: CanonicalId, object_lock: bool) -> StoreResult<BucketRecord> {
        self.create_bucket_with(name, owner, object_lock, Vec::new()).await
    }

    /// [`Store::create_bucket`] with settings (an ACL, object ownership) that the bucket
    /// has from its first moment, in the same commit.
    pub async fn create_bucket_with(
        &self,
        name: &str,
        owner: CanonicalId,
        object_lock: bool,
        settings: Vec<crate::settings::SettingRow>,
    ) -> StoreResult<BucketRecord> {
        let name = name.to_owned();
        self.commit_counted(move |txn| {
            if let Some(v) = txn.get(Table::Buckets, name.as_bytes())? {
                let existing: BucketRecord = model::decode(&v)?;
                return Err(if existing.owner == owner {
                    StoreError::BucketAlreadyOwnedByYou
                } else {
                    StoreError::BucketAlreadyExists
                });
            }
            let rec = BucketRecord {
                owner,
                created_ms: now_ms(),
                // Object lock needs versioning, for good.
                versioning: if object_lock {
                    Versioning::Enabled
                } else {
                    Versioning::Unversioned
                },
                object_lock,
                default_retention: None,
            };
            let mut ops = vec![Op::Put(Table::Buckets, name.clone().into_bytes(), model::encode(&rec))];
            crate::settings::initial(&name, &settings, &mut ops);
            Ok((ops, rec))
        })
        .await
    }

    pub fn bucket(&self, name: &str) -> StoreResult<Option<BucketRecord>> {
        let txn = self.meta.read()?;
        txn.get(Table::Buckets, name.as_bytes())?
            .map(|v| model::decode(&v))
            .transpose()
    }

    /// Buckets in name order; only `owner`'s when given.
    pub fn list_buckets(&self, owner: Option<&CanonicalId>) -> StoreResult<Vec<(String, BucketRecord)>> {
        let txn = self.meta.read()?;
        let mut out = Vec::new();
        txn.scan(Table::Buckets, Bound::Unbounded, None, &mut |k, v| {
            let rec: BucketRecord = model::decode(v)?;
            if owner.is_none_or(|o| *o == rec.owner) {
                out.push((String::from_utf8_lossy(k).into_owned(), rec));
            }
            Ok(Scan::Next)
        })?;
        Ok(out)
    }

    /// Deletes an empty bucket; the emptiness check and the delete are one transaction,
    /// so a concurrent PUT either lands first (BucketNotEmpty) or finds no bucket.
    /// Multipart uploads in progress do not count as content, as on AWS: they and their
    /// parts go in the same commit, so nothing of them outlives the bucket's name.
    pub async fn delete_bucket(&self, name: &str) -> StoreResult<()> {
        let name = name.to_owned();
        let released = self
            .commit_counted(move |txn| {
                if txn.get(Table::Buckets, name.as_bytes())?.is_none() {
                    return Err(StoreError::NoSuchBucket);
                }
                let prefix = model::bucket_prefix(&name);
                let end = model::prefix_successor(&prefix);
                for table in [Table::Current, Table::Versions] {
                    if !txn
                        .range(table, Bound::Included(&prefix), end.as_deref(), 1)?
                        .is_empty()
                    {
                        return Err(StoreError::BucketNotEmpty);
                    }
                }
                let (mut ops, mut released) = (Vec::new(), Released::default());
                for (_, v) in txn.range(Table::Uploads, Bound::Included(&prefix), end.as_deref(), usize::MAX)? {
                    multipart::drop_upload(txn, &model::decode(&v)?, &mut ops, &mut released)?;
                }
                crate::settings::drop_all(txn, &name, &mut ops)?;
                ops.push(Op::Delete(Table::Buckets, name.clone().into_bytes()));
                Ok((ops, released))
            })
            .await?;
        self.free(released).await;
        Ok(())
    }
}
