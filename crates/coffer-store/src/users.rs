//! Users and their access keys. The root user lives in the server's configuration, not
//! here.
//!
//! `users` holds one row per access key (its user's id and name, its secret), `user_ids`
//! the user under its canonical id (name, creation, the list of its keys), `user_names`
//! the id of each name. A request's signature and its authorization read the key's row
//! alone for the caller.

use std::ops::Bound;

use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
use crate::meta::{Op, Scan, Table};
use crate::model::{self, CanonicalId};
use crate::{Store, now_ms};

/// See [`Store::access_view`].
#[derive(Debug, Default)]
pub struct AccessView {
    /// The caller's access key, which names its user.
    pub user: Option<AccessKeyRecord>,
    pub bucket: Option<crate::BucketRecord>,
    /// The bucket's settings stamp: `None` before its first setting.
    pub settings_stamp: Option<u64>,
    /// The user's policies as stored (decode with [`decode_policies`]); `None`: none.
    pub user_policies: Option<Vec<u8>>,
}

/// A user's attached policies: name and JSON text, in the order they were attached.
pub type UserPolicies = Vec<(String, String)>;

/// Decodes the `user_policies` row of an [`AccessView`].
pub fn decode_policies(row: &[u8]) -> StoreResult<UserPolicies> {
    model::decode(row)
}

/// How many access keys a user may hold at once (AWS IAM allows 2).
pub const MAX_ACCESS_KEYS: usize = 10;

/// A user, stored under its canonical id (`user_ids`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    pub canonical_user_id: CanonicalId,
    pub created_ms: i64,
    /// Its access keys, oldest first; possibly none (then it cannot sign requests).
    pub access_keys: Vec<AccessKey>,
}

impl UserRecord {
    /// Its oldest access key, the one the user was created with unless removed.
    pub fn access_key_id(&self) -> Option<&str> {
        self.access_keys.first().map(|k| k.access_key_id.as_str())
    }
}

/// One of a user's access keys, as its user record lists it (no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKey {
    pub access_key_id: String,
    pub created_ms: i64,
}

/// An access key's row in `users`, keyed by the key id: whose it is and its secret. It
/// carries the user's name (names never change) so that checking a signature and
/// authorizing a request read one row for the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyRecord {
    pub canonical_user_id: CanonicalId,
    pub name: String,
    pub secret_access_key: String,
    pub created_ms: i64,
}

/// A user to add, with its first access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub name: String,
    pub canonical_user_id: CanonicalId,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// A random key id in AWS's alphabet and length.
pub fn random_access_key_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut s = String::from("CK");
    for _ in 0..18 {
        s.push(ALPHABET[rand::random_range(0..ALPHABET.len())] as char);
    }
    s
}

/// A random secret access key: 40 characters, as AWS's.
pub fn random_secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..40)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The user with canonical id `id`.
fn user_of(txn: &dyn crate::meta::ReadTxn, id: &[u8]) -> StoreResult<Option<UserRecord>> {
    txn.get(Table::UserIds, id)?.map(|v| model::decode(&v)).transpose()
}

/// The user called `name`.
fn named_user(txn: &dyn crate::meta::ReadTxn, name: &str) -> StoreResult<UserRecord> {
    let id = txn
        .get(Table::UserNames, name.as_bytes())?
        .ok_or(StoreError::NoSuchUser)?;
    user_of(txn, &id)?.ok_or_else(|| StoreError::Corrupt(format!("user {name} has no record")))
}

/// The canonical id of the user called `name`, and the policies attached to it.
fn policies_of(txn: &dyn crate::meta::ReadTxn, name: &str) -> StoreResult<(CanonicalId, UserPolicies)> {
    let id = named_user(txn, name)?.canonical_user_id;
    let attached = txn
        .get(Table::UserPolicies, &id.0)?
        .map(|v| decode_policies(&v))
        .transpose()?
        .unwrap_or_default();
    Ok((id, attached))
}

impl Store {
    /// Adds a user with one access key; its name, its id and its key must all be new.
    pub async fn add_user(&self, new: NewUser) -> StoreResult<UserRecord> {
        let created_ms = now_ms();
        self.meta
            .commit(move |txn| {
                if txn.get(Table::UserNames, new.name.as_bytes())?.is_some()
                    || txn.get(Table::Users, new.access_key_id.as_bytes())?.is_some()
                    || txn.get(Table::UserIds, &new.canonical_user_id.0)?.is_some()
                {
                    return Err(StoreError::UserExists);
                }
                let user = UserRecord {
                    name: new.name.clone(),
                    canonical_user_id: new.canonical_user_id,
                    created_ms,
                    access_keys: vec![AccessKey {
                        access_key_id: new.access_key_id.clone(),
                        created_ms,
                    }],
                };
                let key = AccessKeyRecord {
                    canonical_user_id: new.canonical_user_id,
                    name: new.name.clone(),
                    secret_access_key: new.secret_access_key.clone(),
                    created_ms,
                };
                let ops = vec![
                    Op::Put(
                        Table::Users,
                        new.access_key_id.clone().into_bytes(),
                        model::encode(&key),
                    ),
                    Op::Put(Table::UserIds, user.canonical_user_id.0.to_vec(), model::encode(&user)),
                    Op::Put(
                        Table::UserNames,
                        user.name.clone().into_bytes(),
                        user.canonical_user_id.0.to_vec(),
                    ),
                ];
                Ok((ops, user))
            })
            .await
    }

    /// Removes a user and all its access keys. What it owned stays owned by its id, which
    /// no later user gets: a new user of the same name is someone else.
    pub async fn remove_user(&self, name: &str) -> StoreResult<()> {
        let name = name.to_owned();
        self.meta
            .commit(move |txn| {
                let user = named_user(txn, &name)?;
                let id = user.canonical_user_id.0.to_vec();
                let mut ops: Vec<Op> = user
                    .access_keys
                    .into_iter()
                    .map(|k| Op::Delete(Table::Users, k.access_key_id.into_bytes()))
                    .collect();
                ops.push(Op::Delete(Table::UserNames, name.clone().into_bytes()));
                ops.push(Op::Delete(Table::UserIds, id.clone()));
                ops.push(Op::Delete(Table::UserPolicies, id));
                Ok((ops, ()))
            })
            .await
    }

    /// Gives the user called `name` another access key: `key` (id and secret), or a random
    /// one. The id must be no other key's; a user holds at most [`MAX_ACCESS_KEYS`].
    /// Returns the key's id and secret.
    pub async fn add_access_key(&self, name: &str, key: Option<(String, String)>) -> StoreResult<(String, String)> {
        let name = name.to_owned();
        let (id, secret) = key.unwrap_or_else(|| (random_access_key_id(), random_secret()));
        let created_ms = now_ms();
        self.meta
            .commit(move |txn| {
                let mut user = named_user(txn, &name)?;
                if user.access_keys.len() >= MAX_ACCESS_KEYS {
                    return Err(StoreError::TooManyAccessKeys);
                }
                if txn.get(Table::Users, id.as_bytes())?.is_some() {
                    return Err(StoreError::AccessKeyExists);
                }
                user.access_keys.push(AccessKey {
                    access_key_id: id.clone(),
                    created_ms,
                });
                let key = AccessKeyRecord {
                    canonical_user_id: user.canonical_user_id,
                    name: user.name.clone(),
                    secret_access_key: secret.clone(),
                    created_ms,
                };
                let ops = vec![
                    Op::Put(Table::Users, id.clone().into_bytes(), model::encode(&key)),
                    Op::Put(Table::UserIds, user.canonical_user_id.0.to_vec(), model::encode(&user)),
                ];
                Ok((ops, (id.clone(), secret.clone())))
            })
            .await
    }

    /// The access keys of the user called `name`, oldest first (no secrets).
    pub fn list_access_keys(&self, name: &str) -> StoreResult<Vec<AccessKey>> {
        Ok(named_user(&*self.meta.read()?, name)?.access_keys)
    }

    /// Removes the access key `access_key_id` of the user called `name`: requests it signs
    /// fail from the commit on. A user may be left with none, as on AWS.
    pub async fn remove_access_key(&self, name: &str, access_key_id: &str) -> StoreResult<()> {
        let (name, key_id) = (name.to_owned(), access_key_id.to_owned());
        self.meta
            .commit(move |txn| {
                let mut user = named_user(txn, &name)?;
                let before = user.access_keys.len();
                user.access_keys.retain(|k| k.access_key_id != key_id);
                if user.access_keys.len() == before {
                    return Err(StoreError::NoSuchAccessKey);
                }
                let ops = vec![
                    Op::Delete(Table::Users, key_id.clone().into_bytes()),
                    Op::Put(Table::UserIds, user.canonical_user_id.0.to_vec(), model::encode(&user)),
                ];
                Ok((ops, ()))
            })
            .await
    }

    /// The user with this canonical id, if it still exists.
    pub fn user_by_id(&self, id: &CanonicalId) -> StoreResult<Option<UserRecord>> {
        user_of(&*self.meta.read()?, &id.0)
    }

    /// The access key `access_key_id`: its secret and its user. One read.
    pub fn user_by_access_key(&self, access_key_id: &str) -> StoreResult<Option<AccessKeyRecord>> {
        let txn = self.meta.read()?;
        txn.get(Table::Users, access_key_id.as_bytes())?
            .map(|v| model::decode(&v))
            .transpose()
    }

    pub fn user_by_name(&self, name: &str) -> StoreResult<Option<UserRecord>> {
        match named_user(&*self.meta.read()?, name) {
            Ok(u) => Ok(Some(u)),
            Err(StoreError::NoSuchUser) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What authorizing a request reads, in one read transaction: the caller's access key
    /// (its user's id and name; `None` for root and anonymous callers) and its user's
    /// attached policies, the addressed bucket, and the stamp of that bucket's settings, by
    /// which a caller caches them ([`Store::bucket_settings`]).
    pub fn access_view(&self, access_key_id: Option<&str>, bucket: Option<&str>) -> StoreResult<AccessView> {
        let txn = self.meta.read()?;
        let user: Option<AccessKeyRecord> = match access_key_id {
            Some(k) => txn
                .get(Table::Users, k.as_bytes())?
                .map(|v| model::decode(&v))
                .transpose()?,
            None => None,
        };
        let user_policies = match &user {
            Some(u) => txn.get(Table::UserPolicies, &u.canonical_user_id.0)?,
            None => None,
        };
        let mut view = AccessView {
            user,
            user_policies,
            ..AccessView::default()
        };
        if let Some(b) = bucket
            && let Some(rec) = txn.get(Table::Buckets, b.as_bytes())?
        {
            view.bucket = Some(model::decode(&rec)?);
            view.settings_stamp = crate::settings::stamp(&*txn, b)?;
        }
        Ok(view)
    }

    /// The policies attached to the user called `name`.
    pub fn user_policies(&self, name: &str) -> StoreResult<UserPolicies> {
        Ok(policies_of(&*self.meta.read()?, name)?.1)
    }

    /// Attaches a policy to the user called `name`, replacing one of the same name.
    pub async fn attach_user_policy(&self, name: &str, policy: &str, text: &str) -> StoreResult<()> {
        let (name, policy, text) = (name.to_owned(), policy.to_owned(), text.to_owned());
        self.meta
            .commit(move |txn| {
                let (id, mut all) = policies_of(txn, &name)?;
                match all.iter_mut().find(|(n, _)| *n == policy) {
                    Some(p) => p.1 = text.clone(),
                    None => all.push((policy.clone(), text.clone())),
                }
                Ok((
                    vec![Op::Put(Table::UserPolicies, id.0.to_vec(), model::encode(&all))],
                    (),
                ))
            })
            .await
    }

    /// Detaches the policy `policy` from the user called `name`; false if it had none so named.
    pub async fn detach_user_policy(&self, name: &str, policy: &str) -> StoreResult<bool> {
        let (name, policy) = (name.to_owned(), policy.to_owned());
        self.meta
            .commit(move |txn| {
                let (id, mut all) = policies_of(txn, &name)?;
                let before = all.len();
                all.retain(|(n, _)| *n != policy);
                if all.len() == before {
                    return Ok((Vec::new(), false));
                }
                let op = if all.is_empty() {
                    Op::Delete(Table::UserPolicies, id.0.to_vec())
                } else {
                    Op::Put(Table::UserPolicies, id.0.to_vec(), model::encode(&all))
                };
                Ok((vec![op], true))
            })
            .await
    }

    /// Users in name order.
    pub fn list_users(&self) -> StoreResult<Vec<UserRecord>> {
        let txn = self.meta.read()?;
        let mut ids = Vec::new();
        txn.scan(Table::UserNames, Bound::Unbounded, None, &mut |_, v| {
            ids.push(v.to_vec());
            Ok(Scan::Next)
        })?;
        ids.iter().filter_map(|id| user_of(&*txn, id).transpose()).collect()
    }
}
