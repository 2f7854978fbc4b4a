//! ACLs and object ownership on buckets with ACLs disabled (BucketOwnerEnforced, S3's
//! default): ACLs read as the owner's FULL_CONTROL, owner-only ACLs are accepted, any other
//! is refused with AWS's codes, and ownership modes that need ACLs are refused, not ignored.

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
async fn only_owner_only_acls_are_accepted() {
    let (s, c, b) = with_bucket("acl-write").await;
    for acl in [ObjectCannedAcl::Private, ObjectCannedAcl::BucketOwnerFullControl] {
        c.put_object()
            .bucket(&b)
            .key("ok")
            .acl(acl)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
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
    assert_eq!(keys, ["ok"]);
    // PutBucketAcl and PutObjectAcl: the owner-only ACL, canned or spelled out, is a no-op.
    c.put_bucket_acl()
        .bucket(&b)
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    check_sdk_error(
        c.put_bucket_acl()
            .bucket(&b)
            .acl(BucketCannedAcl::PublicRead)
            .send()
            .await,
        400,
        "AccessControlListNotSupported",
        &format!("/{b}"),
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

#[tokio::test]
async fn buckets_are_bucket_owner_enforced() {
    let (_s, c, b) = with_bucket("own").await;
    let got = c.get_bucket_ownership_controls().bucket(&b).send().await.unwrap();
    let rules = got.ownership_controls().unwrap().rules();
    assert_eq!(rules[0].object_ownership(), &ObjectOwnership::BucketOwnerEnforced);
    let controls = |o: ObjectOwnership| {
        OwnershipControls::builder()
            .rules(OwnershipControlsRule::builder().object_ownership(o).build().unwrap())
            .build()
            .unwrap()
    };
    c.put_bucket_ownership_controls()
        .bucket(&b)
        .ownership_controls(controls(ObjectOwnership::BucketOwnerEnforced))
        .send()
        .await
        .unwrap();
    check_sdk_error(
        c.put_bucket_ownership_controls()
            .bucket(&b)
            .ownership_controls(controls(ObjectOwnership::ObjectWriter))
            .send()
            .await,
        501,
        "NotImplemented",
        &format!("/{b}"),
    );
    check_sdk_error(
        c.delete_bucket_ownership_controls().bucket(&b).send().await,
        501,
        "NotImplemented",
        &format!("/{b}"),
    );
    let nb = bucket("own-writer");
    check_sdk_error(
        c.create_bucket()
            .bucket(&nb)
            .object_ownership(ObjectOwnership::BucketOwnerPreferred)
            .send()
            .await,
        501,
        "NotImplemented",
        &format!("/{nb}"),
    );
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
    // Neither refusal created the bucket.
    assert_eq!(sdk_status(c.head_bucket().bucket(&nb).send().await), 404);
    c.create_bucket()
        .bucket(&nb)
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
}
