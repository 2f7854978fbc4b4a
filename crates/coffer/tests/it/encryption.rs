//! Server-side encryption is not implemented yet: every request that asks for it is refused
//! with 501 NotImplemented, and nothing is stored in plain text in its place.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use md5::{Digest, Md5};

use crate::common::*;

const KEY: [u8; 32] = [7; 32];

fn sse_c() -> (String, String) {
    (
        base64_simd::STANDARD.encode_to_string(KEY),
        base64_simd::STANDARD.encode_to_string(Md5::digest(KEY)),
    )
}

#[tokio::test]
async fn sse_requests_are_refused_and_nothing_is_stored() {
    let s = Server::start();
    let c = s.client();
    let b = bucket("sse");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let (key, md5) = sse_c();

    check_sdk_error(
        c.put_object()
            .bucket(&b)
            .key("s3")
            .server_side_encryption(ServerSideEncryption::Aes256)
            .body(ByteStream::from_static(b"secret"))
            .send()
            .await,
        501,
        "NotImplemented",
        &format!("/{b}/s3"),
    );
    check_sdk_error(
        c.put_object()
            .bucket(&b)
            .key("kms")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .body(ByteStream::from_static(b"secret"))
            .send()
            .await,
        501,
        "NotImplemented",
        &format!("/{b}/kms"),
    );
    check_sdk_error(
        c.put_object()
            .bucket(&b)
            .key("c")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&md5)
            .body(ByteStream::from_static(b"secret"))
            .send()
            .await,
        501,
        "NotImplemented",
        &format!("/{b}/c"),
    );
    check_sdk_error(
        c.create_multipart_upload()
            .bucket(&b)
            .key("mp")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&md5)
            .send()
            .await,
        501,
        "NotImplemented",
        &format!("/{b}/mp"),
    );
    c.put_object()
        .bucket(&b)
        .key("plain")
        .body(ByteStream::from_static(b"plain"))
        .send()
        .await
        .unwrap();
    check_sdk_error(
        c.copy_object()
            .bucket(&b)
            .key("copy")
            .copy_source(format!("{b}/plain"))
            .server_side_encryption(ServerSideEncryption::Aes256)
            .send()
            .await,
        501,
        "NotImplemented",
        &format!("/{b}/copy"),
    );

    // Nothing of the refused writes exists.
    let listed: Vec<String> = c
        .list_objects_v2()
        .bucket(&b)
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key.clone())
        .collect();
    assert_eq!(listed, ["plain"]);
    let ups = c.list_multipart_uploads().bucket(&b).send().await.unwrap();
    assert!(ups.uploads().is_empty());
}
