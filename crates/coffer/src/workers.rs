//! Background work: buckets' lifecycle rules carried out, abandoned uploads aborted, and on
//! a shared store, blobs collected under a lease.
//!
//! The lifecycle worker keeps nothing between runs: each run reads the rules and walks what
//! they cover, and each removal is its own store commit, conditioned on the very version
//! it judged due (`PutCondition::IsVersion`, or a version id) and refused by object lock as
//! any delete is. A crash (kill -9) mid-run leaves every removal either done or not; the
//! next run finds what is still due. Buckets without rules cost one settings read per run.

use std::time::Duration;

use coffer_s3::lifecycle::{Expiration, Rule};
use coffer_store::{PutCondition, SettingKind, Store, StoreError, UploadsQuery, VersionsQuery};

/// What a run removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Removed {
    pub current: usize,
    pub noncurrent: usize,
    pub markers: usize,
    pub uploads: usize,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Whether this gateway runs the worker `name` this time: always on a store of its own; on
/// a shared one, when it holds the worker's lease (taken or renewed for `ttl`).
pub async fn leased(store: &Store, name: &str, ttl: Duration) -> bool {
    if !store.shared() {
        return true;
    }
    match store.lease(name, ttl).await {
        Ok(held) => held,
        Err(e) => {
            tracing::warn!(worker = name, error = %e, "could not take the worker's lease; skipping this run");
            false
        }
    }
}

/// A gateway of a shared store: says it is alive a few times a lease, and while it holds
/// the collector's lease, frees released blobs past their grace and collects orphans.
pub async fn gateway(store: Store, lease: Duration, grace: Duration) {
    let every = lease / 3;
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = store.heartbeat().await {
            tracing::warn!(error = %e, "could not record this gateway alive");
            continue;
        }
        if !leased(&store, "collector", lease).await {
            continue;
        }
        match store.collect(grace, lease).await {
            Ok(c) if c == coffer_store::Collected::default() => {}
            Ok(c) => tracing::info!(freed = c.freed, orphans = c.orphans, "collected blobs"),
            Err(e) => tracing::warn!(error = %e, "blob collection failed; the next run retries"),
        }
    }
}

/// Runs the lifecycle rules every so often: eight times a lifecycle day, at most hourly and
/// at least every second.
pub async fn lifecycle(store: Store, day_secs: u64, lease: Duration) {
    let every = Duration::from_secs(day_secs / 8).clamp(Duration::from_secs(1), Duration::from_secs(3600));
    loop {
        tokio::time::sleep(every).await;
        if !leased(&store, "lifecycle", every.max(lease)).await {
            continue;
        }
        match run_lifecycle(&store, day_secs, now_ms()).await {
            Ok(r) if r == Removed::default() => {}
            Ok(r) => {
                use crate::metrics::*;
                use std::sync::atomic::Ordering::Relaxed;
                LIFECYCLE_CURRENT_EXPIRED.fetch_add(r.current as u64, Relaxed);
                LIFECYCLE_NONCURRENT_EXPIRED.fetch_add(r.noncurrent as u64, Relaxed);
                LIFECYCLE_MARKERS_REMOVED.fetch_add(r.markers as u64, Relaxed);
                UPLOADS_ABORTED.fetch_add(r.uploads as u64, Relaxed);
                tracing::info!(?r, "lifecycle rules removed what was due")
            }
            Err(e) => tracing::warn!(error = %e, "lifecycle run failed; the next run retries"),
        }
    }
}

/// One pass over every bucket's rules at `now`.
pub async fn run_lifecycle(store: &Store, day_secs: u64, now: i64) -> Result<Removed, StoreError> {
    let mut removed = Removed::default();
    for (bucket, _) in store.list_buckets(None)? {
        let rules: Vec<Rule> = match store.bucket_setting(&bucket, SettingKind::Lifecycle) {
            Ok(Some(r)) => r,
            Ok(None) | Err(StoreError::NoSuchBucket) => continue,
            Err(e) => return Err(e),
        };
        for rule in rules.iter().filter(|r| r.enabled) {
            // One bucket's trouble (a store error on one of its keys) must not starve the
            // buckets after it: it is logged, and the next run tries it again.
            let done = async {
                if rule.expiration.is_some() || rule.noncurrent_days.is_some() {
                    versions(store, &bucket, rule, day_secs, now, &mut removed).await?;
                }
                if let Some(days) = rule.abort_days {
                    uploads(store, &bucket, rule, days, day_secs, now, &mut removed).await?;
                }
                Ok::<(), StoreError>(())
            };
            if let Err(e) = done.await {
                tracing::warn!(bucket, rule = rule.id, error = %e, "lifecycle rule failed this run");
            }
        }
    }
    Ok(removed)
}

/// A removal the store refused for a reason that is no failure of the run: the version
/// changed since it was judged (a newer write), or object lock keeps it.
fn skipped(r: Result<coffer_store::Deleted, StoreError>) -> Result<bool, StoreError> {
    match r {
        Ok(_) => Ok(true),
        Err(
            StoreError::PreconditionFailed
            | StoreError::ObjectLocked
            | StoreError::NoSuchKey
            | StoreError::NoSuchVersion
            | StoreError::NoSuchBucket,
        ) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Expiration and NoncurrentVersionExpiration over the versions under the rule's prefix.
async fn versions(
    store: &Store,
    bucket: &str,
    rule: &Rule,
    day_secs: u64,
    now: i64,
    removed: &mut Removed,
) -> Result<(), StoreError> {
    let prefix = rule.filter.prefix().to_owned();
    let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
    // Across pages: the key being walked, when its next-newer version was written (when
    // the one after it stopped being current), and how many of its noncurrent versions
    // were seen.
    let mut key = String::new();
    let mut newer_since = 0i64;
    let mut noncurrent_seen = 0u32;
    loop {
        let page = store.list_versions(
            bucket,
            &VersionsQuery {
                prefix: &prefix,
                delimiter: None,
                key_marker: key_marker.as_deref(),
                version_id_marker: version_marker.as_deref(),
                max_keys: 1000,
            },
        )?;
        let mut markers_to_check = Vec::new();
        for (k, rec, latest) in &page.versions {
            if *k != key {
                key.clone_from(k);
                noncurrent_seen = 0;
            }
            if *latest {
                if rec.delete_marker {
                    // ExpiredObjectDeleteMarker removes a lone marker at once; Days and Date
                    // remove it once it is as old as they say (AWS's cleanup with Days).
                    let eligible = match rule.expiration {
                        Some(Expiration::ExpiredObjectDeleteMarker) => true,
                        Some(Expiration::Days(d)) => {
                            rule.filter.matches(k, 0, &[])
                                && coffer_s3::lifecycle::due_after(rec.last_modified_ms, d, day_secs) <= now
                        }
                        Some(Expiration::Date(ms)) => rule.filter.matches(k, 0, &[]) && ms <= now,
                        None => false,
                    };
                    if eligible {
                        markers_to_check.push((k.clone(), rec.clone()));
                    }
                } else if rule.current_expiry(k, rec, day_secs).is_some_and(|t| t <= now) {
                    let cond = PutCondition::IsVersion(rec.sort);
                    if skipped(store.delete_object(bucket, k, None, false, cond).await)? {
                        removed.current += 1;
                    }
                }
            } else if let Some(days) = rule.noncurrent_days
                && rule.filter.matches(k, rec.size, &rec.tags)
            {
                noncurrent_seen += 1;
                let keep = rule.newer_noncurrent.unwrap_or(0);
                let due = coffer_s3::lifecycle::due_after(newer_since, days, day_secs) <= now;
                if due && noncurrent_seen > keep {
                    let v = rec.version_id_str().to_owned();
                    let r = store
                        .delete_object(bucket, k, Some(&v), false, PutCondition::None)
                        .await;
                    if skipped(r)? {
                        if rec.delete_marker {
                            removed.markers += 1;
                        } else {
                            removed.noncurrent += 1;
                        }
                    }
                }
            }
            newer_since = rec.last_modified_ms;
        }
        // A delete marker with nothing behind it: judged once its key's versions are all
        // seen (they may run onto the next page).
        for (k, marker) in markers_to_check {
            let alone = store
                .list_versions(
                    bucket,
                    &VersionsQuery {
                        prefix: &k,
                        delimiter: None,
                        key_marker: None,
                        version_id_marker: None,
                        max_keys: 2,
                    },
                )?
                .versions
                .iter()
                .filter(|(vk, _, _)| *vk == k)
                .count()
                == 1;
            if alone {
                let v = marker.version_id_str().to_owned();
                let r = store
                    .delete_object(bucket, &k, Some(&v), false, PutCondition::None)
                    .await;
                if skipped(r)? {
                    removed.markers += 1;
                }
            }
        }
        match page.next {
            Some((k, v)) if page.truncated => {
                key_marker = Some(k);
                version_marker = Some(v);
            }
            _ => return Ok(()),
        }
    }
}

/// AbortIncompleteMultipartUpload over the uploads under the rule's prefix.
async fn uploads(
    store: &Store,
    bucket: &str,
    rule: &Rule,
    days: u32,
    day_secs: u64,
    now: i64,
    removed: &mut Removed,
) -> Result<(), StoreError> {
    let prefix = rule.filter.prefix().to_owned();
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    loop {
        let page = store.list_uploads(
            bucket,
            &UploadsQuery {
                prefix: &prefix,
                delimiter: None,
                key_marker: key_marker.as_deref(),
                upload_id_marker: id_marker.as_deref(),
                max_uploads: 1000,
            },
        )?;
        for u in &page.uploads {
            if coffer_s3::lifecycle::due_after(u.initiated_ms, days, day_secs) <= now {
                match store.abort_upload(bucket, &u.key, &u.upload_id).await {
                    Ok(()) => removed.uploads += 1,
                    Err(StoreError::NoSuchUpload | StoreError::NoSuchBucket) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        match page.uploads.last() {
            Some(u) if page.truncated => {
                key_marker = Some(u.key.clone());
                id_marker = Some(u.upload_id.clone());
            }
            _ => return Ok(()),
        }
    }
}
