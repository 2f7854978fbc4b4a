//! Users: access keys and their secrets. The root user lives in the server's
//! configuration, not here.

use std::ops::Bound;

use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
use crate::meta::{Op, Scan, Table};
use crate::model::{self, CanonicalId};
use crate::{Store, now_ms};

/// See [`Store::access_view`].
#[derive(Debug, Default)]
pub struct AccessView {
    pub user: Option<UserRecord>,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub canonical_user_id: CanonicalId,
    pub created_ms: i64,
}

/// The user called `name`, and its access key (its row's key in `users`).
fn named_user(txn: &dyn crate::meta::ReadTxn, name: &str) -> StoreResult<(Vec<u8>, UserRecord)> {
    let key = txn
        .get(Table::UserNames, name.as_bytes())?
        .ok_or(StoreError::NoSuchUser)?;
    let user = txn
        .get(Table::Users, &key)?
        .map(|v| model::decode(&v))
        .transpose()?
        .ok_or_else(|| StoreError::Corrupt(format!("user {name} has no record")))?;
    Ok((key, user))
}

/// The canonical id of the user called `name`, and the policies attached to it.
fn policies_of(txn: &dyn crate::meta::ReadTxn, name: &str) -> StoreResult<(CanonicalId, UserPolicies)> {
    let (_, user) = named_user(txn, name)?;
    let id = user.canonical_user_id;
    let attached = txn
        .get(Table::UserPolicies, &id.0)?
        .map(|v| decode_policies(&v))
        .transpose()?
        .unwrap_or_default();
    Ok((id, attached))
}

impl Store {
    /// Adds a user; both its name and its access key must be new.
    pub async fn add_user(&self, mut user: UserRecord) -> StoreResult<UserRecord> {
        user.created_ms = now_ms();
        self.meta
            .commit(move |txn| {
                if txn.get(Table::UserNames, user.name.as_bytes())?.is_some()
                    || txn.get(Table::Users, user.access_key_id.as_bytes())?.is_some()
                    || txn.get(Table::UserIds, &user.canonical_user_id.0)?.is_some()
                {
                    return Err(StoreError::UserExists);
                }
                let ops = vec![
                    Op::Put(
                        Table::Users,
                        user.access_key_id.clone().into_bytes(),
                        model::encode(&user),
                    ),
                    Op::Put(
                        Table::UserNames,
                        user.name.clone().into_bytes(),
                        user.access_key_id.clone().into_bytes(),
                    ),
                    Op::Put(
                        Table::UserIds,
                        user.canonical_user_id.0.to_vec(),
                        user.access_key_id.clone().into_bytes(),
                    ),
                ];
                Ok((ops, user.clone()))
            })
            .await
    }

    /// Removes a user. What it owned stays owned by its id, which no later user gets: a new
    /// user of the same name is someone else.
    pub async fn remove_user(&self, name: &str) -> StoreResult<()> {
        let name = name.to_owned();
        self.meta
            .commit(move |txn| {
                let (key, user) = named_user(txn, &name)?;
                Ok((
                    vec![
                        Op::Delete(Table::Users, key),
                        Op::Delete(Table::UserNames, name.clone().into_bytes()),
                        Op::Delete(Table::UserIds, user.canonical_user_id.0.to_vec()),
                        Op::Delete(Table::UserPolicies, user.canonical_user_id.0.to_vec()),
                    ],
                    (),
                ))
            })
            .await
    }

    /// The user with this canonical id, if it still exists.
    pub fn user_by_id(&self, id: &CanonicalId) -> StoreResult<Option<UserRecord>> {
        let txn = self.meta.read()?;
        match txn.get(Table::UserIds, &id.0)? {
            Some(key) => txn.get(Table::Users, &key)?.map(|v| model::decode(&v)).transpose(),
            None => Ok(None),
        }
    }

    pub fn user_by_access_key(&self, access_key_id: &str) -> StoreResult<Option<UserRecord>> {
        let txn = self.meta.read()?;
        txn.get(Table::Users, access_key_id.as_bytes())?
            .map(|v| model::decode(&v))
            .transpose()
    }

    pub fn user_by_name(&self, name: &str) -> StoreResult<Option<UserRecord>> {
        let txn = self.meta.read()?;
        match txn.get(Table::UserNames, name.as_bytes())? {
            Some(key) => txn.get(Table::Users, &key)?.map(|v| model::decode(&v)).transpose(),
            None => Ok(None),
        }
    }

    /// What authorizing a request reads, in one read transaction: the caller's user (by
    /// access key; `None` for root and anonymous callers) and its attached policies, the
    /// addressed bucket, and the stamp of that bucket's settings, by which a caller caches
    /// them ([`Store::bucket_settings`]).
    pub fn access_view(&self, access_key_id: Option<&str>, bucket: Option<&str>) -> StoreResult<AccessView> {
        let txn = self.meta.read()?;
        let user: Option<UserRecord> = match access_key_id {
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
        let mut keys = Vec::new();
        txn.scan(Table::UserNames, Bound::Unbounded, None, &mut |_, v| {
            keys.push(v.to_vec());
            Ok(Scan::Next)
        })?;
        keys.iter()
            .filter_map(|k| txn.get(Table::Users, k).transpose())
            .map(|v| v.and_then(|v| model::decode(&v)))
            .collect()
    }
}
