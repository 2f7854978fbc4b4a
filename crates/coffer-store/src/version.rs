//! Versions: how a write, a delete or a read finds and changes a key's versions under the
//! bucket's versioning state.
//!
//! The live current version of a key is in `Current` (so plain listings see live keys
//! only); every other version, and a delete marker even when it is the latest, is in
//! `Versions` under `key_group(bucket, key) ‖ sort`, newest first.

use std::ops::Bound;

use crate::error::{StoreError, StoreResult};
use crate::list::{Step, Walk};
use crate::meta::{Op, ReadTxn, Table};
use crate::model::{self, BucketRecord, DataRef, ObjectMeta, ObjectRecord, Versioning};
use crate::object::{Released, current, release};
use crate::{Store, now_ms};

/// The outcome of a DeleteObject, as S3 reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// The version removed or the marker created ("null" for the null version).
    pub version_id: Option<String>,
    pub delete_marker: bool,
}

pub(crate) fn bucket_record(txn: &dyn ReadTxn, bucket: &str) -> StoreResult<BucketRecord> {
    txn.get(Table::Buckets, bucket.as_bytes())?
        .map(|v| model::decode(&v))
        .transpose()?
        .ok_or(StoreError::NoSuchBucket)
}

/// A key's non-current versions and markers, newest first, at most `limit`.
fn versions_of(txn: &dyn ReadTxn, bucket: &str, key: &str, limit: usize) -> StoreResult<Vec<ObjectRecord>> {
    let group = model::key_group(bucket, key);
    let end = model::prefix_successor(&group);
    txn.range(Table::Versions, Bound::Included(&group), end.as_deref(), limit)?
        .iter()
        .map(|(_, v)| model::decode(v))
        .collect()
}

/// The sort key of a key's next version, taken inside the write's transaction: newer than
/// the key's current version and its newest other version, whatever the clocks say. Taken
/// before the commit, concurrent writes (retried on PostgreSQL, queued on redb) could commit
/// in another order than their keys, and the current version would not be the newest.
pub(crate) fn next_sort(
    txn: &dyn ReadTxn,
    bucket: &str,
    key: &str,
    old: Option<&ObjectRecord>,
    versioned: bool,
) -> StoreResult<u128> {
    let mut newest = old.map(|o| o.sort);
    if versioned && let Some(v) = versions_of(txn, bucket, key, 1)?.first() {
        newest = Some(newest.map_or(v.sort, |n| n.min(v.sort)));
    }
    let sort = model::new_sort();
    Ok(match newest {
        // Newer sorts first: its time part one tick ahead of the newest's.
        Some(n) if sort >= n => {
            (u128::from(((n >> 64) as u64).saturating_sub(1)) << 64) | (sort & u128::from(u64::MAX))
        }
        _ => sort,
    })
}

/// Drops every `null` version kept in `Versions` (suspended versioning keeps one at most).
fn drop_null_versions(
    txn: &dyn ReadTxn,
    bucket: &str,
    key: &str,
    ops: &mut Vec<Op>,
    out: &mut Released,
) -> StoreResult<()> {
    for v in versions_of(txn, bucket, key, usize::MAX)? {
        if v.version_id.is_none() {
            release(txn, v.data, ops, out)?;
            ops.push(Op::Delete(Table::Versions, model::version_key(bucket, key, v.sort)));
        }
    }
    Ok(())
}

fn demote(bucket: &str, key: &str, old: &ObjectRecord, ops: &mut Vec<Op>) {
    ops.push(Op::Put(
        Table::Versions,
        model::version_key(bucket, key, old.sort),
        model::encode(old),
    ));
}

/// Makes `rec` the current version of `bucket/key`; `old` is the live current version.
/// Sets `rec.version_id` by the bucket's state and frees what the state replaces.
#[allow(clippy::too_many_arguments)] // one transaction's context; a struct would only rename it
pub(crate) fn install(
    txn: &dyn ReadTxn,
    b: &BucketRecord,
    bucket: &str,
    key: &str,
    rec: &mut ObjectRecord,
    old: Option<&ObjectRecord>,
    ops: &mut Vec<Op>,
    out: &mut Released,
) -> StoreResult<()> {
    rec.sort = next_sort(txn, bucket, key, old, b.versioning != Versioning::Unversioned)?;
    match b.versioning {
        Versioning::Unversioned => {
            rec.version_id = None;
            if let Some(o) = old {
                release(txn, o.data, ops, out)?;
            }
        }
        Versioning::Enabled => {
            rec.version_id = Some(model::version_id_of(rec.sort));
            if let Some(o) = old {
                demote(bucket, key, o, ops);
            }
        }
        Versioning::Suspended => {
            rec.version_id = None;
            match old {
                Some(o) if o.version_id.is_none() => release(txn, o.data, ops, out)?,
                Some(o) => demote(bucket, key, o, ops),
                None => {}
            }
            drop_null_versions(txn, bucket, key, ops, out)?;
        }
    }
    ops.push(Op::Put(
        Table::Current,
        model::current_key(bucket, key),
        model::encode(rec),
    ));
    Ok(())
}

fn marker(version_id: Option<String>, sort: u128) -> ObjectRecord {
    ObjectRecord {
        version_id,
        sort,
        delete_marker: true,
        size: 0,
        etag: String::new(),
        md5: [0; 16],
        crc32c: None,
        last_modified_ms: now_ms(),
        data: DataRef::Empty,
        meta: ObjectMeta::default(),
        retention: None,
        legal_hold: false,
        owner: None,
        acl: None,
        tags: Vec::new(),
        website_redirect: None,
        sse: None,
    }
}

fn check_lock(v: &ObjectRecord, bypass: bool) -> StoreResult<()> {
    crate::lock::check_delete(v, bypass, now_ms())
}

/// After the current version or the latest marker is removed: the newest remaining
/// version becomes current if it is not a marker.
fn promote(txn: &dyn ReadTxn, bucket: &str, key: &str, skip_sort: u128, ops: &mut Vec<Op>) -> StoreResult<()> {
    let next = versions_of(txn, bucket, key, 2)?
        .into_iter()
        .find(|v| v.sort != skip_sort);
    if let Some(v) = next
        && !v.delete_marker
    {
        ops.push(Op::Delete(Table::Versions, model::version_key(bucket, key, v.sort)));
        ops.push(Op::Put(
            Table::Current,
            model::current_key(bucket, key),
            model::encode(&v),
        ));
    }
    Ok(())
}

/// DeleteObject without a version id.
pub(crate) fn delete_latest(
    txn: &dyn ReadTxn,
    b: &BucketRecord,
    bucket: &str,
    key: &str,
    ops: &mut Vec<Op>,
    out: &mut Released,
) -> StoreResult<Deleted> {
    let ckey = model::current_key(bucket, key);
    let old = current(txn, &ckey)?;
    match b.versioning {
        Versioning::Unversioned => {
            if let Some(o) = &old {
                release(txn, o.data, ops, out)?;
                ops.push(Op::Delete(Table::Current, ckey));
            }
            Ok(Deleted {
                version_id: None,
                delete_marker: false,
            })
        }
        Versioning::Enabled => {
            if let Some(o) = &old {
                demote(bucket, key, o, ops);
                ops.push(Op::Delete(Table::Current, ckey));
            }
            let sort = next_sort(txn, bucket, key, old.as_ref(), true)?;
            let m = marker(Some(model::version_id_of(sort)), sort);
            ops.push(Op::Put(
                Table::Versions,
                model::version_key(bucket, key, sort),
                model::encode(&m),
            ));
            Ok(Deleted {
                version_id: m.version_id,
                delete_marker: true,
            })
        }
        Versioning::Suspended => {
            match &old {
                Some(o) if o.version_id.is_none() => {
                    check_lock(o, false)?;
                    release(txn, o.data, ops, out)?;
                }
                Some(o) => demote(bucket, key, o, ops),
                None => {}
            }
            if old.is_some() {
                ops.push(Op::Delete(Table::Current, ckey));
            }
            drop_null_versions(txn, bucket, key, ops, out)?;
            let sort = next_sort(txn, bucket, key, old.as_ref(), true)?;
            ops.push(Op::Put(
                Table::Versions,
                model::version_key(bucket, key, sort),
                model::encode(&marker(None, sort)),
            ));
            Ok(Deleted {
                version_id: Some("null".into()),
                delete_marker: true,
            })
        }
    }
}

/// Where a version is: the live current one, or a row of `Versions`.
enum Found {
    Current(ObjectRecord),
    Versions(ObjectRecord),
}

/// Finds `version_id` of a key ("null" or an id this store made).
fn find(txn: &dyn ReadTxn, bucket: &str, key: &str, version_id: &str) -> StoreResult<Option<Found>> {
    let live = current(txn, &model::current_key(bucket, key))?;
    if version_id == "null" {
        if let Some(l) = live.filter(|l| l.version_id.is_none()) {
            return Ok(Some(Found::Current(l)));
        }
        // A key keeps at most one null version; finding it walks the key's versions.
        return Ok(versions_of(txn, bucket, key, usize::MAX)?
            .into_iter()
            .find(|v| v.version_id.is_none())
            .map(Found::Versions));
    }
    let sort = model::sort_of(version_id).ok_or(StoreError::InvalidVersion)?;
    if let Some(l) = live.filter(|l| l.sort == sort && l.version_id.is_some()) {
        return Ok(Some(Found::Current(l)));
    }
    txn.get(Table::Versions, &model::version_key(bucket, key, sort))?
        .map(|v| model::decode(&v).map(Found::Versions))
        .transpose()
}

/// DeleteObject with a version id: removes that version for good. Removing the latest
/// brings the next one back as current (deleting a marker restores the object).
pub(crate) fn delete_version(
    txn: &dyn ReadTxn,
    bucket: &str,
    key: &str,
    version_id: &str,
    bypass_governance: bool,
    ops: &mut Vec<Op>,
    out: &mut Released,
) -> StoreResult<Deleted> {
    bucket_record(txn, bucket)?;
    let deleted = |v: &ObjectRecord| Deleted {
        version_id: Some(v.version_id_str().to_owned()),
        delete_marker: v.delete_marker,
    };
    match find(txn, bucket, key, version_id)? {
        Some(Found::Current(v)) => {
            check_lock(&v, bypass_governance)?;
            release(txn, v.data, ops, out)?;
            ops.push(Op::Delete(Table::Current, model::current_key(bucket, key)));
            promote(txn, bucket, key, v.sort, ops)?;
            Ok(deleted(&v))
        }
        Some(Found::Versions(v)) => {
            check_lock(&v, bypass_governance)?;
            let was_latest = current(txn, &model::current_key(bucket, key))?.is_none()
                && versions_of(txn, bucket, key, 1)?
                    .first()
                    .is_some_and(|n| n.sort == v.sort);
            release(txn, v.data, ops, out)?;
            ops.push(Op::Delete(Table::Versions, model::version_key(bucket, key, v.sort)));
            if was_latest {
                promote(txn, bucket, key, v.sort, ops)?;
            }
            Ok(deleted(&v))
        }
        // Deleting a version that is not there succeeds, as in S3.
        None => Ok(Deleted {
            version_id: Some(version_id.to_owned()),
            delete_marker: false,
        }),
    }
}

/// The version a read asks for. Without an id: the live current version, else the latest
/// marker as `DeleteMarker` (404 in S3). With an id: that version; a marker is
/// `DeleteMarker` with `current: false` semantics decided by the caller (405 in S3).
pub(crate) fn lookup(
    txn: &dyn ReadTxn,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> StoreResult<ObjectRecord> {
    let found = match version_id {
        None => match current(txn, &model::current_key(bucket, key))? {
            Some(r) => return Ok(r),
            None => {
                bucket_record(txn, bucket)?;
                match versions_of(txn, bucket, key, 1)?.pop() {
                    Some(m) if m.delete_marker => return Err(StoreError::DeleteMarker(Box::new(m))),
                    _ => return Err(StoreError::NoSuchKey),
                }
            }
        },
        Some(v) => find(txn, bucket, key, v)?,
    };
    match found {
        Some(Found::Current(r) | Found::Versions(r)) if r.delete_marker => Err(StoreError::MarkerVersion(Box::new(r))),
        Some(Found::Current(r) | Found::Versions(r)) => Ok(r),
        None => {
            bucket_record(txn, bucket)?;
            Err(StoreError::NoSuchVersion)
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct VersionsQuery<'a> {
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    pub key_marker: Option<&'a str>,
    pub version_id_marker: Option<&'a str>,
    pub max_keys: usize,
}

#[derive(Debug, Default)]
pub struct VersionsPage {
    /// Key, version, and whether it is the latest of its key; in key order, newest first.
    pub versions: Vec<(String, ObjectRecord, bool)>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    /// Where the next page starts: key and version id markers.
    pub next: Option<(String, String)>,
}

/// A position in the merged order of (key, sort): before every version of a key, or
/// just after one version.
enum Pos {
    Start(Vec<u8>),
    After(String, u128),
}

impl Store {
    /// Changes one version's record in place (retention, legal hold). `f` runs inside the
    /// transaction, so its checks and the change are atomic.
    pub async fn update_version<F>(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        f: F,
    ) -> StoreResult<ObjectRecord>
    where
        F: Fn(&mut ObjectRecord) -> StoreResult<()> + Send + Sync + 'static,
    {
        let (bucket, key, version_id) = (bucket.to_owned(), key.to_owned(), version_id.map(str::to_owned));
        self.commit_counted(move |txn| {
            bucket_record(txn, &bucket)?;
            let (mut rec, row) = match version_id.as_deref() {
                None => match current(txn, &model::current_key(&bucket, &key))? {
                    Some(r) => (r, (Table::Current, model::current_key(&bucket, &key))),
                    None => return Err(StoreError::NoSuchKey),
                },
                Some(v) => match find(txn, &bucket, &key, v)? {
                    Some(Found::Current(r)) => (r, (Table::Current, model::current_key(&bucket, &key))),
                    Some(Found::Versions(r)) => {
                        let k = model::version_key(&bucket, &key, r.sort);
                        (r, (Table::Versions, k))
                    }
                    None => return Err(StoreError::NoSuchVersion),
                },
            };
            if rec.delete_marker {
                return Err(StoreError::MarkerVersion(Box::new(rec)));
            }
            f(&mut rec)?;
            Ok((vec![Op::Put(row.0, row.1, model::encode(&rec))], rec))
        })
        .await
    }

    /// Object lock for a bucket: enables it (versioning must be on) and sets the default
    /// retention for new versions.
    pub async fn set_object_lock(
        &self,
        bucket: &str,
        default: Option<crate::model::DefaultRetention>,
    ) -> StoreResult<()> {
        let bucket = bucket.to_owned();
        self.meta
            .commit(move |txn| {
                let mut b = bucket_record(txn, &bucket)?;
                if !b.object_lock && b.versioning != Versioning::Enabled {
                    return Err(StoreError::InvalidBucketState);
                }
                b.object_lock = true;
                b.default_retention = default.clone();
                Ok((
                    vec![Op::Put(Table::Buckets, bucket.clone().into_bytes(), model::encode(&b))],
                    (),
                ))
            })
            .await
    }

    pub async fn set_versioning(&self, bucket: &str, state: Versioning) -> StoreResult<()> {
        let bucket = bucket.to_owned();
        self.meta
            .commit(move |txn| {
                let mut b = bucket_record(txn, &bucket)?;
                if b.object_lock && state != Versioning::Enabled {
                    return Err(StoreError::InvalidBucketState);
                }
                b.versioning = state;
                Ok((
                    vec![Op::Put(Table::Buckets, bucket.clone().into_bytes(), model::encode(&b))],
                    (),
                ))
            })
            .await
    }

    /// Every version and marker, by key then newest first. Each round merges one bounded
    /// scan of `Current` with one of `Versions`; a common prefix costs one seek.
    pub fn list_versions(&self, bucket: &str, q: &VersionsQuery<'_>) -> StoreResult<VersionsPage> {
        let txn = self.meta.read()?;
        bucket_record(&*txn, bucket)?;
        let mut page = VersionsPage::default();
        if q.max_keys == 0 {
            return Ok(page);
        }
        let marker = q.key_marker.filter(|k| !k.is_empty() && *k >= q.prefix);
        let mut pos = match (marker, q.version_id_marker.filter(|v| !v.is_empty())) {
            (Some(k), Some("null")) => match find(&*txn, bucket, k, "null")? {
                Some(Found::Current(r) | Found::Versions(r)) => Pos::After(k.to_owned(), r.sort),
                None => Pos::After(k.to_owned(), u128::MAX),
            },
            (Some(k), Some(v)) => Pos::After(k.to_owned(), model::sort_of(v).ok_or(StoreError::InvalidVersion)?),
            (Some(k), None) => Pos::After(k.to_owned(), u128::MAX),
            (None, _) => Pos::Start(q.prefix.as_bytes().to_vec()),
        };
        let bp = model::bucket_prefix(bucket);
        let cur_end = model::prefix_successor(&model::current_key(bucket, q.prefix));
        let ver_end = model::prefix_successor(&model::escaped_prefix(bucket, q.prefix.as_bytes()));
        let mut walk = Walk::new(q.prefix, q.delimiter, marker, q.max_keys);
        let batch = (q.max_keys + 1).min(1001);
        let mut last_key: Option<String> = None;
        'rounds: loop {
            let (cur_from, ver_from) = match &pos {
                Pos::Start(k) => {
                    let mut c = bp.clone();
                    c.extend_from_slice(k);
                    (Bound::Included(c), Bound::Included(model::escaped_prefix(bucket, k)))
                }
                // The live version is the newest of its key, so it is behind any position in that key.
                Pos::After(k, sort) => (
                    Bound::Excluded(model::current_key(bucket, k)),
                    Bound::Excluded(model::version_key(bucket, k, *sort)),
                ),
            };
            let mut cur = Vec::new();
            for (k, v) in txn.range(Table::Current, as_slice(&cur_from), cur_end.as_deref(), batch)? {
                let key = String::from_utf8_lossy(&k[bp.len()..]).into_owned();
                cur.push((key, model::decode::<ObjectRecord>(&v)?));
            }
            let mut ver = Vec::new();
            for (k, v) in txn.range(Table::Versions, as_slice(&ver_from), ver_end.as_deref(), batch)? {
                if let Some((key, _)) = model::split_key_group(bucket.len(), &k) {
                    ver.push((key, model::decode::<ObjectRecord>(&v)?));
                }
            }
            // A full batch may hide later rows of that table: merge only up to the
            // smaller last position of a full batch.
            let full_last = |b: &Vec<(String, ObjectRecord)>| {
                (b.len() == batch)
                    .then(|| b.last().map(|(k, r)| (k.clone(), r.sort)))
                    .flatten()
            };
            let horizon = match (full_last(&cur), full_last(&ver)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let mut merged: Vec<(String, ObjectRecord)> = cur.into_iter().chain(ver).collect();
            merged.sort_by(|a, b| (a.0.as_str(), a.1.sort).cmp(&(b.0.as_str(), b.1.sort)));
            if let Some(h) = &horizon {
                merged.retain(|(k, r)| (k.clone(), r.sort) <= *h);
            }
            if merged.is_empty() {
                break;
            }
            for (key, rec) in merged {
                let cp = match walk.step(&key) {
                    Step::Take => {
                        let latest = last_key.as_deref() != Some(key.as_str()) && is_latest(&*txn, bucket, &key, &rec)?;
                        last_key = Some(key.clone());
                        page.next = Some((key.clone(), rec.version_id_str().to_owned()));
                        pos = Pos::After(key.clone(), rec.sort);
                        page.versions.push((key, rec, latest));
                        continue;
                    }
                    Step::Prefix(cp) => {
                        page.common_prefixes.push(cp.to_owned());
                        page.next = Some((cp.to_owned(), String::new()));
                        cp
                    }
                    Step::Past(cp) => cp,
                    Step::Skip => continue,
                    Step::Stop => break 'rounds,
                };
                // Rows of this round beyond the prefix are read again from past it.
                match model::prefix_successor(cp.as_bytes()) {
                    Some(next) => pos = Pos::Start(next),
                    None => break 'rounds,
                }
                continue 'rounds;
            }
            if horizon.is_none() {
                break;
            }
        }
        page.truncated = walk.truncated;
        if !page.truncated {
            page.next = None;
        }
        Ok(page)
    }
}

fn as_slice(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// The latest version of a key is its live current one, or else its newest marker.
fn is_latest(txn: &dyn ReadTxn, bucket: &str, key: &str, rec: &ObjectRecord) -> StoreResult<bool> {
    if let Some(c) = current(txn, &model::current_key(bucket, key))? {
        return Ok(c.sort == rec.sort);
    }
    Ok(versions_of(txn, bucket, key, 1)?
        .first()
        .is_some_and(|v| v.sort == rec.sort))
}
