//! Format 3 (and 1 and 2, the same for users): one access key per user. The `users` row,
//! keyed by the access key, held the whole user; `user_names` and `user_ids` pointed at
//! that key. Format 4 lets a user hold several keys: the user lives under its canonical id
//! in `user_ids`, `user_names` points at that id, and each `users` row is one key that
//! names its user (and carries its name, so that a request's signature and authorization
//! still read one row for the caller). The upgrade to format 4 rewrites the three tables
//! in the commit that moves the directory to format 4 ([`migrate_users`]); a format 1-3
//! key row also reads in memory as the key it holds ([`AccessKeyRecord`]'s `from_format_*`).

use serde::Deserialize;

use crate::error::{StoreError, StoreResult};
use crate::meta::{Op, ReadTxn, Table};
use crate::model::CanonicalId;
use crate::users::{AccessKey, AccessKeyRecord, UserRecord};

/// A user as formats 1 to 3 stored it, under its one access key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserRecordV3 {
    pub name: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub canonical_user_id: CanonicalId,
    pub created_ms: i64,
}

impl UserRecordV3 {
    /// Its one key, as format 4 stores a key: created with the user.
    pub fn key(&self) -> AccessKeyRecord {
        AccessKeyRecord {
            canonical_user_id: self.canonical_user_id,
            name: self.name.clone(),
            secret_access_key: self.secret_access_key.clone(),
            created_ms: self.created_ms,
        }
    }

    /// The user, as format 4 stores it under its canonical id.
    pub fn user(&self) -> UserRecord {
        UserRecord {
            name: self.name.clone(),
            canonical_user_id: self.canonical_user_id,
            created_ms: self.created_ms,
            access_keys: vec![AccessKey {
                access_key_id: self.access_key_id.clone(),
                created_ms: self.created_ms,
            }],
        }
    }
}

pub(super) fn access_key(rest: &[u8]) -> postcard::Result<AccessKeyRecord> {
    postcard::from_bytes::<UserRecordV3>(rest).map(|u| u.key())
}

/// The ops that give `users` (one user per key, as format 1-3 wrote them) format 4's
/// layout: each key row rewritten as a key, the user under its id, its name pointing at
/// the id.
pub fn users_ops(users: impl IntoIterator<Item = UserRecordV3>) -> Vec<Op> {
    let mut ops = Vec::new();
    for u in users {
        let id = u.canonical_user_id.0.to_vec();
        ops.push(Op::Put(
            Table::Users,
            u.access_key_id.clone().into_bytes(),
            super::encode(&u.key()),
        ));
        ops.push(Op::Put(Table::UserIds, id.clone(), super::encode(&u.user())));
        ops.push(Op::Put(Table::UserNames, u.name.clone().into_bytes(), id));
    }
    ops
}

/// [`users_ops`] for the `users` table of a format 1-3 data directory.
pub fn migrate_users(txn: &dyn ReadTxn) -> StoreResult<Vec<Op>> {
    let rows = txn.range(Table::Users, std::ops::Bound::Unbounded, None, usize::MAX)?;
    let users = rows
        .iter()
        .map(|(_, v)| match v.split_first() {
            Some((1..=3, rest)) => {
                postcard::from_bytes::<UserRecordV3>(rest).map_err(|e| StoreError::Corrupt(format!("user: {e}")))
            }
            _ => Err(StoreError::Corrupt("a user row not in format 1-3".into())),
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(users_ops(users))
}
