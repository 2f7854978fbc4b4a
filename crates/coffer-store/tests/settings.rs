//! Bucket settings: one row per bucket and kind, gone with their bucket.

use coffer_store::{CanonicalId, SettingKind, Store, StoreError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Cors {
    origins: Vec<String>,
    max_age: u32,
}

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path(), CanonicalId([0; 32]), None).await.unwrap();
    s.create_bucket("b", CanonicalId([1; 32]), false).await.unwrap();
    (dir, s)
}

fn cors() -> Cors {
    Cors {
        origins: vec!["https://example.com".into()],
        max_age: 60,
    }
}

#[tokio::test]
async fn settings_are_kept_per_bucket_and_kind() {
    let (_dir, s) = store().await;
    assert_eq!(s.bucket_setting::<Cors>("b", SettingKind::Cors).unwrap(), None);
    s.put_bucket_setting("b", SettingKind::Cors, &cors()).await.unwrap();
    s.put_bucket_setting("b", SettingKind::Tagging, &vec![("k".to_owned(), "v".to_owned())])
        .await
        .unwrap();
    assert_eq!(s.bucket_setting::<Cors>("b", SettingKind::Cors).unwrap(), Some(cors()));
    let tags: Option<Vec<(String, String)>> = s.bucket_setting("b", SettingKind::Tagging).unwrap();
    assert_eq!(tags, Some(vec![("k".into(), "v".into())]));
    // Replaced whole, and removed.
    let other = Cors {
        origins: vec![],
        max_age: 1,
    };
    s.put_bucket_setting("b", SettingKind::Cors, &other).await.unwrap();
    assert_eq!(s.bucket_setting::<Cors>("b", SettingKind::Cors).unwrap(), Some(other));
    s.delete_bucket_setting("b", SettingKind::Cors).await.unwrap();
    s.delete_bucket_setting("b", SettingKind::Cors).await.unwrap();
    assert_eq!(s.bucket_setting::<Cors>("b", SettingKind::Cors).unwrap(), None);
    assert!(
        s.bucket_setting::<Vec<(String, String)>>("b", SettingKind::Tagging)
            .unwrap()
            .is_some()
    );
    // A bucket whose name extends another's does not see its settings.
    s.create_bucket("bb", CanonicalId([1; 32]), false).await.unwrap();
    assert!(
        s.bucket_setting::<Vec<(String, String)>>("bb", SettingKind::Tagging)
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn settings_need_a_bucket_and_go_with_it() {
    let (_dir, s) = store().await;
    assert!(matches!(
        s.put_bucket_setting("missing", SettingKind::Policy, &"{}").await,
        Err(StoreError::NoSuchBucket)
    ));
    assert!(matches!(
        s.bucket_setting::<String>("missing", SettingKind::Policy),
        Err(StoreError::NoSuchBucket)
    ));
    for kind in SettingKind::ALL {
        s.put_bucket_setting("b", kind, &kind.name()).await.unwrap();
    }
    // Settings are not content: the bucket still deletes, and takes them along.
    s.delete_bucket("b").await.unwrap();
    s.create_bucket("b", CanonicalId([2; 32]), false).await.unwrap();
    for kind in SettingKind::ALL {
        assert_eq!(s.bucket_setting::<String>("b", kind).unwrap(), None, "{kind:?}");
    }
}

/// Every change to a bucket's settings rewrites its stamp, which the access view reads with
/// the bucket: a cache keyed by it never serves a setting older than the stamp it holds.
#[tokio::test]
async fn every_settings_change_restamps_the_bucket() {
    let (_dir, s) = store().await;
    let stamp = || s.access_view(None, Some("b")).unwrap().settings_stamp;
    assert_eq!(stamp(), None);
    s.put_bucket_setting("b", SettingKind::Policy, &"{}".to_owned())
        .await
        .unwrap();
    let first = stamp().expect("stamped");
    let (at, rows) = s
        .bucket_settings("b", &[SettingKind::Policy, SettingKind::Cors])
        .unwrap();
    assert_eq!(at, Some(first));
    assert_eq!(rows.len(), 1);
    s.put_bucket_setting("b", SettingKind::Cors, &cors()).await.unwrap();
    let second = stamp().expect("stamped");
    assert_ne!(second, first);
    s.delete_bucket_setting("b", SettingKind::Cors).await.unwrap();
    assert_ne!(stamp(), Some(second));
    // The stamp goes with the bucket.
    s.delete_bucket_setting("b", SettingKind::Policy).await.unwrap();
    s.delete_bucket("b").await.unwrap();
    s.create_bucket("b", CanonicalId([1; 32]), false).await.unwrap();
    assert_eq!(stamp(), None);
}
