//! POST Object (browser forms): signed forms stream into the store; who may write is
//! decided on the fields, before a byte of the file is read; the policy holds.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

const BOUNDARY: &str = "----cofferFormBoundary7MA4YWxkTrZu0gW";

fn hmac256(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// A base64 policy expiring in `secs` with these conditions (JSON array items), and the
/// SigV4 form fields that sign it with `(key, secret)`.
fn signed_fields(key: &str, secret: &str, secs: i64, conditions: &[String]) -> Vec<(String, String)> {
    let now = time::OffsetDateTime::now_utc();
    let day = format!("{:04}{:02}{:02}", now.year(), u8::from(now.month()), now.day());
    let date = format!("{day}T{:02}{:02}{:02}Z", now.hour(), now.minute(), now.second());
    let credential = format!("{key}/{day}/us-east-1/s3/aws4_request");
    let expiry = (now + time::Duration::seconds(secs))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let mut conds = conditions.to_vec();
    conds.push(r#"{"x-amz-algorithm": "AWS4-HMAC-SHA256"}"#.to_owned());
    conds.push(format!(r#"{{"x-amz-credential": "{credential}"}}"#));
    conds.push(format!(r#"{{"x-amz-date": "{date}"}}"#));
    let policy = format!(r#"{{"expiration": "{expiry}", "conditions": [{}]}}"#, conds.join(", "));
    let policy = base64_simd::STANDARD.encode_to_string(policy);
    let mut k = hmac256(format!("AWS4{secret}").as_bytes(), &day);
    for p in ["us-east-1", "s3", "aws4_request"] {
        k = hmac256(&k, p);
    }
    let sig = hex::encode(hmac256(&k, &policy));
    vec![
        ("policy".into(), policy),
        ("x-amz-algorithm".into(), "AWS4-HMAC-SHA256".into()),
        ("x-amz-credential".into(), credential),
        ("x-amz-date".into(), date),
        ("x-amz-signature".into(), sig),
    ]
}

/// The form up to and including the file part's headers.
fn form_head(fields: &[(String, String)]) -> Vec<u8> {
    let mut b = String::new();
    for (k, v) in fields {
        b.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    b.push_str(&format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
    ));
    b.into_bytes()
}

fn form_tail() -> Vec<u8> {
    format!("\r\n--{BOUNDARY}--\r\n").into_bytes()
}

fn request_head(s: &Server, bucket: &str, len: u64) -> Vec<u8> {
    format!(
        "POST /{bucket} HTTP/1.1\r\nhost: {}\r\ncontent-type: multipart/form-data; boundary={BOUNDARY}\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n",
        s.addr()
    )
    .into_bytes()
}

/// Posts a whole form with `file` as its file.
async fn post(s: &Server, bucket: &str, fields: &[(String, String)], file: &[u8]) -> Raw {
    let mut body = form_head(fields);
    body.extend_from_slice(file);
    body.extend_from_slice(&form_tail());
    let mut wire = request_head(s, bucket, body.len() as u64);
    wire.extend_from_slice(&body);
    let mut st = TcpStream::connect(s.addr()).await.unwrap();
    st.write_all(&wire).await.unwrap();
    let mut buf = Vec::new();
    st.read_to_end(&mut buf).await.unwrap();
    parse_response(&buf)
}

/// Sends the form up to the file part's headers, announcing a `file_len`-byte file, and
/// waits for the answer without sending a byte of the file.
async fn post_without_file(s: &Server, bucket: &str, fields: &[(String, String)], file_len: u64) -> Option<Raw> {
    let head = form_head(fields);
    let len = head.len() as u64 + file_len + form_tail().len() as u64;
    let mut st = TcpStream::connect(s.addr()).await.unwrap();
    st.write_all(&request_head(s, bucket, len)).await.unwrap();
    st.write_all(&head).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), st.read_to_end(&mut buf))
        .await
        .ok()?
        .ok()?;
    Some(parse_response(&buf))
}

fn key_field(k: &str) -> (String, String) {
    ("key".into(), k.into())
}

async fn read(c: &aws_sdk_s3::Client, b: &str, k: &str) -> Option<Vec<u8>> {
    let o = c.get_object().bucket(b).key(k).send().await.ok()?;
    Some(o.body.collect().await.unwrap().into_bytes().to_vec())
}

fn conditions(b: &str, extra: &[&str]) -> Vec<String> {
    let mut c = vec![
        format!(r#"{{"bucket": "{b}"}}"#),
        r#"["starts-with", "$key", "up/"]"#.to_owned(),
    ];
    c.extend(extra.iter().map(|s| (*s).to_owned()));
    c
}

#[tokio::test]
async fn a_signed_form_streams_its_file_into_the_bucket() {
    let (s, c, b) = with_bucket("post").await;
    let file: Vec<u8> = (0..(3u32 << 20)).map(|i| (i % 253) as u8).collect();
    let mut fields = vec![
        key_field("up/${filename}"),
        ("Content-Type".into(), "image/jpeg".into()),
        ("x-amz-meta-colour".into(), "blue".into()),
    ];
    fields.extend(signed_fields(
        ROOT_KEY,
        ROOT_SECRET,
        600,
        &conditions(
            &b,
            &[
                r#"["starts-with", "$Content-Type", "image/"]"#,
                r#"{"x-amz-meta-colour": "blue"}"#,
                r#"["content-length-range", 1, 10485760]"#,
            ],
        ),
    ));
    let r = post(&s, &b, &fields, &file).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.header("etag").is_some_and(|e| e.starts_with('"')));
    assert!(r.header("x-amz-request-id").is_some());
    let o = c.get_object().bucket(&b).key("up/photo.jpg").send().await.unwrap();
    assert_eq!(o.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(o.metadata.unwrap()["colour"], "blue");
    assert_eq!(o.e_tag.as_deref(), r.header("etag"));
    assert_eq!(o.body.collect().await.unwrap().into_bytes().as_ref(), file.as_slice());

    // 201 answers with the PostResponse document; a redirect with 303 and the object.
    let mut fields = vec![key_field("up/201"), ("success_action_status".into(), "201".into())];
    fields.extend(signed_fields(
        ROOT_KEY,
        ROOT_SECRET,
        600,
        &conditions(&b, &[r#"{"success_action_status": "201"}"#]),
    ));
    let r = post(&s, &b, &fields, b"tiny").await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(xml_field(&r.text(), "Key").as_deref(), Some("up/201"));
    assert_eq!(xml_field(&r.text(), "Bucket").as_deref(), Some(b.as_str()));
    let mut fields = vec![
        key_field("up/redirect"),
        ("success_action_redirect".into(), "https://example.com/done".into()),
    ];
    fields.extend(signed_fields(
        ROOT_KEY,
        ROOT_SECRET,
        600,
        &conditions(
            &b,
            &[r#"["starts-with", "$success_action_redirect", "https://example.com/"]"#],
        ),
    ));
    let r = post(&s, &b, &fields, b"tiny").await;
    assert_eq!(r.status, 303, "{}", r.text());
    let loc = r.header("location").unwrap();
    assert!(
        loc.starts_with(&format!("https://example.com/done?bucket={b}&key=up%2Fredirect&etag=")),
        "{loc}"
    );
    assert_eq!(read(&c, &b, "up/redirect").await.as_deref(), Some(&b"tiny"[..]));
}

#[tokio::test]
async fn sigv2_forms_are_accepted() {
    let (s, c, b) = with_bucket("post").await;
    let policy = format!(
        r#"{{"expiration": "2099-01-01T00:00:00Z", "conditions": [{{"bucket": "{b}"}}, ["starts-with", "$key", ""]]}}"#
    );
    let policy = base64_simd::STANDARD.encode_to_string(policy);
    let mut m = Hmac::<sha1::Sha1>::new_from_slice(ROOT_SECRET.as_bytes()).unwrap();
    m.update(policy.as_bytes());
    let sig = base64_simd::STANDARD.encode_to_string(m.finalize().into_bytes());
    let fields = vec![
        key_field("v2"),
        ("AWSAccessKeyId".into(), ROOT_KEY.into()),
        ("policy".into(), policy),
        ("signature".into(), sig),
    ];
    let r = post(&s, &b, &fields, b"sigv2 body").await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(read(&c, &b, "v2").await.as_deref(), Some(&b"sigv2 body"[..]));
}

/// Anonymous forms, and users posting to a bucket they do not own, are refused on their
/// fields: the answer comes without the server waiting for the file.
#[tokio::test]
async fn access_is_decided_before_the_file_is_read() {
    let (s, c, b) = with_bucket("post").await;
    let path = format!("/{b}");
    let r = post_without_file(&s, &b, &[key_field("up/anon")], 1 << 30)
        .await
        .expect("an answer before the file");
    r.check_error(403, "AccessDenied", &path);

    let (key, secret) = s.add_user("mallory").await;
    let mut fields = vec![key_field("up/mallory")];
    fields.extend(signed_fields(&key, &secret, 600, &conditions(&b, &[])));
    let r = post_without_file(&s, &b, &fields, 1 << 30)
        .await
        .expect("an answer before the file");
    r.check_error(403, "AccessDenied", &path);

    let mut fields = vec![key_field("up/forged")];
    fields.extend(signed_fields(ROOT_KEY, "not-the-secret", 600, &conditions(&b, &[])));
    let r = post_without_file(&s, &b, &fields, 1 << 30)
        .await
        .expect("an answer before the file");
    r.check_error(403, "SignatureDoesNotMatch", &path);

    let mut fields = vec![key_field("up/k")];
    fields.extend(signed_fields(
        ROOT_KEY,
        ROOT_SECRET,
        600,
        &conditions("bkt-missing", &[]),
    ));
    let r = post_without_file(&s, "bkt-missing", &fields, 1 << 30)
        .await
        .expect("an answer before the file");
    r.check_error(404, "NoSuchBucket", "/bkt-missing");

    let listed = c.list_objects_v2().bucket(&b).send().await.unwrap();
    assert!(listed.contents().is_empty());
}

/// A bucket whose policy lets anyone write under `drop/` takes unsigned forms there, and
/// only there.
#[tokio::test]
async fn a_bucket_policy_admits_anonymous_forms() {
    let (s, c, b) = with_bucket("post-anon").await;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::{b}/drop/*"}}]}}"#
    );
    c.put_bucket_policy().bucket(&b).policy(policy).send().await.unwrap();
    let r = post(&s, &b, &[key_field("drop/${filename}")], b"anonymous upload").await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        read(&c, &b, "drop/photo.jpg").await.as_deref(),
        Some(&b"anonymous upload"[..])
    );
    let r = post_without_file(&s, &b, &[key_field("elsewhere/x")], 1 << 30)
        .await
        .expect("an answer before the file");
    r.check_error(403, "AccessDenied", &format!("/{b}"));
    // The key authorized is the key stored: `${filename}` is the sender's to choose, and a
    // deny on the name it becomes holds.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::{b}/drop/*"}},
            {{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::{b}/drop/photo.jpg"}}]}}"#
    );
    c.put_bucket_policy().bucket(&b).policy(policy).send().await.unwrap();
    let r = post_without_file(&s, &b, &[key_field("drop/${filename}")], 1 << 30)
        .await
        .expect("an answer before the file");
    r.check_error(403, "AccessDenied", &format!("/{b}"));
}

/// An unsigned form of 256 MiB, sent as fast as the server takes it, costs the server no
/// memory: it is refused on its fields. (s3s alone reads the whole file first.)
#[tokio::test]
async fn an_anonymous_flood_of_form_bytes_costs_no_memory() {
    let (s, _c, b) = with_bucket("post").await;
    let before = s.vm_hwm_kib();
    let file_len: u64 = 256 << 20;
    let head = form_head(&[key_field("up/flood")]);
    let len = head.len() as u64 + file_len + form_tail().len() as u64;
    let mut st = TcpStream::connect(s.addr()).await.unwrap();
    st.write_all(&request_head(&s, &b, len)).await.unwrap();
    st.write_all(&head).await.unwrap();
    let chunk = vec![b'x'; 1 << 20];
    let mut sent = 0u64;
    while sent < file_len {
        if st.write_all(&chunk).await.is_err() {
            break;
        }
        sent += chunk.len() as u64;
    }
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), st.read_to_end(&mut buf)).await;
    let grown = s.vm_hwm_kib().saturating_sub(before);
    println!("peak RSS grew {grown} KiB under a 256 MiB anonymous form");
    assert!(
        grown < 16 << 10,
        "server peak memory grew {grown} KiB for a {} MiB anonymous form ({} MiB accepted by the socket)",
        file_len >> 20,
        sent >> 20
    );
}

/// A signed upload of 256 MiB streams: the server's peak memory stays far below it.
#[tokio::test]
async fn a_large_signed_form_streams_with_bounded_memory() {
    let (s, c, b) = with_bucket("post").await;
    let before = s.vm_hwm_kib();
    let file_len: usize = 256 << 20;
    let mut fields = vec![key_field("up/large")];
    fields.extend(signed_fields(ROOT_KEY, ROOT_SECRET, 600, &conditions(&b, &[])));
    let head = form_head(&fields);
    let tail = form_tail();
    let len = (head.len() + file_len + tail.len()) as u64;
    let mut st = TcpStream::connect(s.addr()).await.unwrap();
    st.write_all(&request_head(&s, &b, len)).await.unwrap();
    st.write_all(&head).await.unwrap();
    let chunk: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
    for _ in 0..(file_len >> 20) {
        st.write_all(&chunk).await.unwrap();
    }
    st.write_all(&tail).await.unwrap();
    let mut buf = Vec::new();
    st.read_to_end(&mut buf).await.unwrap();
    let r = parse_response(&buf);
    assert_eq!(r.status, 204, "{}", r.text());
    let grown = s.vm_hwm_kib().saturating_sub(before);
    println!("peak RSS grew {grown} KiB storing a 256 MiB signed form");
    assert!(
        grown < 48 << 10,
        "server peak memory grew {grown} KiB for a 256 MiB form"
    );
    let head = c.head_object().bucket(&b).key("up/large").send().await.unwrap();
    assert_eq!(head.content_length, Some(file_len as i64));
}

#[tokio::test]
async fn the_policy_is_enforced() {
    let (s, c, b) = with_bucket("post").await;
    let path = format!("/{b}");
    // Expired.
    let mut fields = vec![key_field("up/expired")];
    fields.extend(signed_fields(ROOT_KEY, ROOT_SECRET, -60, &conditions(&b, &[])));
    post(&s, &b, &fields, b"x")
        .await
        .check_error(403, "AccessDenied", &path);
    // A condition that fails.
    let mut fields = vec![key_field("elsewhere/k")];
    fields.extend(signed_fields(ROOT_KEY, ROOT_SECRET, 600, &conditions(&b, &[])));
    post(&s, &b, &fields, b"x")
        .await
        .check_error(403, "AccessDenied", &path);
    // A field the policy does not name.
    let mut fields = vec![key_field("up/extra"), ("x-amz-meta-sneaky".into(), "1".into())];
    fields.extend(signed_fields(ROOT_KEY, ROOT_SECRET, 600, &conditions(&b, &[])));
    post(&s, &b, &fields, b"x")
        .await
        .check_error(403, "AccessDenied", &path);
    // Too large and too small for content-length-range.
    let mut fields = vec![key_field("up/size")];
    fields.extend(signed_fields(
        ROOT_KEY,
        ROOT_SECRET,
        600,
        &conditions(&b, &[r#"["content-length-range", 10, 1000]"#]),
    ));
    post(&s, &b, &fields, &[0; 1001])
        .await
        .check_error(400, "EntityTooLarge", &path);
    post(&s, &b, &fields, &[0; 9])
        .await
        .check_error(400, "EntityTooSmall", &path);
    // Credentials without their signature: a malformed form, not an anonymous one.
    for credential in ["AWSAccessKeyId", "x-amz-credential"] {
        let fields = vec![key_field("up/x"), (credential.to_owned(), ROOT_KEY.to_owned())];
        post(&s, &b, &fields, b"x")
            .await
            .check_error(400, "InvalidArgument", &path);
    }
    // No key field.
    let fields = signed_fields(ROOT_KEY, ROOT_SECRET, 600, &[format!(r#"{{"bucket": "{b}"}}"#)]);
    post(&s, &b, &fields, b"x")
        .await
        .check_error(400, "InvalidArgument", &path);
    // A public ACL is refused as on a bucket with ACLs disabled, not ignored; fields for
    // features coffer lacks are refused too.
    let mut fields = vec![key_field("up/acl"), ("acl".into(), "public-read".into())];
    fields.extend(signed_fields(
        ROOT_KEY,
        ROOT_SECRET,
        600,
        &conditions(&b, &[r#"{"acl": "public-read"}"#]),
    ));
    post(&s, &b, &fields, b"x")
        .await
        .check_error(400, "AccessControlListNotSupported", &path);
    let mut fields = vec![key_field("up/cold"), ("x-amz-storage-class".into(), "GLACIER".into())];
    fields.extend(signed_fields(
        ROOT_KEY,
        ROOT_SECRET,
        600,
        &conditions(&b, &[r#"{"x-amz-storage-class": "GLACIER"}"#]),
    ));
    post(&s, &b, &fields, b"x")
        .await
        .check_error(501, "NotImplemented", &path);
    // A tagging field that is no Tagging document.
    let mut fields = vec![key_field("up/tag"), ("tagging".into(), "<Tagging/>".into())];
    fields.extend(signed_fields(
        ROOT_KEY,
        ROOT_SECRET,
        600,
        &conditions(&b, &[r#"{"tagging": "<Tagging/>"}"#]),
    ));
    post(&s, &b, &fields, b"x")
        .await
        .check_error(400, "MalformedXML", &path);
    assert!(
        c.list_objects_v2()
            .bucket(&b)
            .send()
            .await
            .unwrap()
            .contents()
            .is_empty()
    );
}

#[tokio::test]
async fn malformed_and_oversized_forms() {
    let (s, _c, b) = with_bucket("post").await;
    let path = format!("/{b}");
    // Fields before the file over the limit.
    let fields = vec![("x-ignore-padding".to_owned(), "p".repeat(70 << 10))];
    let r = post_without_file(&s, &b, &fields, 10).await.expect("an answer");
    r.check_error(400, "MaxPostPreDataLengthExceededError", &path);
    // Not a form.
    let body = b"--nope\r\n\r\n".to_vec();
    let mut wire = request_head(&s, &b, body.len() as u64);
    wire.extend_from_slice(&body);
    let mut st = TcpStream::connect(s.addr()).await.unwrap();
    st.write_all(&wire).await.unwrap();
    let mut buf = Vec::new();
    st.read_to_end(&mut buf).await.unwrap();
    parse_response(&buf).check_error(400, "MalformedPOSTRequest", &path);
    // A form to an object path.
    let r = raw_send(
        &s.addr(),
        "POST",
        &format!("/{b}/key"),
        &[(
            "content-type".into(),
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )],
        Some(b"x"),
    )
    .await;
    r.check_error(405, "MethodNotAllowed", &format!("/{b}/key"));
}

/// On a bucket with ACLs enabled a form's `acl` field is laid on the object, as `x-amz-acl`
/// is on PutObject; an unknown one is refused before the file is stored.
#[tokio::test]
async fn a_forms_acl_takes_effect_where_acls_are_enabled() {
    let (s, c, b) = with_bucket("post-acl").await;
    set_ownership(&c, &b, aws_sdk_s3::types::ObjectOwnership::ObjectWriter).await;
    let form = |key: &str, acl: &str| {
        let mut fields = vec![key_field(key), ("acl".into(), acl.into())];
        fields.extend(signed_fields(
            ROOT_KEY,
            ROOT_SECRET,
            600,
            &conditions(&b, &[&format!(r#"{{"acl": "{acl}"}}"#)]),
        ));
        fields
    };
    let r = post(&s, &b, &form("up/public", "public-read"), b"shared").await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = anonymous(&s, "GET", &format!("/{b}/up/public"), b"").await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"shared"[..]));
    let r = post(&s, &b, &form("up/private", "private"), b"mine").await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(anonymous(&s, "GET", &format!("/{b}/up/private"), b"").await.status, 403);
    post(&s, &b, &form("up/odd", "public-everything"), b"x")
        .await
        .check_error(400, "InvalidArgument", &format!("/{b}"));
    assert_eq!(read(&c, &b, "up/odd").await, None);
}

/// A condition on `$key` is checked against the key stored, `${filename}` replaced by the
/// file's name, as Ceph RGW and MinIO check it: the policy can pin what `${filename}` may
/// become.
#[tokio::test]
async fn key_conditions_see_the_filename() {
    let (s, c, b) = with_bucket("post-fname").await;
    let form = |prefix: &str| {
        let mut fields = vec![key_field("up/${filename}")];
        fields.extend(signed_fields(
            ROOT_KEY,
            ROOT_SECRET,
            600,
            &[
                format!(r#"{{"bucket": "{b}"}}"#),
                format!(r#"["starts-with", "$key", "{prefix}"]"#),
            ],
        ));
        fields
    };
    let r = post(&s, &b, &form("up/photo"), b"jpeg").await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(read(&c, &b, "up/photo.jpg").await.as_deref(), Some(&b"jpeg"[..]));
    post(&s, &b, &form("up/doc"), b"jpeg")
        .await
        .check_error(403, "AccessDenied", &format!("/{b}"));
}

/// A form's `tagging` field is the object's tag set, as XML.
#[tokio::test]
async fn a_forms_tagging_field_tags_the_object() {
    let (s, c, b) = with_bucket("post-tags").await;
    let xml = "<Tagging><TagSet><Tag><Key>team</Key><Value>data</Value></Tag></TagSet></Tagging>";
    let mut fields = vec![key_field("up/tagged"), ("tagging".into(), xml.into())];
    fields.extend(signed_fields(
        ROOT_KEY,
        ROOT_SECRET,
        600,
        &conditions(&b, &[&format!(r#"{{"tagging": "{xml}"}}"#)]),
    ));
    let r = post(&s, &b, &fields, b"x").await;
    assert_eq!(r.status, 204, "{}", r.text());
    let got = c.get_object_tagging().bucket(&b).key("up/tagged").send().await.unwrap();
    let tags: Vec<_> = got.tag_set().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [("team", "data")]);
}

/// Encryption fields are what their headers are to PutObject: the form's file is stored
/// encrypted, the answer says how, and a bad field is refused before the file is stored.
#[tokio::test]
async fn a_forms_encryption_fields_take_effect() {
    let (s, c, b) = with_bucket("post-sse").await;
    let form = |key: &str, sse: &str| {
        let mut fields = vec![key_field(key), ("x-amz-server-side-encryption".into(), sse.into())];
        fields.extend(signed_fields(
            ROOT_KEY,
            ROOT_SECRET,
            600,
            &conditions(&b, &[&format!(r#"{{"x-amz-server-side-encryption": "{sse}"}}"#)]),
        ));
        fields
    };
    let r = post(&s, &b, &form("up/enc", "AES256"), b"form secret").await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(r.header("x-amz-server-side-encryption"), Some("AES256"));
    let h = c.head_object().bucket(&b).key("up/enc").send().await.unwrap();
    assert_eq!(
        h.server_side_encryption,
        Some(aws_sdk_s3::types::ServerSideEncryption::Aes256)
    );
    assert_eq!(read(&c, &b, "up/enc").await.as_deref(), Some(&b"form secret"[..]));
    post(&s, &b, &form("up/bad", "AES512"), b"x")
        .await
        .check_error(400, "InvalidArgument", &format!("/{b}"));
    assert_eq!(read(&c, &b, "up/bad").await, None);
}
