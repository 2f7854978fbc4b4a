//! ACLs and object ownership. On buckets with ACLs disabled (BucketOwnerEnforced, S3's
//! default) ACLs read as the owner's FULL_CONTROL, owner-only ACLs are accepted and any
//! other is refused with AWS's codes. With ObjectWriter or BucketOwnerPreferred, canned ACLs
//! and grants (by id, e-mail and group, in headers and XML) are stored and take effect, a
//! writer owns what it writes, and Block Public Access's ACL flags hold.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AccessControlPolicy, BucketCannedAcl, Grant, Grantee, ObjectCannedAcl, ObjectOwnership, OwnershipControls,
    OwnershipControlsRule, Permission, Type,
};

use crate::common::*;

#[tokio::test]
async fn acls_read_as_the_owners_full_control() {
    let (s, c, b) = with_bucket("acl-read").await;
    put(&c, &b, "k", b"v").await;
    let (ak, asec) = s.add_user("alice").await;
    let alice = s.client_as(&ak, &asec);
    let ab = bucket("alices");
    alice.create_bucket().bucket(&ab).send().await.unwrap();
    put(&alice, &ab, "k", b"v").await;
    let acl = alice.get_bucket_acl().bucket(&ab).send().await.unwrap();
    let owner = acl.owner().unwrap();
    assert_eq!(owner.display_name(), Some("alice"));
    let grants = acl.grants();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].permission(), Some(&Permission::FullControl));
    let grantee = grants[0].grantee().unwrap();
    assert_eq!(grantee.r#type(), &Type::CanonicalUser);
    assert_eq!(grantee.id(), owner.id());
    let oacl = alice.get_object_acl().bucket(&ab).key("k").send().await.unwrap();
    assert_eq!(oacl.owner().unwrap().id(), owner.id());
    check_sdk_error(
        alice.get_object_acl().bucket(&ab).key("missing").send().await,
        404,
        "NoSuchKey",
        &format!("/{ab}/missing"),
    );
    // Reading an ACL is an access like any other.
    check_sdk_error(
        alice.get_bucket_acl().bucket(&b).send().await,
        403,
        "AccessDenied",
        &format!("/{b}"),
    );
}

#[tokio::test]
async fn only_bucket_owner_full_control_is_accepted() {
    let (s, c, b) = with_bucket("acl-write").await;
    c.put_object()
        .bucket(&b)
        .key("ok")
        .acl(ObjectCannedAcl::BucketOwnerFullControl)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    // The owner's `private` is what it gets anyway, and AWS takes it from the owning
    // account (rclone sends it on every upload); any ACL granting more is refused.
    c.put_object()
        .bucket(&b)
        .key("private")
        .acl(ObjectCannedAcl::Private)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    // From a writer other than the owner, `private` would be its own control: refused.
    let (k, secret) = s.add_user("acl-writer").await;
    let writer = s.client_as(&k, &secret);
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::000000000000:user/acl-writer"}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::{b}/*"}}]}}"#
    );
    c.put_bucket_policy().bucket(&b).policy(policy).send().await.unwrap();
    check_sdk_error(
        writer
            .put_object()
            .bucket(&b)
            .key("theirs")
            .acl(ObjectCannedAcl::Private)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        400,
        "AccessControlListNotSupported",
        &format!("/{b}/theirs"),
    );
    c.delete_bucket_policy().bucket(&b).send().await.unwrap();
    for acl in [ObjectCannedAcl::PublicRead, ObjectCannedAcl::AuthenticatedRead] {
        check_sdk_error(
            c.put_object()
                .bucket(&b)
                .key("public")
                .acl(acl)
                .body(ByteStream::from_static(b"x"))
                .send()
                .await,
            400,
            "AccessControlListNotSupported",
            &format!("/{b}/public"),
        );
    }
    check_sdk_error(
        c.put_object()
            .bucket(&b)
            .key("granted")
            .grant_read("uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        400,
        "AccessControlListNotSupported",
        &format!("/{b}/granted"),
    );
    check_sdk_error(
        c.create_multipart_upload()
            .bucket(&b)
            .key("mpu")
            .acl(ObjectCannedAcl::PublicReadWrite)
            .send()
            .await,
        400,
        "AccessControlListNotSupported",
        &format!("/{b}/mpu"),
    );
    check_sdk_error(
        c.copy_object()
            .bucket(&b)
            .key("copy")
            .copy_source(format!("{b}/ok"))
            .acl(ObjectCannedAcl::PublicRead)
            .send()
            .await,
        400,
        "AccessControlListNotSupported",
        &format!("/{b}/copy"),
    );
    // Nothing refused was stored.
    let keys: Vec<_> = c
        .list_objects_v2()
        .bucket(&b)
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    assert_eq!(keys, ["ok", "private"]);
    // PutBucketAcl and PutObjectAcl: the bucket owner's full control spelled out is a
    // no-op; anything else, `private` included, is refused.
    for acl in [BucketCannedAcl::Private, BucketCannedAcl::PublicRead] {
        check_sdk_error(
            c.put_bucket_acl().bucket(&b).acl(acl).send().await,
            400,
            "AccessControlListNotSupported",
            &format!("/{b}"),
        );
    }
    check_sdk_error(
        c.put_object_acl()
            .bucket(&b)
            .key("ok")
            .acl(ObjectCannedAcl::Private)
            .send()
            .await,
        400,
        "AccessControlListNotSupported",
        &format!("/{b}/ok"),
    );
    let owner = c
        .get_bucket_acl()
        .bucket(&b)
        .send()
        .await
        .unwrap()
        .owner()
        .unwrap()
        .clone();
    let grant = |id: &str| {
        Grant::builder()
            .grantee(Grantee::builder().r#type(Type::CanonicalUser).id(id).build().unwrap())
            .permission(Permission::FullControl)
            .build()
    };
    let policy = |id: &str| {
        AccessControlPolicy::builder()
            .owner(owner.clone())
            .grants(grant(id))
            .build()
    };
    c.put_object_acl()
        .bucket(&b)
        .key("ok")
        .access_control_policy(policy(owner.id().unwrap()))
        .send()
        .await
        .unwrap();
    let (_, _) = s.add_user("bob").await;
    check_sdk_error(
        c.put_object_acl()
            .bucket(&b)
            .key("ok")
            .access_control_policy(policy(&"b".repeat(64)))
            .send()
            .await,
        400,
        "AccessControlListNotSupported",
        &format!("/{b}/ok"),
    );
}

fn controls(o: ObjectOwnership) -> OwnershipControls {
    OwnershipControls::builder()
        .rules(OwnershipControlsRule::builder().object_ownership(o).build().unwrap())
        .build()
        .unwrap()
}

/// A bucket of `c`'s with ACLs enabled (`o`), created with a canned ACL.
async fn acl_bucket(c: &aws_sdk_s3::Client, name: &str, o: ObjectOwnership, acl: Option<BucketCannedAcl>) -> String {
    let b = bucket(name);
    c.create_bucket()
        .bucket(&b)
        .object_ownership(o)
        .set_acl(acl)
        .send()
        .await
        .unwrap();
    b
}

#[tokio::test]
async fn ownership_controls_round_trip() {
    let (_s, c, b) = with_bucket("own").await;
    let got = c.get_bucket_ownership_controls().bucket(&b).send().await.unwrap();
    let rules = got.ownership_controls().unwrap().rules();
    assert_eq!(rules[0].object_ownership(), &ObjectOwnership::BucketOwnerEnforced);
    for o in [
        ObjectOwnership::ObjectWriter,
        ObjectOwnership::BucketOwnerPreferred,
        ObjectOwnership::BucketOwnerEnforced,
    ] {
        c.put_bucket_ownership_controls()
            .bucket(&b)
            .ownership_controls(controls(o.clone()))
            .send()
            .await
            .unwrap();
        let got = c.get_bucket_ownership_controls().bucket(&b).send().await.unwrap();
        assert_eq!(got.ownership_controls().unwrap().rules()[0].object_ownership(), &o);
    }
    c.delete_bucket_ownership_controls().bucket(&b).send().await.unwrap();
    check_sdk_error(
        c.get_bucket_ownership_controls().bucket(&b).send().await,
        404,
        "OwnershipControlsNotFoundError",
        &format!("/{b}"),
    );
    // Without controls ACLs are on, as under ObjectWriter.
    c.put_bucket_acl()
        .bucket(&b)
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    // ACLs cannot be disabled while the bucket's ACL grants others.
    check_sdk_error(
        c.put_bucket_ownership_controls()
            .bucket(&b)
            .ownership_controls(controls(ObjectOwnership::BucketOwnerEnforced))
            .send()
            .await,
        400,
        "InvalidBucketAclWithObjectOwnership",
        &format!("/{b}"),
    );

    // CreateBucket: an ACL beyond the owner's needs ACLs enabled.
    let nb = bucket("own-new");
    check_sdk_error(
        c.create_bucket()
            .bucket(&nb)
            .acl(BucketCannedAcl::PublicRead)
            .send()
            .await,
        400,
        "InvalidBucketAclWithObjectOwnership",
        &format!("/{nb}"),
    );
    assert_eq!(sdk_status(c.head_bucket().bucket(&nb).send().await), 404);
    c.create_bucket()
        .bucket(&nb)
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    let ob = acl_bucket(
        &c,
        "own-pub",
        ObjectOwnership::ObjectWriter,
        Some(BucketCannedAcl::PublicRead),
    )
    .await;
    let got = c.get_bucket_ownership_controls().bucket(&ob).send().await.unwrap();
    assert_eq!(
        got.ownership_controls().unwrap().rules()[0].object_ownership(),
        &ObjectOwnership::ObjectWriter
    );
}

/// The grants of an ACL as (grantee, permission) strings: `id:<id>` or `uri:<uri>`.
fn shown(grants: &[Grant]) -> Vec<(String, String)> {
    let mut v: Vec<_> = grants
        .iter()
        .map(|g| {
            let e = g.grantee().unwrap();
            let who = match e.r#type() {
                Type::CanonicalUser => {
                    assert!(e.display_name().is_some(), "a user grantee shows its name");
                    format!("id:{}", e.id().unwrap())
                }
                Type::Group => format!("uri:{}", e.uri().unwrap()),
                t => panic!("grantee type {t:?}"),
            };
            (who, g.permission().unwrap().as_str().to_owned())
        })
        .collect();
    v.sort();
    v
}

fn sorted<const N: usize>(a: [(String, String); N]) -> Vec<(String, String)> {
    let mut v = a.to_vec();
    v.sort();
    v
}

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTH_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

#[tokio::test]
async fn canned_acls_take_effect() {
    let s = Server::start();
    let c = s.client();
    let (bk, bsec) = s.add_user("bob").await;
    let bob = s.client_as(&bk, &bsec);
    let b = acl_bucket(
        &c,
        "canned",
        ObjectOwnership::ObjectWriter,
        Some(BucketCannedAcl::PublicRead),
    )
    .await;
    let root_id = c
        .get_bucket_acl()
        .bucket(&b)
        .send()
        .await
        .unwrap()
        .owner()
        .unwrap()
        .id()
        .unwrap()
        .to_owned();

    // The bucket's public-read lets anyone list it, and no more.
    let acl = c.get_bucket_acl().bucket(&b).send().await.unwrap();
    assert_eq!(
        shown(acl.grants()),
        sorted([
            (format!("id:{root_id}"), "FULL_CONTROL".into()),
            (format!("uri:{ALL_USERS}"), "READ".into())
        ])
    );
    assert_eq!(anonymous(&s, "GET", &format!("/{b}"), b"").await.status, 200);
    let r = anonymous(&s, "PUT", &format!("/{b}/anon"), b"x").await;
    assert_eq!(r.status, 403, "{}", r.text());

    for (key, acl) in [
        ("private", ObjectCannedAcl::Private),
        ("public", ObjectCannedAcl::PublicRead),
        ("signed", ObjectCannedAcl::AuthenticatedRead),
    ] {
        c.put_object()
            .bucket(&b)
            .key(key)
            .acl(acl)
            .body(ByteStream::from_static(b"data"))
            .send()
            .await
            .unwrap();
    }
    let got = c.get_object_acl().bucket(&b).key("public").send().await.unwrap();
    assert_eq!(got.owner().unwrap().id(), Some(root_id.as_str()));
    assert_eq!(
        shown(got.grants()),
        sorted([
            (format!("id:{root_id}"), "FULL_CONTROL".into()),
            (format!("uri:{ALL_USERS}"), "READ".into())
        ])
    );
    let got = c.get_object_acl().bucket(&b).key("signed").send().await.unwrap();
    assert_eq!(
        shown(got.grants()),
        sorted([
            (format!("id:{root_id}"), "FULL_CONTROL".into()),
            (format!("uri:{AUTH_USERS}"), "READ".into())
        ])
    );

    // public-read: anyone; authenticated-read: any signed caller; private: the owner.
    let r = anonymous(&s, "GET", &format!("/{b}/public"), b"").await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"data"[..]));
    assert_eq!(anonymous(&s, "GET", &format!("/{b}/signed"), b"").await.status, 403);
    assert_eq!(anonymous(&s, "GET", &format!("/{b}/private"), b"").await.status, 403);
    assert_eq!(get_body(&bob, &b, "signed").await, b"data");
    check_sdk_error(
        bob.get_object().bucket(&b).key("private").send().await,
        403,
        "AccessDenied",
        &format!("/{b}/private"),
    );
    // The ACL itself is not readable by grantees of READ.
    check_sdk_error(
        bob.get_object_acl().bucket(&b).key("signed").send().await,
        403,
        "AccessDenied",
        &format!("/{b}/signed"),
    );
    // A missing key is NoSuchKey to whoever may list the bucket (everyone, here).
    assert_eq!(anonymous(&s, "GET", &format!("/{b}/missing"), b"").await.status, 404);
    // And a bucket that does not exist is NoSuchBucket to anyone, as on AWS.
    anonymous(&s, "GET", "/no-such-bucket-here/k", b"").await.check_error(
        404,
        "NoSuchBucket",
        "/no-such-bucket-here/k",
    );

    // PutObjectAcl changes it; the object becomes private again.
    c.put_object_acl()
        .bucket(&b)
        .key("public")
        .acl(ObjectCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous(&s, "GET", &format!("/{b}/public"), b"").await.status, 403);

    // Refusals: both kinds of ACL at once, an unknown canned ACL.
    check_sdk_error(
        c.put_object()
            .bucket(&b)
            .key("both")
            .acl(ObjectCannedAcl::PublicRead)
            .grant_read(format!("uri=\"{ALL_USERS}\""))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        400,
        "InvalidRequest",
        &format!("/{b}/both"),
    );
    let r = s
        .raw(
            "PUT",
            &format!("/{b}/odd"),
            &[],
            &[("x-amz-acl", "public-everything")],
            b"x",
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("<Code>InvalidArgument</Code>"), "{}", r.text());
}

#[tokio::test]
async fn grants_by_id_email_and_group_in_headers_and_xml() {
    let s = Server::start();
    let c = s.client();
    let (ak, asec) = s.add_user("alice").await;
    let alice = s.client_as(&ak, &asec);
    let (bk, bsec) = s.add_user("bob").await;
    let bob = s.client_as(&bk, &bsec);
    let (ck, csec) = s.add_user("carol@example.com").await;
    let carol = s.client_as(&ck, &csec);
    let b = acl_bucket(&alice, "grants", ObjectOwnership::ObjectWriter, None).await;
    let id_of = |c: aws_sdk_s3::Client| async move {
        let nb = bucket(&format!("probe-{}", rand_suffix()));
        c.create_bucket().bucket(&nb).send().await.unwrap();
        let id = c
            .get_bucket_acl()
            .bucket(&nb)
            .send()
            .await
            .unwrap()
            .owner()
            .unwrap()
            .id()
            .unwrap()
            .to_owned();
        c.delete_bucket().bucket(&nb).send().await.unwrap();
        id
    };
    let alice_id = id_of(alice.clone()).await;
    let bob_id = id_of(bob.clone()).await;
    let carol_id = id_of(carol.clone()).await;

    // A grant header by id.
    alice
        .put_object()
        .bucket(&b)
        .key("for-bob")
        .grant_read(format!("id=\"{bob_id}\""))
        .body(ByteStream::from_static(b"hi bob"))
        .send()
        .await
        .unwrap();
    assert_eq!(get_body(&bob, &b, "for-bob").await, b"hi bob");
    check_sdk_error(
        carol.get_object().bucket(&b).key("for-bob").send().await,
        403,
        "AccessDenied",
        &format!("/{b}/for-bob"),
    );
    // An XML body with an e-mail grantee: stored and shown as the user it names.
    let owner = aws_sdk_s3::types::Owner::builder().id(&alice_id).build();
    let by_email = Grant::builder()
        .grantee(
            Grantee::builder()
                .r#type(Type::AmazonCustomerByEmail)
                .email_address("carol@example.com")
                .build()
                .unwrap(),
        )
        .permission(Permission::Read)
        .build();
    let owner_full = Grant::builder()
        .grantee(
            Grantee::builder()
                .r#type(Type::CanonicalUser)
                .id(&alice_id)
                .build()
                .unwrap(),
        )
        .permission(Permission::FullControl)
        .build();
    alice
        .put_object_acl()
        .bucket(&b)
        .key("for-bob")
        .access_control_policy(
            AccessControlPolicy::builder()
                .owner(owner.clone())
                .grants(owner_full.clone())
                .grants(by_email)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let got = alice.get_object_acl().bucket(&b).key("for-bob").send().await.unwrap();
    assert_eq!(
        shown(got.grants()),
        sorted([
            (format!("id:{alice_id}"), "FULL_CONTROL".into()),
            (format!("id:{carol_id}"), "READ".into())
        ])
    );
    assert_eq!(get_body(&carol, &b, "for-bob").await, b"hi bob");
    check_sdk_error(
        bob.get_object().bucket(&b).key("for-bob").send().await,
        403,
        "AccessDenied",
        &format!("/{b}/for-bob"),
    );
    // Grantees that are nobody here.
    check_sdk_error(
        alice
            .put_object_acl()
            .bucket(&b)
            .key("for-bob")
            .grant_read("emailAddress=\"nobody@example.com\"")
            .send()
            .await,
        400,
        "UnresolvableGrantByEmailAddress",
        &format!("/{b}/for-bob"),
    );
    check_sdk_error(
        alice
            .put_object_acl()
            .bucket(&b)
            .key("for-bob")
            .grant_read(format!("id=\"{}\"", "0".repeat(64)))
            .send()
            .await,
        400,
        "InvalidArgument",
        &format!("/{b}/for-bob"),
    );
    check_sdk_error(
        alice
            .put_object_acl()
            .bucket(&b)
            .key("for-bob")
            .grant_read("uri=\"http://acs.amazonaws.com/groups/global/Everyone\"")
            .send()
            .await,
        400,
        "InvalidArgument",
        &format!("/{b}/for-bob"),
    );
    // An ACL naming another owner is refused.
    check_sdk_error(
        alice
            .put_object_acl()
            .bucket(&b)
            .key("for-bob")
            .access_control_policy(
                AccessControlPolicy::builder()
                    .owner(aws_sdk_s3::types::Owner::builder().id(&bob_id).build())
                    .grants(owner_full.clone())
                    .build(),
            )
            .send()
            .await,
        403,
        "AccessDenied",
        &format!("/{b}/for-bob"),
    );

    // A bucket grant of WRITE to bob: bob writes, and owns what he writes (ObjectWriter).
    check_sdk_error(
        bob.put_object()
            .bucket(&b)
            .key("bobs")
            .body(ByteStream::from_static(b"b"))
            .send()
            .await,
        403,
        "AccessDenied",
        &format!("/{b}/bobs"),
    );
    alice
        .put_bucket_acl()
        .bucket(&b)
        .grant_write(format!("id=\"{bob_id}\""))
        .grant_full_control(format!("id=\"{alice_id}\""))
        .send()
        .await
        .unwrap();
    let got = alice.get_bucket_acl().bucket(&b).send().await.unwrap();
    assert_eq!(
        shown(got.grants()),
        sorted([
            (format!("id:{alice_id}"), "FULL_CONTROL".into()),
            (format!("id:{bob_id}"), "WRITE".into())
        ])
    );
    put(&bob, &b, "bobs", b"b").await;
    let got = bob.get_object_acl().bucket(&b).key("bobs").send().await.unwrap();
    assert_eq!(got.owner().unwrap().id(), Some(bob_id.as_str()));
    assert_eq!(got.owner().unwrap().display_name(), Some("bob"));
    // The bucket's owner lists it as bob's, but cannot read it: bob has not granted that.
    let listed = alice
        .list_objects_v2()
        .bucket(&b)
        .fetch_owner(true)
        .send()
        .await
        .unwrap();
    let o = listed.contents().iter().find(|o| o.key() == Some("bobs")).unwrap();
    assert_eq!(o.owner().unwrap().id(), Some(bob_id.as_str()));
    check_sdk_error(
        alice.get_object().bucket(&b).key("bobs").send().await,
        403,
        "AccessDenied",
        &format!("/{b}/bobs"),
    );
    // bucket-owner-full-control grants it.
    bob.put_object()
        .bucket(&b)
        .key("bobs")
        .acl(ObjectCannedAcl::BucketOwnerFullControl)
        .body(ByteStream::from_static(b"b2"))
        .send()
        .await
        .unwrap();
    assert_eq!(get_body(&alice, &b, "bobs").await, b"b2");
    // Root reads everything.
    assert_eq!(get_body(&c, &b, "bobs").await, b"b2");

    // BucketOwnerPreferred: with bucket-owner-full-control the bucket's owner owns it.
    set_ownership(&alice, &b, ObjectOwnership::BucketOwnerPreferred).await;
    bob.put_object()
        .bucket(&b)
        .key("preferred")
        .acl(ObjectCannedAcl::BucketOwnerFullControl)
        .body(ByteStream::from_static(b"p"))
        .send()
        .await
        .unwrap();
    let got = alice.get_object_acl().bucket(&b).key("preferred").send().await.unwrap();
    assert_eq!(got.owner().unwrap().id(), Some(alice_id.as_str()));
    put(&bob, &b, "still-bobs", b"s").await;
    let got = bob.get_object_acl().bucket(&b).key("still-bobs").send().await.unwrap();
    assert_eq!(got.owner().unwrap().id(), Some(bob_id.as_str()));

    // BucketOwnerEnforced: the bucket's owner owns everything, and ACLs are dormant.
    alice
        .put_bucket_acl()
        .bucket(&b)
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    set_ownership(&alice, &b, ObjectOwnership::BucketOwnerEnforced).await;
    assert_eq!(get_body(&alice, &b, "still-bobs").await, b"s");
    let got = alice.get_object_acl().bucket(&b).key("for-bob").send().await.unwrap();
    assert_eq!(
        shown(got.grants()),
        sorted([(format!("id:{alice_id}"), "FULL_CONTROL".into())])
    );
    check_sdk_error(
        carol.get_object().bucket(&b).key("for-bob").send().await,
        403,
        "AccessDenied",
        &format!("/{b}/for-bob"),
    );
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

#[tokio::test]
async fn version_acls_are_their_own() {
    let s = Server::start();
    let c = s.client();
    let b = acl_bucket(&c, "ver-acl", ObjectOwnership::ObjectWriter, None).await;
    enable_versioning(&c, &b).await;
    let v1 = c
        .put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"one"))
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap();
    put(&c, &b, "k", b"two").await;
    c.put_object_acl()
        .bucket(&b)
        .key("k")
        .version_id(&v1)
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let r = anonymous(&s, "GET", &format!("/{b}/k?versionId={v1}"), b"").await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"one"[..]));
    assert_eq!(anonymous(&s, "GET", &format!("/{b}/k"), b"").await.status, 403);
    let got = c
        .get_object_acl()
        .bucket(&b)
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(got.grants().len(), 2);
    let got = c.get_object_acl().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(got.grants().len(), 1);
}

#[tokio::test]
async fn block_public_access_holds_for_acls() {
    let s = Server::start();
    let c = s.client();
    let b = acl_bucket(&c, "pab-acl", ObjectOwnership::ObjectWriter, None).await;
    c.put_object()
        .bucket(&b)
        .key("public")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"p"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous(&s, "GET", &format!("/{b}/public"), b"").await.status, 200);
    let block = |acls: bool, ignore: bool| {
        aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(acls)
            .ignore_public_acls(ignore)
            .block_public_policy(false)
            .restrict_public_buckets(false)
            .build()
    };
    // IgnorePublicAcls: the stored public grant counts for nobody.
    c.put_public_access_block()
        .bucket(&b)
        .public_access_block_configuration(block(false, true))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous(&s, "GET", &format!("/{b}/public"), b"").await.status, 403);
    // BlockPublicAcls: a public ACL is refused wherever it is asked for.
    c.put_public_access_block()
        .bucket(&b)
        .public_access_block_configuration(block(true, false))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous(&s, "GET", &format!("/{b}/public"), b"").await.status, 200);
    check_sdk_error(
        c.put_object()
            .bucket(&b)
            .key("another")
            .acl(ObjectCannedAcl::PublicRead)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        403,
        "AccessDenied",
        &format!("/{b}/another"),
    );
    check_sdk_error(
        c.put_object_acl()
            .bucket(&b)
            .key("public")
            .grant_read(format!("uri=\"{AUTH_USERS}\""))
            .send()
            .await,
        403,
        "AccessDenied",
        &format!("/{b}/public"),
    );
    check_sdk_error(
        c.put_bucket_acl()
            .bucket(&b)
            .acl(BucketCannedAcl::PublicReadWrite)
            .send()
            .await,
        403,
        "AccessDenied",
        &format!("/{b}"),
    );
    // Nothing refused was stored.
    assert_eq!(sdk_status(c.head_object().bucket(&b).key("another").send().await), 404);
    // Private ACLs still pass.
    c.put_object()
        .bucket(&b)
        .key("private")
        .acl(ObjectCannedAcl::Private)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
}

/// `--default-object-ownership ObjectWriter`: buckets created without the header have ACLs
/// enabled, for tools that create a bucket and then share it with ACLs.
#[tokio::test]
async fn the_default_ownership_of_new_buckets_is_the_operators_choice() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_with(
        &tmp.path().join("data"),
        &["--default-object-ownership", "ObjectWriter"],
    );
    let c = s.client();
    let b = bucket("dflt");
    c.create_bucket()
        .bucket(&b)
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let got = c.get_bucket_ownership_controls().bucket(&b).send().await.unwrap();
    assert_eq!(
        got.ownership_controls().unwrap().rules()[0].object_ownership(),
        &ObjectOwnership::ObjectWriter
    );
    assert_eq!(anonymous(&s, "GET", &format!("/{b}"), b"").await.status, 200);
    // The header still decides when it is sent.
    let e = bucket("dflt-enforced");
    c.create_bucket()
        .bucket(&e)
        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
        .send()
        .await
        .unwrap();
    let got = c.get_bucket_ownership_controls().bucket(&e).send().await.unwrap();
    assert_eq!(
        got.ownership_controls().unwrap().rules()[0].object_ownership(),
        &ObjectOwnership::BucketOwnerEnforced
    );
}

/// Found in review: what a GET may not read, a copy may not read either; an initiator may
/// list and abort its upload; a denied reader learns nothing of versions; ACLs have at most
/// 100 grants; listings show the bucket's owner once ACLs are disabled again.
#[tokio::test]
async fn acl_decisions_hold_on_every_path() {
    let s = Server::start();
    let (ak, asec) = s.add_user("alice").await;
    let alice = s.client_as(&ak, &asec);
    let (bk, bsec) = s.add_user("bob").await;
    let bob = s.client_as(&bk, &bsec);
    let b = acl_bucket(&alice, "paths", ObjectOwnership::ObjectWriter, None).await;
    let bob_bucket = bucket("bobs-own");
    bob.create_bucket().bucket(&bob_bucket).send().await.unwrap();
    let bob_id = bob
        .get_bucket_acl()
        .bucket(&bob_bucket)
        .send()
        .await
        .unwrap()
        .owner()
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    alice
        .put_bucket_acl()
        .bucket(&b)
        .grant_write(format!("id=\"{bob_id}\""))
        .send()
        .await
        .unwrap();
    put(&bob, &b, "secret", b"bob's secret").await;

    // The bucket's owner may not read bob's object, by GET or by copy.
    check_sdk_error(
        alice.get_object().bucket(&b).key("secret").send().await,
        403,
        "AccessDenied",
        &format!("/{b}/secret"),
    );
    check_sdk_error(
        alice
            .copy_object()
            .bucket(&b)
            .key("stolen")
            .copy_source(format!("{b}/secret"))
            .send()
            .await,
        403,
        "AccessDenied",
        &format!("/{b}/stolen"),
    );
    assert_eq!(
        sdk_status(alice.head_object().bucket(&b).key("stolen").send().await),
        404
    );
    // ...while an object whose ACL grants a reader can be copied by it.
    alice
        .put_object()
        .bucket(&b)
        .key("shared")
        .acl(ObjectCannedAcl::AuthenticatedRead)
        .body(ByteStream::from_static(b"for everyone signed"))
        .send()
        .await
        .unwrap();
    bob.copy_object()
        .bucket(&bob_bucket)
        .key("copy")
        .copy_source(format!("{b}/shared"))
        .send()
        .await
        .unwrap();
    assert_eq!(get_body(&bob, &bob_bucket, "copy").await, b"for everyone signed");

    // Bob started an upload with his WRITE grant: he may list its parts and abort it.
    let up = bob.create_multipart_upload().bucket(&b).key("mp").send().await.unwrap();
    let id = up.upload_id.unwrap();
    bob.list_parts()
        .bucket(&b)
        .key("mp")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    bob.abort_multipart_upload()
        .bucket(&b)
        .key("mp")
        .upload_id(&id)
        .send()
        .await
        .unwrap();

    // A caller who may not read versions learns nothing about them.
    enable_versioning(&alice, &b).await;
    put(&alice, &b, "v", b"1").await;
    let marker = alice
        .delete_object()
        .bucket(&b)
        .key("v")
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap();
    for version in [marker.as_str(), "0123456789abcdef0123456789abcdef"] {
        let r = anonymous(&s, "GET", &format!("/{b}/v?versionId={version}"), b"").await;
        r.check_error(403, "AccessDenied", &format!("/{b}/v"));
        assert!(r.header("x-amz-delete-marker").is_none());
    }

    // At most 100 grants.
    let many: Vec<String> = (0..101).map(|_| format!("id=\"{bob_id}\"")).collect();
    check_sdk_error(
        alice
            .put_bucket_acl()
            .bucket(&b)
            .grant_read(many.join(", "))
            .send()
            .await,
        400,
        "MalformedACLError",
        &format!("/{b}"),
    );

    // Back to BucketOwnerEnforced: the bucket's owner owns what bob wrote, and lists it so.
    alice
        .put_bucket_acl()
        .bucket(&b)
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    set_ownership(&alice, &b, ObjectOwnership::BucketOwnerEnforced).await;
    let alice_id = alice
        .get_bucket_acl()
        .bucket(&b)
        .send()
        .await
        .unwrap()
        .owner()
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    let listed = alice
        .list_objects_v2()
        .bucket(&b)
        .fetch_owner(true)
        .send()
        .await
        .unwrap();
    let o = listed.contents().iter().find(|o| o.key() == Some("secret")).unwrap();
    assert_eq!(o.owner().unwrap().id(), Some(alice_id.as_str()));
    assert_eq!(get_body(&alice, &b, "secret").await, b"bob's secret");
}
