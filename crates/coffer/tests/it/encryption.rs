//! Server-side encryption: SSE-S3, SSE-KMS (the built-in key service) and SSE-C, each mode
//! and each transition between them, bucket default encryption, the errors AWS gives, the
//! master key's rotation, and a data directory that holds no plaintext of what is encrypted.

use std::path::Path;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use md5::{Digest, Md5};

use crate::common::*;

const KEY: [u8; 32] = [7; 32];
const OTHER_KEY: [u8; 32] = [8; 32];

/// An SSE-C key as the headers carry it: base64 key and base64 MD5.
fn sse_c(key: [u8; 32]) -> (String, String) {
    (b64(&key), b64(&Md5::digest(key)))
}

/// Content no ciphertext contains by chance: a marker repeated with a counter.
fn secret(len: usize, tag: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 64);
    let mut i = 0u64;
    while v.len() < len {
        v.extend_from_slice(format!("TOP-SECRET {tag} #{i:08} ").as_bytes());
        i += 1;
    }
    v.truncate(len);
    v
}

fn start() -> Server {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::mem::forget(tmp);
    Server::start_with(&dir, &["--sse-c-over-http"])
}

/// Runs the coffer CLI against `s` with the root credentials.
fn cli(s: &Server, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(args)
        .args(["--endpoint", &s.endpoint()])
        .env("COFFER_ACCESS_KEY_ID", ROOT_KEY)
        .env("COFFER_SECRET_ACCESS_KEY", ROOT_SECRET)
        .output()
        .unwrap()
}

fn kms(s: &Server, args: &[&str]) {
    let out = cli(s, &[&["kms"], args].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Plain,
    S3,
    Kms,
    C,
}

const MODES: [Mode; 4] = [Mode::Plain, Mode::S3, Mode::Kms, Mode::C];

async fn put_as(
    c: &Client,
    b: &str,
    k: &str,
    body: &[u8],
    mode: Mode,
) -> aws_sdk_s3::operation::put_object::PutObjectOutput {
    let (key, md5) = sse_c(KEY);
    let r = c.put_object().bucket(b).key(k).body(ByteStream::from(body.to_vec()));
    let r = match mode {
        Mode::Plain => r,
        Mode::S3 => r.server_side_encryption(ServerSideEncryption::Aes256),
        Mode::Kms => r
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id("app-key")
            .ssekms_encryption_context(b64(br#"{"team":"a"}"#)),
        Mode::C => r
            .sse_customer_algorithm("AES256")
            .sse_customer_key(key)
            .sse_customer_key_md5(md5),
    };
    r.send().await.unwrap()
}

async fn get_as(c: &Client, b: &str, k: &str, mode: Mode, range: Option<&str>) -> Vec<u8> {
    let (key, md5) = sse_c(KEY);
    let mut r = c.get_object().bucket(b).key(k).set_range(range.map(str::to_owned));
    if mode == Mode::C {
        r = r
            .sse_customer_algorithm("AES256")
            .sse_customer_key(key)
            .sse_customer_key_md5(md5);
    }
    r.send().await.unwrap().body.collect().await.unwrap().to_vec()
}

/// Every file of the data directory, read whole.
fn data_files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn each_mode_round_trips_with_its_headers_and_stores_no_plaintext() {
    let mut s = start();
    let c = s.client();
    let b = bucket("sse-modes");
    c.create_bucket().bucket(&b).send().await.unwrap();
    kms(&s, &["create", "app-key"]);
    // Inline (in the metadata) and blob sizes, each crossing a package boundary.
    for (mode, size) in MODES.iter().flat_map(|m| [(*m, 70_000usize), (*m, 300_000)]) {
        let k = format!("{mode:?}-{size}");
        let body = secret(size, &k);
        let put = put_as(&c, &b, &k, &body, mode).await;
        let md5 = hex::encode(Md5::digest(&body));
        match mode {
            Mode::Plain => assert_eq!(put.server_side_encryption, None),
            Mode::S3 => {
                assert_eq!(put.server_side_encryption, Some(ServerSideEncryption::Aes256));
                // SSE-S3 keeps S3's ETag, the MD5; SSE-KMS and SSE-C do not reveal it.
                assert_eq!(put.e_tag.as_deref(), Some(format!("\"{md5}\"").as_str()));
            }
            Mode::Kms => {
                assert_eq!(put.server_side_encryption, Some(ServerSideEncryption::AwsKms));
                assert_eq!(
                    put.ssekms_key_id.as_deref(),
                    Some("arn:aws:kms:us-east-1:000000000000:key/app-key")
                );
                assert_eq!(put.ssekms_encryption_context, Some(b64(br#"{"team":"a"}"#)));
                assert_ne!(put.e_tag.as_deref(), Some(format!("\"{md5}\"").as_str()));
            }
            Mode::C => {
                assert_eq!(put.sse_customer_algorithm.as_deref(), Some("AES256"));
                assert_eq!(put.sse_customer_key_md5, Some(sse_c(KEY).1));
                assert_ne!(put.e_tag.as_deref(), Some(format!("\"{md5}\"").as_str()));
            }
        }
        assert_eq!(get_as(&c, &b, &k, mode, None).await, body, "{k}");
        // Ranges inside one package, across a boundary, and to the end.
        for (from, to) in [(5usize, 20usize), (65_530, 65_545), (size - 10, size - 1)] {
            let got = get_as(&c, &b, &k, mode, Some(&format!("bytes={from}-{to}"))).await;
            assert_eq!(got, &body[from..=to], "{k} {from}-{to}");
        }
        let (key, kmd5) = sse_c(KEY);
        let mut head = c.head_object().bucket(&b).key(&k);
        if mode == Mode::C {
            head = head
                .sse_customer_algorithm("AES256")
                .sse_customer_key(key)
                .sse_customer_key_md5(kmd5);
        }
        let head = head.send().await.unwrap();
        assert_eq!(head.content_length, Some(size as i64));
        assert_eq!(head.e_tag, put.e_tag);
        assert_eq!(head.server_side_encryption, put.server_side_encryption);
        assert_eq!(head.ssekms_key_id, put.ssekms_key_id);
    }
    // aws:kms without a key id uses the default key, made on first use.
    let put = c
        .put_object()
        .bucket(&b)
        .key("default-kms")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(ByteStream::from(secret(1000, "default-kms")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.ssekms_key_id.as_deref(),
        Some("arn:aws:kms:us-east-1:000000000000:key/aws/s3")
    );
    assert_eq!(
        get_as(&c, &b, "default-kms", Mode::Plain, None).await,
        secret(1000, "default-kms")
    );
    s.terminate();
    if !embedded_engines() {
        return; // the rows are PostgreSQL's files, not the data directory's
    }

    // The plain objects are found on disk, so the scan can fail; the others are not.
    let files = data_files(&s.dir);
    let found = |k: &str| {
        let marker = format!("TOP-SECRET {k} #00000001 ");
        files.iter().any(|(_, bytes)| contains(bytes, marker.as_bytes()))
    };
    assert!(found("Plain-70000") && found("Plain-300000"));
    for mode in [Mode::S3, Mode::Kms, Mode::C] {
        for size in [70_000, 300_000] {
            assert!(
                !found(&format!("{mode:?}-{size}")),
                "{mode:?}-{size} is on disk in plain text"
            );
        }
    }
    assert!(!found("default-kms"));
}

#[tokio::test]
async fn sse_c_keys_are_checked_as_aws_checks_them() {
    let s = start();
    let c = s.client();
    let b = bucket("sse-c");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let body = secret(1000, "c");
    put_as(&c, &b, "c", &body, Mode::C).await;
    put_as(&c, &b, "s3", &body, Mode::S3).await;
    let res = format!("/{b}/c");
    let (key, md5) = sse_c(KEY);
    let (other, other_md5) = sse_c(OTHER_KEY);

    // No key, the wrong key, and a key for an object that has none.
    check_sdk_error(
        c.get_object().bucket(&b).key("c").send().await,
        400,
        "InvalidRequest",
        &res,
    );
    check_sdk_error(
        c.get_object()
            .bucket(&b)
            .key("c")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&other)
            .sse_customer_key_md5(&other_md5)
            .send()
            .await,
        403,
        "AccessDenied",
        &res,
    );
    check_sdk_error(
        c.get_object()
            .bucket(&b)
            .key("s3")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&md5)
            .send()
            .await,
        400,
        "InvalidRequest",
        &format!("/{b}/s3"),
    );
    assert_eq!(sdk_status(c.head_object().bucket(&b).key("c").send().await), 400);
    assert_eq!(
        sdk_status(
            c.head_object()
                .bucket(&b)
                .key("c")
                .sse_customer_algorithm("AES256")
                .sse_customer_key(&other)
                .sse_customer_key_md5(&other_md5)
                .send()
                .await
        ),
        403
    );
    // The headers themselves: MD5, length, algorithm, missing parts, mixed with SSE-S3.
    let short = b64(&[1; 16]);
    let short_md5 = b64(&Md5::digest([1; 16]));
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<ServerSideEncryption>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            Some("AES256"),
            Some(&key),
            Some(&other_md5),
            None,
            400,
            "InvalidArgument",
        ),
        (
            Some("AES256"),
            Some(&short),
            Some(&short_md5),
            None,
            400,
            "InvalidArgument",
        ),
        (
            Some("AES128"),
            Some(&key),
            Some(&md5),
            None,
            400,
            "InvalidEncryptionAlgorithmError",
        ),
        (None, Some(&key), Some(&md5), None, 400, "InvalidArgument"),
        (Some("AES256"), None, Some(&md5), None, 400, "InvalidArgument"),
        (Some("AES256"), Some(&key), None, None, 400, "InvalidArgument"),
        (
            Some("AES256"),
            Some(&key),
            Some(&md5),
            Some(ServerSideEncryption::Aes256),
            400,
            "InvalidArgument",
        ),
    ];
    for (i, (alg, k, m, sse, status, code)) in cases.into_iter().enumerate() {
        let key_name = format!("bad-{i}");
        // The SDK fills in a missing key MD5 itself: those cases go raw.
        let mut headers: Vec<(&str, String)> = Vec::new();
        if let Some(a) = alg {
            headers.push(("x-amz-server-side-encryption-customer-algorithm", a.into()));
        }
        if let Some(k) = k {
            headers.push(("x-amz-server-side-encryption-customer-key", k.into()));
        }
        if let Some(m) = m {
            headers.push(("x-amz-server-side-encryption-customer-key-md5", m.into()));
        }
        if let Some(sse) = sse {
            headers.push(("x-amz-server-side-encryption", sse.as_str().into()));
        }
        let hs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let r = s.raw("PUT", &format!("/{b}/{key_name}"), &[], &hs, b"data").await;
        r.check_error(status, code, &format!("/{b}/{key_name}"));
    }
    // Nothing of the refused writes exists.
    let listed = c.list_objects_v2().bucket(&b).send().await.unwrap();
    assert_eq!(listed.contents().len(), 2);

    // The same content under the same key has the same ETag; under another key, another.
    let again = put_as(&c, &b, "c2", &body, Mode::C).await;
    let first = c
        .head_object()
        .bucket(&b)
        .key("c")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap();
    assert_eq!(again.e_tag, first.e_tag);
    let other_put = c
        .put_object()
        .bucket(&b)
        .key("c3")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&other)
        .sse_customer_key_md5(&other_md5)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    assert_ne!(other_put.e_tag, first.e_tag);

    // A bucket policy can demand SSE-C, as AWS documents it; the deny binds the owner too.
    let alice = s.add_user("alice").await;
    let ac = s.client_as(&alice.0, &alice.1);
    let ab = bucket("sse-c-policy");
    ac.create_bucket().bucket(&ab).send().await.unwrap();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::{ab}/*","Condition":{{"Null":{{"s3:x-amz-server-side-encryption-customer-algorithm":"true"}}}}}}]}}"#
    );
    ac.put_bucket_policy().bucket(&ab).policy(policy).send().await.unwrap();
    check_sdk_error(
        ac.put_object()
            .bucket(&ab)
            .key("plain")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        403,
        "AccessDenied",
        &format!("/{ab}/plain"),
    );
    put_as(&ac, &ab, "sse-c", b"x", Mode::C).await;

    // Over plain HTTP, SSE-C is refused unless the server allows it.
    let strict = Server::start();
    let sc = strict.client();
    sc.create_bucket().bucket(&b).send().await.unwrap();
    check_sdk_error(
        sc.put_object()
            .bucket(&b)
            .key("c")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&md5)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        400,
        "InvalidArgument",
        &res,
    );
}

#[tokio::test]
async fn kms_keys_are_checked_and_a_disabled_key_stops_reads_and_writes() {
    let s = start();
    let c = s.client();
    let b = bucket("sse-kms");
    c.create_bucket().bucket(&b).send().await.unwrap();
    kms(&s, &["create", "app-key"]);
    let res = format!("/{b}/k");
    let put = |id: &str| {
        c.put_object()
            .bucket(&b)
            .key("k")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(id)
            .body(ByteStream::from_static(b"data"))
            .send()
    };
    check_sdk_error(put("no-such-key").await, 400, "KMS.NotFoundException", &res);
    // An ARN or alias of the key names it too.
    put("arn:aws:kms:us-east-1:000000000000:key/app-key").await.unwrap();
    put("alias/app-key").await.unwrap();
    kms(&s, &["disable", "app-key"]);
    check_sdk_error(put("app-key").await, 400, "KMS.DisabledException", &res);
    check_sdk_error(
        c.get_object().bucket(&b).key("k").send().await,
        400,
        "KMS.DisabledException",
        &res,
    );
    // Metadata needs no key: HEAD still answers, as on AWS.
    let h = c.head_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(h.server_side_encryption, Some(ServerSideEncryption::AwsKms));
    kms(&s, &["enable", "app-key"]);
    assert_eq!(get_body(&c, &b, "k").await, b"data");
    let listed = cli(&s, &["kms", "list"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("\"app-key\""), "{listed}");

    // Header combinations AWS refuses.
    let bad: [(&[(&str, &str)], &str); 4] = [
        (&[("x-amz-server-side-encryption", "AES512")], "InvalidArgument"),
        (
            &[("x-amz-server-side-encryption-aws-kms-key-id", "app-key")],
            "InvalidArgument",
        ),
        (
            &[
                ("x-amz-server-side-encryption", "AES256"),
                ("x-amz-server-side-encryption-aws-kms-key-id", "app-key"),
            ],
            "InvalidArgument",
        ),
        (
            &[
                ("x-amz-server-side-encryption", "aws:kms"),
                ("x-amz-server-side-encryption-context", "bm90IGpzb24="),
            ],
            "InvalidArgument",
        ),
    ];
    for (headers, code) in bad {
        s.raw("PUT", &format!("/{b}/bad"), &[], headers, b"x")
            .await
            .check_error(400, code, &format!("/{b}/bad"));
    }
    // A read may not ask for SSE-S3 or SSE-KMS.
    s.raw(
        "GET",
        &format!("/{b}/k"),
        &[],
        &[("x-amz-server-side-encryption", "AES256")],
        b"",
    )
    .await
    .check_error(400, "InvalidArgument", &res);
}

async fn copy_as(c: &Client, b: &str, from: &str, from_mode: Mode, to: &str, to_mode: Mode) {
    let (key, md5) = sse_c(KEY);
    let mut r = c.copy_object().bucket(b).key(to).copy_source(format!("{b}/{from}"));
    if from_mode == Mode::C {
        r = r
            .copy_source_sse_customer_algorithm("AES256")
            .copy_source_sse_customer_key(&key)
            .copy_source_sse_customer_key_md5(&md5);
    }
    r = match to_mode {
        Mode::Plain => r,
        Mode::S3 => r.server_side_encryption(ServerSideEncryption::Aes256),
        Mode::Kms => r
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id("app-key"),
        Mode::C => r
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&md5),
    };
    let out = r.send().await.unwrap();
    let want = match to_mode {
        Mode::S3 => Some(ServerSideEncryption::Aes256),
        Mode::Kms => Some(ServerSideEncryption::AwsKms),
        _ => None,
    };
    assert_eq!(out.server_side_encryption, want, "{from_mode:?} -> {to_mode:?}");
}

#[tokio::test]
async fn copies_and_multipart_uploads_work_between_every_pair_of_modes() {
    let s = start();
    let c = s.client();
    let b = bucket("sse-copy");
    c.create_bucket().bucket(&b).send().await.unwrap();
    kms(&s, &["create", "app-key"]);
    let body = secret(200_000, "copy");
    for from in MODES {
        put_as(&c, &b, &format!("src-{from:?}"), &body, from).await;
        for to in MODES {
            let dst = format!("dst-{from:?}-{to:?}");
            copy_as(&c, &b, &format!("src-{from:?}"), from, &dst, to).await;
            assert_eq!(get_as(&c, &b, &dst, to, None).await, body, "{dst}");
        }
    }
    // A copy from an SSE-C source needs the source's key.
    check_sdk_error(
        c.copy_object()
            .bucket(&b)
            .key("nokey")
            .copy_source(format!("{b}/src-C"))
            .send()
            .await,
        400,
        "InvalidRequest",
        &format!("/{b}/nokey"),
    );
    // Re-encrypting in place is a change of the object.
    copy_as(&c, &b, "src-Plain", Mode::Plain, "src-Plain", Mode::S3).await;
    assert_eq!(get_as(&c, &b, "src-Plain", Mode::Plain, None).await, body);

    // Multipart with SSE-C: each part needs the upload's key; a range spans the parts.
    let (key, md5) = sse_c(KEY);
    let (other, other_md5) = sse_c(OTHER_KEY);
    let up = c
        .create_multipart_upload()
        .bucket(&b)
        .key("mp")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap();
    assert_eq!(up.sse_customer_key_md5.as_deref(), Some(md5.as_str()));
    let id = up.upload_id.unwrap();
    let part1 = secret(5 << 20, "part1");
    let part2 = secret(70_000, "part2");
    check_sdk_error(
        c.upload_part()
            .bucket(&b)
            .key("mp")
            .upload_id(&id)
            .part_number(1)
            .body(ByteStream::from(part2.clone()))
            .send()
            .await,
        400,
        "InvalidRequest",
        &format!("/{b}/mp"),
    );
    check_sdk_error(
        c.upload_part()
            .bucket(&b)
            .key("mp")
            .upload_id(&id)
            .part_number(1)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&other)
            .sse_customer_key_md5(&other_md5)
            .body(ByteStream::from(part2.clone()))
            .send()
            .await,
        400,
        "InvalidRequest",
        &format!("/{b}/mp"),
    );
    // The parts' checksums are of their plaintext: ListParts shows them only with the key.
    let up2 = c
        .create_multipart_upload()
        .bucket(&b)
        .key("mp-sums")
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap();
    let id2 = up2.upload_id.unwrap();
    c.upload_part()
        .bucket(&b)
        .key("mp-sums")
        .upload_id(&id2)
        .part_number(1)
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&md5)
        .body(ByteStream::from(part2.clone()))
        .send()
        .await
        .unwrap();
    let listed = c
        .list_parts()
        .bucket(&b)
        .key("mp-sums")
        .upload_id(&id2)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.parts()[0].checksum_crc32, None);
    let listed = c
        .list_parts()
        .bucket(&b)
        .key("mp-sums")
        .upload_id(&id2)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap();
    assert!(listed.parts()[0].checksum_crc32.is_some());

    let mut done = Vec::new();
    for (n, p) in [(1, &part1), (2, &part2)] {
        let r = c
            .upload_part()
            .bucket(&b)
            .key("mp")
            .upload_id(&id)
            .part_number(n)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&md5)
            .body(ByteStream::from(p.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.sse_customer_algorithm.as_deref(), Some("AES256"));
        done.push(CompletedPart::builder().part_number(n).set_e_tag(r.e_tag).build());
    }
    c.complete_multipart_upload()
        .bucket(&b)
        .key("mp")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
        .send()
        .await
        .unwrap();
    let whole = [part1.clone(), part2.clone()].concat();
    assert_eq!(get_as(&c, &b, "mp", Mode::C, None).await, whole);
    let from = (5 << 20) - 100;
    let got = get_as(&c, &b, "mp", Mode::C, Some(&format!("bytes={from}-{}", from + 199))).await;
    assert_eq!(got, &whole[from..from + 200]);
    check_sdk_error(
        c.get_object().bucket(&b).key("mp").send().await,
        400,
        "InvalidRequest",
        &format!("/{b}/mp"),
    );

    // UploadPartCopy from an SSE-C source into an SSE-KMS upload.
    let up = c
        .create_multipart_upload()
        .bucket(&b)
        .key("mp-kms")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("app-key")
        .send()
        .await
        .unwrap();
    assert_eq!(up.server_side_encryption, Some(ServerSideEncryption::AwsKms));
    let id = up.upload_id.unwrap();
    let r = c
        .upload_part_copy()
        .bucket(&b)
        .key("mp-kms")
        .upload_id(&id)
        .part_number(1)
        .copy_source(format!("{b}/src-C"))
        .copy_source_range("bytes=10-1009")
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&key)
        .copy_source_sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap();
    let etag = r.copy_part_result.and_then(|p| p.e_tag);
    let done = c
        .complete_multipart_upload()
        .bucket(&b)
        .key("mp-kms")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).set_e_tag(etag).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(done.server_side_encryption, Some(ServerSideEncryption::AwsKms));
    assert_eq!(get_body(&c, &b, "mp-kms").await, &body[10..1010]);
}

#[tokio::test]
async fn bucket_default_encryption_applies_to_writes_without_their_own() {
    let s = start();
    let c = s.client();
    let b = bucket("sse-default");
    c.create_bucket().bucket(&b).send().await.unwrap();
    kms(&s, &["create", "app-key"]);
    check_sdk_error(
        c.get_bucket_encryption().bucket(&b).send().await,
        404,
        "ServerSideEncryptionConfigurationNotFoundError",
        &format!("/{b}"),
    );
    let config = |alg: ServerSideEncryption, key: Option<&str>| {
        ServerSideEncryptionConfiguration::builder()
            .rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(
                        ServerSideEncryptionByDefault::builder()
                            .sse_algorithm(alg)
                            .set_kms_master_key_id(key.map(str::to_owned))
                            .build()
                            .unwrap(),
                    )
                    .bucket_key_enabled(true)
                    .build(),
            )
            .build()
            .unwrap()
    };
    check_sdk_error(
        c.put_bucket_encryption()
            .bucket(&b)
            .server_side_encryption_configuration(config(ServerSideEncryption::Aes256, Some("app-key")))
            .send()
            .await,
        400,
        "InvalidArgument",
        &format!("/{b}"),
    );
    check_sdk_error(
        c.put_bucket_encryption()
            .bucket(&b)
            .server_side_encryption_configuration(config(ServerSideEncryption::AwsKms, Some("nope")))
            .send()
            .await,
        400,
        "KMS.NotFoundException",
        &format!("/{b}"),
    );
    c.put_bucket_encryption()
        .bucket(&b)
        .server_side_encryption_configuration(config(ServerSideEncryption::Aes256, None))
        .send()
        .await
        .unwrap();
    let got = c.get_bucket_encryption().bucket(&b).send().await.unwrap();
    let got = got.server_side_encryption_configuration.unwrap();
    let rule = &got.rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default
            .as_ref()
            .unwrap()
            .sse_algorithm,
        ServerSideEncryption::Aes256
    );
    let p = put_as(&c, &b, "s3", b"default s3", Mode::Plain).await;
    assert_eq!(p.server_side_encryption, Some(ServerSideEncryption::Aes256));

    c.put_bucket_encryption()
        .bucket(&b)
        .server_side_encryption_configuration(config(ServerSideEncryption::AwsKms, Some("app-key")))
        .send()
        .await
        .unwrap();
    let p = put_as(&c, &b, "kms", b"default kms", Mode::Plain).await;
    assert_eq!(p.server_side_encryption, Some(ServerSideEncryption::AwsKms));
    assert_eq!(p.bucket_key_enabled, Some(true));
    let up = c.create_multipart_upload().bucket(&b).key("mp").send().await.unwrap();
    assert_eq!(up.server_side_encryption, Some(ServerSideEncryption::AwsKms));
    // A write's own encryption wins over the default.
    let p = put_as(&c, &b, "own", b"own", Mode::C).await;
    assert_eq!(p.server_side_encryption, None);
    assert_eq!(p.sse_customer_algorithm.as_deref(), Some("AES256"));

    c.delete_bucket_encryption().bucket(&b).send().await.unwrap();
    let p = put_as(&c, &b, "plain", b"plain", Mode::Plain).await;
    assert_eq!(p.server_side_encryption, None);
    for (k, want) in [("s3", &b"default s3"[..]), ("kms", b"default kms"), ("plain", b"plain")] {
        assert_eq!(get_body(&c, &b, k).await, want);
    }
}

#[tokio::test]
async fn a_tampered_package_fails_the_read_instead_of_returning_wrong_bytes() {
    let s = start();
    let c = s.client();
    let b = bucket("sse-tamper");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let body = secret(300_000, "tamper");
    put_as(&c, &b, "k", &body, Mode::S3).await;
    // A byte in the second package.
    s.blobs().pop().expect("a blob").flip_byte(70_000);
    let r = c
        .get_object()
        .bucket(&b)
        .key("k")
        .range("bytes=66000-66100")
        .send()
        .await;
    let failed = match r {
        Err(_) => true,
        Ok(o) => o.body.collect().await.is_err(),
    };
    assert!(failed, "a tampered package was served");
    // The untouched first package still reads.
    assert_eq!(get_as(&c, &b, "k", Mode::S3, Some("bytes=0-99")).await, &body[..100]);
}

#[tokio::test]
async fn the_master_key_rotates_without_rewriting_data_and_a_wrong_one_is_refused() {
    if skip_on_shared_engines() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_with(&dir, &["--sse-c-over-http"]);
    let c = s.client();
    let b = bucket("sse-rotate");
    c.create_bucket().bucket(&b).send().await.unwrap();
    kms(&s, &["create", "app-key"]);
    let body = secret(300_000, "rotate");
    for mode in MODES {
        put_as(&c, &b, &format!("{mode:?}"), &body, mode).await;
    }
    let blobs_before: Vec<Vec<u8>> = {
        let mut p = s.blob_paths();
        p.sort();
        p.iter().map(|p| std::fs::read(p).unwrap()).collect()
    };
    s.terminate();
    let key_before = std::fs::read(dir.join("master.key")).unwrap();

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["key", "rotate", "--data"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_ne!(std::fs::read(dir.join("master.key")).unwrap(), key_before);

    let mut s = Server::start_with(&dir, &["--sse-c-over-http"]);
    let c = s.client();
    for mode in MODES {
        assert_eq!(get_as(&c, &b, &format!("{mode:?}"), mode, None).await, body, "{mode:?}");
    }
    let mut after = s.blob_paths();
    after.sort();
    let after: Vec<Vec<u8>> = after.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert_eq!(after, blobs_before, "rotation rewrote object data");
    s.terminate();

    // --new-key-file is for an external key: with the directory's own, it is refused, and
    // nothing changes.
    let stray = tmp.path().join("stray.key");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["key", "rotate", "--data"])
        .arg(&dir)
        .arg("--new-key-file")
        .arg(&stray)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!stray.exists());

    // A directory whose master.key is gone does not make itself a new one.
    let kept = std::fs::read(dir.join("master.key")).unwrap();
    std::fs::remove_file(dir.join("master.key")).unwrap();
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["server", "--listen", "127.0.0.1:0", "--data"])
        .arg(&dir)
        .env("COFFER_ACCESS_KEY_ID", ROOT_KEY)
        .env("COFFER_SECRET_ACCESS_KEY", ROOT_SECRET)
        .output()
        .unwrap();
    assert!(!st.status.success());
    assert!(
        String::from_utf8_lossy(&st.stderr).contains("missing"),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(!dir.join("master.key").exists());
    std::fs::write(dir.join("master.key"), kept).unwrap();

    // The old key no longer opens the directory: the server refuses to start.
    let old = tmp.path().join("old.key");
    std::fs::write(&old, &key_before).unwrap();
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["server", "--listen", "127.0.0.1:0", "--data"])
        .arg(&dir)
        .arg("--master-key-file")
        .arg(&old)
        .env("COFFER_ACCESS_KEY_ID", ROOT_KEY)
        .env("COFFER_SECRET_ACCESS_KEY", ROOT_SECRET)
        .output()
        .unwrap();
    assert!(!st.status.success());
    assert!(
        String::from_utf8_lossy(&st.stderr).contains("master key"),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
}

/// Each version keeps its own encryption and key; checksums are of the plaintext.
#[tokio::test]
async fn versions_keep_their_own_encryption() {
    let s = start();
    let c = s.client();
    let b = bucket("sse-versions");
    c.create_bucket().bucket(&b).send().await.unwrap();
    enable_versioning(&c, &b).await;
    let one = secret(100_000, "v1");
    let two = secret(200_000, "v2");
    let v1 = put_as(&c, &b, "k", &one, Mode::C).await.version_id.unwrap();
    let v2 = c
        .put_object()
        .bucket(&b)
        .key("k")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
        .body(ByteStream::from(two.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        v2.checksum_sha256,
        Some(b64(&sha2::Sha256::digest(&two))),
        "the checksum of the plaintext"
    );
    let (key, md5) = sse_c(KEY);
    let got = c
        .get_object()
        .bucket(&b)
        .key("k")
        .version_id(&v1)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap();
    assert_eq!(got.body.collect().await.unwrap().to_vec(), one);
    assert_eq!(get_body(&c, &b, "k").await, two);
    check_sdk_error(
        c.get_object().bucket(&b).key("k").version_id(&v1).send().await,
        400,
        "InvalidRequest",
        &format!("/{b}/k"),
    );
}
