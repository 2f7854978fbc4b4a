//! Multipart uploads through aws-sdk-s3: assembly, replacement, every error, listings,
//! part copies, checksums, and a 1 GiB upload with bounded server memory.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart};
use md5::{Digest, Md5};

use crate::common::*;

const MIB: usize = 1 << 20;

async fn create(c: &Client, b: &str, k: &str) -> String {
    c.create_multipart_upload()
        .bucket(b)
        .key(k)
        .send()
        .await
        .unwrap()
        .upload_id
        .unwrap()
}

async fn part(c: &Client, b: &str, k: &str, id: &str, n: i32, body: Vec<u8>) -> CompletedPart {
    let r = c
        .upload_part()
        .bucket(b)
        .key(k)
        .upload_id(id)
        .part_number(n)
        .body(ByteStream::from(body))
        .send()
        .await
        .unwrap();
    CompletedPart::builder().part_number(n).e_tag(r.e_tag.unwrap()).build()
}

fn done(parts: Vec<CompletedPart>) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder().set_parts(Some(parts)).build()
}

async fn get_all(c: &Client, b: &str, k: &str) -> Vec<u8> {
    let r = c.get_object().bucket(b).key(k).send().await.unwrap();
    r.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test]
async fn parts_out_of_order_and_concurrent_assemble_in_order() {
    let (_s, c, b) = with_bucket("mpu").await;
    let id = create(&c, &b, "obj").await;
    let bodies = [data(5 * MIB, 1), data(5 * MIB, 2), data(1000, 3)];
    let (p3, p1, p2) = tokio::join!(
        part(&c, &b, "obj", &id, 3, bodies[2].clone()),
        part(&c, &b, "obj", &id, 1, bodies[0].clone()),
        part(&c, &b, "obj", &id, 2, bodies[1].clone()),
    );
    let r = c
        .complete_multipart_upload()
        .bucket(&b)
        .key("obj")
        .upload_id(&id)
        .multipart_upload(done(vec![p1, p2, p3]))
        .send()
        .await
        .unwrap();
    let mut md5s = Vec::new();
    for body in &bodies {
        md5s.extend_from_slice(&Md5::digest(body));
    }
    let want_etag = format!("\"{}-3\"", hex::encode(Md5::digest(&md5s)));
    assert_eq!(r.e_tag.as_deref(), Some(want_etag.as_str()));
    assert_eq!(get_all(&c, &b, "obj").await, bodies.concat());

    let head = c
        .head_object()
        .bucket(&b)
        .key("obj")
        .part_number(2)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length, Some(5 * MIB as i64));
    assert_eq!(head.parts_count, Some(3));
    let p = c
        .get_object()
        .bucket(&b)
        .key("obj")
        .part_number(3)
        .send()
        .await
        .unwrap();
    assert_eq!(
        p.content_range.as_deref(),
        Some(format!("bytes {}-{}/{}", 10 * MIB, 10 * MIB + 999, 10 * MIB + 1000).as_str())
    );
    assert_eq!(p.body.collect().await.unwrap().into_bytes().as_ref(), &bodies[2][..]);
    let r = c
        .get_object()
        .bucket(&b)
        .key("obj")
        .range(format!("bytes={}-{}", 5 * MIB - 2, 5 * MIB + 1))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.body.collect().await.unwrap().into_bytes().as_ref(),
        &bodies.concat()[5 * MIB - 2..5 * MIB + 2]
    );
    // The upload is gone.
    check_sdk_error(
        c.list_parts().bucket(&b).key("obj").upload_id(&id).send().await,
        404,
        "NoSuchUpload",
        &format!("/{b}/obj"),
    );
}

#[tokio::test]
async fn a_part_uploaded_again_replaces_the_first_and_frees_it() {
    let (s, c, b) = with_bucket("mpu").await;
    let id = create(&c, &b, "k").await;
    part(&c, &b, "k", &id, 1, data(300 << 10, 1)).await;
    let before = s.blobs().len();
    let second = data(300 << 10, 9);
    let p1 = part(&c, &b, "k", &id, 1, second.clone()).await;
    assert_eq!(s.blobs().len(), before, "the replaced part's blob is freed");
    c.complete_multipart_upload()
        .bucket(&b)
        .key("k")
        .upload_id(&id)
        .multipart_upload(done(vec![p1]))
        .send()
        .await
        .unwrap();
    assert_eq!(get_all(&c, &b, "k").await, second);
}

#[tokio::test]
async fn completion_errors() {
    let (_s, c, b) = with_bucket("mpu").await;
    let res = format!("/{b}/k");
    let id = create(&c, &b, "k").await;
    let p1 = part(&c, &b, "k", &id, 1, b"small".to_vec()).await;
    let p2 = part(&c, &b, "k", &id, 2, b"parts".to_vec()).await;
    let complete = |parts: Vec<CompletedPart>| {
        c.complete_multipart_upload()
            .bucket(&b)
            .key("k")
            .upload_id(&id)
            .multipart_upload(done(parts))
            .send()
    };
    check_sdk_error(
        complete(vec![p1.clone(), p2.clone()]).await,
        400,
        "EntityTooSmall",
        &res,
    );
    check_sdk_error(
        complete(vec![p2.clone(), p1.clone()]).await,
        400,
        "InvalidPartOrder",
        &res,
    );
    let wrong = CompletedPart::builder()
        .part_number(1)
        .e_tag("\"00000000000000000000000000000000\"")
        .build();
    check_sdk_error(complete(vec![wrong]).await, 400, "InvalidPart", &res);
    let missing = CompletedPart::builder()
        .part_number(7)
        .e_tag(p1.e_tag().unwrap())
        .build();
    check_sdk_error(complete(vec![missing]).await, 400, "InvalidPart", &res);
    check_sdk_error(complete(vec![]).await, 400, "MalformedXML", &res);
    check_sdk_error(
        c.upload_part()
            .bucket(&b)
            .key("k")
            .upload_id(&id)
            .part_number(10001)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        400,
        "InvalidArgument",
        &res,
    );
    check_sdk_error(
        c.upload_part()
            .bucket(&b)
            .key("k")
            .upload_id(&id)
            .part_number(0)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        400,
        "InvalidArgument",
        &res,
    );
    // A single small part is a valid (last) part; nothing failed above changed the upload.
    complete(vec![p1]).await.unwrap();
    assert_eq!(get_all(&c, &b, "k").await, b"small");
    check_sdk_error(complete(vec![p2]).await, 404, "NoSuchUpload", &res);
    check_sdk_error(
        c.upload_part()
            .bucket(&b)
            .key("k")
            .upload_id(&id)
            .part_number(3)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        404,
        "NoSuchUpload",
        &res,
    );
}

#[tokio::test]
async fn abort_frees_parts_and_ends_the_upload() {
    let (s, c, b) = with_bucket("mpu").await;
    let before = s.blobs().len();
    let id = create(&c, &b, "k").await;
    part(&c, &b, "k", &id, 1, data(MIB, 1)).await;
    part(&c, &b, "k", &id, 2, data(MIB, 2)).await;
    assert_eq!(s.blobs().len(), before + 2);
    c.abort_multipart_upload()
        .bucket(&b)
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(s.blobs().len(), before);
    check_sdk_error(
        c.abort_multipart_upload()
            .bucket(&b)
            .key("k")
            .upload_id(&id)
            .send()
            .await,
        404,
        "NoSuchUpload",
        &format!("/{b}/k"),
    );
    check_sdk_error(
        c.get_object().bucket(&b).key("k").send().await,
        404,
        "NoSuchKey",
        &format!("/{b}/k"),
    );
    // Bucket can go once nothing is left.
    c.delete_bucket().bucket(&b).send().await.unwrap();
}

/// AWS deletes a bucket whose only content is uploads in progress; nothing of them may be
/// reached afterwards, through the old name or by whoever creates it next.
#[tokio::test]
async fn delete_bucket_takes_its_uploads_and_parts_with_it() {
    let (s, c, b) = with_bucket("mpu").await;
    let before = s.blobs().len();
    let id = create(&c, &b, "k").await;
    part(&c, &b, "k", &id, 1, data(MIB, 1)).await;
    part(&c, &b, "k", &id, 2, data(1000, 2)).await;
    assert_eq!(s.blobs().len(), before + 1);
    c.delete_bucket().bucket(&b).send().await.unwrap();
    assert_eq!(s.blobs().len(), before, "the part's blob is freed");

    let (key, secret) = s.add_user("mallory").await;
    let m = s.client_as(&key, &secret);
    check_sdk_error(
        m.list_parts().bucket(&b).key("k").upload_id(&id).send().await,
        404,
        "NoSuchBucket",
        &format!("/{b}/k"),
    );
    check_sdk_error(
        m.upload_part()
            .bucket(&b)
            .key("k")
            .upload_id(&id)
            .part_number(3)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        404,
        "NoSuchBucket",
        &format!("/{b}/k"),
    );
    m.create_bucket().bucket(&b).send().await.unwrap();
    let ups = m.list_multipart_uploads().bucket(&b).send().await.unwrap();
    assert!(ups.uploads().is_empty());
    check_sdk_error(
        m.complete_multipart_upload()
            .bucket(&b)
            .key("k")
            .upload_id(&id)
            .multipart_upload(done(vec![
                CompletedPart::builder().part_number(1).e_tag("\"00\"").build(),
            ]))
            .send()
            .await,
        404,
        "NoSuchUpload",
        &format!("/{b}/k"),
    );
}

#[tokio::test]
async fn list_parts_pages_with_the_part_number_marker() {
    let (_s, c, b) = with_bucket("mpu").await;
    let id = create(&c, &b, "k").await;
    for n in 1..=5 {
        part(&c, &b, "k", &id, n, vec![n as u8; 10]).await;
    }
    let mut seen = Vec::new();
    let mut marker = None;
    loop {
        let r = c
            .list_parts()
            .bucket(&b)
            .key("k")
            .upload_id(&id)
            .max_parts(2)
            .set_part_number_marker(marker.clone())
            .send()
            .await
            .unwrap();
        seen.extend(r.parts().iter().map(|p| (p.part_number.unwrap(), p.size.unwrap())));
        if r.is_truncated != Some(true) {
            break;
        }
        marker = r.next_part_number_marker.clone();
    }
    assert_eq!(seen, (1..=5).map(|n| (n, 10)).collect::<Vec<_>>());
}

#[tokio::test]
async fn list_multipart_uploads_by_prefix_delimiter_and_markers() {
    let (_s, c, b) = with_bucket("mpu").await;
    let mut ids = Vec::new();
    for k in ["a/1", "a/2", "b", "b", "c/x/y"] {
        ids.push((k, create(&c, &b, k).await));
    }
    let all = c.list_multipart_uploads().bucket(&b).send().await.unwrap();
    let keys: Vec<_> = all.uploads().iter().map(|u| u.key().unwrap().to_owned()).collect();
    assert_eq!(keys, ["a/1", "a/2", "b", "b", "c/x/y"]);
    // Two uploads of one key list in the order they were started.
    assert_eq!(all.uploads()[2].upload_id(), Some(ids[2].1.as_str()));
    let top = c
        .list_multipart_uploads()
        .bucket(&b)
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<_> = top
        .common_prefixes()
        .iter()
        .map(|p| p.prefix().unwrap().to_owned())
        .collect();
    assert_eq!(prefixes, ["a/", "c/"]);
    assert_eq!(top.uploads().len(), 2);
    let a = c.list_multipart_uploads().bucket(&b).prefix("a/").send().await.unwrap();
    assert_eq!(a.uploads().len(), 2);
    // Paging by (key-marker, upload-id-marker) visits every upload once.
    let mut seen = Vec::new();
    let (mut km, mut um) = (None::<String>, None::<String>);
    loop {
        let r = c
            .list_multipart_uploads()
            .bucket(&b)
            .max_uploads(2)
            .set_key_marker(km.clone())
            .set_upload_id_marker(um.clone())
            .send()
            .await
            .unwrap();
        seen.extend(r.uploads().iter().map(|u| u.upload_id().unwrap().to_owned()));
        if r.is_truncated != Some(true) {
            break;
        }
        km = r.next_key_marker.clone();
        um = r.next_upload_id_marker.clone();
    }
    assert_eq!(seen, ids.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>());
}

#[tokio::test]
async fn upload_part_copy_takes_a_range_of_another_object() {
    let (_s, c, b) = with_bucket("mpu").await;
    let src = data(6 * MIB, 5);
    c.put_object()
        .bucket(&b)
        .key("src")
        .body(ByteStream::from(src.clone()))
        .send()
        .await
        .unwrap();
    let id = create(&c, &b, "dst").await;
    let r1 = c
        .upload_part_copy()
        .bucket(&b)
        .key("dst")
        .upload_id(&id)
        .part_number(1)
        .copy_source(format!("{b}/src"))
        .copy_source_range(format!("bytes=0-{}", 5 * MIB - 1))
        .send()
        .await
        .unwrap();
    let r2 = c
        .upload_part_copy()
        .bucket(&b)
        .key("dst")
        .upload_id(&id)
        .part_number(2)
        .copy_source(format!("{b}/src"))
        .copy_source_range(format!("bytes={}-{}", 5 * MIB, 6 * MIB - 1))
        .send()
        .await
        .unwrap();
    check_sdk_error(
        c.upload_part_copy()
            .bucket(&b)
            .key("dst")
            .upload_id(&id)
            .part_number(3)
            .copy_source(format!("{b}/src"))
            .copy_source_range(format!("bytes=0-{}", 6 * MIB))
            .send()
            .await,
        416,
        "InvalidRange",
        &format!("/{b}/dst"),
    );
    check_sdk_error(
        c.upload_part_copy()
            .bucket(&b)
            .key("dst")
            .upload_id(&id)
            .part_number(3)
            .copy_source(format!("{b}/src"))
            .copy_source_if_match("\"nope\"")
            .send()
            .await,
        412,
        "PreconditionFailed",
        &format!("/{b}/dst"),
    );
    let parts = vec![
        CompletedPart::builder()
            .part_number(1)
            .e_tag(r1.copy_part_result.unwrap().e_tag.unwrap())
            .build(),
        CompletedPart::builder()
            .part_number(2)
            .e_tag(r2.copy_part_result.unwrap().e_tag.unwrap())
            .build(),
    ];
    c.complete_multipart_upload()
        .bucket(&b)
        .key("dst")
        .upload_id(&id)
        .multipart_upload(done(parts))
        .send()
        .await
        .unwrap();
    assert_eq!(get_all(&c, &b, "dst").await, src);
}

#[tokio::test]
async fn conditional_complete_holds() {
    let (_s, c, b) = with_bucket("mpu").await;
    c.put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"old"))
        .send()
        .await
        .unwrap();
    let id = create(&c, &b, "k").await;
    let p = part(&c, &b, "k", &id, 1, b"new".to_vec()).await;
    check_sdk_error(
        c.complete_multipart_upload()
            .bucket(&b)
            .key("k")
            .upload_id(&id)
            .if_none_match("*")
            .multipart_upload(done(vec![p.clone()]))
            .send()
            .await,
        412,
        "PreconditionFailed",
        &format!("/{b}/k"),
    );
    assert_eq!(get_all(&c, &b, "k").await, b"old");
    c.complete_multipart_upload()
        .bucket(&b)
        .key("k")
        .upload_id(&id)
        .multipart_upload(done(vec![p]))
        .send()
        .await
        .unwrap();
    assert_eq!(get_all(&c, &b, "k").await, b"new");
}

#[tokio::test]
async fn checksums_composite_and_full_object() {
    use s3s::crypto::{Checksum as _, Crc32, Crc64Nvme};
    let (_s, c, b) = with_bucket("mpu").await;
    let bodies = [data(5 * MIB, 1), data(77, 2)];
    let b64 = |v: &[u8]| base64_simd::STANDARD.encode_to_string(v);

    // CRC32, composite (the default type for CRC32).
    let id = c
        .create_multipart_upload()
        .bucket(&b)
        .key("comp")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap()
        .upload_id
        .unwrap();
    let mut parts = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let r = c
            .upload_part()
            .bucket(&b)
            .key("comp")
            .upload_id(&id)
            .part_number(i as i32 + 1)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.checksum_crc32.as_deref(), Some(b64(&Crc32::checksum(body)).as_str()));
        parts.push(
            CompletedPart::builder()
                .part_number(i as i32 + 1)
                .e_tag(r.e_tag.unwrap())
                .checksum_crc32(r.checksum_crc32.unwrap())
                .build(),
        );
    }
    let done_r = c
        .complete_multipart_upload()
        .bucket(&b)
        .key("comp")
        .upload_id(&id)
        .multipart_upload(done(parts))
        .send()
        .await
        .unwrap();
    let joined = [Crc32::checksum(&bodies[0]), Crc32::checksum(&bodies[1])].concat();
    let want = format!("{}-2", b64(&Crc32::checksum(&joined)));
    assert_eq!(done_r.checksum_crc32.as_deref(), Some(want.as_str()));
    let head = c
        .head_object()
        .bucket(&b)
        .key("comp")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_crc32.as_deref(), Some(want.as_str()));
    assert_eq!(head.checksum_type, Some(ChecksumType::Composite));

    // CRC64NVME, full object: the same value as over the whole content.
    let id = c
        .create_multipart_upload()
        .bucket(&b)
        .key("full")
        .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
        .checksum_type(ChecksumType::FullObject)
        .send()
        .await
        .unwrap()
        .upload_id
        .unwrap();
    let mut parts = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let r = c
            .upload_part()
            .bucket(&b)
            .key("full")
            .upload_id(&id)
            .part_number(i as i32 + 1)
            .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(i as i32 + 1)
                .e_tag(r.e_tag.unwrap())
                .build(),
        );
    }
    c.complete_multipart_upload()
        .bucket(&b)
        .key("full")
        .upload_id(&id)
        .multipart_upload(done(parts))
        .send()
        .await
        .unwrap();
    let got = c
        .get_object()
        .bucket(&b)
        .key("full")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.checksum_crc64_nvme.as_deref(),
        Some(b64(&Crc64Nvme::checksum(&bodies.concat())).as_str())
    );
    assert_eq!(got.checksum_type, Some(ChecksumType::FullObject));
}

/// CreateMultipartUpload refuses what AWS refuses: a type without an algorithm, a type the
/// algorithm cannot make, and an algorithm S3 does not have.
#[tokio::test]
async fn checksum_algorithm_and_type_rules() {
    let (s, _c, b) = with_bucket("mpu-sum").await;
    let path = format!("/{b}/k");
    let cases: [&[(&str, &str)]; 4] = [
        &[("x-amz-checksum-type", "COMPOSITE")],
        &[
            ("x-amz-checksum-algorithm", "SHA256"),
            ("x-amz-checksum-type", "FULL_OBJECT"),
        ],
        &[
            ("x-amz-checksum-algorithm", "CRC64NVME"),
            ("x-amz-checksum-type", "COMPOSITE"),
        ],
        &[("x-amz-checksum-algorithm", "MD5")],
    ];
    for headers in cases {
        let r = s.raw("POST", &path, &[("uploads", "")], headers, b"").await;
        r.check_error(400, "InvalidRequest", &path);
    }
    // Lower case is S3's name too, and each algorithm gets its default type.
    for (alg, want) in [("crc32", "COMPOSITE"), ("CRC64NVME", "FULL_OBJECT")] {
        let r = s
            .raw(
                "POST",
                &path,
                &[("uploads", "")],
                &[("x-amz-checksum-algorithm", alg)],
                b"",
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("x-amz-checksum-type"), Some(want), "{alg}");
    }
}

/// Object-lock settings on CreateMultipartUpload are refused, not ignored: the completed
/// object would not carry them.
#[tokio::test]
async fn lock_settings_on_create_multipart_upload_are_refused() {
    use aws_sdk_s3::types::{ObjectLockLegalHoldStatus, ObjectLockMode};
    let s = Server::start();
    let c = s.client();
    let b = bucket("mpu-lock");
    c.create_bucket()
        .bucket(&b)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    let future = aws_sdk_s3::primitives::DateTime::from_secs(4_000_000_000);
    check_sdk_error(
        c.create_multipart_upload()
            .bucket(&b)
            .key("k")
            .object_lock_mode(ObjectLockMode::Governance)
            .object_lock_retain_until_date(future)
            .send()
            .await,
        501,
        "NotImplemented",
        &format!("/{b}/k"),
    );
    check_sdk_error(
        c.create_multipart_upload()
            .bucket(&b)
            .key("k")
            .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
            .send()
            .await,
        501,
        "NotImplemented",
        &format!("/{b}/k"),
    );
    let uploads = c.list_multipart_uploads().bucket(&b).send().await.unwrap();
    assert!(uploads.uploads().is_empty());
}

/// 1 GiB through the multipart path (16 MiB parts, 4 in flight) and back, compared by
/// digest, while the server's peak RSS stays far below the object size.
#[tokio::test]
async fn one_gib_upload_keeps_server_memory_bounded() {
    let (s, c, b) = with_bucket("mpu").await;
    const PART: usize = 16 * MIB;
    const PARTS: usize = 64;
    let id = create(&c, &b, "big").await;
    let mut sent = Md5::new();
    let mut completed = Vec::new();
    for batch in (0..PARTS).collect::<Vec<_>>().chunks(4) {
        let futs = batch.iter().map(|&i| {
            let body = data(PART, i as u64);
            sent.update(&body);
            part(&c, &b, "big", &id, i as i32 + 1, body)
        });
        completed.extend(futures::future::join_all(futs.collect::<Vec<_>>()).await);
    }
    c.complete_multipart_upload()
        .bucket(&b)
        .key("big")
        .upload_id(&id)
        .multipart_upload(done(completed))
        .send()
        .await
        .unwrap();
    let r = c.get_object().bucket(&b).key("big").send().await.unwrap();
    assert_eq!(r.content_length, Some((PART * PARTS) as i64));
    let mut body = r.body.into_async_read();
    let mut got = Md5::new();
    let mut buf = vec![0u8; MIB];
    let mut total = 0;
    loop {
        let n = tokio::io::AsyncReadExt::read(&mut body, &mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        total += n;
        got.update(&buf[..n]);
    }
    assert_eq!(total, PART * PARTS);
    assert_eq!(got.finalize(), sent.finalize());
    let hwm = s.vm_hwm_kib();
    eprintln!(
        "server VmHWM after 1 GiB multipart upload and download: {} MiB",
        hwm / 1024
    );
    assert!(hwm < 256 * 1024, "server peak RSS {hwm} KiB");
}

#[tokio::test]
async fn incomplete_uploads_are_aborted_after_their_expiry() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_with(&tmp.path().join("data"), &["--upload-expiry-secs", "1"]);
    let c = s.client();
    let b = bucket("expiry");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let id = create(&c, &b, "k").await;
    part(&c, &b, "k", &id, 1, data(MIB, 1)).await;
    assert_eq!(s.blobs().len(), 1);
    let mut gone = false;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if c.list_multipart_uploads()
            .bucket(&b)
            .send()
            .await
            .unwrap()
            .uploads()
            .is_empty()
        {
            gone = true;
            break;
        }
    }
    assert!(gone, "the upload was not aborted within 4 s of a 1 s expiry");
    assert_eq!(s.blobs().len(), 0, "its part was freed");
    check_sdk_error(
        c.list_parts().bucket(&b).key("k").upload_id(&id).send().await,
        404,
        "NoSuchUpload",
        &format!("/{b}/k"),
    );
}

/// Parts still streaming when the upload is aborted either land before the abort (and are
/// freed by it) or fail with NoSuchUpload (and their staged data is freed): nothing stays.
#[tokio::test]
async fn abort_while_parts_are_in_flight_leaves_nothing_behind() {
    let (s, c, b) = with_bucket("mpu").await;
    let id = create(&c, &b, "k").await;
    let uploads = (1..=6).map(|n| {
        c.upload_part()
            .bucket(&b)
            .key("k")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(data(2 * MIB, n as u64)))
            .send()
    });
    let abort = async {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        c.abort_multipart_upload()
            .bucket(&b)
            .key("k")
            .upload_id(&id)
            .send()
            .await
    };
    let (results, aborted) = tokio::join!(futures::future::join_all(uploads), abort);
    aborted.unwrap();
    let mut failed = 0;
    for r in results {
        if let Err(e) = r {
            assert_eq!(e.into_service_error().meta().code(), Some("NoSuchUpload"));
            failed += 1;
        }
    }
    eprintln!("parts rejected after the abort: {failed} of 6");
    let mut left = usize::MAX;
    for _ in 0..40 {
        left = s.blobs().len();
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(left, 0, "blobs of aborted parts are freed");
    assert!(
        c.list_multipart_uploads()
            .bucket(&b)
            .send()
            .await
            .unwrap()
            .uploads()
            .is_empty()
    );
}

/// A client that timed out waiting for CompleteMultipartUpload retries it: AWS answers the
/// retry with the same ETag. Different parts are another request, and the upload is gone.
#[tokio::test]
async fn a_repeated_completion_answers_the_same() {
    let (_s, c, b) = with_bucket("mp-again").await;
    let id = create(&c, &b, "k").await;
    let p1 = part(&c, &b, "k", &id, 1, data(5 << 20, 1)).await;
    let p2 = part(&c, &b, "k", &id, 2, data(100, 2)).await;
    let complete = |parts: Vec<CompletedPart>| {
        c.complete_multipart_upload()
            .bucket(&b)
            .key("k")
            .upload_id(&id)
            .multipart_upload(done(parts))
            .send()
    };
    let first = complete(vec![p1.clone(), p2.clone()]).await.unwrap();
    let again = complete(vec![p1.clone(), p2.clone()]).await.unwrap();
    assert_eq!(again.e_tag(), first.e_tag());
    check_sdk_error(complete(vec![p1]).await, 404, "NoSuchUpload", &format!("/{b}/k"));
}
