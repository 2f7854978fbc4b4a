//! Versioning and object lock through aws-sdk-s3: every state transition, delete markers,
//! version listings with paging, and locked versions that survive deletes.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    BucketVersioningStatus, DefaultRetention, Delete, ObjectIdentifier, ObjectLockConfiguration, ObjectLockEnabled,
    ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockMode, ObjectLockRetention, ObjectLockRetentionMode,
    ObjectLockRule, VersioningConfiguration,
};

use crate::common::*;

pub async fn set_state(c: &Client, b: &str, status: BucketVersioningStatus) {
    c.put_bucket_versioning()
        .bucket(b)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .unwrap();
}

async fn put(c: &Client, b: &str, k: &str, body: &str) -> Option<String> {
    c.put_object()
        .bucket(b)
        .key(k)
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await
        .unwrap()
        .version_id
}

async fn get(c: &Client, b: &str, k: &str, v: Option<&str>) -> String {
    let r = c
        .get_object()
        .bucket(b)
        .key(k)
        .set_version_id(v.map(str::to_owned))
        .send()
        .await
        .unwrap();
    String::from_utf8(r.body.collect().await.unwrap().into_bytes().to_vec()).unwrap()
}

/// (key, version id, is latest, is marker) in listing order, across every page.
pub async fn all_versions(c: &Client, b: &str, page: i32) -> Vec<(String, String, bool, bool)> {
    let mut out = Vec::new();
    let (mut km, mut vm) = (None::<String>, None::<String>);
    loop {
        let r = c
            .list_object_versions()
            .bucket(b)
            .max_keys(page)
            .set_key_marker(km.clone())
            .set_version_id_marker(vm.clone())
            .send()
            .await
            .unwrap();
        let mut rows: Vec<(String, String, bool, bool, DateTime)> = r
            .versions()
            .iter()
            .map(|v| {
                (
                    v.key().unwrap().into(),
                    v.version_id().unwrap().into(),
                    v.is_latest().unwrap(),
                    false,
                    *v.last_modified().unwrap(),
                )
            })
            .chain(r.delete_markers().iter().map(|m| {
                (
                    m.key().unwrap().into(),
                    m.version_id().unwrap().into(),
                    m.is_latest().unwrap(),
                    true,
                    *m.last_modified().unwrap(),
                )
            }))
            .collect();
        // The XML lists versions and markers apart; order each key's rows newest first.
        rows.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then(b.4.secs().cmp(&a.4.secs()))
                .then(b.4.subsec_nanos().cmp(&a.4.subsec_nanos()))
        });
        out.extend(rows.into_iter().map(|(k, v, l, m, _)| (k, v, l, m)));
        if r.is_truncated != Some(true) {
            return out;
        }
        km = r.next_key_marker.clone();
        vm = r.next_version_id_marker.clone();
    }
}

#[tokio::test]
async fn versioning_states_move_between_enabled_and_suspended_only() {
    let (_s, c, b) = with_bucket("vstate").await;
    assert_eq!(c.get_bucket_versioning().bucket(&b).send().await.unwrap().status, None);
    set_state(&c, &b, BucketVersioningStatus::Enabled).await;
    assert_eq!(
        c.get_bucket_versioning().bucket(&b).send().await.unwrap().status,
        Some(BucketVersioningStatus::Enabled)
    );
    set_state(&c, &b, BucketVersioningStatus::Suspended).await;
    assert_eq!(
        c.get_bucket_versioning().bucket(&b).send().await.unwrap().status,
        Some(BucketVersioningStatus::Suspended)
    );
    let r = _s
        .raw(
            "PUT",
            &format!("/{b}"),
            &[("versioning", "")],
            &[],
            b"<VersioningConfiguration><Status>Off</Status></VersioningConfiguration>",
        )
        .await;
    r.check_error(400, "MalformedXML", &format!("/{b}"));
}

#[tokio::test]
async fn enabled_keeps_every_version_and_markers_hide_the_key() {
    let (s, c, b) = with_bucket("venabled").await;
    set_state(&c, &b, BucketVersioningStatus::Enabled).await;
    let v1 = put(&c, &b, "k", "one").await.unwrap();
    let v2 = put(&c, &b, "k", "two").await.unwrap();
    assert_ne!(v1, v2);
    assert_eq!(get(&c, &b, "k", None).await, "two");
    assert_eq!(get(&c, &b, "k", Some(&v1)).await, "one");
    let head = c
        .head_object()
        .bucket(&b)
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(head.version_id.as_deref(), Some(v1.as_str()));

    let del = c.delete_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(del.delete_marker, Some(true));
    let marker = del.version_id.unwrap();
    // The latest is a marker: 404 with the marker's headers.
    let r = s.raw("GET", &format!("/{b}/k"), &[], &[], b"").await;
    r.check_error(404, "NoSuchKey", &format!("/{b}/k"));
    assert_eq!(r.header("x-amz-delete-marker"), Some("true"));
    assert_eq!(r.header("x-amz-version-id"), Some(marker.as_str()));
    // The marker asked for by id: 405.
    let r = s
        .raw("GET", &format!("/{b}/k"), &[("versionId", &marker)], &[], b"")
        .await;
    r.check_error(405, "MethodNotAllowed", &format!("/{b}/k"));
    assert_eq!(r.header("x-amz-delete-marker"), Some("true"));
    assert!(
        c.list_objects_v2()
            .bucket(&b)
            .send()
            .await
            .unwrap()
            .contents()
            .is_empty()
    );
    // Old versions still read.
    assert_eq!(get(&c, &b, "k", Some(&v2)).await, "two");

    let vs = all_versions(&c, &b, 1000).await;
    assert_eq!(
        vs,
        vec![
            ("k".into(), marker.clone(), true, true),
            ("k".into(), v2.clone(), false, false),
            ("k".into(), v1.clone(), false, false)
        ]
    );
    // Deleting the marker restores the previous version.
    let d = c
        .delete_object()
        .bucket(&b)
        .key("k")
        .version_id(&marker)
        .send()
        .await
        .unwrap();
    assert_eq!(d.delete_marker, Some(true));
    assert_eq!(d.version_id.as_deref(), Some(marker.as_str()));
    assert_eq!(get(&c, &b, "k", None).await, "two");
    // Deleting the current version by id brings back the one before.
    c.delete_object()
        .bucket(&b)
        .key("k")
        .version_id(&v2)
        .send()
        .await
        .unwrap();
    assert_eq!(get(&c, &b, "k", None).await, "one");
    check_sdk_error(
        c.get_object().bucket(&b).key("k").version_id(&v2).send().await,
        404,
        "NoSuchVersion",
        &format!("/{b}/k"),
    );
    check_sdk_error(
        c.get_object()
            .bucket(&b)
            .key("k")
            .version_id("not-a-version")
            .send()
            .await,
        400,
        "InvalidArgument",
        &format!("/{b}/k"),
    );
    // Deleting a version that is not there succeeds.
    c.delete_object()
        .bucket(&b)
        .key("k")
        .version_id(&v2)
        .send()
        .await
        .unwrap();
    // A bucket with versions left is not empty.
    c.delete_object().bucket(&b).key("k").send().await.unwrap();
    check_sdk_error(
        c.delete_bucket().bucket(&b).send().await,
        409,
        "BucketNotEmpty",
        &format!("/{b}"),
    );
}

#[tokio::test]
async fn suspended_writes_and_deletes_the_null_version() {
    let (_s, c, b) = with_bucket("vsusp").await;
    // Written before versioning: becomes the null version.
    assert_eq!(put(&c, &b, "k", "pre").await, None);
    set_state(&c, &b, BucketVersioningStatus::Enabled).await;
    let v1 = put(&c, &b, "k", "v1").await.unwrap();
    assert_eq!(get(&c, &b, "k", Some("null")).await, "pre");
    set_state(&c, &b, BucketVersioningStatus::Suspended).await;
    assert_eq!(put(&c, &b, "k", "s1").await.as_deref(), Some("null"));
    // The earlier null version was replaced, v1 kept.
    assert_eq!(get(&c, &b, "k", Some("null")).await, "s1");
    assert_eq!(put(&c, &b, "k", "s2").await.as_deref(), Some("null"));
    let vs = all_versions(&c, &b, 1000).await;
    assert_eq!(
        vs,
        vec![
            ("k".into(), "null".into(), true, false),
            ("k".into(), v1.clone(), false, false)
        ]
    );
    // A delete puts a null marker in place of the null version.
    let d = c.delete_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!((d.delete_marker, d.version_id.as_deref()), (Some(true), Some("null")));
    let vs = all_versions(&c, &b, 1000).await;
    assert_eq!(
        vs,
        vec![
            ("k".into(), "null".into(), true, true),
            ("k".into(), v1.clone(), false, false)
        ]
    );
    assert_eq!(get(&c, &b, "k", Some(&v1)).await, "v1");
}

#[tokio::test]
async fn unversioned_objects_have_no_version_id() {
    let (s, c, b) = with_bucket("vnone").await;
    c.put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let r = s.raw("GET", &format!("/{b}/k"), &[], &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-amz-version-id"), None);
    let vs = all_versions(&c, &b, 1000).await;
    assert_eq!(vs, vec![("k".into(), "null".into(), true, false)]);
}

#[tokio::test]
async fn conditional_writes_hold_on_versioned_buckets() {
    let (_s, c, b) = with_bucket("vcond").await;
    set_state(&c, &b, BucketVersioningStatus::Enabled).await;
    put(&c, &b, "k", "one").await;
    check_sdk_error(
        c.put_object()
            .bucket(&b)
            .key("k")
            .if_none_match("*")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        412,
        "PreconditionFailed",
        &format!("/{b}/k"),
    );
    c.delete_object().bucket(&b).key("k").send().await.unwrap();
    // Behind a delete marker the key is absent: the conditional create succeeds.
    c.put_object()
        .bucket(&b)
        .key("k")
        .if_none_match("*")
        .body(ByteStream::from_static(b"new"))
        .send()
        .await
        .unwrap();
    assert_eq!(get(&c, &b, "k", None).await, "new");
}

#[tokio::test]
async fn delete_objects_with_version_ids() {
    let (_s, c, b) = with_bucket("vmulti").await;
    set_state(&c, &b, BucketVersioningStatus::Enabled).await;
    let v1 = put(&c, &b, "a", "1").await.unwrap();
    let v2 = put(&c, &b, "a", "2").await.unwrap();
    let del = Delete::builder()
        .objects(ObjectIdentifier::builder().key("a").version_id(&v1).build().unwrap())
        .objects(ObjectIdentifier::builder().key("b").build().unwrap())
        .build()
        .unwrap();
    let r = c.delete_objects().bucket(&b).delete(del).send().await.unwrap();
    let deleted: BTreeMap<_, _> = r
        .deleted()
        .iter()
        .map(|d| (d.key().unwrap().to_owned(), d.clone()))
        .collect();
    assert_eq!(deleted["a"].version_id(), Some(v1.as_str()));
    assert_eq!(deleted["b"].delete_marker(), Some(true));
    assert!(deleted["b"].delete_marker_version_id().is_some());
    let vs = all_versions(&c, &b, 1000).await;
    assert_eq!(vs.len(), 2);
    assert_eq!(vs[0].1, v2);
    assert!(vs[1].3, "b is now only a marker");
}

#[tokio::test]
async fn listing_pages_through_thousands_of_versions_of_few_keys_and_few_of_many() {
    let (_s, c, b) = with_bucket("vpages").await;
    set_state(&c, &b, BucketVersioningStatus::Enabled).await;
    let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // Few keys, many versions (with a marker among them).
    for i in 0..600 {
        let k = format!("few/{}", i % 3);
        let v = if i == 300 {
            c.delete_object()
                .bucket(&b)
                .key(&k)
                .send()
                .await
                .unwrap()
                .version_id
                .unwrap()
        } else {
            put(&c, &b, &k, &i.to_string()).await.unwrap()
        };
        want.entry(k).or_default().insert(0, v);
    }
    // Many keys, few versions.
    let writes: Vec<_> = (0..400)
        .map(|i| {
            let c = c.clone();
            let b = b.clone();
            async move {
                let k = format!("many/{i:04}");
                let a = put(&c, &b, &k, "a").await.unwrap();
                let z = put(&c, &b, &k, "b").await.unwrap();
                (k, vec![z, a])
            }
        })
        .collect();
    want.extend(futures::future::join_all(writes).await);
    let want_flat: Vec<(String, String)> = want
        .iter()
        .flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), v.clone())))
        .collect();
    for page in [1000, 97] {
        let got: Vec<(String, String)> = all_versions(&c, &b, page)
            .await
            .into_iter()
            .map(|(k, v, _, _)| (k, v))
            .collect();
        assert_eq!(got.len(), want_flat.len(), "page size {page}");
        assert_eq!(got, want_flat, "page size {page}");
    }
    // Exactly one latest per key.
    let latest = all_versions(&c, &b, 250).await.into_iter().filter(|r| r.2).count();
    assert_eq!(latest, want.len());
    // With a delimiter the two groups roll up.
    let r = c.list_object_versions().bucket(&b).delimiter("/").send().await.unwrap();
    let p: Vec<_> = r.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect();
    assert_eq!(p, ["few/", "many/"]);
    // Plain listings see live keys only.
    let live = c.list_objects_v2().bucket(&b).prefix("few/").send().await.unwrap();
    assert_eq!(live.key_count, Some(3));
}

#[tokio::test]
async fn object_lock_protects_versions_until_their_date() {
    let s = Server::start();
    let c = s.client();
    let b = bucket("locked");
    c.create_bucket()
        .bucket(&b)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        c.get_bucket_versioning().bucket(&b).send().await.unwrap().status,
        Some(BucketVersioningStatus::Enabled)
    );
    let r = s
        .raw(
            "PUT",
            &format!("/{b}"),
            &[("versioning", "")],
            &[],
            b"<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>",
        )
        .await;
    r.check_error(409, "InvalidBucketState", &format!("/{b}"));

    let future = DateTime::from_secs(time::OffsetDateTime::now_utc().unix_timestamp() + 3600);
    let v = c
        .put_object()
        .bucket(&b)
        .key("c")
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(future)
        .body(ByteStream::from_static(b"keep"))
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap();
    let res = format!("/{b}/c");
    check_sdk_error(
        c.delete_object().bucket(&b).key("c").version_id(&v).send().await,
        403,
        "AccessDenied",
        &res,
    );
    check_sdk_error(
        c.delete_object()
            .bucket(&b)
            .key("c")
            .version_id(&v)
            .bypass_governance_retention(true)
            .send()
            .await,
        403,
        "AccessDenied",
        &res,
    );
    // A delete without a version id only adds a marker; the version stays.
    c.delete_object().bucket(&b).key("c").send().await.unwrap();
    assert_eq!(get(&c, &b, "c", Some(&v)).await, "keep");
    // COMPLIANCE retention only lengthens.
    let shorter = ObjectLockRetention::builder()
        .mode(ObjectLockRetentionMode::Compliance)
        .retain_until_date(DateTime::from_secs(future.secs() - 60))
        .build();
    check_sdk_error(
        c.put_object_retention()
            .bucket(&b)
            .key("c")
            .version_id(&v)
            .retention(shorter)
            .send()
            .await,
        403,
        "AccessDenied",
        &res,
    );
    let longer = ObjectLockRetention::builder()
        .mode(ObjectLockRetentionMode::Compliance)
        .retain_until_date(DateTime::from_secs(future.secs() + 60))
        .build();
    c.put_object_retention()
        .bucket(&b)
        .key("c")
        .version_id(&v)
        .retention(longer)
        .send()
        .await
        .unwrap();
    let got = c
        .get_object_retention()
        .bucket(&b)
        .key("c")
        .version_id(&v)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.retention.unwrap().retain_until_date.unwrap().secs(),
        future.secs() + 60
    );

    // GOVERNANCE yields to the bypass header.
    let g = c
        .put_object()
        .bucket(&b)
        .key("g")
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(future)
        .body(ByteStream::from_static(b"gov"))
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap();
    check_sdk_error(
        c.delete_object().bucket(&b).key("g").version_id(&g).send().await,
        403,
        "AccessDenied",
        &format!("/{b}/g"),
    );
    // Turning GOVERNANCE into COMPLIANCE changes the lock: it takes the bypass too.
    let to_compliance = ObjectLockRetention::builder()
        .mode(ObjectLockRetentionMode::Compliance)
        .retain_until_date(future)
        .build();
    check_sdk_error(
        c.put_object_retention()
            .bucket(&b)
            .key("g")
            .version_id(&g)
            .retention(to_compliance)
            .send()
            .await,
        403,
        "AccessDenied",
        &format!("/{b}/g"),
    );
    c.delete_object()
        .bucket(&b)
        .key("g")
        .version_id(&g)
        .bypass_governance_retention(true)
        .send()
        .await
        .unwrap();

    // Legal hold blocks deletion until released.
    let h = put(&c, &b, "h", "held").await.unwrap();
    c.put_object_legal_hold()
        .bucket(&b)
        .key("h")
        .version_id(&h)
        .legal_hold(
            ObjectLockLegalHold::builder()
                .status(ObjectLockLegalHoldStatus::On)
                .build(),
        )
        .send()
        .await
        .unwrap();
    check_sdk_error(
        c.delete_object().bucket(&b).key("h").version_id(&h).send().await,
        403,
        "AccessDenied",
        &format!("/{b}/h"),
    );
    let lh = c
        .get_object_legal_hold()
        .bucket(&b)
        .key("h")
        .version_id(&h)
        .send()
        .await
        .unwrap();
    assert_eq!(lh.legal_hold.unwrap().status, Some(ObjectLockLegalHoldStatus::On));
    c.put_object_legal_hold()
        .bucket(&b)
        .key("h")
        .version_id(&h)
        .legal_hold(
            ObjectLockLegalHold::builder()
                .status(ObjectLockLegalHoldStatus::Off)
                .build(),
        )
        .send()
        .await
        .unwrap();
    c.delete_object()
        .bucket(&b)
        .key("h")
        .version_id(&h)
        .send()
        .await
        .unwrap();

    // A default retention must be one positive period.
    let with = |days: Option<i32>, years: Option<i32>| {
        ObjectLockConfiguration::builder()
            .object_lock_enabled(ObjectLockEnabled::Enabled)
            .rule(
                ObjectLockRule::builder()
                    .default_retention(
                        DefaultRetention::builder()
                            .mode(ObjectLockRetentionMode::Governance)
                            .set_days(days)
                            .set_years(years)
                            .build(),
                    )
                    .build(),
            )
            .build()
    };
    for (days, years, status, code) in [
        (Some(0), None, 400, "InvalidRetentionPeriod"),
        (None, Some(-1), 400, "InvalidRetentionPeriod"),
        (Some(1), Some(1), 400, "MalformedXML"),
    ] {
        check_sdk_error(
            c.put_object_lock_configuration()
                .bucket(&b)
                .object_lock_configuration(with(days, years))
                .send()
                .await,
            status,
            code,
            &format!("/{b}"),
        );
    }

    // Default retention applies to new versions.
    let cfg = ObjectLockConfiguration::builder()
        .object_lock_enabled(ObjectLockEnabled::Enabled)
        .rule(
            ObjectLockRule::builder()
                .default_retention(
                    DefaultRetention::builder()
                        .mode(ObjectLockRetentionMode::Governance)
                        .days(2)
                        .build(),
                )
                .build(),
        )
        .build();
    c.put_object_lock_configuration()
        .bucket(&b)
        .object_lock_configuration(cfg)
        .send()
        .await
        .unwrap();
    let got = c.get_object_lock_configuration().bucket(&b).send().await.unwrap();
    let rule = got
        .object_lock_configuration
        .unwrap()
        .rule
        .unwrap()
        .default_retention
        .unwrap();
    assert_eq!(
        (rule.mode, rule.days),
        (Some(ObjectLockRetentionMode::Governance), Some(2))
    );
    let d = put(&c, &b, "d", "defaulted").await.unwrap();
    let head = c.head_object().bucket(&b).key("d").version_id(&d).send().await.unwrap();
    assert_eq!(head.object_lock_mode, Some(ObjectLockMode::Governance));
    let until = head.object_lock_retain_until_date.unwrap().secs();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((until - now - 2 * 86400).abs() < 120, "two days from now");
    check_sdk_error(
        c.delete_object().bucket(&b).key("d").version_id(&d).send().await,
        403,
        "AccessDenied",
        &format!("/{b}/d"),
    );
    // A multipart object gets the default retention too, and is as undeletable.
    let up = c.create_multipart_upload().bucket(&b).key("mp").send().await.unwrap();
    let id = up.upload_id.unwrap();
    let p = c
        .upload_part()
        .bucket(&b)
        .key("mp")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from_static(b"part"))
        .send()
        .await
        .unwrap();
    let mp = c
        .complete_multipart_upload()
        .bucket(&b)
        .key("mp")
        .upload_id(&id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .set_e_tag(p.e_tag)
                        .set_checksum_crc32(p.checksum_crc32)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap();
    check_sdk_error(
        c.delete_object().bucket(&b).key("mp").version_id(&mp).send().await,
        403,
        "AccessDenied",
        &format!("/{b}/mp"),
    );
}

#[tokio::test]
async fn lock_settings_need_a_lock_enabled_bucket() {
    let (_s, c, b) = with_bucket("nolock").await;
    let future = DateTime::from_secs(time::OffsetDateTime::now_utc().unix_timestamp() + 3600);
    check_sdk_error(
        c.put_object()
            .bucket(&b)
            .key("k")
            .object_lock_mode(ObjectLockMode::Governance)
            .object_lock_retain_until_date(future)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        400,
        "InvalidRequest",
        &format!("/{b}/k"),
    );
    check_sdk_error(
        c.get_object_lock_configuration().bucket(&b).send().await,
        404,
        "ObjectLockConfigurationNotFoundError",
        &format!("/{b}"),
    );
}
