//! What gateways sharing one store agree on through it, when the metadata engine is
//! shared ([`MetaStore::shared`]): no process holds the whole truth, so
//!
//! - a released blob is not unlinked at once but queued (`Frees`, keyed by release time)
//!   and freed after a grace period, so that a reader on another gateway finishes the blob
//!   it is streaming;
//! - a blob is announced (`Intents`) before its first byte is written, naming its gateway,
//!   so that a gateway killed mid-write leaves nothing that no one may collect;
//! - gateways say they are alive (`Gateways`), and background work runs under leases
//!   (`Leases`), so exactly one gateway runs each worker.
//!
//! [`Store::collect`] does the freeing and the collecting; one gateway at a time runs it.

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::time::Duration;

use crate::blob::BlobId;
use crate::error::StoreResult;
use crate::meta::{Op, Scan, Table};
use crate::{Store, now_ms};

/// `Frees` key: release time (ms, big-endian) then the blob id, so due rows come first.
pub(crate) fn free_op(id: BlobId) -> Op {
    let mut k = Vec::with_capacity(24);
    k.extend_from_slice(&now_ms().to_be_bytes());
    k.extend_from_slice(&id.0.to_be_bytes());
    Op::Put(Table::Frees, k, Vec::new())
}

fn ms(b: &[u8]) -> i64 {
    b.get(..8).and_then(|b| b.try_into().ok()).map_or(0, i64::from_be_bytes)
}

fn id_at(b: &[u8], at: usize) -> Option<u128> {
    b.get(at..at + 16)
        .and_then(|b| b.try_into().ok())
        .map(u128::from_be_bytes)
}

/// `Intents` and `Leases` value: the gateway, then a time (ms).
fn stamp(gateway: u128, at: i64) -> Vec<u8> {
    let mut v = gateway.to_be_bytes().to_vec();
    v.extend_from_slice(&at.to_be_bytes());
    v
}

fn unstamp(v: &[u8]) -> (u128, i64) {
    (id_at(v, 0).unwrap_or(0), v.get(16..).map_or(0, ms))
}

/// What a collection did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Collected {
    /// Queued blobs freed after their grace period.
    pub freed: usize,
    /// Blobs no record, queue row or live writer named (a crashed writer's, say).
    pub orphans: usize,
}

impl Store {
    /// Whether other gateways share this store's engines.
    pub fn shared(&self) -> bool {
        self.meta.shared()
    }

    /// This process's id among the gateways, random at start.
    pub fn gateway(&self) -> u128 {
        self.gateway
    }

    /// Says this gateway is alive; its announced blobs are safe while it says so within
    /// the lease time the collector is given.
    pub async fn heartbeat(&self) -> StoreResult<()> {
        let key = self.gateway.to_be_bytes().to_vec();
        self.meta
            .commit(move |_| {
                Ok((
                    vec![Op::Put(Table::Gateways, key.clone(), now_ms().to_be_bytes().to_vec())],
                    (),
                ))
            })
            .await
    }

    /// Takes the lease `name` for `ttl`, or renews it if this gateway holds it: true when
    /// this gateway is now the holder.
    pub async fn lease(&self, name: &str, ttl: Duration) -> StoreResult<bool> {
        let (key, me) = (name.as_bytes().to_vec(), self.gateway);
        let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        self.meta
            .commit(move |txn| {
                let now = now_ms();
                if let Some(v) = txn.get(Table::Leases, &key)? {
                    let (holder, until) = unstamp(&v);
                    if holder != me && until > now {
                        return Ok((Vec::new(), false));
                    }
                }
                Ok((
                    vec![Op::Put(Table::Leases, key.clone(), stamp(me, now.saturating_add(ttl)))],
                    true,
                ))
            })
            .await
    }

    /// Announces a blob about to be written by this gateway.
    pub(crate) async fn announce(&self, id: BlobId) -> StoreResult<()> {
        let (key, me) = (id.0.to_be_bytes().to_vec(), self.gateway);
        self.meta
            .commit(move |_| Ok((vec![Op::Put(Table::Intents, key.clone(), stamp(me, now_ms()))], ())))
            .await
    }

    /// Withdraws the announcement of a blob this gateway gave up (and deleted).
    pub(crate) async fn withdraw(&self, id: BlobId) -> StoreResult<()> {
        let key = id.0.to_be_bytes().to_vec();
        self.meta
            .commit(move |_| Ok((vec![Op::Delete(Table::Intents, key.clone())], ())))
            .await
    }

    /// Frees the queued blobs released more than `grace` ago, then deletes every stored
    /// blob that no record names, that is not queued, and that no live gateway announced
    /// (a gateway is live if it said so within `ttl`), once two collections in a row found
    /// it so.
    pub async fn collect(&self, grace: Duration, ttl: Duration) -> StoreResult<Collected> {
        let mut done = Collected::default();
        let now = now_ms();
        let due = now.saturating_sub(i64::try_from(grace.as_millis()).unwrap_or(i64::MAX));
        loop {
            let rows = self
                .meta
                .read()?
                .range(Table::Frees, Bound::Unbounded, Some(&due.to_be_bytes()), 1000)?;
            if rows.is_empty() {
                break;
            }
            for (k, _) in &rows {
                if let Some(id) = id_at(k, 8) {
                    self.blobs.delete(BlobId(id)).await?;
                }
            }
            done.freed += rows.len();
            let keys: Vec<Vec<u8>> = rows.into_iter().map(|(k, _)| k).collect();
            self.meta
                .commit(move |_| Ok((keys.iter().map(|k| Op::Delete(Table::Frees, k.clone())).collect(), ())))
                .await?;
        }

        // Listed before the snapshot: a blob is announced before it is written, so one
        // listed here is announced (or named, or queued) in the snapshot below.
        let stored = self.blobs.list().await?;
        let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let (live, queued, intents, gateways) = {
            let txn = self.meta.read()?;
            let live = self.referenced(&*txn)?;
            let mut queued = HashSet::new();
            txn.scan(Table::Frees, Bound::Unbounded, None, &mut |k, _| {
                queued.extend(id_at(k, 8));
                Ok(Scan::Next)
            })?;
            let mut intents = HashMap::new();
            txn.scan(Table::Intents, Bound::Unbounded, None, &mut |k, v| {
                intents.insert(id_at(k, 0).unwrap_or(0), unstamp(v));
                Ok(Scan::Next)
            })?;
            let mut gateways = HashMap::new();
            txn.scan(Table::Gateways, Bound::Unbounded, None, &mut |k, v| {
                gateways.insert(id_at(k, 0).unwrap_or(0), ms(v));
                Ok(Scan::Next)
            })?;
            (live, queued, intents, gateways)
        };
        let alive = |gw: &u128| gateways.get(gw).is_some_and(|at| *at > now - ttl);
        let protected = |id: &BlobId| {
            live.contains(id)
                || queued.contains(&id.0)
                || intents.get(&id.0).is_some_and(|(gw, at)| alive(gw) || *at > now - ttl)
        };
        // A blob is listed a moment before its writer's announcement commits; so one goes
        // only when the collection before this one found it unprotected too.
        let unprotected: HashSet<BlobId> = stored.into_iter().filter(|id| !protected(id)).collect();
        let suspects = std::mem::take(&mut *self.suspects.lock().unwrap_or_else(|e| e.into_inner()));
        let mut next = HashSet::new();
        for id in unprotected {
            if suspects.contains(&id) {
                self.blobs.delete(id).await?;
                done.orphans += 1;
            } else {
                next.insert(id);
            }
        }
        *self.suspects.lock().unwrap_or_else(|e| e.into_inner()) = next;
        // Announcements are done with once their blob is named by a record, or once their
        // gateway is gone (its blob, if any, was collected above); so are gone gateways.
        let stale: Vec<Vec<u8>> = intents
            .iter()
            .filter(|(id, (gw, at))| live.contains(&BlobId(**id)) || (!alive(gw) && *at <= now - ttl))
            .map(|(id, _)| id.to_be_bytes().to_vec())
            .collect();
        let announcing: HashSet<u128> = intents.values().map(|(gw, _)| *gw).collect();
        let gone: Vec<Vec<u8>> = gateways
            .iter()
            .filter(|(gw, _)| !alive(gw) && !announcing.contains(gw))
            .map(|(gw, _)| gw.to_be_bytes().to_vec())
            .collect();
        if !stale.is_empty() || !gone.is_empty() {
            self.meta
                .commit(move |_| {
                    let ops = stale.iter().map(|k| Op::Delete(Table::Intents, k.clone()));
                    let ops = ops.chain(gone.iter().map(|k| Op::Delete(Table::Gateways, k.clone())));
                    Ok((ops.collect(), ()))
                })
                .await?;
        }
        Ok(done)
    }
}
