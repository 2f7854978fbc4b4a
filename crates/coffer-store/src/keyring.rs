//! The store's keys: the master key a data directory is sealed under, the key service's
//! named keys, and the key-encryption key of every read and write (see [`crate::sse`]).

use std::ops::Bound;
use std::path::{Path, PathBuf};

use crate::Store;
use crate::error::{StoreError, StoreResult};
use crate::meta::{Op, ReadTxn, Scan, Table};
use crate::model::{self, ObjectRecord, PartRecord};
use crate::sse::{self, CustomerKey, Encrypt, Kek, KmsKeyRecord, MasterKey, Sealing, SseMode};

const MASTER_ROW: &[u8] = b"master";

/// Where a data directory keeps its master key when the server is given none.
pub fn default_key_path(dir: &Path) -> PathBuf {
    dir.join("master.key")
}

/// A new master key being rotated in, until the rotation's commit is known to have landed.
fn pending_key_path(dir: &Path) -> PathBuf {
    dir.join("master.key.new")
}

fn kms_row(name: &str) -> Vec<u8> {
    let mut k = b"kms\0".to_vec();
    k.extend_from_slice(name.as_bytes());
    k
}

/// The id of the master key `txn`'s data directory is sealed under, if one was recorded.
fn stored_master_id(txn: &dyn ReadTxn) -> StoreResult<Option<[u8; 8]>> {
    txn.get(Table::Keys, MASTER_ROW)?
        .map(|v| {
            <[u8; 8]>::try_from(v.as_slice())
                .map_err(|_| StoreError::Corrupt(format!("the master key id row holds {} bytes, not 8", v.len())))
        })
        .transpose()
}

/// A key of the key service, as `coffer kms list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsKeyInfo {
    pub name: String,
    pub created_ms: i64,
    pub enabled: bool,
}

impl Store {
    /// The master key of a data directory that keeps its own (`master.key`): read, made on
    /// first start, or — after a rotation interrupted between its commit and the file's
    /// replacement — the new one, finishing the rotation.
    pub(crate) fn default_master_key(&self, dir: &Path) -> StoreResult<(MasterKey, bool)> {
        let (path, pending) = (default_key_path(dir), pending_key_path(dir));
        let stored = stored_master_id(&*self.meta.read()?)?;
        if pending.exists() {
            // A new key the rotation committed to takes over; any other (an unfinished
            // rotation's, even a half-written one) is debris.
            match MasterKey::load(&pending) {
                Ok(new) if stored == Some(new.id()) => std::fs::rename(&pending, &path)?,
                _ => std::fs::remove_file(&pending)?,
            }
            crate::blob::sync_dir(dir)?;
        }
        match MasterKey::load(&path) {
            Ok(k) => Ok((k, false)),
            // Keys were sealed under a key that is gone: a new one would open nothing.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && stored.is_some() => {
                Err(StoreError::Corrupt(format!(
                    "{} is missing, but this data directory's keys are sealed under master key {}: restore the file from its backup, or pass --master-key-file",
                    path.display(),
                    hex::encode(stored.unwrap_or_default())
                )))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let k = MasterKey::generate();
                k.write_new(&path)?;
                Ok((k, true))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Records the master key's id in a data directory that has none, or checks it.
    pub(crate) async fn check_master_key(&self) -> StoreResult<()> {
        let id = self.master.id();
        self.meta
            .commit(move |txn| match stored_master_id(txn)? {
                None => Ok((vec![Op::Put(Table::Keys, MASTER_ROW.to_vec(), id.to_vec())], ())),
                Some(s) if s == id => Ok((Vec::new(), ())),
                Some(s) => Err(StoreError::WrongMasterKey {
                    stored: hex::encode(s),
                    given: hex::encode(id),
                }),
            })
            .await
    }

    /// What a write's bytes are sealed with. An SSE-KMS write needs an enabled key; the
    /// default key is made on first use.
    pub async fn sealing(&self, enc: &Encrypt) -> StoreResult<Sealing> {
        Ok(match enc {
            Encrypt::S3 => Sealing {
                mode: SseMode::S3,
                kek: sse::master_kek(&self.master),
                etag_key: None,
            },
            Encrypt::Kms {
                key_id,
                context,
                bucket_key,
            } => {
                let (kek, etag_key) = match self.kms_kek(key_id, context) {
                    Err(StoreError::KmsKeyNotFound(_)) if key_id == sse::DEFAULT_KMS_KEY => {
                        match self.create_kms_key(key_id).await {
                            Ok(()) | Err(StoreError::KmsKeyExists(_)) => {}
                            Err(e) => return Err(e),
                        }
                        self.kms_kek(key_id, context)?
                    }
                    r => r?,
                };
                Sealing {
                    mode: SseMode::Kms {
                        key_id: key_id.clone(),
                        context: context.clone(),
                        bucket_key: *bucket_key,
                    },
                    kek,
                    etag_key: Some(etag_key),
                }
            }
            Encrypt::Customer(k) => {
                let (kek, etag_key) = sse::customer_kek(k);
                let salt: [u8; 16] = rand::random();
                Sealing {
                    mode: SseMode::Customer {
                        salt,
                        key_mac: k.mac(&salt),
                    },
                    kek,
                    etag_key: Some(etag_key),
                }
            }
        })
    }

    /// The key-encryption key that reads data encrypted in `mode`, given the SSE-C key a
    /// request brought (if any): SSE-C data needs its own key, and other data none.
    pub fn read_kek(&self, mode: Option<&SseMode>, customer: Option<&CustomerKey>) -> StoreResult<Option<Kek>> {
        match (mode, customer) {
            (None, None) => Ok(None),
            (Some(SseMode::Customer { .. }), None) => Err(StoreError::SseKeyMissing),
            (Some(SseMode::Customer { salt, key_mac }), Some(k)) if k.matches(salt, key_mac) => {
                Ok(Some(sse::customer_kek(k).0))
            }
            (Some(SseMode::Customer { .. }), Some(_)) => Err(StoreError::SseWrongKey),
            (_, Some(_)) => Err(StoreError::SseNotCustomer),
            (Some(SseMode::S3), None) => Ok(Some(sse::master_kek(&self.master))),
            (Some(SseMode::Kms { key_id, context, .. }), None) => Ok(Some(self.kms_kek(key_id, context)?.0)),
        }
    }

    /// The KEK of data under an enabled key of the key service and `context`, and the
    /// key of such data's ETags.
    fn kms_kek(&self, key_id: &str, context: &str) -> StoreResult<(Kek, [u8; 32])> {
        let rec = self.kms_key(key_id)?;
        if !rec.enabled {
            return Err(StoreError::KmsKeyDisabled(key_id.to_owned()));
        }
        sse::kms_kek(&self.master, key_id, &rec, context)
    }

    fn kms_key(&self, name: &str) -> StoreResult<KmsKeyRecord> {
        match self.meta.read()?.get(Table::Keys, &kms_row(name))? {
            Some(v) => model::decode(&v),
            None => Err(StoreError::KmsKeyNotFound(name.to_owned())),
        }
    }

    /// Creates a key of the key service.
    pub async fn create_kms_key(&self, name: &str) -> StoreResult<()> {
        let (name, rec) = (name.to_owned(), sse::new_kms_key(&self.master, name));
        self.meta
            .commit(move |txn| {
                let row = kms_row(&name);
                if txn.get(Table::Keys, &row)?.is_some() {
                    return Err(StoreError::KmsKeyExists(name.clone()));
                }
                Ok((vec![Op::Put(Table::Keys, row, model::encode(&rec))], ()))
            })
            .await
    }

    /// Enables or disables a key: data sealed under a disabled key can be neither written
    /// nor read until it is enabled again.
    pub async fn set_kms_key_enabled(&self, name: &str, enabled: bool) -> StoreResult<()> {
        let name = name.to_owned();
        self.meta
            .commit(move |txn| {
                let row = kms_row(&name);
                let mut rec: KmsKeyRecord = match txn.get(Table::Keys, &row)? {
                    Some(v) => model::decode(&v)?,
                    None => return Err(StoreError::KmsKeyNotFound(name.clone())),
                };
                rec.enabled = enabled;
                Ok((vec![Op::Put(Table::Keys, row, model::encode(&rec))], ()))
            })
            .await
    }

    pub fn list_kms_keys(&self) -> StoreResult<Vec<KmsKeyInfo>> {
        let txn = self.meta.read()?;
        let from = kms_row("");
        let to = model::prefix_successor(&from);
        txn.range(Table::Keys, Bound::Included(&from), to.as_deref(), usize::MAX)?
            .into_iter()
            .map(|(k, v)| {
                let rec: KmsKeyRecord = model::decode(&v)?;
                Ok(KmsKeyInfo {
                    name: String::from_utf8_lossy(&k[from.len()..]).into_owned(),
                    created_ms: rec.created_ms,
                    enabled: rec.enabled,
                })
            })
            .collect()
    }

    /// Re-seals everything sealed under the master key (SSE-S3 data keys, the key
    /// service's keys) under `new`, and records `new` as the data directory's key, in one
    /// commit: after a crash the directory is wholly under one key or the other. Object
    /// data is not rewritten. Returns how many keys were re-sealed.
    pub async fn rotate_master_key(&self, new: &MasterKey) -> StoreResult<usize> {
        let (old, new) = (self.master.clone(), new.clone());
        self.meta
            .commit(move |txn| {
                let (old_kek, new_kek) = (sse::master_kek(&old), sse::master_kek(&new));
                let mut ops = Vec::new();
                for table in [Table::Current, Table::Versions] {
                    txn.scan(table, Bound::Unbounded, None, &mut |k, v| {
                        let mut rec: ObjectRecord = model::decode(v)?;
                        if sse::reseal_s3(&old_kek, &new_kek, &mut rec.sse)? {
                            ops.push(Op::Put(table, k.to_vec(), model::encode(&rec)));
                        }
                        Ok(Scan::Next)
                    })?;
                }
                for table in [Table::Parts, Table::ObjectParts] {
                    txn.scan(table, Bound::Unbounded, None, &mut |k, v| {
                        let mut rec: PartRecord = model::decode(v)?;
                        if sse::reseal_s3(&old_kek, &new_kek, &mut rec.sse)? {
                            ops.push(Op::Put(table, k.to_vec(), model::encode(&rec)));
                        }
                        Ok(Scan::Next)
                    })?;
                }
                let from = kms_row("");
                let to = model::prefix_successor(&from);
                for (k, v) in txn.range(Table::Keys, Bound::Included(&from), to.as_deref(), usize::MAX)? {
                    let mut rec: KmsKeyRecord = model::decode(&v)?;
                    sse::reseal_kms(&old, &new, &String::from_utf8_lossy(&k[from.len()..]), &mut rec)?;
                    ops.push(Op::Put(Table::Keys, k, model::encode(&rec)));
                }
                let n = ops.len();
                ops.push(Op::Put(Table::Keys, MASTER_ROW.to_vec(), new.id().to_vec()));
                Ok((ops, n))
            })
            .await
    }

    /// Rotates the master key of a data directory that keeps its own (`master.key`): the
    /// new key is written beside it first, so a crash at any point leaves a key that opens
    /// the directory (see [`Store::default_master_key`]).
    pub async fn rotate_default_master_key(&self, dir: &Path) -> StoreResult<usize> {
        let new = MasterKey::generate();
        let pending = pending_key_path(dir);
        if pending.exists() {
            std::fs::remove_file(&pending)?;
        }
        new.write_new(&pending)?;
        let n = match self.rotate_master_key(&new).await {
            Ok(n) => n,
            Err(e) => {
                // Nothing was re-sealed: the new key is no one's.
                let _ = std::fs::remove_file(&pending);
                return Err(e);
            }
        };
        std::fs::rename(&pending, default_key_path(dir))?;
        crate::blob::sync_dir(dir)?;
        Ok(n)
    }
}
