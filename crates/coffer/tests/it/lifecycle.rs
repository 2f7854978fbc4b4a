//! Bucket lifecycle: the configuration and its validation, `x-amz-expiration`, and rules
//! carried out by the worker on a server whose lifecycle day is one second: expired
//! objects, noncurrent versions, lone delete markers and stale uploads removed, locked
//! versions kept, and a kill -9 mid-run losing nothing that was not due.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration, ObjectLockMode, Transition, TransitionStorageClass,
};

use futures::FutureExt as _;

use crate::common::*;

fn rule(id: &str, prefix: &str) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder()
        .id(id)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
}

fn expire_days(d: i32) -> LifecycleExpiration {
    LifecycleExpiration::builder().days(d).build()
}

fn config(rules: Vec<LifecycleRule>) -> BucketLifecycleConfiguration {
    BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .unwrap()
}

async fn set(c: &aws_sdk_s3::Client, b: &str, rules: Vec<LifecycleRule>) {
    c.put_bucket_lifecycle_configuration()
        .bucket(b)
        .lifecycle_configuration(config(rules))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn configuration_round_trip_and_validation() {
    let (_s, c, b) = with_bucket("lc-cfg").await;
    check_sdk_error(
        c.get_bucket_lifecycle_configuration().bucket(&b).send().await,
        404,
        "NoSuchLifecycleConfiguration",
        &format!("/{b}"),
    );
    let rules = vec![
        rule("logs", "logs/").expiration(expire_days(30)).build().unwrap(),
        rule("old-versions", "")
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(7)
                    .newer_noncurrent_versions(2)
                    .build(),
            )
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(3)
                    .build(),
            )
            .build()
            .unwrap(),
    ];
    set(&c, &b, rules.clone()).await;
    let got = c.get_bucket_lifecycle_configuration().bucket(&b).send().await.unwrap();
    assert_eq!(got.rules(), rules.as_slice());

    let midday = DateTime::from_secs(1_900_000_000 - 1_900_000_000 % 86_400 + 43_200);
    for (bad, status, code) in [
        (
            rule("d", "").expiration(expire_days(0)).build().unwrap(),
            400,
            "InvalidArgument",
        ),
        (
            rule("d", "")
                .expiration(LifecycleExpiration::builder().date(midday).build())
                .build()
                .unwrap(),
            400,
            "InvalidArgument",
        ),
        (rule("none", "").build().unwrap(), 400, "InvalidArgument"),
        (
            rule("t", "")
                .transitions(
                    Transition::builder()
                        .days(30)
                        .storage_class(TransitionStorageClass::Glacier)
                        .build(),
                )
                .build()
                .unwrap(),
            501,
            "NotImplemented",
        ),
    ] {
        check_sdk_error(
            c.put_bucket_lifecycle_configuration()
                .bucket(&b)
                .lifecycle_configuration(config(vec![bad]))
                .send()
                .await,
            status,
            code,
            &format!("/{b}"),
        );
    }
    let twice = vec![
        rule("same", "a/").expiration(expire_days(1)).build().unwrap(),
        rule("same", "b/").expiration(expire_days(1)).build().unwrap(),
    ];
    check_sdk_error(
        c.put_bucket_lifecycle_configuration()
            .bucket(&b)
            .lifecycle_configuration(config(twice))
            .send()
            .await,
        400,
        "InvalidArgument",
        &format!("/{b}"),
    );
    // The refusals left the configuration as it was.
    let got = c.get_bucket_lifecycle_configuration().bucket(&b).send().await.unwrap();
    assert_eq!(got.rules().len(), 2);
    c.delete_bucket_lifecycle().bucket(&b).send().await.unwrap();
    check_sdk_error(
        c.get_bucket_lifecycle_configuration().bucket(&b).send().await,
        404,
        "NoSuchLifecycleConfiguration",
        &format!("/{b}"),
    );
}

/// `x-amz-expiration` names the rule and the day, rounded up to midnight UTC.
#[tokio::test]
async fn expiration_header_on_put_get_and_head() {
    let (_s, c, b) = with_bucket("lc-hdr").await;
    set(
        &c,
        &b,
        vec![rule("logs-30", "logs/").expiration(expire_days(30)).build().unwrap()],
    )
    .await;
    let written = c
        .put_object()
        .bucket(&b)
        .key("logs/a")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let h = written.expiration().unwrap();
    assert!(h.contains("rule-id=\"logs-30\""), "{h}");
    assert!(h.starts_with("expiry-date=\"") && h.contains(" 00:00:00 GMT\""), "{h}");
    let got = c.get_object().bucket(&b).key("logs/a").send().await.unwrap();
    assert_eq!(got.expiration(), Some(h));
    let head = c.head_object().bucket(&b).key("logs/a").send().await.unwrap();
    assert_eq!(head.expiration(), Some(h));
    put(&c, &b, "other/a", b"x").await;
    let head = c.head_object().bucket(&b).key("other/a").send().await.unwrap();
    assert_eq!(head.expiration(), None);
}

/// Polls `f` until it holds, for at most 20 s (the worker runs every second here).
async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !f().await {
        assert!(start.elapsed() < Duration::from_secs(20), "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn exists(c: &aws_sdk_s3::Client, b: &str, k: &str, version: Option<&str>) -> bool {
    c.head_object()
        .bucket(b)
        .key(k)
        .set_version_id(version.map(str::to_owned))
        .send()
        .await
        .is_ok()
}

async fn versions_of(c: &aws_sdk_s3::Client, b: &str, k: &str) -> (usize, usize) {
    let out = c.list_object_versions().bucket(b).prefix(k).send().await.unwrap();
    (
        out.versions().iter().filter(|v| v.key() == Some(k)).count(),
        out.delete_markers().iter().filter(|v| v.key() == Some(k)).count(),
    )
}

#[tokio::test]
async fn rules_run_and_locks_hold() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_with(&tmp.path().join("data"), &["--lifecycle-day-secs", "1"]);
    let c = s.client();

    // Current versions and stale uploads under logs/ go after 2 days; the rest stays.
    let plain = bucket("lc-plain");
    c.create_bucket().bucket(&plain).send().await.unwrap();
    put(&c, &plain, "logs/old", b"x").await;
    put(&c, &plain, "keep/x", b"kept").await;
    let up = c
        .create_multipart_upload()
        .bucket(&plain)
        .key("logs/upload")
        .send()
        .await
        .unwrap();
    let kept_up = c
        .create_multipart_upload()
        .bucket(&plain)
        .key("keep/upload")
        .send()
        .await
        .unwrap();
    set(
        &c,
        &plain,
        vec![
            rule("logs", "logs/")
                .expiration(expire_days(2))
                .abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(2)
                        .build(),
                )
                .build()
                .unwrap(),
        ],
    )
    .await;

    // Versions: noncurrent ones go a day after they stop being current, then the delete
    // marker left alone goes; a locked version stays.
    let vb = bucket("lc-versions");
    c.create_bucket()
        .bucket(&vb)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    put(&c, &vb, "doc", b"one").await;
    put(&c, &vb, "doc", b"two").await;
    put(&c, &vb, "gone", b"bye").await;
    c.delete_object().bucket(&vb).key("gone").send().await.unwrap();
    let until = DateTime::from_secs(time::OffsetDateTime::now_utc().unix_timestamp() + 3600);
    let locked = c
        .put_object()
        .bucket(&vb)
        .key("locked")
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(until)
        .body(ByteStream::from_static(b"held"))
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap();
    put(&c, &vb, "locked", b"newer").await;
    set(
        &c,
        &vb,
        vec![
            rule("noncurrent", "")
                .noncurrent_version_expiration(NoncurrentVersionExpiration::builder().noncurrent_days(1).build())
                .build()
                .unwrap(),
            rule("markers", "")
                .expiration(
                    LifecycleExpiration::builder()
                        .expired_object_delete_marker(true)
                        .build(),
                )
                .build()
                .unwrap(),
        ],
    )
    .await;

    eventually("logs/old expired", || async {
        !exists(&c, &plain, "logs/old", None).await
    })
    .await;
    eventually("the stale upload aborted", || async {
        let ups = c.list_multipart_uploads().bucket(&plain).send().await.unwrap();
        ups.uploads().iter().all(|u| u.upload_id() != up.upload_id())
    })
    .await;
    eventually("doc's noncurrent version removed", || async {
        versions_of(&c, &vb, "doc").await == (1, 0)
    })
    .await;
    eventually("gone's version and then its lone marker removed", || async {
        versions_of(&c, &vb, "gone").await == (0, 0)
    })
    .await;
    // What no rule covers, or a lock holds, is still there.
    assert_eq!(get_body(&c, &plain, "keep/x").await, b"kept");
    let ups = c.list_multipart_uploads().bucket(&plain).send().await.unwrap();
    assert!(ups.uploads().iter().any(|u| u.upload_id() == kept_up.upload_id()));
    assert_eq!(get_body(&c, &vb, "doc").await, b"two");
    assert!(exists(&c, &vb, "locked", Some(&locked)).await);
    assert_eq!(versions_of(&c, &vb, "locked").await, (2, 0));

    // Expiration by days also clears a delete marker left alone, once it is that old (AWS).
    let days = bucket("lc-days");
    c.create_bucket()
        .bucket(&days)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    put(&c, &days, "a", b"x").await;
    c.delete_object().bucket(&days).key("a").send().await.unwrap();
    set(
        &c,
        &days,
        vec![
            rule("both", "")
                .noncurrent_version_expiration(NoncurrentVersionExpiration::builder().noncurrent_days(1).build())
                .expiration(expire_days(2))
                .build()
                .unwrap(),
        ],
    )
    .await;
    eventually("the version, then the old lone marker, removed", || async {
        versions_of(&c, &days, "a").await == (0, 0)
    })
    .await;

    // In a versioned bucket, Expiration makes the current version noncurrent behind a marker.
    set(
        &c,
        &vb,
        vec![rule("all", "doc").expiration(expire_days(1)).build().unwrap()],
    )
    .await;
    eventually("doc expired behind a delete marker", || async {
        versions_of(&c, &vb, "doc").await == (1, 1)
    })
    .await;
}

/// The worker killed with the server (kill -9) in the middle of a run: after a restart,
/// what was due goes and what was not is all there.
#[tokio::test]
async fn a_kill_mid_run_loses_nothing_that_was_not_due() {
    if skip_on_shared_engines() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_with(&dir, &["--lifecycle-day-secs", "1"]);
    let c = s.client();
    let b = bucket("lc-kill");
    c.create_bucket().bucket(&b).send().await.unwrap();
    for i in 0..300 {
        put(&c, &b, &format!("due/{i:04}"), b"d").await;
    }
    for i in 0..50 {
        put(&c, &b, &format!("keep/{i:04}"), format!("keep {i}").as_bytes()).await;
    }
    set(
        &c,
        &b,
        vec![rule("due", "due/").expiration(expire_days(1)).build().unwrap()],
    )
    .await;
    let count = |c: aws_sdk_s3::Client, prefix: &'static str| {
        let b = b.clone();
        async move {
            let mut n = 0;
            let mut token = None;
            loop {
                let out = c
                    .list_objects_v2()
                    .bucket(&b)
                    .prefix(prefix)
                    .set_continuation_token(token)
                    .send()
                    .await
                    .unwrap();
                n += out.contents().len();
                token = out.next_continuation_token().map(str::to_owned);
                if token.is_none() {
                    return n;
                }
            }
        }
    };
    // Kill as soon as the worker has started removing.
    eventually("the first removals", || count(c.clone(), "due/").map(|n| n < 300)).await;
    s.kill();
    let s = Server::start_with(&dir, &["--lifecycle-day-secs", "1"]);
    let c = s.client();
    eventually("everything due removed after the restart", || {
        count(c.clone(), "due/").map(|n| n == 0)
    })
    .await;
    assert_eq!(count(c.clone(), "keep/").await, 50);
    for i in [0, 17, 49] {
        assert_eq!(
            get_body(&c, &b, &format!("keep/{i:04}")).await,
            format!("keep {i}").as_bytes()
        );
    }
}
