//! PutObject through aws-sdk-s3 and by hand: stored headers and metadata, sizes, keys,
//! limits, conditional writes and checksums.

use std::time::SystemTime;

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::ChecksumMode;
use md5::{Digest, Md5};

use crate::common::*;

/// MD5 of another body: a well-formed but wrong Content-MD5 for FOX.
const OTHER_MD5_B64: &str = "MPPJPkZDbetYunCBao7BJA==";
/// CRC32 check value of "123456789", base64 of its big-endian bytes.
const CHECK_CRC32_B64: &str = "y/Q5Jg==";

// ---------------------------------------------------------------------------------------
// PutObject, GetObject, HeadObject

#[tokio::test]
async fn put_stores_metadata_and_headers_returned_by_get_and_head() {
    let (_s, c, b) = with_bucket("meta").await;
    c.put_object()
        .bucket(&b)
        .key("doc.txt")
        .body(ByteStream::from_static(b"payload"))
        .metadata("color", "blue")
        .metadata("Project-Name", "coffer x")
        .content_type("text/plain; charset=utf-8")
        .cache_control("max-age=3600, private")
        .content_disposition("attachment; filename=\"doc.txt\"")
        .content_encoding("identity")
        .content_language("de-CH")
        .expires(DateTime::from_secs(EXPIRES_SECS))
        .send()
        .await
        .unwrap();
    let want_meta = |m: Option<&std::collections::HashMap<String, String>>| {
        let m = m.expect("user metadata");
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m.get("color").map(String::as_str), Some("blue"));
        // Metadata names are case-insensitive; S3 returns them lower-cased.
        assert_eq!(m.get("project-name").map(String::as_str), Some("coffer x"));
    };
    let got = c.get_object().bucket(&b).key("doc.txt").send().await.unwrap();
    want_meta(got.metadata());
    assert_eq!(got.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(got.cache_control(), Some("max-age=3600, private"));
    assert_eq!(got.content_disposition(), Some("attachment; filename=\"doc.txt\""));
    assert_eq!(got.content_encoding(), Some("identity"));
    assert_eq!(got.content_language(), Some("de-CH"));
    assert_eq!(got.expires_string(), Some(EXPIRES));
    assert_eq!(got.content_length(), Some(7));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"payload");

    let head = c.head_object().bucket(&b).key("doc.txt").send().await.unwrap();
    want_meta(head.metadata());
    assert_eq!(head.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(head.cache_control(), Some("max-age=3600, private"));
    assert_eq!(head.content_disposition(), Some("attachment; filename=\"doc.txt\""));
    assert_eq!(head.content_encoding(), Some("identity"));
    assert_eq!(head.content_language(), Some("de-CH"));
    assert_eq!(head.expires_string(), Some(EXPIRES));
    assert_eq!(head.content_length(), Some(7));
}

#[tokio::test]
async fn content_encoding_gzip_is_stored_without_aws_chunked() {
    // The SDK streams the body as aws-chunked (for its CRC32 trailer), which adds
    // `aws-chunked` to Content-Encoding on the wire; S3 stores only the caller's coding.
    let (s, c, b) = with_bucket("gzip").await;
    c.put_object()
        .bucket(&b)
        .key("z")
        .body(ByteStream::from_static(b"not really gzip"))
        .content_encoding("gzip")
        .send()
        .await
        .unwrap();
    let head = c.head_object().bucket(&b).key("z").send().await.unwrap();
    assert_eq!(head.content_encoding(), Some("gzip"));
    let r = s.raw("GET", &format!("/{b}/z"), &[], &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.body, b"not really gzip");
}

/// `aws-chunked` says how a body was sent, never what the object is: S3 drops it from the
/// stored Content-Encoding wherever it appears, even when the body was not sent so.
#[tokio::test]
async fn aws_chunked_is_dropped_from_any_content_encoding() {
    let (s, c, b) = with_bucket("enc-tokens").await;
    for (sent, stored) in [
        ("deflate, gzip", Some("deflate, gzip")),
        ("gzip, aws-chunked", Some("gzip")),
        ("aws-chunked, gzip", Some("gzip")),
        ("aws-chunked", None),
        ("aws-chunked, aws-chunked", None),
    ] {
        let r = s
            .raw("PUT", &format!("/{b}/k"), &[], &[("content-encoding", sent)], b"x")
            .await;
        assert_eq!(r.status, 200, "{sent}: {}", r.text());
        let head = c.head_object().bucket(&b).key("k").send().await.unwrap();
        assert_eq!(head.content_encoding(), stored, "{sent}");
    }
}

#[tokio::test]
async fn content_md5_right_is_accepted_and_wrong_is_bad_digest() {
    let (s, c, b) = with_bucket("md5").await;
    let out = c
        .put_object()
        .bucket(&b)
        .key("fox")
        .body(ByteStream::from_static(FOX))
        .content_md5(FOX_MD5_B64)
        .send()
        .await
        .unwrap();
    assert_eq!(out.e_tag(), Some(format!("\"{FOX_MD5_HEX}\"").as_str()));
    check_sdk_error(
        c.put_object()
            .bucket(&b)
            .key("bad")
            .body(ByteStream::from_static(FOX))
            .content_md5(OTHER_MD5_B64)
            .send()
            .await,
        400,
        "BadDigest",
        &format!("/{b}/bad"),
    );
    // Not an MD5 at all: InvalidDigest.
    for md5 in ["not base64!", "AAAA"] {
        check_sdk_error(
            c.put_object()
                .bucket(&b)
                .key("bad")
                .body(ByteStream::from_static(FOX))
                .content_md5(md5)
                .send()
                .await,
            400,
            "InvalidDigest",
            &format!("/{b}/bad"),
        );
    }
    // An empty Content-MD5 (the SDK will not send one; botocore does) is no MD5 either.
    s.raw("PUT", &format!("/{b}/bad"), &[], &[("content-md5", "")], FOX)
        .await
        .check_error(400, "InvalidDigest", &format!("/{b}/bad"));
    // Nothing was stored under the rejected key, and the right one holds its body.
    assert_eq!(sdk_status(c.head_object().bucket(&b).key("bad").send().await), 404);
    assert_eq!(get_body(&c, &b, "fox").await, FOX);
}

/// Bodies of 1 MiB and more are hashed many at once (`md5_lanes.rs`): every one still
/// gets its own MD5 as its ETag, and a wrong Content-MD5 on one is still refused.
#[tokio::test]
async fn concurrent_large_puts_each_get_their_own_md5() {
    let (_s, c, b) = with_bucket("lanes").await;
    let sizes = [
        1 << 20,
        (1 << 20) + 1,
        3 << 20,
        (5 << 20) - 63,
        (2 << 20) + 55,
        7 << 20,
        (1 << 20) + 64,
        9_999_999,
    ];
    let puts = sizes.iter().enumerate().map(|(i, &n)| {
        let (c, b) = (c.clone(), b.clone());
        async move {
            let body = data(n, i as u64 + 40);
            let out = c
                .put_object()
                .bucket(&b)
                .key(format!("big{i}"))
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .unwrap();
            (body, out.e_tag.unwrap())
        }
    });
    for (i, (body, etag)) in futures::future::join_all(puts).await.into_iter().enumerate() {
        assert_eq!(etag, format!("\"{}\"", hex::encode(Md5::digest(&body))), "body {i}");
        assert!(get_body(&c, &b, &format!("big{i}")).await == body, "body {i} read back");
    }
    let big = data(3 << 20, 99);
    let mut wrong = Md5::digest(&big);
    wrong[0] ^= 1;
    check_sdk_error(
        c.put_object()
            .bucket(&b)
            .key("big-bad")
            .body(ByteStream::from(big.clone()))
            .content_md5(b64(&wrong))
            .send()
            .await,
        400,
        "BadDigest",
        &format!("/{b}/big-bad"),
    );
    assert_eq!(sdk_status(c.head_object().bucket(&b).key("big-bad").send().await), 404);
    let ok = c
        .put_object()
        .bucket(&b)
        .key("big-good")
        .body(ByteStream::from(big.clone()))
        .content_md5(b64(&Md5::digest(&big)))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.e_tag, Some(format!("\"{}\"", hex::encode(Md5::digest(&big)))));
}

#[tokio::test]
async fn zero_byte_object_round_trips() {
    let (s, c, b) = with_bucket("empty").await;
    let etag = put(&c, &b, "empty", b"").await;
    assert_eq!(etag, "\"d41d8cd98f00b204e9800998ecf8427e\"");
    let got = c.get_object().bucket(&b).key("empty").send().await.unwrap();
    assert_eq!(got.content_length(), Some(0));
    assert_eq!(got.e_tag(), Some(etag.as_str()));
    assert!(got.body.collect().await.unwrap().into_bytes().is_empty());
    let head = c.head_object().bucket(&b).key("empty").send().await.unwrap();
    assert_eq!(head.content_length(), Some(0));
    // A raw GET sees a 200 with an empty body and Content-Length 0.
    let r = s.raw("GET", &format!("/{b}/empty"), &[], &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("0"));
    assert!(r.body.is_empty());
}

#[tokio::test]
async fn object_just_above_inline_threshold_goes_to_a_blob_file() {
    let (s, c, b) = with_bucket("blob").await;
    let small = data(128 << 10, 1);
    let big = data((128 << 10) + 1, 2);
    let e_small = put(&c, &b, "small", &small).await;
    assert_eq!(s.blobs().len(), 0, "128 KiB is stored inline");
    let e_big = put(&c, &b, "big", &big).await;
    assert_eq!(s.blobs().len(), 1, "128 KiB + 1 goes to a blob file");
    assert_ne!(e_small, e_big);
    assert_eq!(get_body(&c, &b, "small").await, small);
    assert_eq!(get_body(&c, &b, "big").await, big);
    let head = c.head_object().bucket(&b).key("big").send().await.unwrap();
    assert_eq!(head.content_length(), Some((128 << 10) + 1));
    assert_eq!(head.e_tag(), Some(e_big.as_str()));
    // A range straddling the end of the first 128 KiB, read from the blob.
    let got = c
        .get_object()
        .bucket(&b)
        .key("big")
        .range("bytes=131000-131072")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_range(), Some("bytes 131000-131072/131073"));
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        &big[131000..=131072]
    );
}

#[tokio::test]
async fn multi_mib_object_round_trips_byte_exact() {
    let (_s, c, b) = with_bucket("mib").await;
    let body = data((3 << 20) + 12345, 3);
    let etag = put(&c, &b, "dir/large.bin", &body).await;
    let got = c.get_object().bucket(&b).key("dir/large.bin").send().await.unwrap();
    assert_eq!(got.content_length(), Some(body.len() as i64));
    assert_eq!(got.e_tag(), Some(etag.as_str()));
    let data = got.body.collect().await.unwrap().into_bytes();
    assert!(data.as_ref() == body.as_slice(), "body differs");
    let mid = c
        .get_object()
        .bucket(&b)
        .key("dir/large.bin")
        .range("bytes=2000000-2099999")
        .send()
        .await
        .unwrap();
    let mid = mid.body.collect().await.unwrap().into_bytes();
    assert!(mid.as_ref() == &body[2_000_000..2_100_000], "range differs");
}

#[tokio::test]
async fn overwrite_replaces_body_and_metadata() {
    let (s, c, b) = with_bucket("overwrite").await;
    let big = data(300 << 10, 4);
    c.put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from(big.clone()))
        .metadata("gen", "1")
        .content_type("application/x-first")
        .send()
        .await
        .unwrap();
    assert_eq!(s.blobs().len(), 1);
    let e2 = c
        .put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"second"))
        .send()
        .await
        .unwrap()
        .e_tag
        .unwrap();
    let got = c.get_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(got.e_tag(), Some(e2.as_str()));
    assert_eq!(got.metadata().map(|m| m.len()).unwrap_or(0), 0, "old metadata is gone");
    assert_ne!(
        got.content_type(),
        Some("application/x-first"),
        "old Content-Type is gone"
    );
    assert_eq!(got.content_length(), Some(6));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"second");
    // One key, one object.
    let list = c.list_objects_v2().bucket(&b).send().await.unwrap();
    assert_eq!(list.key_count(), Some(1));
}

#[tokio::test]
async fn keys_with_special_characters_round_trip() {
    let (_s, c, b) = with_bucket("keys").await;
    let keys = [
        "spaces in name.txt",
        "plus+sign",
        "percent%20literal",
        "question?mark=1&x",
        "hash#fragment",
        "semi;colon,comma",
        "dir//double/slash",
        "trailing/",
        "./dot/../dotdot",
        "tilde~and*star(parens)'quote'",
        "ünïcødé/日本語/\u{1F600}",
        "=equals:colon@at$dollar",
    ];
    for (i, k) in keys.iter().enumerate() {
        put(&c, &b, k, format!("body {i}").as_bytes()).await;
    }
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(get_body(&c, &b, k).await, format!("body {i}").as_bytes(), "{k}");
    }
    let list = c.list_objects_v2().bucket(&b).send().await.unwrap();
    let mut want: Vec<&str> = keys.to_vec();
    want.sort();
    let got: Vec<&str> = list.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(got, want);
}

#[tokio::test]

async fn user_metadata_over_2_kib_is_metadata_too_large() {
    // S3 limits user metadata to 2 KB: the UTF-8 bytes of every name and value.
    let (_s, c, b) = with_bucket("bigmeta").await;
    let fits = "v".repeat(2000);
    c.put_object()
        .bucket(&b)
        .key("ok")
        .body(ByteStream::from_static(b"x"))
        .metadata("m", &fits)
        .send()
        .await
        .unwrap();
    let head = c.head_object().bucket(&b).key("ok").send().await.unwrap();
    assert_eq!(head.metadata().unwrap().get("m"), Some(&fits));
    check_sdk_error(
        c.put_object()
            .bucket(&b)
            .key("too-big")
            .body(ByteStream::from_static(b"x"))
            .metadata("m", "v".repeat(2100))
            .send()
            .await,
        400,
        "MetadataTooLarge",
        &format!("/{b}/too-big"),
    );
}

#[tokio::test]
async fn key_longer_than_1024_bytes_is_key_too_long() {
    let (_s, c, b) = with_bucket("longkey").await;
    let fits = "k".repeat(1024);
    put(&c, &b, &fits, b"x").await;
    assert_eq!(get_body(&c, &b, &fits).await, b"x");
    let long = "k".repeat(1025);
    check_sdk_error(
        c.put_object()
            .bucket(&b)
            .key(&long)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        400,
        "KeyTooLongError",
        &format!("/{b}/{long}"),
    );
}

#[tokio::test]
async fn head_object_reports_size_etag_type_and_missing_is_404() {
    let (s, c, b) = with_bucket("head").await;
    let etag = put(&c, &b, "f", FOX).await;
    let head = c.head_object().bucket(&b).key("f").send().await.unwrap();
    assert_eq!(head.e_tag(), Some(etag.as_str()));
    assert_eq!(head.content_length(), Some(FOX.len() as i64));
    // The SDK always sends a Content-Type; without one S3 answers binary/octet-stream.
    let r = s.raw("PUT", &format!("/{b}/untyped"), &[], &[], FOX).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let untyped = c.head_object().bucket(&b).key("untyped").send().await.unwrap();
    assert_eq!(untyped.content_type(), Some("binary/octet-stream"));
    assert_eq!(head.accept_ranges(), Some("bytes"));
    let lm = head.last_modified().expect("last-modified").secs();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - 60..=now + 1).contains(&lm), "last-modified {lm} vs now {now}");
    // HEAD carries no body, not even on errors.
    assert_eq!(sdk_status(c.head_object().bucket(&b).key("nope").send().await), 404);
    let r = s.raw("HEAD", &format!("/{b}/nope"), &[], &[], b"").await;
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty());
    assert!(r.header("x-amz-request-id").is_some());
    assert_eq!(
        sdk_status(c.head_object().bucket("bkt-missing").key("k").send().await),
        404
    );
}

// ---------------------------------------------------------------------------------------
// Conditional writes

#[tokio::test]
async fn put_if_none_match_star_on_an_existing_key_is_412() {
    let (_s, c, b) = with_bucket("ifabsent").await;
    let first = c
        .put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"first"))
        .if_none_match("*")
        .send()
        .await
        .unwrap()
        .e_tag
        .unwrap();
    check_sdk_error(
        c.put_object()
            .bucket(&b)
            .key("k")
            .body(ByteStream::from_static(b"second"))
            .if_none_match("*")
            .send()
            .await,
        412,
        "PreconditionFailed",
        &format!("/{b}/k"),
    );
    let got = c.get_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(got.e_tag(), Some(first.as_str()));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"first");
    // Once deleted, the key is free again.
    c.delete_object().bucket(&b).key("k").send().await.unwrap();
    c.put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"third"))
        .if_none_match("*")
        .send()
        .await
        .unwrap();
    assert_eq!(get_body(&c, &b, "k").await, b"third");
}

#[tokio::test]
async fn put_if_match() {
    let (_s, c, b) = with_bucket("ifmatchput").await;
    let e1 = put(&c, &b, "k", b"v1").await;
    let e2 = c
        .put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"v2"))
        .if_match(&e1)
        .send()
        .await
        .unwrap()
        .e_tag
        .unwrap();
    assert_ne!(e1, e2);
    assert_eq!(get_body(&c, &b, "k").await, b"v2");
    // The old ETag no longer matches.
    check_sdk_error(
        c.put_object()
            .bucket(&b)
            .key("k")
            .body(ByteStream::from_static(b"v3"))
            .if_match(&e1)
            .send()
            .await,
        412,
        "PreconditionFailed",
        &format!("/{b}/k"),
    );
    assert_eq!(get_body(&c, &b, "k").await, b"v2");
    // No object to match: 404 NoSuchKey, and nothing created.
    check_sdk_error(
        c.put_object()
            .bucket(&b)
            .key("absent")
            .body(ByteStream::from_static(b"v"))
            .if_match(&e2)
            .send()
            .await,
        404,
        "NoSuchKey",
        &format!("/{b}/absent"),
    );
    assert_eq!(sdk_status(c.head_object().bucket(&b).key("absent").send().await), 404);
}

/// If-None-Match with an ETag: refused while the live object has it, allowed otherwise
/// (and where there is none).
#[tokio::test]
async fn put_if_none_match_an_etag() {
    let (_s, c, b) = with_bucket("ifnonematch").await;
    let e1 = put(&c, &b, "k", b"v1").await;
    check_sdk_error(
        c.put_object()
            .bucket(&b)
            .key("k")
            .body(ByteStream::from_static(b"v2"))
            .if_none_match(&e1)
            .send()
            .await,
        412,
        "PreconditionFailed",
        &format!("/{b}/k"),
    );
    assert_eq!(get_body(&c, &b, "k").await, b"v1");
    c.put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"v2"))
        .if_none_match("\"00000000000000000000000000000000\"")
        .send()
        .await
        .unwrap();
    assert_eq!(get_body(&c, &b, "k").await, b"v2");
    c.put_object()
        .bucket(&b)
        .key("new")
        .body(ByteStream::from_static(b"n"))
        .if_none_match(&e1)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_if_none_match_puts_have_exactly_one_winner() {
    let (_s, c, b) = with_bucket("race").await;
    let bodies: Vec<Vec<u8>> = (0..16u64)
        .map(|i| {
            // Large enough to go through a blob, so the writes overlap for a while.
            let mut v = data(200 << 10, 100 + i);
            v[..8].copy_from_slice(&i.to_be_bytes());
            v
        })
        .collect();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(bodies.len()));
    let tasks: Vec<_> = bodies
        .iter()
        .map(|body| {
            let (c, b, body, barrier) = (c.clone(), b.clone(), body.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                c.put_object()
                    .bucket(&b)
                    .key("contested")
                    .body(ByteStream::from(body))
                    .if_none_match("*")
                    .send()
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut losers = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(out) => winners.push((i, out.e_tag.unwrap())),
            r => {
                check_sdk_error(r, 412, "PreconditionFailed", &format!("/{b}/contested"));
                losers += 1;
            }
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner: {winners:?}");
    assert_eq!(losers, 15);
    let (i, etag) = &winners[0];
    let got = c.get_object().bucket(&b).key("contested").send().await.unwrap();
    assert_eq!(got.e_tag(), Some(etag.as_str()));
    let data = got.body.collect().await.unwrap().into_bytes();
    assert!(data.as_ref() == bodies[*i].as_slice(), "stored body is the winner's");
}

// ---------------------------------------------------------------------------------------
// Checksums

#[tokio::test]
async fn crc32_from_the_sdk_trailer_is_stored_and_returned() {
    let (_s, c, b) = with_bucket("crc").await;
    let out = c
        .put_object()
        .bucket(&b)
        .key("check")
        .body(ByteStream::from_static(b"123456789"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.checksum_crc32(), Some(CHECK_CRC32_B64));
    let got = c
        .get_object()
        .bucket(&b)
        .key("check")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(got.checksum_crc32(), Some(CHECK_CRC32_B64));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"123456789");
    let head = c
        .head_object()
        .bucket(&b)
        .key("check")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_crc32(), Some(CHECK_CRC32_B64));
    // A blob-sized object too: the SDK validates the body against the returned checksum.
    let big = data(1 << 20, 6);
    let put_sum = c
        .put_object()
        .bucket(&b)
        .key("big")
        .body(ByteStream::from(big.clone()))
        .send()
        .await
        .unwrap()
        .checksum_crc32
        .expect("crc32 of the big object");
    let got = c
        .get_object()
        .bucket(&b)
        .key("big")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(got.checksum_crc32(), Some(put_sum.as_str()));
    assert!(got.body.collect().await.unwrap().into_bytes().as_ref() == big.as_slice());
}

#[tokio::test]
async fn wrong_crc32_header_is_bad_digest() {
    let (s, c, b) = with_bucket("badcrc").await;
    // Raw: a plain body with a wrong x-amz-checksum-crc32 header.
    let r = s
        .raw(
            "PUT",
            &format!("/{b}/raw"),
            &[],
            &[("x-amz-checksum-crc32", "AAAAAA==")],
            b"123456789",
        )
        .await;
    r.check_error(400, "BadDigest", &format!("/{b}/raw"));
    // The right one is accepted.
    let r = s
        .raw(
            "PUT",
            &format!("/{b}/raw"),
            &[],
            &[("x-amz-checksum-crc32", CHECK_CRC32_B64)],
            b"123456789",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-amz-checksum-crc32"), Some(CHECK_CRC32_B64));
    // Through the SDK, with a precomputed (wrong) value.
    check_sdk_error(
        c.put_object()
            .bucket(&b)
            .key("sdk")
            .body(ByteStream::from_static(b"123456789"))
            .checksum_crc32("AAAAAA==")
            .send()
            .await,
        400,
        "BadDigest",
        &format!("/{b}/sdk"),
    );
    assert_eq!(sdk_status(c.head_object().bucket(&b).key("sdk").send().await), 404);
    assert_eq!(get_body(&c, &b, "raw").await, b"123456789");
}

/// What PutObject, CopyObject and CreateMultipartUpload ask for that coffer lacks is
/// refused, not stored and ignored: other storage classes.
#[tokio::test]
async fn unsupported_write_headers_are_refused() {
    use aws_sdk_s3::types::StorageClass;
    let (s, c, b) = with_bucket("put-unsupported").await;
    let path = format!("/{b}/k");
    let put = || c.put_object().bucket(&b).key("k").body(ByteStream::from_static(b"x"));
    check_sdk_error(
        put().storage_class(StorageClass::Glacier).send().await,
        501,
        "NotImplemented",
        &path,
    );
    let r = s.raw("PUT", &path, &[], &[("x-amz-storage-class", "COLD")], b"x").await;
    r.check_error(400, "InvalidStorageClass", &path);
    check_sdk_error(
        c.create_multipart_upload()
            .bucket(&b)
            .key("k")
            .storage_class(StorageClass::DeepArchive)
            .send()
            .await,
        501,
        "NotImplemented",
        &path,
    );
    check_sdk_error(
        c.copy_object()
            .bucket(&b)
            .key("k")
            .copy_source(format!("{b}/k"))
            .storage_class(StorageClass::StandardIa)
            .send()
            .await,
        501,
        "NotImplemented",
        &path,
    );
    assert_eq!(sdk_status(c.head_object().bucket(&b).key("k").send().await), 404);
    put().storage_class(StorageClass::Standard).send().await.unwrap();
}
