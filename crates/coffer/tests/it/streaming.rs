//! aws-chunked uploads as SDKs send them: SigV4-signed chunks, and unsigned chunks with a
//! trailing checksum. A body that fails either check stores nothing.

use s3s::crypto::{Checksum as _, Crc32};

use crate::common::*;

/// Signs and frames `data` as STREAMING-AWS4-HMAC-SHA256-PAYLOAD in 64 KiB chunks;
/// `tamper` flips a byte after signing.
async fn signed_chunked_put(s: &Server, path: &str, data: &[u8], tamper: bool) -> Raw {
    let addr = s.addr();
    let chunks: Vec<&[u8]> = data.chunks(64 << 10).collect();
    let mut encoded_len = 0;
    for c in chunks.iter().map(|c| c.len()).chain([0]) {
        // "<hex>;chunk-signature=<64 hex>\r\n<data>\r\n"
        encoded_len += format!("{c:x}").len() + 17 + 64 + 2 + c + 2;
    }
    let mut req = sigv4::Request {
        method: "PUT",
        host: &addr,
        path,
        query: vec![],
        headers: vec![
            (
                "x-amz-content-sha256".into(),
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD".into(),
            ),
            ("content-encoding".into(), "aws-chunked".into()),
            ("x-amz-decoded-content-length".into(), data.len().to_string()),
            ("content-length".into(), encoded_len.to_string()),
        ],
        body: vec![],
    };
    let mut signed = req.sign(&ROOT_CREDS, time::OffsetDateTime::now_utc());
    let mut wire = Vec::with_capacity(encoded_len);
    for c in chunks.iter().copied().chain([&[][..]]) {
        let sig = signed.chunk(c);
        wire.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", c.len()).as_bytes());
        wire.extend_from_slice(c);
        wire.extend_from_slice(b"\r\n");
    }
    assert_eq!(wire.len(), encoded_len);
    if tamper {
        let at = wire.len() / 2;
        wire[at] ^= 1;
    }
    let headers: Vec<(String, String)> = req.headers.into_iter().filter(|(k, _)| k != "content-length").collect();
    raw_send(&addr, "PUT", path, &headers, Some(&wire)).await
}

/// STREAMING-UNSIGNED-PAYLOAD-TRAILER with `x-amz-checksum-crc32` announced, and sent in
/// the trailer when `crc` is given.
async fn unsigned_trailer_put(s: &Server, path: &str, data: &[u8], crc: Option<&str>) -> Raw {
    let addr = s.addr();
    let mut wire = Vec::new();
    for c in data.chunks(64 << 10) {
        wire.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        wire.extend_from_slice(c);
        wire.extend_from_slice(b"\r\n");
    }
    match crc {
        Some(crc) => wire.extend_from_slice(format!("0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n").as_bytes()),
        None => wire.extend_from_slice(b"0\r\n\r\n"),
    }
    let mut req = sigv4::Request {
        method: "PUT",
        host: &addr,
        path,
        query: vec![],
        headers: vec![
            (
                "x-amz-content-sha256".into(),
                "STREAMING-UNSIGNED-PAYLOAD-TRAILER".into(),
            ),
            ("content-encoding".into(), "aws-chunked".into()),
            ("x-amz-decoded-content-length".into(), data.len().to_string()),
            ("x-amz-trailer".into(), "x-amz-checksum-crc32".into()),
        ],
        body: vec![],
    };
    req.sign(&ROOT_CREDS, time::OffsetDateTime::now_utc());
    raw_send(&addr, "PUT", path, &req.headers, Some(&wire)).await
}

async fn setup() -> (Server, String) {
    let (s, _, b) = with_bucket("chunked").await;
    (s, b)
}

async fn read(s: &Server, b: &str, k: &str) -> Option<Vec<u8>> {
    let r = s.client().get_object().bucket(b).key(k).send().await.ok()?;
    Some(r.body.collect().await.unwrap().into_bytes().to_vec())
}

#[tokio::test]
async fn signed_chunks_store_the_decoded_body() {
    let (s, b) = setup().await;
    let data = data(200 << 10, 7);
    let r = signed_chunked_put(&s, &format!("/{b}/signed"), &data, false).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(read(&s, &b, "signed").await, Some(data));
}

#[tokio::test]
async fn a_tampered_chunk_is_rejected_and_nothing_stored() {
    let (s, b) = setup().await;
    let path = format!("/{b}/tampered");
    let r = signed_chunked_put(&s, &path, &data(200 << 10, 7), true).await;
    r.check_error(403, "SignatureDoesNotMatch", &path);
    assert_eq!(read(&s, &b, "tampered").await, None);
}

#[tokio::test]
async fn unsigned_chunks_with_a_trailing_checksum() {
    let (s, b) = setup().await;
    let data = data(150 << 10, 7);
    let crc = base64_simd::STANDARD.encode_to_string(Crc32::checksum(&data));
    let r = unsigned_trailer_put(&s, &format!("/{b}/trailer"), &data, Some(&crc)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-amz-checksum-crc32"), Some(crc.as_str()));
    assert_eq!(read(&s, &b, "trailer").await, Some(data));
    let head = s
        .client()
        .head_object()
        .bucket(&b)
        .key("trailer")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_crc32.as_deref(), Some(crc.as_str()));
}

#[tokio::test]
async fn a_wrong_trailing_checksum_is_bad_digest_and_nothing_stored() {
    let (s, b) = setup().await;
    let path = format!("/{b}/badtrailer");
    let wrong = base64_simd::STANDARD.encode_to_string(Crc32::checksum(b"something else"));
    let r = unsigned_trailer_put(&s, &path, &data(10 << 10, 7), Some(&wrong)).await;
    r.check_error(400, "BadDigest", &path);
    assert_eq!(read(&s, &b, "badtrailer").await, None);
}

#[tokio::test]
async fn an_announced_trailer_that_never_comes_is_refused_and_nothing_stored() {
    let (s, b) = setup().await;
    let path = format!("/{b}/notrailer");
    let r = unsigned_trailer_put(&s, &path, &data(10 << 10, 7), None).await;
    r.check_error(400, "MalformedTrailerError", &path);
    assert_eq!(read(&s, &b, "notrailer").await, None);
}
