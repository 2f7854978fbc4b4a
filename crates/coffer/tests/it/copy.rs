//! CopyObject: directives, conditions, encoded keys, large sources.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::MetadataDirective;

use crate::common::*;

// ---------------------------------------------------------------------------------------
// CopyObject

async fn put_with_meta(c: &Client, b: &str, k: &str, body: &[u8]) -> String {
    c.put_object()
        .bucket(b)
        .key(k)
        .body(ByteStream::from(body.to_vec()))
        .metadata("origin", "source")
        .content_type("text/x-source")
        .cache_control("max-age=5")
        .content_disposition("inline")
        .send()
        .await
        .unwrap()
        .e_tag
        .unwrap()
}

#[tokio::test]
async fn copy_object_with_copy_directive_keeps_metadata() {
    let (_s, c, b) = with_bucket("copy").await;
    let b2 = bucket("copy-dest");
    c.create_bucket().bucket(&b2).send().await.unwrap();
    let etag = put_with_meta(&c, &b, "src", FOX).await;
    let out = c
        .copy_object()
        .bucket(&b2)
        .key("dst")
        .copy_source(format!("{b}/src"))
        .send()
        .await
        .unwrap();
    let result = out.copy_object_result().expect("CopyObjectResult");
    assert_eq!(result.e_tag(), Some(etag.as_str()), "same bytes, same MD5 ETag");
    assert!(result.last_modified().is_some());
    let got = c.get_object().bucket(&b2).key("dst").send().await.unwrap();
    assert_eq!(
        got.metadata().unwrap().get("origin").map(String::as_str),
        Some("source")
    );
    assert_eq!(got.content_type(), Some("text/x-source"));
    assert_eq!(got.cache_control(), Some("max-age=5"));
    assert_eq!(got.content_disposition(), Some("inline"));
    assert_eq!(got.e_tag(), Some(etag.as_str()));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), FOX);
    // Explicit COPY is the same; new headers sent with it are ignored.
    c.copy_object()
        .bucket(&b)
        .key("dst2")
        .copy_source(format!("{b}/src"))
        .metadata_directive(MetadataDirective::Copy)
        .send()
        .await
        .unwrap();
    let head = c.head_object().bucket(&b).key("dst2").send().await.unwrap();
    assert_eq!(
        head.metadata().unwrap().get("origin").map(String::as_str),
        Some("source")
    );
    assert_eq!(head.content_type(), Some("text/x-source"));
    // The source is untouched.
    assert_eq!(get_body(&c, &b, "src").await, FOX);
}

#[tokio::test]
async fn copy_object_with_replace_directive_takes_new_metadata() {
    let (_s, c, b) = with_bucket("copyreplace").await;
    let etag = put_with_meta(&c, &b, "src", FOX).await;
    c.copy_object()
        .bucket(&b)
        .key("dst")
        .copy_source(format!("{b}/src"))
        .metadata_directive(MetadataDirective::Replace)
        .metadata("fresh", "yes")
        .content_type("application/json")
        .send()
        .await
        .unwrap();
    let got = c.get_object().bucket(&b).key("dst").send().await.unwrap();
    let meta = got.metadata().expect("new metadata");
    assert_eq!(meta.get("fresh").map(String::as_str), Some("yes"));
    assert!(!meta.contains_key("origin"), "old metadata replaced: {meta:?}");
    assert_eq!(got.content_type(), Some("application/json"));
    assert_eq!(got.cache_control(), None, "REPLACE drops headers not sent");
    assert_eq!(got.content_disposition(), None);
    assert_eq!(got.e_tag(), Some(etag.as_str()));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), FOX);
}

#[tokio::test]
async fn copy_onto_itself_needs_replace() {
    let (_s, c, b) = with_bucket("selfcopy").await;
    put_with_meta(&c, &b, "same", FOX).await;
    check_sdk_error(
        c.copy_object()
            .bucket(&b)
            .key("same")
            .copy_source(format!("{b}/same"))
            .send()
            .await,
        400,
        "InvalidRequest",
        &format!("/{b}/same"),
    );
    // Unchanged.
    let head = c.head_object().bucket(&b).key("same").send().await.unwrap();
    assert_eq!(head.content_type(), Some("text/x-source"));
    // With REPLACE it is how metadata gets changed in place.
    c.copy_object()
        .bucket(&b)
        .key("same")
        .copy_source(format!("{b}/same"))
        .metadata_directive(MetadataDirective::Replace)
        .metadata("rev", "2")
        .content_type("text/x-updated")
        .send()
        .await
        .unwrap();
    let got = c.get_object().bucket(&b).key("same").send().await.unwrap();
    assert_eq!(got.content_type(), Some("text/x-updated"));
    let meta = got.metadata().unwrap();
    assert_eq!(meta.get("rev").map(String::as_str), Some("2"));
    assert!(!meta.contains_key("origin"));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), FOX);
}

#[tokio::test]
async fn copy_source_conditions_fail_with_412() {
    let (_s, c, b) = with_bucket("copyif").await;
    let etag = put(&c, &b, "src", FOX).await;
    let res = format!("/{b}/dst");
    check_sdk_error(
        c.copy_object()
            .bucket(&b)
            .key("dst")
            .copy_source(format!("{b}/src"))
            .copy_source_if_match("\"00000000000000000000000000000000\"")
            .send()
            .await,
        412,
        "PreconditionFailed",
        &res,
    );
    check_sdk_error(
        c.copy_object()
            .bucket(&b)
            .key("dst")
            .copy_source(format!("{b}/src"))
            .copy_source_if_none_match(&etag)
            .send()
            .await,
        412,
        "PreconditionFailed",
        &res,
    );
    assert_eq!(
        sdk_status(c.head_object().bucket(&b).key("dst").send().await),
        404,
        "failed copies wrote nothing"
    );
    // Conditions that hold let the copy through.
    c.copy_object()
        .bucket(&b)
        .key("dst")
        .copy_source(format!("{b}/src"))
        .copy_source_if_match(&etag)
        .send()
        .await
        .unwrap();
    c.copy_object()
        .bucket(&b)
        .key("dst2")
        .copy_source(format!("{b}/src"))
        .copy_source_if_none_match("\"00000000000000000000000000000000\"")
        .send()
        .await
        .unwrap();
    assert_eq!(get_body(&c, &b, "dst").await, FOX);
    assert_eq!(get_body(&c, &b, "dst2").await, FOX);
}

#[tokio::test]
async fn copy_source_with_an_encoded_key() {
    // x-amz-copy-source is URL-encoded by the caller.
    let (_s, c, b) = with_bucket("copyencoded").await;
    let key = "dir one/ünï+cødé?&=.txt";
    put(&c, &b, key, FOX).await;
    c.copy_object()
        .bucket(&b)
        .key("plain")
        .copy_source(format!("{b}/{}", sigv4::uri_encode(key, true)))
        .send()
        .await
        .unwrap();
    assert_eq!(get_body(&c, &b, "plain").await, FOX);
    c.copy_object()
        .bucket(&b)
        .key("back to ünï")
        .copy_source(format!("/{b}/plain"))
        .send()
        .await
        .unwrap();
    assert_eq!(get_body(&c, &b, "back to ünï").await, FOX);
}

#[tokio::test]
async fn copy_of_a_missing_source_is_no_such_key() {
    let (_s, c, b) = with_bucket("copymissing").await;
    check_sdk_error(
        c.copy_object()
            .bucket(&b)
            .key("dst")
            .copy_source(format!("{b}/nope"))
            .send()
            .await,
        404,
        "NoSuchKey",
        &format!("/{b}/dst"),
    );
}

#[tokio::test]
async fn copy_of_a_multi_mib_object_is_byte_exact() {
    let (s, c, b) = with_bucket("copybig").await;
    let body = data((4 << 20) + 7, 5);
    let etag = put(&c, &b, "big", &body).await;
    let out = c
        .copy_object()
        .bucket(&b)
        .key("big-copy")
        .copy_source(format!("{b}/big"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.copy_object_result().unwrap().e_tag(), Some(etag.as_str()));
    assert_eq!(s.blobs().len(), 2, "the copy has its own blob");
    // Deleting the source leaves the copy whole.
    c.delete_object().bucket(&b).key("big").send().await.unwrap();
    let got = get_body(&c, &b, "big-copy").await;
    assert_eq!(got.len(), body.len());
    assert!(got == body, "copy differs");
}
