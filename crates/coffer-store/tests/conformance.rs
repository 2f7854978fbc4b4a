//! One suite of store behaviours, run against every engine: `redb` + `fs` (what the server
//! uses) and `mem` + `mem` (the in-memory metadata engine runs every write closure twice,
//! as a retrying engine may, and its blob engine frees a deleted blob at once, as RADOS
//! does). An engine passes when the object model behaves the same on it.

use std::sync::Arc;

use bytes::Bytes;
use coffer_store::blob::MemBlobStore;
use coffer_store::meta::MemMeta;
use coffer_store::{
    BlobStore, CanonicalId, CompletePart, FsBlobStore, Grant, Grantee, ListQuery, NewVersion, ObjectMeta, Permission,
    PutCondition, RedbMeta, Store, StoreError, UploadOptions, Versioning, VersionsQuery,
};
use futures::StreamExt;

const OWNER: CanonicalId = CanonicalId([1; 32]);
/// Small, so both inline and blob paths are cheap to reach.
const INLINE_MAX: usize = 1024;

struct Engine {
    store: Store,
    blobs: Arc<dyn BlobStore>,
    _dir: Option<tempfile::TempDir>,
}

fn redb() -> Engine {
    let dir = tempfile::tempdir().unwrap();
    let meta = RedbMeta::open(&dir.path().join("meta.redb")).unwrap();
    let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::open(dir.path()).unwrap());
    Engine {
        store: Store::with_engines(Arc::new(meta), blobs.clone(), INLINE_MAX),
        blobs,
        _dir: Some(dir),
    }
}

fn mem() -> Engine {
    let blobs: Arc<dyn BlobStore> = Arc::new(MemBlobStore::new());
    Engine {
        store: Store::with_engines(Arc::new(MemMeta::new(true)), blobs.clone(), INLINE_MAX),
        blobs,
        _dir: None,
    }
}

/// PostgreSQL metadata (a schema of its own per test) over blob files, when
/// `COFFER_TEST_POSTGRES` names a server (`scripts/pg-test.sh start` makes one).
#[cfg(feature = "postgres")]
fn postgres() -> Option<Engine> {
    let Ok(url) = std::env::var("COFFER_TEST_POSTGRES") else {
        eprintln!("skipped: COFFER_TEST_POSTGRES is unset");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let schema = format!("t{:016x}", rand::random::<u64>());
    let meta = coffer_store::meta::PostgresMeta::connect(&format!("{url}?schema={schema}&pool=4")).unwrap();
    let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::open(dir.path()).unwrap());
    Some(Engine {
        store: Store::with_engines(Arc::new(meta), blobs.clone(), INLINE_MAX),
        blobs,
        _dir: Some(dir),
    })
}

/// In-memory metadata over RADOS blobs (a namespace of their own per test), when
/// `COFFER_TEST_RADOS` names a cluster's ceph.conf (`scripts/ceph-test.sh` makes one).
#[cfg(feature = "rados")]
fn rados() -> Option<Engine> {
    let Ok(conf) = std::env::var("COFFER_TEST_RADOS") else {
        eprintln!("skipped: COFFER_TEST_RADOS unset");
        return None;
    };
    let ns = format!("t{:016x}", rand::random::<u64>());
    let url = format!("rados://coffer?conf={conf}&namespace={ns}");
    let blobs: Arc<dyn BlobStore> = Arc::new(coffer_store::blob::RadosBlobStore::connect(&url).unwrap());
    Some(Engine {
        store: Store::with_engines(Arc::new(MemMeta::new(true)), blobs.clone(), INLINE_MAX),
        blobs,
        _dir: None,
    })
}

/// Runs `$body(engine)` once per engine, as one test per engine.
macro_rules! conformance {
    ($($name:ident => $body:expr;)*) => {
        mod on_redb { use super::*; $(#[tokio::test] async fn $name() { $body(redb()).await })* }
        mod on_mem { use super::*; $(#[tokio::test] async fn $name() { $body(mem()).await })* }
        #[cfg(feature = "postgres")]
        mod on_postgres { use super::*; $(#[tokio::test] async fn $name() { if let Some(e) = postgres() { $body(e).await } })* }
        #[cfg(feature = "rados")]
        mod on_rados { use super::*; $(#[tokio::test] async fn $name() { if let Some(e) = rados() { $body(e).await } })* }
    };
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn put(s: &Store, b: &str, k: &str, body: &[u8], cond: PutCondition) -> Result<String, StoreError> {
    let chunks = vec![Ok::<_, std::io::Error>(Bytes::copy_from_slice(body))];
    let staged = s
        .stage(futures::stream::iter(chunks), Some(body.len() as u64), &mut |_| {})
        .await?;
    Ok(s.put_object(b, k, staged, ObjectMeta::default(), cond).await?.etag)
}

async fn read(s: &Store, b: &str, k: &str, version: Option<&str>) -> Result<Vec<u8>, StoreError> {
    let h = s.get_object(b, k, version).await?;
    let size = h.record.size;
    let mut out = Vec::new();
    let mut stream = h.stream(0, size);
    while let Some(c) = stream.next().await {
        out.extend_from_slice(&c.map_err(StoreError::Io)?);
    }
    Ok(out)
}

/// Blobs stored, once a shared store's collector has freed what was released (with no
/// grace period, as no other gateway reads).
async fn blob_count(e: &Engine) -> usize {
    if e.store.shared() {
        e.store
            .collect(std::time::Duration::ZERO, std::time::Duration::from_secs(60))
            .await
            .unwrap();
    }
    e.blobs.list().await.unwrap().len()
}

async fn objects_and_blobs(e: Engine) {
    let s = &e.store;
    s.create_bucket("b", OWNER, false).await.unwrap();
    put(s, "b", "small", b"tiny", PutCondition::None).await.unwrap();
    put(s, "b", "big", &data(10_000, 1), PutCondition::None).await.unwrap();
    assert_eq!(read(s, "b", "small", None).await.unwrap(), b"tiny");
    assert_eq!(read(s, "b", "big", None).await.unwrap(), data(10_000, 1));
    assert_eq!(blob_count(&e).await, 1);
    // An overwrite frees the old blob; a delete frees the new one.
    put(s, "b", "big", &data(20_000, 2), PutCondition::None).await.unwrap();
    assert_eq!(blob_count(&e).await, 1);
    s.delete_object("b", "big", None, false, PutCondition::None)
        .await
        .unwrap();
    assert_eq!(blob_count(&e).await, 0);
    assert!(matches!(read(s, "b", "big", None).await, Err(StoreError::NoSuchKey)));
    assert!(matches!(s.delete_bucket("b").await, Err(StoreError::BucketNotEmpty)));
    s.delete_object("b", "small", None, false, PutCondition::None)
        .await
        .unwrap();
    s.delete_bucket("b").await.unwrap();
    assert!(matches!(
        put(s, "b", "k", b"x", PutCondition::None).await,
        Err(StoreError::NoSuchBucket)
    ));
}

async fn a_reader_keeps_what_it_opened(e: Engine) {
    let s = &e.store;
    s.create_bucket("b", OWNER, false).await.unwrap();
    put(s, "b", "k", &data(50_000, 1), PutCondition::None).await.unwrap();
    let h = s.get_object("b", "k", None).await.unwrap();
    // Overwritten and deleted while the handle is held: it still reads the old bytes, and
    // the old blob goes once it is dropped.
    put(s, "b", "k", &data(50_000, 2), PutCondition::None).await.unwrap();
    s.delete_object("b", "k", None, false, PutCondition::None)
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut stream = h.stream(0, 50_000);
    while let Some(c) = stream.next().await {
        got.extend_from_slice(&c.unwrap());
    }
    assert_eq!(got, data(50_000, 1));
    drop(stream);
    for _ in 0..100 {
        if blob_count(&e).await == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the pinned blob was never freed");
}

async fn conditional_writes(e: Engine) {
    let s = &e.store;
    s.create_bucket("b", OWNER, false).await.unwrap();
    let first = put(s, "b", "k", b"one", PutCondition::IfAbsent).await.unwrap();
    assert!(matches!(
        put(s, "b", "k", b"two", PutCondition::IfAbsent).await,
        Err(StoreError::PreconditionFailed)
    ));
    assert!(matches!(
        put(s, "b", "k", b"two", PutCondition::IfMatch("0".repeat(32))).await,
        Err(StoreError::PreconditionFailed)
    ));
    assert!(matches!(
        put(s, "b", "missing", b"x", PutCondition::IfExists).await,
        Err(StoreError::NoSuchKey)
    ));
    put(s, "b", "k", b"two", PutCondition::IfMatch(first.clone()))
        .await
        .unwrap();
    assert!(matches!(
        s.delete_object("b", "k", None, false, PutCondition::IfMatch(first))
            .await,
        Err(StoreError::PreconditionFailed)
    ));
    assert_eq!(read(s, "b", "k", None).await.unwrap(), b"two");
    s.delete_object("b", "k", None, false, PutCondition::IfExists)
        .await
        .unwrap();
    assert!(matches!(
        s.delete_object("b", "k", None, false, PutCondition::IfExists).await,
        Err(StoreError::NoSuchKey)
    ));
}

async fn versions(e: Engine) {
    let s = &e.store;
    s.create_bucket("b", OWNER, false).await.unwrap();
    s.set_versioning("b", Versioning::Enabled).await.unwrap();
    put(s, "b", "k", b"one", PutCondition::None).await.unwrap();
    put(s, "b", "k", &data(5000, 2), PutCondition::None).await.unwrap();
    let marker = s
        .delete_object("b", "k", None, false, PutCondition::None)
        .await
        .unwrap();
    assert!(marker.delete_marker);
    assert!(matches!(
        read(s, "b", "k", None).await,
        Err(StoreError::DeleteMarker(_))
    ));
    let q = VersionsQuery {
        max_keys: 10,
        ..VersionsQuery::default()
    };
    let page = s.list_versions("b", &q).unwrap();
    let kinds: Vec<(bool, bool)> = page
        .versions
        .iter()
        .map(|(_, r, latest)| (r.delete_marker, *latest))
        .collect();
    assert_eq!(kinds, [(true, true), (false, false), (false, false)]);
    let oldest = page.versions[2].1.version_id.clone().unwrap();
    assert_eq!(read(s, "b", "k", Some(&oldest)).await.unwrap(), b"one");
    // Removing the marker brings the newest version back.
    s.delete_object("b", "k", marker.version_id.as_deref(), false, PutCondition::None)
        .await
        .unwrap();
    assert_eq!(read(s, "b", "k", None).await.unwrap(), data(5000, 2));
}

fn writer_and_acl() -> NewVersion {
    NewVersion {
        owner: Some(CanonicalId([7; 32])),
        acl: Some(vec![Grant {
            grantee: Grantee::AllUsers,
            permission: Permission::Read,
        }]),
        ..NewVersion::default()
    }
}

async fn multipart(e: Engine) {
    let s = &e.store;
    s.create_bucket("b", OWNER, false).await.unwrap();
    let up = s
        .create_upload("b", "k", OWNER, writer_and_acl(), UploadOptions::default())
        .await
        .unwrap();
    let mut parts = Vec::new();
    for (n, body) in [(1u32, data(6 << 20, 1)), (2, data(3000, 2))] {
        let chunks = vec![Ok::<_, std::io::Error>(Bytes::from(body.clone()))];
        let staged = s.stage(futures::stream::iter(chunks), None, &mut |_| {}).await.unwrap();
        let p = s
            .put_part("b", "k", &up.upload_id, n, staged, Vec::new())
            .await
            .unwrap();
        parts.push(CompletePart {
            part_number: n,
            etag: p.etag,
            checksums: Vec::new(),
        });
    }
    s.complete_upload("b", "k", &up.upload_id, parts, PutCondition::None, Vec::new())
        .await
        .unwrap();
    // The completed object has the owner and ACL the upload was created with.
    let done = s.head_object("b", "k", None).unwrap();
    let w = writer_and_acl();
    assert_eq!((done.owner, done.acl), (w.owner, w.acl));
    let mut want = data(6 << 20, 1);
    want.extend_from_slice(&data(3000, 2));
    assert_eq!(read(s, "b", "k", None).await.unwrap(), want);
    // An upload in progress goes with its bucket.
    let up = s
        .create_upload("b", "other", OWNER, NewVersion::default(), UploadOptions::default())
        .await
        .unwrap();
    let chunks = vec![Ok::<_, std::io::Error>(Bytes::from(data(5000, 3)))];
    let staged = s.stage(futures::stream::iter(chunks), None, &mut |_| {}).await.unwrap();
    s.put_part("b", "other", &up.upload_id, 1, staged, Vec::new())
        .await
        .unwrap();
    s.delete_object("b", "k", None, false, PutCondition::None)
        .await
        .unwrap();
    s.delete_bucket("b").await.unwrap();
    assert_eq!(blob_count(&e).await, 0);
    assert!(matches!(
        s.upload("b", "other", &up.upload_id),
        Err(StoreError::NoSuchBucket)
    ));
}

async fn listing_with_delimiters_and_pages(e: Engine) {
    let s = &e.store;
    s.create_bucket("b", OWNER, false).await.unwrap();
    let mut keys = Vec::new();
    for dir in ["a", "b", "c"] {
        for i in 0..5 {
            keys.push(format!("{dir}/{i}"));
        }
    }
    keys.push("top".into());
    for k in &keys {
        put(s, "b", k, b"x", PutCondition::None).await.unwrap();
    }
    let q = ListQuery {
        prefix: "",
        delimiter: Some("/"),
        after: None,
        max_keys: 1000,
    };
    let page = s.list_objects("b", &q).unwrap();
    assert_eq!(page.common_prefixes, ["a/", "b/", "c/"]);
    assert_eq!(
        page.objects.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["top"]
    );
    // Pages of 4 without a delimiter walk every key once, in order.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let q = ListQuery {
            prefix: "",
            delimiter: None,
            after: after.as_deref(),
            max_keys: 4,
        };
        let page = s.list_objects("b", &q).unwrap();
        seen.extend(page.objects.into_iter().map(|(k, _)| k));
        if !page.truncated {
            break;
        }
        after = page.last;
    }
    keys.sort();
    assert_eq!(seen, keys);
    // Pages of 2 with a delimiter count a prefix as one entry.
    let q = ListQuery {
        prefix: "",
        delimiter: Some("/"),
        after: None,
        max_keys: 2,
    };
    let page = s.list_objects("b", &q).unwrap();
    assert_eq!(page.common_prefixes, ["a/", "b/"]);
    assert!(page.truncated);
    assert!(matches!(s.list_objects("missing", &q), Err(StoreError::NoSuchBucket)));
}

async fn usage_counts(e: Engine) {
    use coffer_store::{Quota, Usage};
    let s = &e.store;
    let usage = |objects, bytes, uploads| Usage {
        objects,
        bytes,
        uploads,
    };
    s.create_bucket("b", OWNER, false).await.unwrap();
    assert_eq!(s.bucket_usage("b").unwrap(), usage(0, 0, 0));
    assert!(matches!(s.bucket_usage("nope"), Err(StoreError::NoSuchBucket)));
    put(s, "b", "small", b"tiny", PutCondition::None).await.unwrap();
    put(s, "b", "big", &data(10_000, 1), PutCondition::None).await.unwrap();
    assert_eq!(s.bucket_usage("b").unwrap(), usage(2, 10_004, 0));
    // An overwrite replaces, unversioned.
    put(s, "b", "big", &data(3000, 2), PutCondition::None).await.unwrap();
    assert_eq!(s.bucket_usage("b").unwrap(), usage(2, 3004, 0));
    // Versioned: the old version stays stored and counts; a marker weighs nothing.
    s.set_versioning("b", Versioning::Enabled).await.unwrap();
    put(s, "b", "big", &data(500, 3), PutCondition::None).await.unwrap();
    assert_eq!(s.bucket_usage("b").unwrap(), usage(3, 3504, 0));
    let marker = s
        .delete_object("b", "big", None, false, PutCondition::None)
        .await
        .unwrap();
    assert_eq!(s.bucket_usage("b").unwrap(), usage(3, 3504, 0));
    s.delete_object("b", "big", marker.version_id.as_deref(), false, PutCondition::None)
        .await
        .unwrap();
    assert_eq!(s.bucket_usage("b").unwrap(), usage(3, 3504, 0));
    // Removing versions for good.
    for v in s
        .list_versions(
            "b",
            &VersionsQuery {
                max_keys: 1000,
                ..VersionsQuery::default()
            },
        )
        .unwrap()
        .versions
        .iter()
        .filter(|v| v.0 == "big")
    {
        let id = v.1.version_id_str().to_owned();
        s.delete_object("b", "big", Some(&id), false, PutCondition::None)
            .await
            .unwrap();
    }
    assert_eq!(s.bucket_usage("b").unwrap(), usage(1, 4, 0));
    // Uploads count while in progress; a completed one is one object of its parts' size.
    let up = s
        .create_upload("b", "mp", OWNER, NewVersion::default(), UploadOptions::default())
        .await
        .unwrap();
    let up2 = s
        .create_upload("b", "mp2", OWNER, NewVersion::default(), UploadOptions::default())
        .await
        .unwrap();
    assert_eq!(s.bucket_usage("b").unwrap(), usage(1, 4, 2));
    let chunks = vec![Ok::<_, std::io::Error>(Bytes::from(data(5000, 3)))];
    let staged = s.stage(futures::stream::iter(chunks), None, &mut |_| {}).await.unwrap();
    let p = s
        .put_part("b", "mp", &up.upload_id, 1, staged, Vec::new())
        .await
        .unwrap();
    let part = CompletePart {
        part_number: 1,
        etag: p.etag,
        checksums: Vec::new(),
    };
    // A quota the completion would pass refuses it in its own commit.
    s.put_bucket_quota(
        "b",
        Quota {
            max_bytes: Some(5000),
            max_objects: None,
        },
    )
    .await
    .unwrap();
    assert!(matches!(
        s.complete_upload(
            "b",
            "mp",
            &up.upload_id,
            vec![part.clone()],
            PutCondition::None,
            Vec::new()
        )
        .await,
        Err(StoreError::QuotaExceeded)
    ));
    assert!(matches!(
        s.check_quota("b", Some("new"), 4997),
        Err(StoreError::QuotaExceeded)
    ));
    s.check_quota("b", Some("new"), 4996).unwrap();
    s.put_bucket_quota("b", Quota::default()).await.unwrap();
    assert_eq!(s.bucket_quota("b").unwrap(), Quota::default());
    s.complete_upload("b", "mp", &up.upload_id, vec![part], PutCondition::None, Vec::new())
        .await
        .unwrap();
    assert_eq!(s.bucket_usage("b").unwrap(), usage(2, 5004, 1));
    s.abort_upload("b", "mp2", &up2.upload_id).await.unwrap();
    assert_eq!(s.bucket_usage("b").unwrap(), usage(2, 5004, 0));
    // A quota on objects.
    s.put_bucket_quota(
        "b",
        Quota {
            max_bytes: None,
            max_objects: Some(3),
        },
    )
    .await
    .unwrap();
    put(s, "b", "third", b"3", PutCondition::None).await.unwrap();
    assert!(matches!(
        put(s, "b", "fourth", b"4", PutCondition::None).await,
        Err(StoreError::QuotaExceeded)
    ));
    assert!(matches!(s.head_object("b", "fourth", None), Err(StoreError::NoSuchKey)));
    assert_eq!(s.bucket_usage("b").unwrap(), usage(3, 5005, 0));
    // Emptied, the bucket goes with its counts and its quota.
    s.set_versioning("b", Versioning::Suspended).await.unwrap();
    for (key, rec, _) in s
        .list_versions(
            "b",
            &VersionsQuery {
                max_keys: 1000,
                ..VersionsQuery::default()
            },
        )
        .unwrap()
        .versions
    {
        let id = rec.version_id_str().to_owned();
        s.delete_object("b", &key, Some(&id), false, PutCondition::None)
            .await
            .unwrap();
    }
    assert_eq!(s.bucket_usage("b").unwrap(), usage(0, 0, 0));
    s.delete_bucket("b").await.unwrap();
    s.create_bucket("b", OWNER, false).await.unwrap();
    assert_eq!(s.bucket_usage("b").unwrap(), usage(0, 0, 0));
    assert_eq!(s.bucket_quota("b").unwrap(), Quota::default());
}

async fn users_and_access_keys(e: Engine) {
    use coffer_store::{MAX_ACCESS_KEYS, NewUser};
    let s = &e.store;
    let new = |name: &str, key: &str, id: CanonicalId| NewUser {
        name: name.into(),
        canonical_user_id: id,
        access_key_id: key.into(),
        secret_access_key: format!("{key}-secret"),
    };
    let alice_id = CanonicalId([7; 32]);
    let alice = s.add_user(new("alice", "K1", alice_id)).await.unwrap();
    assert_eq!(alice.access_key_id(), Some("K1"));
    s.add_user(new("bob", "B1", CanonicalId([8; 32]))).await.unwrap();

    // A second key: the same user, its own secret.
    let (id, secret) = s
        .add_access_key("alice", Some(("K2".into(), "s2".into())))
        .await
        .unwrap();
    assert_eq!((id.as_str(), secret.as_str()), ("K2", "s2"));
    let k2 = s.user_by_access_key("K2").unwrap().unwrap();
    assert_eq!(
        (k2.name.as_str(), k2.canonical_user_id, k2.secret_access_key.as_str()),
        ("alice", alice_id, "s2")
    );
    let view = s.access_view(Some("K2"), None).unwrap();
    assert_eq!(view.user.map(|u| u.canonical_user_id), Some(alice_id));
    let ids = |name| -> Vec<String> {
        s.list_access_keys(name)
            .unwrap()
            .into_iter()
            .map(|k| k.access_key_id)
            .collect()
    };
    assert_eq!(ids("alice"), ["K1", "K2"]);
    assert_eq!(s.user_by_name("alice").unwrap().unwrap().access_keys.len(), 2);
    assert_eq!(s.user_by_id(&alice_id).unwrap().unwrap().name, "alice");

    // A random key when none is given.
    let (rid, rsecret) = s.add_access_key("bob", None).await.unwrap();
    assert!(
        rid.starts_with("CK") && rid.len() == 20 && rsecret.len() == 40,
        "{rid} {rsecret}"
    );
    assert_eq!(s.user_by_access_key(&rid).unwrap().unwrap().name, "bob");

    // A key id is unique across users; a user's name, id and key too.
    for taken in ["K1", "K2", "B1"] {
        assert!(matches!(
            s.add_access_key("bob", Some((taken.into(), "x".into()))).await,
            Err(StoreError::AccessKeyExists)
        ));
    }
    assert!(matches!(
        s.add_user(new("carol", "K2", CanonicalId([9; 32]))).await,
        Err(StoreError::UserExists)
    ));
    assert!(matches!(
        s.add_access_key("nobody", None).await,
        Err(StoreError::NoSuchUser)
    ));
    assert!(matches!(s.list_access_keys("nobody"), Err(StoreError::NoSuchUser)));

    // At most MAX_ACCESS_KEYS keys.
    for i in 2..MAX_ACCESS_KEYS {
        s.add_access_key("alice", Some((format!("KX{i}"), "s".into())))
            .await
            .unwrap();
    }
    assert_eq!(ids("alice").len(), MAX_ACCESS_KEYS);
    assert!(matches!(
        s.add_access_key("alice", None).await,
        Err(StoreError::TooManyAccessKeys)
    ));

    // Removing a key: it stops at once; another user's key or an unknown one is refused.
    s.remove_access_key("alice", "K2").await.unwrap();
    assert!(s.user_by_access_key("K2").unwrap().is_none());
    assert!(s.access_view(Some("K2"), None).unwrap().user.is_none());
    assert!(!ids("alice").contains(&"K2".to_owned()));
    assert!(matches!(
        s.remove_access_key("alice", "K2").await,
        Err(StoreError::NoSuchAccessKey)
    ));
    assert!(matches!(
        s.remove_access_key("alice", "B1").await,
        Err(StoreError::NoSuchAccessKey)
    ));
    assert!(s.user_by_access_key("B1").unwrap().is_some());
    // Freed, the id may be taken again, and room for one more key is back.
    s.add_access_key("bob", Some(("K2".into(), "b2".into()))).await.unwrap();
    assert_eq!(s.user_by_access_key("K2").unwrap().unwrap().name, "bob");
    s.add_access_key("alice", None).await.unwrap();

    // A user may be left with no key, and keeps existing.
    for k in ids("bob") {
        s.remove_access_key("bob", &k).await.unwrap();
    }
    assert!(ids("bob").is_empty());
    assert_eq!(s.user_by_name("bob").unwrap().unwrap().access_key_id(), None);
    assert_eq!(s.list_users().unwrap().len(), 2);

    // Removing a user removes every key it held.
    let alice_keys = ids("alice");
    s.remove_user("alice").await.unwrap();
    for k in &alice_keys {
        assert!(s.user_by_access_key(k).unwrap().is_none(), "{k}");
    }
    assert!(s.user_by_id(&alice_id).unwrap().is_none());
    assert!(s.user_by_name("alice").unwrap().is_none());
    // and frees its name and key ids.
    s.add_user(new("alice", "K1", CanonicalId([10; 32]))).await.unwrap();
    assert_eq!(
        s.user_by_access_key("K1").unwrap().unwrap().canonical_user_id,
        CanonicalId([10; 32])
    );
}

conformance! {
    users_and_their_access_keys => users_and_access_keys;
    usage_counts_follow_every_write => usage_counts;
    objects_and_blobs_are_stored_read_and_freed => objects_and_blobs;
    a_reader_keeps_the_blob_it_opened => a_reader_keeps_what_it_opened;
    conditional_writes_hold => conditional_writes;
    versions_and_delete_markers => versions;
    multipart_uploads_complete_and_go_with_their_bucket => multipart;
    listing_with_delimiters_and_paging => listing_with_delimiters_and_pages;
}

/// A metadata engine that counts read transactions, around the in-memory one.
struct Counting {
    inner: MemMeta,
    reads: std::sync::atomic::AtomicUsize,
}

impl coffer_store::MetaStore for Counting {
    fn read(&self) -> coffer_store::StoreResult<Box<dyn coffer_store::meta::ReadTxn + '_>> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.read()
    }

    fn write(
        &self,
        f: coffer_store::meta::WriteFn,
    ) -> tokio::sync::oneshot::Receiver<coffer_store::StoreResult<coffer_store::meta::AnyBox>> {
        self.inner.write(f)
    }
}

/// A GET reads its record and, for a small object, its bytes in one read transaction; a
/// blob adds one to re-check the record once the blob is pinned.
#[tokio::test]
async fn a_get_costs_one_read_transaction_or_two_for_a_blob() {
    let meta = Arc::new(Counting {
        inner: MemMeta::new(false),
        reads: Default::default(),
    });
    let s = Store::with_engines(meta.clone(), Arc::new(MemBlobStore::new()), INLINE_MAX);
    s.create_bucket("b", OWNER, false).await.unwrap();
    put(&s, "b", "small", b"tiny", PutCondition::None).await.unwrap();
    put(&s, "b", "big", &data(10_000, 1), PutCondition::None).await.unwrap();
    let reads = || meta.reads.load(std::sync::atomic::Ordering::SeqCst);
    for (key, want) in [("small", 1), ("big", 2)] {
        let before = reads();
        let h = s.get_object("b", key, None).await.unwrap();
        assert_eq!(reads() - before, want, "{key}");
        drop(h);
    }
    let before = reads();
    s.head_object("b", "small", None).unwrap();
    assert_eq!(reads() - before, 1, "head");
}

/// A signed request's secret, and its caller with the bucket, each take one read
/// transaction, by whichever of its user's keys it is signed.
#[tokio::test]
async fn a_caller_by_any_of_its_keys_costs_one_read_transaction() {
    let meta = Arc::new(Counting {
        inner: MemMeta::new(false),
        reads: Default::default(),
    });
    let s = Store::with_engines(meta.clone(), Arc::new(MemBlobStore::new()), INLINE_MAX);
    let user = coffer_store::NewUser {
        name: "alice".into(),
        canonical_user_id: OWNER,
        access_key_id: "K1".into(),
        secret_access_key: "s1".into(),
    };
    s.add_user(user).await.unwrap();
    s.add_access_key("alice", Some(("K2".into(), "s2".into())))
        .await
        .unwrap();
    s.create_bucket("b", OWNER, false).await.unwrap();
    let reads = || meta.reads.load(std::sync::atomic::Ordering::SeqCst);
    for key in ["K1", "K2"] {
        let before = reads();
        assert!(s.user_by_access_key(key).unwrap().is_some());
        let view = s.access_view(Some(key), Some("b")).unwrap();
        assert_eq!(reads() - before, 2, "{key}");
        assert_eq!(view.user.unwrap().canonical_user_id, OWNER);
        assert!(view.bucket.is_some());
    }
}

/// On a shared store, a write that fails mid-body withdraws its blob's announcement at
/// once: the collector drops one only once its gateway is gone, so a live gateway would
/// otherwise keep a row per failed upload.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_write_withdraws_its_intent_on_a_shared_store() {
    use coffer_store::meta::{MetaStore, PostgresMeta, Table};
    let Ok(url) = std::env::var("COFFER_TEST_POSTGRES") else {
        eprintln!("skipped: COFFER_TEST_POSTGRES is unset");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let schema = format!("t{:016x}", rand::random::<u64>());
    let meta = Arc::new(PostgresMeta::connect(&format!("{url}?schema={schema}&pool=4")).unwrap());
    let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::open(dir.path()).unwrap());
    let store = Store::with_engines(meta.clone(), blobs.clone(), INLINE_MAX);
    let intents = || {
        meta.read()
            .unwrap()
            .range(Table::Intents, std::ops::Bound::Unbounded, None, 100)
            .unwrap()
            .len()
    };
    let chunks = vec![
        Ok(Bytes::from(data(4 * INLINE_MAX, 1))),
        Err(std::io::Error::other("the client went away")),
    ];
    let staged = store.stage(futures::stream::iter(chunks), None, &mut |_| {}).await;
    assert!(staged.is_err());
    let began = std::time::Instant::now();
    while intents() > 0 {
        assert!(began.elapsed() < std::time::Duration::from_secs(5), "the intent stayed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // And one that succeeds keeps its intent until the collector sees the blob committed.
    let body = data(4 * INLINE_MAX, 2);
    let chunks = vec![Ok::<_, std::io::Error>(Bytes::from(body))];
    let staged = store
        .stage(futures::stream::iter(chunks), None, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(intents(), 1);
    drop(staged);
}
