//! The version rules per bucket state, as a table, on the in-memory engines: what a PUT
//! demotes or replaces and what a DELETE removes or marks, in unversioned, enabled and
//! suspended buckets. No server needed.

use std::sync::Arc;

use bytes::Bytes;
use coffer_store::blob::MemBlobStore;
use coffer_store::meta::MemMeta;
use coffer_store::{CanonicalId, ObjectMeta, PutCondition, Store, Versioning, VersionsQuery};

/// What a key's history looks like, newest first: `v` a version with a generated id, `n`
/// the null version, `m` a delete marker with an id, `z` a null delete marker; upper case
/// is the latest.
fn history(s: &Store) -> String {
    let q = VersionsQuery {
        max_keys: 100,
        ..VersionsQuery::default()
    };
    s.list_versions("b", &q)
        .unwrap()
        .versions
        .iter()
        .map(|(_, r, latest)| {
            let c = match (r.delete_marker, r.version_id.is_some()) {
                (false, true) => 'v',
                (false, false) => 'n',
                (true, true) => 'm',
                (true, false) => 'z',
            };
            if *latest { c.to_ascii_uppercase() } else { c }
        })
        .collect()
}

async fn put(s: &Store) {
    let staged = s
        .stage(
            futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"x"))]),
            None,
            &mut |_| {},
        )
        .await
        .unwrap();
    s.put_object("b", "k", staged, ObjectMeta::default(), PutCondition::None)
        .await
        .unwrap();
}

async fn run(steps: &str) -> String {
    let s = Store::with_engines(Arc::new(MemMeta::new(true)), Arc::new(MemBlobStore::new()), 1024);
    s.create_bucket("b", CanonicalId([1; 32]), false).await.unwrap();
    for step in steps.split_whitespace() {
        match step {
            "put" => put(&s).await,
            "del" => {
                s.delete_object("b", "k", None, false, PutCondition::None)
                    .await
                    .unwrap();
            }
            "on" => s.set_versioning("b", Versioning::Enabled).await.unwrap(),
            "off" => s.set_versioning("b", Versioning::Suspended).await.unwrap(),
            other => panic!("unknown step {other}"),
        }
    }
    history(&s)
}

#[tokio::test]
async fn versions_by_bucket_state() {
    // (steps, history afterwards)
    let cases = [
        // Unversioned: one null version, replaced in place; delete removes it.
        ("put", "N"),
        ("put put", "N"),
        ("put del", ""),
        // Enabled: every PUT a new version, DELETE a marker on top.
        ("on put put", "Vv"),
        ("on put del", "Mv"),
        ("put on put", "Vn"),
        // Suspended: PUTs and DELETEs replace the null version; versions with ids stay.
        ("on put off put", "Nv"),
        ("on put off put put", "Nv"),
        ("on put off put del", "Zv"),
        ("on put off del", "Zv"),
        ("put on put off put", "Nv"),
    ];
    for (steps, want) in cases {
        assert_eq!(run(steps).await, want, "after `{steps}`");
    }
}
