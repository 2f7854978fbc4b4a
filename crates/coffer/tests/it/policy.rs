//! Bucket policies: stored as sent, refused with the reason when malformed, and applied to
//! every request: anonymous readers, other users, explicit denies, conditions, DeleteObjects
//! key by key, and version reads.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use crate::common::*;

/// An unsigned request, as a browser or `curl` sends it.
async fn set_policy(c: &aws_sdk_s3::Client, b: &str, statements: &str) {
    let policy = format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#);
    c.put_bucket_policy().bucket(b).policy(policy).send().await.unwrap();
}

#[tokio::test]
async fn put_get_delete_and_status() {
    let (s, c, b) = with_bucket("pol").await;
    check_sdk_error(
        c.get_bucket_policy().bucket(&b).send().await,
        404,
        "NoSuchBucketPolicy",
        &format!("/{b}"),
    );
    let status = c.get_bucket_policy_status().bucket(&b).send().await.unwrap();
    assert_eq!(status.policy_status.unwrap().is_public, Some(false));
    // Stored as sent, byte for byte; PutBucketPolicy answers 204 as on AWS.
    let text = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"read","Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::{b}/*"}}]}}"#
    );
    let r = s
        .raw("PUT", &format!("/{b}"), &[("policy", "")], &[], text.as_bytes())
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let got = c.get_bucket_policy().bucket(&b).send().await.unwrap();
    assert_eq!(got.policy.as_deref(), Some(text.as_str()));
    let status = c.get_bucket_policy_status().bucket(&b).send().await.unwrap();
    assert_eq!(status.policy_status.unwrap().is_public, Some(true));
    c.delete_bucket_policy().bucket(&b).send().await.unwrap();
    check_sdk_error(
        c.get_bucket_policy().bucket(&b).send().await,
        404,
        "NoSuchBucketPolicy",
        &format!("/{b}"),
    );
    // Deleting what is not there succeeds, as on AWS.
    c.delete_bucket_policy().bucket(&b).send().await.unwrap();
}

#[tokio::test]
async fn malformed_policies_are_refused_with_the_reason() {
    let (_s, c, b) = with_bucket("pol-bad").await;
    let cases = [
        ("{nope".to_owned(), "This policy contains invalid Json"),
        (
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#
                .to_owned(),
            "Policy has invalid resource",
        ),
        (
            format!(
                r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:Fly","Resource":"arn:aws:s3:::{b}/*"}}]}}"#
            ),
            "Policy has invalid action",
        ),
        (
            format!(
                r#"{{"Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*"}}]}}"#
            ),
            "Missing required field Principal",
        ),
    ];
    for (policy, message) in cases {
        let r = c.put_bucket_policy().bucket(&b).policy(policy).send().await;
        let e = r
            .as_ref()
            .unwrap_err()
            .as_service_error()
            .map(|e| e.meta().message().map(str::to_owned));
        assert_eq!(e, Some(Some(message.to_owned())));
        check_sdk_error(r, 400, "MalformedPolicy", &format!("/{b}"));
    }
    check_sdk_error(
        c.get_bucket_policy().bucket(&b).send().await,
        404,
        "NoSuchBucketPolicy",
        &format!("/{b}"),
    );
}

#[tokio::test]
async fn a_public_prefix_is_readable_without_credentials_and_nothing_else_is() {
    let (s, c, b) = with_bucket("pol-pub").await;
    put(&c, &b, "public/page.html", b"<h1>hi</h1>").await;
    put(&c, &b, "private/secret", b"no").await;
    let page = format!("/{b}/public/page.html");
    anonymous(&s, "GET", &page, b"")
        .await
        .check_error(403, "AccessDenied", &page);
    set_policy(
        &c,
        &b,
        &format!(
            r#"{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/public/*"}}"#
        ),
    )
    .await;
    let r = anonymous(&s, "GET", &page, b"").await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"<h1>hi</h1>"[..]));
    let secret = format!("/{b}/private/secret");
    anonymous(&s, "GET", &secret, b"")
        .await
        .check_error(403, "AccessDenied", &secret);
    // Reading is not writing, nor listing.
    let up = format!("/{b}/public/new");
    anonymous(&s, "PUT", &up, b"x")
        .await
        .check_error(403, "AccessDenied", &up);
    let list = format!("/{b}");
    anonymous(&s, "GET", &list, b"")
        .await
        .check_error(403, "AccessDenied", &list);
    // Nor a version by id: that is s3:GetObjectVersion.
    let v = format!("/{b}/public/page.html?versionId=null");
    anonymous(&s, "GET", &v, b"")
        .await
        .check_error(403, "AccessDenied", &format!("/{b}/public/page.html"));
}

#[tokio::test]
async fn another_user_gets_what_the_policy_names() {
    let (s, alice_root, _) = with_bucket("pol-unused").await;
    drop(alice_root);
    let (ak, asec) = s.add_user("alice").await;
    let (bk, bsec) = s.add_user("bob").await;
    let alice = s.client_as(&ak, &asec);
    let bob = s.client_as(&bk, &bsec);
    let b = bucket("alices");
    alice.create_bucket().bucket(&b).send().await.unwrap();
    put(&alice, &b, "shared/report", b"numbers").await;
    put(&alice, &b, "private/diary", b"dear").await;
    check_sdk_error(
        bob.get_object().bucket(&b).key("shared/report").send().await,
        403,
        "AccessDenied",
        &format!("/{b}/shared/report"),
    );
    set_policy(
        &alice,
        &b,
        &format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::000000000000:user/bob"}},"Action":["s3:GetObject"],"Resource":"arn:aws:s3:::{b}/shared/*"}},
               {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::000000000000:user/bob"}},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::{b}","Condition":{{"StringLike":{{"s3:prefix":"shared/*"}}}}}}"#
        ),
    )
    .await;
    assert_eq!(get_body(&bob, &b, "shared/report").await, b"numbers");
    check_sdk_error(
        bob.get_object().bucket(&b).key("private/diary").send().await,
        403,
        "AccessDenied",
        &format!("/{b}/private/diary"),
    );
    check_sdk_error(
        bob.put_object()
            .bucket(&b)
            .key("shared/new")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        403,
        "AccessDenied",
        &format!("/{b}/shared/new"),
    );
    // Listing only under the prefix the condition names.
    let l = bob.list_objects_v2().bucket(&b).prefix("shared/").send().await.unwrap();
    assert_eq!(l.key_count, Some(1));
    check_sdk_error(
        bob.list_objects_v2().bucket(&b).send().await,
        403,
        "AccessDenied",
        &format!("/{b}"),
    );
    // Bob cannot read or change the policy itself.
    check_sdk_error(
        bob.get_bucket_policy().bucket(&b).send().await,
        403,
        "AccessDenied",
        &format!("/{b}"),
    );
}

#[tokio::test]
async fn an_explicit_deny_binds_the_owner_but_not_its_policy_rights() {
    let s = Server::start();
    let (ak, asec) = s.add_user("alice").await;
    let alice = s.client_as(&ak, &asec);
    let b = bucket("deny");
    alice.create_bucket().bucket(&b).send().await.unwrap();
    put(&alice, &b, "keep/a", b"1").await;
    set_policy(
        &alice,
        &b,
        &format!(r#"{{"Effect":"Deny","Principal":"*","Action":["s3:DeleteObject","s3:PutObject"],"Resource":"arn:aws:s3:::{b}/keep/*"}}"#),
    )
    .await;
    check_sdk_error(
        alice.delete_object().bucket(&b).key("keep/a").send().await,
        403,
        "AccessDenied",
        &format!("/{b}/keep/a"),
    );
    // DeleteObjects refuses that key and deletes the others.
    put(&alice, &b, "tmp/x", b"2").await;
    let ids = ["keep/a", "tmp/x"].map(|k| ObjectIdentifier::builder().key(k).build().unwrap());
    let out = alice
        .delete_objects()
        .bucket(&b)
        .delete(Delete::builder().set_objects(Some(ids.to_vec())).build().unwrap())
        .send()
        .await
        .unwrap();
    let errors: Vec<_> = out.errors().iter().map(|e| (e.key(), e.code())).collect();
    assert_eq!(errors, [(Some("keep/a"), Some("AccessDenied"))]);
    assert_eq!(out.deleted().len(), 1);
    assert_eq!(get_body(&alice, &b, "keep/a").await, b"1");
    // The owner can still read and replace the policy that binds it, and root is bound by none.
    alice.get_bucket_policy().bucket(&b).send().await.unwrap();
    s.client()
        .delete_object()
        .bucket(&b)
        .key("keep/a")
        .send()
        .await
        .unwrap();
    alice.delete_bucket_policy().bucket(&b).send().await.unwrap();
    put(&alice, &b, "keep/b", b"3").await;
}

#[tokio::test]
async fn conditions_see_the_source_address_and_the_transport() {
    let (s, c, b) = with_bucket("pol-cond").await;
    put(&c, &b, "k", b"v").await;
    let key = format!("/{b}/k");
    let allow = |cidr: &str| {
        format!(
            r#"{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*","Condition":{{"IpAddress":{{"aws:SourceIp":"{cidr}"}}}}}}"#
        )
    };
    set_policy(&c, &b, &allow("10.0.0.0/8")).await;
    anonymous(&s, "GET", &key, b"")
        .await
        .check_error(403, "AccessDenied", &key);
    set_policy(&c, &b, &allow("127.0.0.0/8")).await;
    assert_eq!(anonymous(&s, "GET", &key, b"").await.status, 200);
    // The common "deny plain HTTP" policy denies a request over plain HTTP (tls.rs: HTTPS passes).
    set_policy(
        &c,
        &b,
        &format!(
            r#"{},{{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::{b}","arn:aws:s3:::{b}/*"],"Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}}"#,
            allow("127.0.0.0/8")
        ),
    )
    .await;
    anonymous(&s, "GET", &key, b"")
        .await
        .check_error(403, "AccessDenied", &key);
}

/// Headers that ask for more than the operation are actions of their own: locking what
/// is written needs s3:PutObjectRetention / s3:PutObjectLegalHold, deleting through a
/// GOVERNANCE retention needs s3:BypassGovernanceRetention. A writer with s3:PutObject
/// alone cannot lock objects for ever.
#[tokio::test]
async fn lock_and_bypass_headers_need_their_own_actions() {
    use aws_sdk_s3::types::{ObjectLockLegalHoldStatus, ObjectLockMode};
    let s = Server::start();
    let root = s.client();
    let (bk, bs) = s.add_user("bob").await;
    let bob = s.client_as(&bk, &bs);
    let b = bucket("locks");
    root.create_bucket()
        .bucket(&b)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    set_policy(
        &root,
        &b,
        &format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::000000000000:user/bob"}},"Action":["s3:PutObject","s3:DeleteObjectVersion"],"Resource":"arn:aws:s3:::{b}/*"}}"#
        ),
    )
    .await;
    let future = aws_sdk_s3::primitives::DateTime::from_secs(4_000_000_000);
    let put = |k: &'static str| bob.put_object().bucket(&b).key(k).body(ByteStream::from_static(b"x"));
    check_sdk_error(
        put("locked")
            .object_lock_mode(ObjectLockMode::Compliance)
            .object_lock_retain_until_date(future)
            .send()
            .await,
        403,
        "AccessDenied",
        &format!("/{b}/locked"),
    );
    check_sdk_error(
        put("held")
            .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
            .send()
            .await,
        403,
        "AccessDenied",
        &format!("/{b}/held"),
    );
    put("plain").send().await.unwrap();
    // A GOVERNANCE version root made: bob may delete versions, but not bypass the lock.
    let v = root
        .put_object()
        .bucket(&b)
        .key("gov")
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(future)
        .body(ByteStream::from_static(b"kept"))
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap();
    check_sdk_error(
        bob.delete_object()
            .bucket(&b)
            .key("gov")
            .version_id(&v)
            .bypass_governance_retention(true)
            .send()
            .await,
        403,
        "AccessDenied",
        &format!("/{b}/gov"),
    );
    assert_eq!(get_body(&root, &b, "gov").await, b"kept");
    root.delete_object()
        .bucket(&b)
        .key("gov")
        .version_id(&v)
        .bypass_governance_retention(true)
        .send()
        .await
        .unwrap();
}

/// A policy that opens a bucket to anyone's writes does not hand anyone the bucket's
/// administration, nor response-* overrides on unsigned reads.
#[tokio::test]
async fn anonymous_callers_never_administer_a_bucket() {
    let (s, c, b) = with_bucket("pol-open").await;
    set_policy(
        &c,
        &b,
        &format!(r#"{{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::{b}","arn:aws:s3:::{b}/*"]}}"#),
    )
    .await;
    let path = format!("/{b}");
    let take_over = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::{b}/*"}}]}}"#
    );
    let target = format!("{path}?policy");
    anonymous(&s, "PUT", &target, take_over.as_bytes())
        .await
        .check_error(403, "AccessDenied", &path);
    anonymous(&s, "DELETE", &target, b"")
        .await
        .check_error(403, "AccessDenied", &path);
    anonymous(&s, "DELETE", &path, b"")
        .await
        .check_error(403, "AccessDenied", &path);
    // What the policy does grant still works.
    assert_eq!(anonymous(&s, "PUT", &format!("{path}/k"), b"v").await.status, 200);
    let r = anonymous(&s, "GET", &format!("{path}/k?response-content-type=text/html"), b"").await;
    r.check_error(400, "InvalidRequest", &format!("{path}/k"));
    assert_eq!(anonymous(&s, "GET", &format!("{path}/k"), b"").await.status, 200);
}

/// A read of a missing key tells NoSuchKey only to a caller who may list the bucket (for
/// that prefix): a grant to read objects does not reveal which keys exist, as on AWS.
#[tokio::test]
async fn missing_keys_are_hidden_from_callers_who_cannot_list() {
    let (s, c, b) = with_bucket("pol-hide").await;
    set_policy(
        &c,
        &b,
        &format!(
            r#"{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*"}},
               {{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::{b}","Condition":{{"StringLike":{{"s3:prefix":"public/*"}}}}}}"#
        ),
    )
    .await;
    let hidden = format!("/{b}/private/nothing");
    anonymous(&s, "GET", &hidden, b"")
        .await
        .check_error(403, "AccessDenied", &hidden);
    assert_eq!(anonymous(&s, "HEAD", &hidden, b"").await.status, 403);
    let listed = format!("/{b}/public/nothing");
    anonymous(&s, "GET", &listed, b"")
        .await
        .check_error(404, "NoSuchKey", &listed);
    assert_eq!(anonymous(&s, "HEAD", &listed, b"").await.status, 404);
    // The owner may list, so it learns the truth.
    check_sdk_error(
        c.get_object().bucket(&b).key("private/nothing").send().await,
        404,
        "NoSuchKey",
        &hidden,
    );
}
