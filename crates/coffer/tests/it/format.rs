//! Upgrades: a data directory written by an earlier release opens and serves everything.
//!
//! `tests/fixtures/data-format-N.tar.gz` is a data directory made by the release whose
//! record format was N, with `make_fixture` below, run against that release's binary
//! (`COFFER_TEST_BIN=path/to/old/coffer`).
//! Each new record format adds its fixture; the upgrade test runs against every one.

use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockRetention,
    ObjectLockRetentionMode, VersioningConfiguration,
};

use crate::common::*;

const ALICE_KEY: &str = "AKIDFIXTUREALICE0001";
const ALICE_SECRET: &str = "fixture-alice-secret-0123456789abcdefghij";

/// The bytes the fixtures were made with: fixed for good, unlike `common::data`.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn put(c: &aws_sdk_s3::Client, b: &str, k: &str, data: Vec<u8>) -> Option<String> {
    c.put_object()
        .bucket(b)
        .key(k)
        .body(ByteStream::from(data))
        .send()
        .await
        .unwrap()
        .version_id
}

async fn read(c: &aws_sdk_s3::Client, b: &str, k: &str, version: Option<&str>) -> Vec<u8> {
    let o = c
        .get_object()
        .bucket(b)
        .key(k)
        .set_version_id(version.map(str::to_owned))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{b}/{k}: {e:?}"));
    o.body.collect().await.unwrap().into_bytes().to_vec()
}

/// Writes a data directory with every kind of record into `COFFER_FIXTURE_OUT`:
/// `COFFER_FIXTURE_OUT=/tmp/fx cargo test --test it format::make_fixture -- --ignored`,
/// then `tar czf data-format-N.tar.gz -C /tmp/fx data`.
#[tokio::test]
#[ignore = "makes a fixture; run by hand with the release whose format it captures"]
async fn make_fixture() {
    if skip_on_shared_engines() {
        return;
    }
    let out = std::env::var("COFFER_FIXTURE_OUT").expect("COFFER_FIXTURE_OUT");
    let dir = Path::new(&out).join("data");
    let mut s = Server::start_in(&dir);
    let root = s.client();
    let body = serde_json::json!({ "name": "alice", "access_key_id": ALICE_KEY, "secret_access_key": ALICE_SECRET });
    let r = s
        .raw(
            "POST",
            "/",
            &[("coffer-admin", "users")],
            &[],
            body.to_string().as_bytes(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let alice = s.client_as(ALICE_KEY, ALICE_SECRET);

    // Root's bucket: inline, blob and multipart objects, with metadata.
    root.create_bucket().bucket("fx-root").send().await.unwrap();
    root.put_object()
        .bucket("fx-root")
        .key("small.txt")
        .content_type("text/plain")
        .metadata("colour", "blue")
        .body(ByteStream::from_static(b"hello from format 0"))
        .send()
        .await
        .unwrap();
    put(&root, "fx-root", "big.bin", pattern(200 << 10, 1)).await;
    let up = root
        .create_multipart_upload()
        .bucket("fx-root")
        .key("mp.bin")
        .send()
        .await
        .unwrap();
    let id = up.upload_id.unwrap();
    let p = root
        .upload_part()
        .bucket("fx-root")
        .key("mp.bin")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from(pattern(300 << 10, 2)))
        .send()
        .await
        .unwrap();
    root.complete_multipart_upload()
        .bucket("fx-root")
        .key("mp.bin")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).set_e_tag(p.e_tag).build())
                .build(),
        )
        .send()
        .await
        .unwrap();

    // Alice's buckets: an upload in progress, and versions with a delete marker.
    alice.create_bucket().bucket("fx-alice").send().await.unwrap();
    put(&alice, "fx-alice", "a.txt", b"alice's data".to_vec()).await;
    let up = alice
        .create_multipart_upload()
        .bucket("fx-alice")
        .key("pending.bin")
        .send()
        .await
        .unwrap();
    alice
        .upload_part()
        .bucket("fx-alice")
        .key("pending.bin")
        .upload_id(up.upload_id.unwrap())
        .part_number(1)
        .body(ByteStream::from(pattern(1000, 3)))
        .send()
        .await
        .unwrap();
    alice.create_bucket().bucket("fx-versions").send().await.unwrap();
    alice
        .put_bucket_versioning()
        .bucket("fx-versions")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    put(&alice, "fx-versions", "doc", b"one".to_vec()).await;
    put(&alice, "fx-versions", "doc", b"two".to_vec()).await;
    alice
        .delete_object()
        .bucket("fx-versions")
        .key("doc")
        .send()
        .await
        .unwrap();

    // Object lock: retention and a legal hold.
    root.create_bucket()
        .bucket("fx-lock")
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    put(&root, "fx-lock", "locked", b"kept".to_vec()).await;
    root.put_object_retention()
        .bucket("fx-lock")
        .key("locked")
        .retention(
            ObjectLockRetention::builder()
                .mode(ObjectLockRetentionMode::Governance)
                .retain_until_date(aws_sdk_s3::primitives::DateTime::from_secs(4_102_444_800))
                .build(),
        )
        .send()
        .await
        .unwrap();
    root.put_object_legal_hold()
        .bucket("fx-lock")
        .key("locked")
        .legal_hold(
            ObjectLockLegalHold::builder()
                .status(ObjectLockLegalHoldStatus::On)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s.terminate();
}

#[tokio::test]
async fn format_0_data_directory_opens_and_serves_everything() {
    if skip_on_shared_engines() {
        return;
    }
    serves_everything("data-format-0.tar.gz").await;
}

/// Format 1 records are read in memory as format 2 (no ACLs): only the `format` row and the
/// users' rows change.
#[tokio::test]
async fn format_1_data_directory_opens_and_serves_everything() {
    if skip_on_shared_engines() {
        return;
    }
    serves_everything("data-format-1.tar.gz").await;
}

/// Format 2 records are read in memory as format 3 (nothing encrypted): only the `format`
/// row and the users' rows change, and the master key's id is recorded.
#[tokio::test]
async fn format_2_data_directory_opens_and_serves_everything() {
    if skip_on_shared_engines() {
        return;
    }
    serves_everything("data-format-2.tar.gz").await;
}

/// Format 3 records are read in memory as format 4, but for users: each user's one key
/// row becomes the first of its keys, and the user moves under its canonical id.
#[tokio::test]
async fn format_3_data_directory_opens_and_serves_everything() {
    if skip_on_shared_engines() {
        return;
    }
    serves_everything("data-format-3.tar.gz").await;
}

async fn serves_everything(fixture: &str) {
    let (_tmp, dir) = unpack(fixture);
    let s = Server::start_in(&dir);
    let root = s.client();
    let alice = s.client_as(ALICE_KEY, ALICE_SECRET);

    let small = root
        .get_object()
        .bucket("fx-root")
        .key("small.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(small.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        small
            .metadata
            .as_ref()
            .and_then(|m| m.get("colour"))
            .map(String::as_str),
        Some("blue")
    );
    assert_eq!(
        small.body.collect().await.unwrap().into_bytes().as_ref(),
        b"hello from format 0"
    );
    assert_eq!(read(&root, "fx-root", "big.bin", None).await, pattern(200 << 10, 1));
    assert_eq!(read(&root, "fx-root", "mp.bin", None).await, pattern(300 << 10, 2));

    // Ownership carried over by id: alice sees her two buckets, and only those.
    let mine = bucket_names(&alice).await;
    assert_eq!(mine, ["fx-alice", "fx-versions"]);
    assert_eq!(read(&alice, "fx-alice", "a.txt", None).await, b"alice's data");
    check_sdk_error(
        alice.get_object().bucket("fx-root").key("small.txt").send().await,
        403,
        "AccessDenied",
        "/fx-root/small.txt",
    );

    // Versions and the delete marker.
    let v = alice.list_object_versions().bucket("fx-versions").send().await.unwrap();
    let bodies: Vec<Vec<u8>> = futures::future::join_all(
        v.versions()
            .iter()
            .map(|x| read(&alice, "fx-versions", "doc", x.version_id.as_deref())),
    )
    .await;
    assert_eq!(bodies, [b"two".to_vec(), b"one".to_vec()]);
    assert_eq!(v.delete_markers().len(), 1);
    assert!(v.delete_markers()[0].is_latest.unwrap());

    // Object lock survives.
    let r = root
        .get_object_retention()
        .bucket("fx-lock")
        .key("locked")
        .send()
        .await
        .unwrap();
    assert_eq!(r.retention.unwrap().mode, Some(ObjectLockRetentionMode::Governance));
    let h = root
        .get_object_legal_hold()
        .bucket("fx-lock")
        .key("locked")
        .send()
        .await
        .unwrap();
    assert_eq!(h.legal_hold.unwrap().status, Some(ObjectLockLegalHoldStatus::On));

    // The upload in progress lists with alice as its owner, and completes.
    let ups = alice.list_multipart_uploads().bucket("fx-alice").send().await.unwrap();
    let up = &ups.uploads()[0];
    let users = s.raw("GET", "/", &[("coffer-admin", "users")], &[], b"").await;
    let users: serde_json::Value = serde_json::from_slice(&users.body).unwrap();
    let alice_id = users[0]["canonical_user_id"].as_str().unwrap().to_owned();
    assert_eq!(up.owner.as_ref().and_then(|o| o.id.as_deref()), Some(alice_id.as_str()));
    let parts = alice
        .list_parts()
        .bucket("fx-alice")
        .key("pending.bin")
        .upload_id(up.upload_id().unwrap())
        .send()
        .await
        .unwrap();
    alice
        .complete_multipart_upload()
        .bucket("fx-alice")
        .key("pending.bin")
        .upload_id(up.upload_id().unwrap())
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .set_e_tag(parts.parts()[0].e_tag.clone())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(read(&alice, "fx-alice", "pending.bin", None).await, pattern(1000, 3));

    // An old record takes an ACL, and is written back in the current format.
    set_ownership(&root, "fx-root", aws_sdk_s3::types::ObjectOwnership::ObjectWriter).await;
    root.put_object_acl()
        .bucket("fx-root")
        .key("small.txt")
        .acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let r = anonymous(&s, "GET", "/fx-root/small.txt", b"").await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hello from format 0"[..]));

    // An old object is encrypted in place, and reads back.
    let copied = root
        .copy_object()
        .bucket("fx-root")
        .key("big.bin")
        .copy_source("fx-root/big.bin")
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(
        copied.server_side_encryption,
        Some(aws_sdk_s3::types::ServerSideEncryption::Aes256)
    );
    assert_eq!(read(&root, "fx-root", "big.bin", None).await, pattern(200 << 10, 1));

    // Alice's one key is the first of her keys now; a second one signs as her.
    let r = s.raw("GET", "/_coffer/admin/v1/users/alice/keys", &[], &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["keys"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["keys"][0]["access_key_id"], ALICE_KEY);
    let r = s.raw("POST", "/_coffer/admin/v1/users/alice/keys", &[], &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let second = s.client_as(
        v["access_key_id"].as_str().unwrap(),
        v["secret_access_key"].as_str().unwrap(),
    );
    let theirs = bucket_names(&second).await;
    assert_eq!(theirs, ["fx-alice", "fx-versions"]);

    // A later user of the same name is someone else.
    let r = s
        .raw("DELETE", "/", &[("coffer-admin", "users"), ("name", "alice")], &[], b"")
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    check_sdk_error(alice.list_buckets().send().await, 403, "InvalidAccessKeyId", "/");
    check_sdk_error(second.list_buckets().send().await, 403, "InvalidAccessKeyId", "/");
    let (k, secret) = s.add_user("alice").await;
    let new_alice = s.client_as(&k, &secret);
    assert!(new_alice.list_buckets().send().await.unwrap().buckets().is_empty());
    check_sdk_error(
        new_alice.get_object().bucket("fx-alice").key("a.txt").send().await,
        403,
        "AccessDenied",
        "/fx-alice/a.txt",
    );
}
