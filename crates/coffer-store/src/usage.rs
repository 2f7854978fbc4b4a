//! What each bucket holds, counted as it changes: stored object versions (current and
//! noncurrent; delete markers are not objects and weigh nothing), their bytes, and the
//! multipart uploads in progress. One row per bucket in the `usage` table, rewritten by the
//! very commit that adds or removes a version or an upload, so the counts never drift from
//! what the tables hold and reading them is one point lookup, not a scan.
//!
//! Every store write that touches `current`, `versions`, `uploads` or `buckets` passes its
//! ops through [`account`] before it returns them: the counts follow from the ops
//! themselves (each row's old weight against its new one), not from each use case
//! remembering to count. The same pass enforces the bucket's quota (a `quota` row of the
//! settings table), so a write that would pass it fails in its own transaction.
//!
//! A data directory from before the table existed gets its counts from one scan of each
//! bucket when it is opened ([`Store::count_usage`]).
//!
//! On a shared store (PostgreSQL), one row rewritten by every write to a bucket would make
//! all of them conflict and retry. There a write adds its change to one of [`SHARDS`] rows
//! `bucket \0 n` picked at random (signed: a delete may land in another shard than the
//! write it undoes), and the bucket's usage is its row plus their sum. A write to a bucket
//! with a quota still reads them all, so such writes still serialize.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;

use serde::{Deserialize, Serialize};

use crate::Store;
use crate::error::{StoreError, StoreResult};
use crate::meta::{Op, ReadTxn, Scan, Table};
use crate::model::{self, ObjectRecord};
use crate::record::Record;

/// A bucket's usage: stored object versions (delete markers excluded), their bytes, and
/// multipart uploads in progress (their parts' bytes are not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub objects: u64,
    pub bytes: u64,
    pub uploads: u64,
}

impl Record for Usage {}

/// One shard's share of a bucket's usage, on a shared store: a sum of changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageShard {
    pub objects: i64,
    pub bytes: i64,
    pub uploads: i64,
}

impl Record for UsageShard {}

/// Shard rows per bucket on a shared store: concurrent writers to one bucket meet on
/// one of them with a chance of 1 in this.
pub const SHARDS: u8 = 32;

fn shard_key(bucket: &[u8], n: u8) -> Vec<u8> {
    let mut k = bucket.to_vec();
    k.extend_from_slice(&[0, n]);
    k
}

/// The range of a bucket's shard rows: `bucket \0 ..`, which no other bucket's rows reach
/// (names hold no NUL).
fn shards_of(bucket: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut start = bucket.to_vec();
    start.push(0);
    let mut end = bucket.to_vec();
    end.push(1);
    (start, end)
}

/// A bucket's quota: `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub max_bytes: Option<u64>,
    pub max_objects: Option<u64>,
}

impl Record for Quota {}

impl Quota {
    pub fn is_none(&self) -> bool {
        self.max_bytes.is_none() && self.max_objects.is_none()
    }

    /// Whether `usage` may grow to `after`: a count that grows may not pass its limit (a
    /// write that shrinks or keeps a count is allowed even over a quota set too low).
    fn admits(&self, before: &Usage, after: &Usage) -> bool {
        let over = |max: Option<u64>, b: u64, a: u64| max.is_some_and(|m| a > b && a > m);
        !over(self.max_objects, before.objects, after.objects) && !over(self.max_bytes, before.bytes, after.bytes)
    }
}

/// The settings row (`bucket \0 quota`) a quota is kept in.
fn quota_key(bucket: &[u8]) -> Vec<u8> {
    let mut k = bucket.to_vec();
    k.push(0);
    k.extend_from_slice(b"quota");
    k
}

pub(crate) fn quota(txn: &dyn ReadTxn, bucket: &[u8]) -> StoreResult<Quota> {
    Ok(txn
        .get(Table::Settings, &quota_key(bucket))?
        .map(|v| model::decode(&v))
        .transpose()?
        .unwrap_or_default())
}

fn usage(txn: &dyn ReadTxn, bucket: &[u8]) -> StoreResult<Usage> {
    let base: Usage = txn
        .get(Table::Usage, bucket)?
        .map(|v| model::decode(&v))
        .transpose()?
        .unwrap_or_default();
    if !txn.shared() {
        return Ok(base);
    }
    let (start, end) = shards_of(bucket);
    let mut sum = Delta::default();
    txn.scan(Table::Usage, Bound::Included(&start), Some(&end), &mut |_, v| {
        let s: UsageShard = model::decode(v)?;
        sum.objects += s.objects;
        sum.bytes += i128::from(s.bytes);
        sum.uploads += s.uploads;
        Ok(Scan::Next)
    })?;
    Ok(base.plus(&sum))
}

/// On a shared store, adds `d` to a random shard row of `bucket` instead of rewriting its
/// one row (see the module's comment).
fn add_to_shard(txn: &dyn ReadTxn, bucket: Vec<u8>, d: &Delta, ops: &mut Vec<Op>) -> StoreResult<()> {
    let key = shard_key(&bucket, rand::random::<u8>() % SHARDS);
    let mut s: UsageShard = txn
        .get(Table::Usage, &key)?
        .map(|v| model::decode(&v))
        .transpose()?
        .unwrap_or_default();
    s.objects = s.objects.saturating_add(d.objects);
    s.bytes = i64::try_from(i128::from(s.bytes) + d.bytes).unwrap_or(if d.bytes < 0 { i64::MIN } else { i64::MAX });
    s.uploads = s.uploads.saturating_add(d.uploads);
    ops.push(if s == UsageShard::default() {
        Op::Delete(Table::Usage, key)
    } else {
        Op::Put(Table::Usage, key, model::encode(&s))
    });
    Ok(())
}

/// The bucket a row of `current`, `versions` or `uploads` belongs to.
fn bucket_of(key: &[u8]) -> &[u8] {
    key.split(|&b| b == 0).next().unwrap_or_default()
}

/// (objects, bytes) a version row weighs.
fn weigh(row: Option<&[u8]>) -> StoreResult<(i64, i128)> {
    Ok(match row {
        None => (0, 0),
        Some(v) => {
            let r: ObjectRecord = model::decode(v)?;
            if r.delete_marker {
                (0, 0)
            } else {
                (1, i128::from(r.size))
            }
        }
    })
}

#[derive(Default)]
struct Delta {
    objects: i64,
    bytes: i128,
    uploads: i64,
}

fn apply(n: u64, d: i128) -> u64 {
    u64::try_from((i128::from(n) + d).max(0)).unwrap_or(u64::MAX)
}

impl Usage {
    /// These counts changed by `d` (none below zero).
    fn plus(&self, d: &Delta) -> Usage {
        Usage {
            objects: apply(self.objects, d.objects.into()),
            bytes: apply(self.bytes, d.bytes),
            uploads: apply(self.uploads, d.uploads.into()),
        }
    }
}

/// Appends to `ops` the usage rows they change, and fails with `QuotaExceeded` if they
/// would take a bucket past its quota. Reads through `txn`, which must not yet include
/// `ops` (a write closure's own transaction).
pub(crate) fn account(txn: &dyn ReadTxn, ops: &mut Vec<Op>) -> StoreResult<()> {
    // The latest weight of each row touched so far, for ops that touch a row twice.
    let mut seen: HashMap<(usize, &[u8]), (i64, i128)> = HashMap::new();
    let mut deltas: BTreeMap<Vec<u8>, Delta> = BTreeMap::new();
    let mut created = HashSet::new();
    let mut dropped = HashSet::new();
    for op in ops.iter() {
        let (table, key, new) = match op {
            Op::Put(t, k, v) => (*t, k.as_slice(), Some(v.as_slice())),
            Op::Delete(t, k) => (*t, k.as_slice(), None),
        };
        match table {
            Table::Current | Table::Versions | Table::Uploads => {
                let weight = |row: Option<&[u8]>| -> StoreResult<(i64, i128)> {
                    if table == Table::Uploads {
                        Ok((i64::from(row.is_some()), 0))
                    } else {
                        weigh(row)
                    }
                };
                let old = match seen.get(&(table.index(), key)) {
                    Some(w) => *w,
                    None => weight(txn.get(table, key)?.as_deref())?,
                };
                let new = weight(new)?;
                seen.insert((table.index(), key), new);
                let d = deltas.entry(bucket_of(key).to_vec()).or_default();
                if table == Table::Uploads {
                    d.uploads += new.0 - old.0;
                } else {
                    d.objects += new.0 - old.0;
                    d.bytes += new.1 - old.1;
                }
            }
            Table::Buckets if new.is_none() => {
                dropped.insert(key.to_vec());
            }
            Table::Buckets if txn.get(Table::Buckets, key)?.is_none() => {
                created.insert(key.to_vec());
            }
            _ => {}
        }
    }
    for b in created.iter().chain(&dropped) {
        deltas.entry(b.clone()).or_default();
    }
    for (bucket, d) in deltas {
        if dropped.contains(&bucket) {
            if txn.shared() {
                for n in 0..SHARDS {
                    ops.push(Op::Delete(Table::Usage, shard_key(&bucket, n)));
                }
            }
            ops.push(Op::Delete(Table::Usage, bucket));
            continue;
        }
        let created = created.contains(&bucket);
        if d.objects == 0 && d.bytes == 0 && d.uploads == 0 && !created {
            continue;
        }
        // Only growth is held to a quota; without one, a shared store's write reads no total.
        let quota = if d.objects > 0 || d.bytes > 0 {
            quota(txn, &bucket)?
        } else {
            Quota::default()
        };
        let sharded = txn.shared() && !created;
        let before = if created {
            Usage::default()
        } else if sharded && quota.is_none() {
            // Unread, and unchecked: no quota admits or refuses anything.
            Usage::default()
        } else {
            usage(txn, &bucket)?
        };
        let after = before.plus(&d);
        if !quota.admits(&before, &after) {
            return Err(StoreError::QuotaExceeded);
        }
        if sharded {
            add_to_shard(txn, bucket, &d, ops)?;
        } else {
            ops.push(Op::Put(Table::Usage, bucket, model::encode(&after)));
        }
    }
    Ok(())
}

/// Counts a bucket's usage by scanning its rows: for data directories made before the
/// counts were kept.
fn count(txn: &dyn ReadTxn, bucket: &[u8]) -> StoreResult<Usage> {
    let mut prefix = bucket.to_vec();
    prefix.push(0);
    let end = model::prefix_successor(&prefix);
    let mut u = Usage::default();
    for table in [Table::Current, Table::Versions] {
        txn.scan(table, Bound::Included(&prefix), end.as_deref(), &mut |_, v| {
            let (o, b) = weigh(Some(v))?;
            u.objects += o as u64;
            u.bytes += b as u64;
            Ok(Scan::Next)
        })?;
    }
    txn.scan(Table::Uploads, Bound::Included(&prefix), end.as_deref(), &mut |_, _| {
        u.uploads += 1;
        Ok(Scan::Next)
    })?;
    Ok(u)
}

impl Store {
    /// [`MetaStore::commit`](crate::meta::MetaStore) for the writes that may change what a
    /// bucket holds: the usage rows (and the quota check) join the write's own ops.
    pub(crate) async fn commit_counted<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&dyn ReadTxn) -> StoreResult<(Vec<Op>, T)> + Send + Sync + 'static,
    {
        self.meta
            .commit(move |txn| {
                let (mut ops, t) = f(txn)?;
                account(txn, &mut ops)?;
                Ok((ops, t))
            })
            .await
    }

    /// A bucket's usage, as counted by the writes that changed it.
    pub fn bucket_usage(&self, bucket: &str) -> StoreResult<Usage> {
        let txn = self.meta.read()?;
        if txn.get(Table::Buckets, bucket.as_bytes())?.is_none() {
            return Err(StoreError::NoSuchBucket);
        }
        usage(&*txn, bucket.as_bytes())
    }

    /// Every bucket's usage, in name order, from one snapshot.
    pub fn all_usage(&self) -> StoreResult<Vec<(String, Usage)>> {
        let txn = self.meta.read()?;
        let mut names = Vec::new();
        txn.scan(Table::Buckets, Bound::Unbounded, None, &mut |k, _| {
            names.push(k.to_vec());
            Ok(Scan::Next)
        })?;
        names
            .into_iter()
            .map(|n| Ok((String::from_utf8_lossy(&n).into_owned(), usage(&*txn, &n)?)))
            .collect()
    }

    pub fn bucket_quota(&self, bucket: &str) -> StoreResult<Quota> {
        let txn = self.meta.read()?;
        if txn.get(Table::Buckets, bucket.as_bytes())?.is_none() {
            return Err(StoreError::NoSuchBucket);
        }
        quota(&*txn, bucket.as_bytes())
    }

    /// Sets a bucket's quota; one with no limit removes it.
    pub async fn put_bucket_quota(&self, bucket: &str, q: Quota) -> StoreResult<()> {
        let bucket = bucket.to_owned();
        self.meta
            .commit(move |txn| {
                if txn.get(Table::Buckets, bucket.as_bytes())?.is_none() {
                    return Err(StoreError::NoSuchBucket);
                }
                let key = quota_key(bucket.as_bytes());
                let op = if q.is_none() {
                    Op::Delete(Table::Settings, key)
                } else {
                    Op::Put(Table::Settings, key, model::encode(&q))
                };
                Ok((vec![op], ()))
            })
            .await
    }

    /// Whether a write of `bytes` would pass the bucket's quota as it stands: checked
    /// before a body is read (the commit checks again, exactly). With a `key`, the write is
    /// a new version of it: one more object, less what it replaces when the bucket keeps no
    /// other version; without, bytes alone (a part).
    pub fn check_quota(&self, bucket: &str, key: Option<&str>, bytes: u64) -> StoreResult<()> {
        let txn = self.meta.read()?;
        let q = quota(&*txn, bucket.as_bytes())?;
        if q.is_none() {
            return Ok(());
        }
        let before = usage(&*txn, bucket.as_bytes())?;
        let (mut objects, mut bytes) = (i128::from(key.is_some()), i128::from(bytes));
        if let Some(k) = key
            && crate::version::bucket_record(&*txn, bucket)?.versioning != crate::model::Versioning::Enabled
            && let Some(old) = crate::object::current(&*txn, &model::current_key(bucket, k))?
            && old.version_id.is_none()
            && !old.delete_marker
        {
            objects -= 1;
            bytes -= i128::from(old.size);
        }
        let after = Usage {
            objects: apply(before.objects, objects),
            bytes: apply(before.bytes, bytes),
            uploads: before.uploads,
        };
        if q.admits(&before, &after) {
            Ok(())
        } else {
            Err(StoreError::QuotaExceeded)
        }
    }

    /// Gives every bucket without a usage row (a data directory from before they were
    /// kept) its counts, from one scan of its rows, in one commit. Returns how many.
    pub(crate) async fn count_usage(&self) -> StoreResult<usize> {
        self.meta
            .commit(|txn| {
                let mut missing = Vec::new();
                txn.scan(Table::Buckets, Bound::Unbounded, None, &mut |k, _| {
                    missing.push(k.to_vec());
                    Ok(Scan::Next)
                })?;
                let mut ops = Vec::new();
                for b in missing {
                    if txn.get(Table::Usage, &b)?.is_none() {
                        let u = count(txn, &b)?;
                        ops.push(Op::Put(Table::Usage, b, model::encode(&u)));
                    }
                }
                let n = ops.len();
                Ok((ops, n))
            })
            .await
    }
}
