//! Users: access keys and their secrets. The root user lives in the server's
//! configuration, not here.

use std::ops::Bound;

use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
use crate::meta::{Op, Scan, Table};
use crate::model;
use crate::{Store, now_ms};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub canonical_user_id: String,
    pub created_ms: i64,
}

impl Store {
    /// Adds a user; both its name and its access key must be new.
    pub async fn add_user(&self, mut user: UserRecord) -> StoreResult<UserRecord> {
        user.created_ms = now_ms();
        self.meta
            .commit(move |txn| {
                if txn.get(Table::UserNames, user.name.as_bytes())?.is_some()
                    || txn.get(Table::Users, user.access_key_id.as_bytes())?.is_some()
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
                ];
                Ok((ops, user))
            })
            .await
    }

    pub async fn remove_user(&self, name: &str) -> StoreResult<()> {
        let name = name.to_owned();
        self.meta
            .commit(move |txn| {
                let key = txn
                    .get(Table::UserNames, name.as_bytes())?
                    .ok_or(StoreError::NoSuchUser)?;
                Ok((
                    vec![
                        Op::Delete(Table::Users, key),
                        Op::Delete(Table::UserNames, name.into_bytes()),
                    ],
                    (),
                ))
            })
            .await
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
