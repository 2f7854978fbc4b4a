//! `coffer scrub`: a flipped byte in a blob file, or in a multipart part, is reported and
//! makes scrub exit non-zero; a healthy store scrubs clean.

use std::process::{Command, Output};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::common::*;

fn scrub(dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["scrub", "--data"])
        .arg(dir)
        .output()
        .expect("run coffer scrub")
}

fn flip_byte(path: &std::path::Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    b[at] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

#[tokio::test]
async fn scrub_reports_a_flipped_byte_in_a_blob_and_in_a_part() {
    if skip_on_shared_engines() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_in(&dir);
    let c = s.client();
    let b = bucket("scrub");
    c.create_bucket().bucket(&b).send().await.unwrap();
    // Small (inline), blob and multipart objects.
    for (k, len) in [("small", 1000usize), ("big", 300 << 10)] {
        c.put_object()
            .bucket(&b)
            .key(k)
            .body(ByteStream::from(vec![b'a'; len]))
            .send()
            .await
            .unwrap();
    }
    let up = c
        .create_multipart_upload()
        .bucket(&b)
        .key("multi")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let mut parts = Vec::new();
    for (n, len) in [(1, 5 << 20), (2, 6 << 20)] {
        let p = c
            .upload_part()
            .bucket(&b)
            .key("multi")
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(vec![n as u8; len]))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(p.e_tag().unwrap())
                .build(),
        );
    }
    c.complete_multipart_upload()
        .bucket(&b)
        .key("multi")
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
    s.terminate();

    let out = scrub(&dir);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("scrubbed 3 objects"), "{text}");

    // Blobs by size: the 300 KiB object, then part 1 (5 MiB), then part 2 (6 MiB).
    let mut blobs = s.blob_paths();
    blobs.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
    assert_eq!(blobs.len(), 3, "{blobs:?}");
    flip_byte(&blobs[0], 1234);
    flip_byte(&blobs[2], 6 << 19);
    let out = scrub(&dir);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!out.status.success(), "scrub passed a corrupted store: {text}");
    assert!(text.contains(&format!("CORRUPT {b}/big: body: MD5")), "{text}");
    assert!(text.contains(&format!("CORRUPT {b}/multi: part 2: MD5")), "{text}");
    assert!(!text.contains("/small") && !text.contains("part 1"), "{text}");
    assert!(text.contains("2 corrupt"), "{text}");

    // A blob gone missing is reported too.
    std::fs::remove_file(&blobs[1]).unwrap();
    let text = String::from_utf8_lossy(&scrub(&dir).stdout).into_owned();
    assert!(
        text.contains(&format!("CORRUPT {b}/multi: part 1: blob file missing")),
        "{text}"
    );
}

/// Encrypted objects are scrubbed without their keys (an SSE-C one too): by the CRC32C of
/// their stored bytes.
#[tokio::test]
async fn scrub_checks_encrypted_objects_without_their_keys() {
    if skip_on_shared_engines() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_with(&dir, &["--sse-c-over-http"]);
    let c = s.client();
    let b = bucket("scrub-sse");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let key = [3u8; 32];
    use md5::Digest;
    c.put_object()
        .bucket(&b)
        .key("s3")
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
        .body(ByteStream::from(vec![b's'; 300 << 10]))
        .send()
        .await
        .unwrap();
    c.put_object()
        .bucket(&b)
        .key("c")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(b64(&key))
        .sse_customer_key_md5(b64(&md5::Md5::digest(key)))
        .body(ByteStream::from(vec![b'c'; 400 << 10]))
        .send()
        .await
        .unwrap();
    s.terminate();
    let out = scrub(&dir);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));

    let mut blobs = s.blob_paths();
    blobs.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
    flip_byte(&blobs[0], 1000);
    flip_byte(&blobs[1], 2000);
    let out = scrub(&dir);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!out.status.success(), "{text}");
    assert!(text.contains(&format!("CORRUPT {b}/s3: body: CRC32C")), "{text}");
    assert!(text.contains(&format!("CORRUPT {b}/c: body: CRC32C")), "{text}");
}
