//! DeleteObject and DeleteObjects.

use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use crate::common::*;

// ---------------------------------------------------------------------------------------
// DeleteObject, DeleteObjects

#[tokio::test]
async fn delete_object_removes_it_and_a_missing_key_is_still_204() {
    let (s, c, b) = with_bucket("delete").await;
    put(&c, &b, "gone", b"bye").await;
    put(&c, &b, "kept", b"stay").await;
    let r = s.raw("DELETE", &format!("/{b}/gone"), &[], &[], b"").await;
    assert_eq!(r.status, 204, "{}", r.text());
    check_sdk_error(
        c.get_object().bucket(&b).key("gone").send().await,
        404,
        "NoSuchKey",
        &format!("/{b}/gone"),
    );
    // Again, and a key that never existed: both succeed with 204.
    let r = s.raw("DELETE", &format!("/{b}/gone"), &[], &[], b"").await;
    assert_eq!(r.status, 204, "{}", r.text());
    c.delete_object().bucket(&b).key("never-was").send().await.unwrap();
    assert_eq!(get_body(&c, &b, "kept").await, b"stay");
    // A missing bucket is still an error.
    check_sdk_error(
        c.delete_object().bucket("bkt-missing").key("k").send().await,
        404,
        "NoSuchBucket",
        "/bkt-missing/k",
    );
}

/// DeleteObject with If-Match deletes only the version it names, checked in the delete's
/// own commit: racing an overwrite, it either goes first (and the new version stays) or
/// fails 412; never does it check one version and delete the next.
#[tokio::test]
async fn conditional_delete_is_atomic_with_overwrites() {
    let (_s, c, b) = with_bucket("conddelete").await;
    let etag = put(&c, &b, "k", b"first").await;
    check_sdk_error(
        c.delete_object().bucket(&b).key("k").if_match("\"0000\"").send().await,
        412,
        "PreconditionFailed",
        &format!("/{b}/k"),
    );
    assert_eq!(get_body(&c, &b, "k").await, b"first");
    check_sdk_error(
        c.delete_object().bucket(&b).key("missing").if_match("*").send().await,
        404,
        "NoSuchKey",
        &format!("/{b}/missing"),
    );
    c.delete_object()
        .bucket(&b)
        .key("k")
        .if_match(&etag)
        .send()
        .await
        .unwrap();
    for round in 0..40 {
        let old = put(&c, &b, "k", format!("old {round}").as_bytes()).await;
        let new = format!("new {round}");
        let (_, del) = tokio::join!(
            put(&c, &b, "k", new.as_bytes()),
            c.delete_object().bucket(&b).key("k").if_match(&old).send()
        );
        if let Err(e) = del {
            assert_eq!(sdk_status(Err::<(), _>(e)), 412);
        }
        assert_eq!(get_body(&c, &b, "k").await, new.as_bytes(), "round {round}");
    }
}

fn ids(keys: &[&str]) -> Delete {
    Delete::builder()
        .set_objects(Some(
            keys.iter()
                .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
                .collect(),
        ))
        .build()
        .unwrap()
}

#[tokio::test]
async fn delete_objects_verbose_lists_deleted_quiet_lists_none() {
    let (_s, c, b) = with_bucket("multidelete").await;
    for k in ["a", "b", "c/d", "e", "f", "keep"] {
        put(&c, &b, k, k.as_bytes()).await;
    }
    let out = c
        .delete_objects()
        .bucket(&b)
        .delete(ids(&["a", "c/d", "missing"]))
        .send()
        .await
        .unwrap();
    let mut deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort();
    assert_eq!(deleted, ["a", "c/d", "missing"], "a missing key is reported deleted");
    assert!(out.errors().is_empty(), "{:?}", out.errors());

    let mut quiet = ids(&["b", "e", "also-missing"]);
    quiet.quiet = Some(true);
    let out = c.delete_objects().bucket(&b).delete(quiet).send().await.unwrap();
    assert!(
        out.deleted().is_empty(),
        "quiet mode lists no successes: {:?}",
        out.deleted()
    );
    assert!(out.errors().is_empty(), "{:?}", out.errors());

    let list = c.list_objects_v2().bucket(&b).send().await.unwrap();
    let keys: Vec<&str> = list.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["f", "keep"]);
}
