//! Object and bucket tagging: the operations, tags set with a write (`x-amz-tagging`,
//! CopyObject's directive, multipart), `x-amz-tagging-count`, AWS's limits and errors, and
//! policies that test tags (`s3:ExistingObjectTag`, `s3:RequestObjectTag`).

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Tag, Tagging, TaggingDirective};

use crate::common::*;

fn tagging(pairs: &[(&str, &str)]) -> Tagging {
    Tagging::builder()
        .set_tag_set(Some(
            pairs
                .iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build().unwrap())
                .collect(),
        ))
        .build()
        .unwrap()
}

async fn tags_of(c: &aws_sdk_s3::Client, b: &str, k: &str, version: Option<&str>) -> Vec<(String, String)> {
    c.get_object_tagging()
        .bucket(b)
        .key(k)
        .set_version_id(version.map(str::to_owned))
        .send()
        .await
        .unwrap()
        .tag_set()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[tokio::test]
async fn object_tags_round_trip_and_count() {
    let (s, c, b) = with_bucket("tags").await;
    c.put_object()
        .bucket(&b)
        .key("k")
        .tagging("team=data%20eng&env=prod")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags_of(&c, &b, "k", None).await,
        owned(&[("env", "prod"), ("team", "data eng")])
    );
    let got = c.get_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(got.tag_count, Some(2));
    // HEAD carries the count too (the SDK's HeadObjectOutput has no field for it).
    let r = s.raw("HEAD", &format!("/{b}/k"), &[], &[], b"").await;
    assert_eq!(r.header("x-amz-tagging-count"), Some("2"));

    c.put_object_tagging()
        .bucket(&b)
        .key("k")
        .tagging(tagging(&[("only", "one")]))
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&c, &b, "k", None).await, owned(&[("only", "one")]));
    c.delete_object_tagging().bucket(&b).key("k").send().await.unwrap();
    assert!(tags_of(&c, &b, "k", None).await.is_empty());
    let got = c.get_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(got.tag_count, None);
    check_sdk_error(
        c.get_object_tagging().bucket(&b).key("missing").send().await,
        404,
        "NoSuchKey",
        &format!("/{b}/missing"),
    );
}

#[tokio::test]
async fn limits_are_aws_limits() {
    let (s, c, b) = with_bucket("tag-limits").await;
    put(&c, &b, "k", b"x").await;
    let path = format!("/{b}/k");
    let eleven: Vec<(String, String)> = (0..11).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let pairs: Vec<(&str, &str)> = eleven.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    check_sdk_error(
        c.put_object_tagging()
            .bucket(&b)
            .key("k")
            .tagging(tagging(&pairs))
            .send()
            .await,
        400,
        "BadRequest",
        &path,
    );
    // Ten keys of 128 characters and values of 256 are allowed; one more is not.
    let long_key = "k".repeat(128);
    let long_value = "é".repeat(256);
    c.put_object_tagging()
        .bucket(&b)
        .key("k")
        .tagging(tagging(&[(&long_key, &long_value)]))
        .send()
        .await
        .unwrap();
    for (k, v) in [
        ("k".repeat(129), "v".to_owned()),
        ("k".to_owned(), "v".repeat(257)),
        ("aws:team".to_owned(), "v".to_owned()),
    ] {
        check_sdk_error(
            c.put_object_tagging()
                .bucket(&b)
                .key("k")
                .tagging(tagging(&[(&k, &v)]))
                .send()
                .await,
            400,
            "InvalidTag",
            &path,
        );
    }
    check_sdk_error(
        c.put_object_tagging()
            .bucket(&b)
            .key("k")
            .tagging(tagging(&[("a", "1"), ("a", "2")]))
            .send()
            .await,
        400,
        "InvalidTag",
        &path,
    );
    // Nothing refused was stored.
    assert_eq!(tags_of(&c, &b, "k", None).await, owned(&[(&long_key, &long_value)]));
    // x-amz-tagging: a key twice is InvalidArgument; too many tags BadRequest; both before
    // the body is read, and nothing is stored.
    let r = s
        .raw("PUT", &format!("/{b}/h"), &[], &[("x-amz-tagging", "a=1&a=2")], b"x")
        .await;
    r.check_error(400, "InvalidArgument", &format!("/{b}/h"));
    let many = (0..11).map(|i| format!("k{i}=v")).collect::<Vec<_>>().join("&");
    let r = s
        .raw("PUT", &format!("/{b}/h"), &[], &[("x-amz-tagging", &many)], b"x")
        .await;
    r.check_error(400, "BadRequest", &format!("/{b}/h"));
    assert_eq!(sdk_status(c.head_object().bucket(&b).key("h").send().await), 404);
}

#[tokio::test]
async fn writes_carry_tags_copy_keeps_or_replaces_them() {
    let (_s, c, b) = with_bucket("tag-writes").await;
    c.put_object()
        .bucket(&b)
        .key("src")
        .tagging("a=1")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    c.copy_object()
        .bucket(&b)
        .key("copied")
        .copy_source(format!("{b}/src"))
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&c, &b, "copied", None).await, owned(&[("a", "1")]));
    c.copy_object()
        .bucket(&b)
        .key("replaced")
        .copy_source(format!("{b}/src"))
        .tagging_directive(TaggingDirective::Replace)
        .tagging("b=2")
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&c, &b, "replaced", None).await, owned(&[("b", "2")]));
    c.copy_object()
        .bucket(&b)
        .key("cleared")
        .copy_source(format!("{b}/src"))
        .tagging_directive(TaggingDirective::Replace)
        .send()
        .await
        .unwrap();
    assert!(tags_of(&c, &b, "cleared", None).await.is_empty());

    let up = c
        .create_multipart_upload()
        .bucket(&b)
        .key("mp")
        .tagging("part=of-it")
        .send()
        .await
        .unwrap();
    let id = up.upload_id.unwrap();
    let p = c
        .upload_part()
        .bucket(&b)
        .key("mp")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from_static(b"abc"))
        .send()
        .await
        .unwrap();
    c.complete_multipart_upload()
        .bucket(&b)
        .key("mp")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).set_e_tag(p.e_tag).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&c, &b, "mp", None).await, owned(&[("part", "of-it")]));
}

#[tokio::test]
async fn versions_have_their_own_tags() {
    let (_s, c, b) = with_bucket("tag-versions").await;
    enable_versioning(&c, &b).await;
    let v1 = c
        .put_object()
        .bucket(&b)
        .key("k")
        .tagging("v=1")
        .body(ByteStream::from_static(b"1"))
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap();
    put(&c, &b, "k", b"2").await;
    let out = c
        .put_object_tagging()
        .bucket(&b)
        .key("k")
        .version_id(&v1)
        .tagging(tagging(&[("old", "yes")]))
        .send()
        .await
        .unwrap();
    assert_eq!(out.version_id.as_deref(), Some(v1.as_str()));
    assert_eq!(tags_of(&c, &b, "k", Some(&v1)).await, owned(&[("old", "yes")]));
    assert!(tags_of(&c, &b, "k", None).await.is_empty());
}

#[tokio::test]
async fn bucket_tags_round_trip() {
    let (_s, c, b) = with_bucket("btags").await;
    check_sdk_error(
        c.get_bucket_tagging().bucket(&b).send().await,
        404,
        "NoSuchTagSet",
        &format!("/{b}"),
    );
    c.put_bucket_tagging()
        .bucket(&b)
        .tagging(tagging(&[("cost-center", "42")]))
        .send()
        .await
        .unwrap();
    let got = c.get_bucket_tagging().bucket(&b).send().await.unwrap();
    assert_eq!(got.tag_set()[0].key(), "cost-center");
    assert_eq!(got.tag_set()[0].value(), "42");
    let fifty_one: Vec<(String, String)> = (0..51).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let pairs: Vec<(&str, &str)> = fifty_one.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    check_sdk_error(
        c.put_bucket_tagging().bucket(&b).tagging(tagging(&pairs)).send().await,
        400,
        "InvalidTag",
        &format!("/{b}"),
    );
    c.delete_bucket_tagging().bucket(&b).send().await.unwrap();
    check_sdk_error(
        c.get_bucket_tagging().bucket(&b).send().await,
        404,
        "NoSuchTagSet",
        &format!("/{b}"),
    );
}

/// Policies that test tags: a read granted only for objects tagged public, and a write
/// allowed to set tags only with s3:PutObjectTagging.
#[tokio::test]
async fn policies_see_existing_and_requested_tags() {
    let (s, c, b) = with_bucket("tag-policy").await;
    let (bk, bsec) = s.add_user("bob").await;
    let bob = s.client_as(&bk, &bsec);
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::000000000000:user/bob"}},"Action":"s3:GetObject",
              "Resource":"arn:aws:s3:::{b}/*","Condition":{{"StringEquals":{{"s3:ExistingObjectTag/public":"yes"}}}}}},
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::000000000000:user/bob"}},"Action":"s3:PutObject",
              "Resource":"arn:aws:s3:::{b}/*"}}]}}"#
    );
    c.put_bucket_policy().bucket(&b).policy(policy).send().await.unwrap();
    c.put_object()
        .bucket(&b)
        .key("open")
        .tagging("public=yes")
        .body(ByteStream::from_static(b"o"))
        .send()
        .await
        .unwrap();
    c.put_object()
        .bucket(&b)
        .key("closed")
        .tagging("public=no")
        .body(ByteStream::from_static(b"c"))
        .send()
        .await
        .unwrap();
    put(&c, &b, "untagged", b"u").await;
    assert_eq!(get_body(&bob, &b, "open").await, b"o");
    for k in ["closed", "untagged"] {
        check_sdk_error(
            bob.get_object().bucket(&b).key(k).send().await,
            403,
            "AccessDenied",
            &format!("/{b}/{k}"),
        );
    }
    // Bob may write, but tagging what he writes needs s3:PutObjectTagging.
    put(&bob, &b, "bobs", b"b").await;
    check_sdk_error(
        bob.put_object()
            .bucket(&b)
            .key("bobs-tagged")
            .tagging("public=yes")
            .body(ByteStream::from_static(b"b"))
            .send()
            .await,
        403,
        "AccessDenied",
        &format!("/{b}/bobs-tagged"),
    );
    check_sdk_error(
        bob.put_object_tagging()
            .bucket(&b)
            .key("bobs")
            .tagging(tagging(&[("public", "yes")]))
            .send()
            .await,
        403,
        "AccessDenied",
        &format!("/{b}/bobs"),
    );
}
