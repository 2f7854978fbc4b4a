//! Signatures as an attacker would reuse them: SigV2 dates and subresources, and the
//! lifetime of presigned URLs.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use hmac::{Hmac, KeyInit, Mac};

use crate::common::*;

/// A SigV2 `Authorization` for `method` on `resource` (path plus the subresources SigV2
/// signs) with `date` in the `Date` header.
fn sigv2(method: &str, resource: &str, date: &str) -> String {
    format!("AWS {ROOT_KEY}:{}", sigv2_signature(method, resource, date))
}

/// The SigV2 signature of `method` on `resource`, dated (or, presigned, expiring) `date`.
fn sigv2_signature(method: &str, resource: &str, date: &str) -> String {
    let to_sign = format!("{method}\n\n\n{date}\n{resource}");
    let mut m = Hmac::<sha1::Sha1>::new_from_slice(ROOT_SECRET.as_bytes()).unwrap();
    m.update(to_sign.as_bytes());
    base64_simd::STANDARD.encode_to_string(m.finalize().into_bytes())
}

fn http_date(t: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(f).unwrap()
}

async fn v2_send(s: &Server, method: &str, target: &str, auth: &str, date: &str, body: &[u8]) -> Raw {
    let headers = vec![
        ("host".to_owned(), s.addr()),
        ("date".to_owned(), date.to_owned()),
        ("authorization".to_owned(), auth.to_owned()),
    ];
    raw_send(&s.addr(), method, target, &headers, Some(body)).await
}

/// A bucket holding `doc`.
async fn setup() -> (Server, aws_sdk_s3::Client, String) {
    let (s, c, b) = with_bucket("auth").await;
    c.put_object()
        .bucket(&b)
        .key("doc")
        .body(ByteStream::from_static(b"original"))
        .send()
        .await
        .unwrap();
    (s, c, b)
}

async fn body_of(c: &aws_sdk_s3::Client, b: &str, k: &str) -> Vec<u8> {
    let o = c.get_object().bucket(b).key(k).send().await.unwrap();
    o.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test]
async fn sigv2_requests_must_be_dated_now() {
    let (s, c, b) = setup().await;
    let path = format!("/{b}/doc");
    let now = time::OffsetDateTime::now_utc();

    let date = http_date(now);
    let r = v2_send(&s, "GET", &path, &sigv2("GET", &path, &date), &date, b"").await;
    assert_eq!(r.status, 200, "{}", r.text());

    // A captured PUT, replayed a week later with another body.
    let old = http_date(now - time::Duration::days(7));
    let r = v2_send(&s, "PUT", &path, &sigv2("PUT", &path, &old), &old, b"replayed").await;
    r.check_error(403, "RequestTimeTooSkewed", &path);
    let epoch = "Thu, 01 Jan 1970 00:00:00 GMT";
    let r = v2_send(&s, "DELETE", &path, &sigv2("DELETE", &path, epoch), epoch, b"").await;
    r.check_error(403, "RequestTimeTooSkewed", &path);
    let bad = "not a date at all";
    let r = v2_send(&s, "DELETE", &path, &sigv2("DELETE", &path, bad), bad, b"").await;
    r.check_error(403, "AccessDenied", &path);
    assert_eq!(body_of(&c, &b, "doc").await, b"original");
}

#[tokio::test]
async fn sigv2_signatures_cannot_carry_unsigned_subresources() {
    let (s, c, b) = setup().await;
    let lock = bucket("authlock");
    c.create_bucket()
        .bucket(&lock)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    c.put_object()
        .bucket(&lock)
        .key("doc")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let path = format!("/{lock}/doc");
    let date = http_date(time::OffsetDateTime::now_utc());
    // The signature of a PutObject, which SigV2 makes over `/bucket/key` alone.
    let auth = sigv2("PUT", &path, &date);
    let retention =
        b"<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>2120-01-01T00:00:00Z</RetainUntilDate></Retention>";
    let r = v2_send(&s, "PUT", &format!("{path}?retention"), &auth, &date, retention).await;
    r.check_error(400, "InvalidRequest", &path);
    let hold = b"<LegalHold><Status>ON</Status></LegalHold>";
    let r = v2_send(&s, "PUT", &format!("{path}?legal-hold"), &auth, &date, hold).await;
    r.check_error(400, "InvalidRequest", &path);
    // A SigV2 presigned upload URL likewise.
    let expires = (time::OffsetDateTime::now_utc().unix_timestamp() + 600).to_string();
    let sig = sigv4::uri_encode(&sigv2_signature("PUT", &path, &expires), false);
    let target = format!("{path}?retention&AWSAccessKeyId={ROOT_KEY}&Expires={expires}&Signature={sig}");
    let r = raw_send(&s.addr(), "PUT", &target, &[("host".into(), s.addr())], Some(retention)).await;
    r.check_error(400, "InvalidRequest", &path);
    // Nothing was locked: the version deletes.
    let v = c.head_object().bucket(&lock).key("doc").send().await.unwrap();
    assert!(v.object_lock_mode.is_none() && v.object_lock_legal_hold_status.is_none());
    c.delete_object()
        .bucket(&lock)
        .key("doc")
        .set_version_id(v.version_id)
        .send()
        .await
        .unwrap();
    // The presigned form itself works where SigV2 signs everything.
    let target = format!("{path}?AWSAccessKeyId={ROOT_KEY}&Expires={expires}&Signature={sig}");
    let r = raw_send(&s.addr(), "PUT", &target, &[("host".into(), s.addr())], Some(b"y")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let _ = b;
}

/// A SigV4 presigned GET, valid in every respect but its lifetime.
fn presign_v4(s: &Server, path: &str, expires: impl std::fmt::Display) -> String {
    type H = Hmac<sha2::Sha256>;
    let mac = |k: &[u8], d: &str| {
        let mut m = H::new_from_slice(k).unwrap();
        m.update(d.as_bytes());
        m.finalize().into_bytes().to_vec()
    };
    let now = time::OffsetDateTime::now_utc();
    let date = format!("{:04}{:02}{:02}", now.year(), u8::from(now.month()), now.day());
    let amz_date = format!("{date}T{:02}{:02}{:02}Z", now.hour(), now.minute(), now.second());
    let scope = format!("{date}/us-east-1/s3/aws4_request");
    let cred = sigv4::uri_encode(&format!("{ROOT_KEY}/{scope}"), false);
    let query = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={cred}&X-Amz-Date={amz_date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host"
    );
    let canonical = format!("GET\n{path}\n{query}\nhost:{}\n\nhost\nUNSIGNED-PAYLOAD", s.addr());
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sigv4::sha256_hex(canonical.as_bytes())
    );
    let mut key = mac(format!("AWS4{ROOT_SECRET}").as_bytes(), &date);
    for part in ["us-east-1", "s3", "aws4_request"] {
        key = mac(&key, part);
    }
    format!("{path}?{query}&X-Amz-Signature={}", hex::encode(mac(&key, &to_sign)))
}

/// coffer serves one region and never routes on the credential's, so a client may sign with
/// any region name: dotted, upper-case or underscored ones (the names other S3 services
/// use) as well as AWS's. A wrong signature is still refused whatever the region.
#[tokio::test]
async fn any_credential_region_is_accepted() {
    let (s, _c, b) = setup().await;
    for region in ["us-east-1", "garage", "eu.west.1", "EU_CENTRAL", "de-fra.2"] {
        let cred = sigv4::Credentials { region, ..ROOT_CREDS };
        let key = format!("/{b}/{region}");
        let put = s.raw_signed(&cred, "PUT", &key, &[], &[], region.as_bytes()).await;
        assert_eq!(put.status, 200, "{region}: {}", put.text());
        let got = s.raw_signed(&cred, "GET", &key, &[], &[], b"").await;
        assert_eq!((got.status, &got.body[..]), (200, region.as_bytes()), "{region}");
        let wrong = sigv4::Credentials {
            region,
            secret_access_key: "not-the-secret",
            ..ROOT_CREDS
        };
        let r = s.raw_signed(&wrong, "GET", &key, &[], &[], b"").await;
        r.check_error(403, "SignatureDoesNotMatch", &key);
    }
}

#[tokio::test]
async fn presigned_urls_live_at_most_seven_days() {
    let (s, _c, b) = setup().await;
    let path = format!("/{b}/doc");
    let host = [("host".to_owned(), s.addr())];
    let r = raw_send(&s.addr(), "GET", &presign_v4(&s, &path, 604_800), &host, Some(b"")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Too long, negative, not a number: AWS's one code, each with its own message.
    for (expires, message) in [
        ("604801", "less than a week"),
        ("4294967295", "less than a week"),
        ("-7", "must be non-negative"),
        ("soon", "should be a number"),
    ] {
        let r = raw_send(&s.addr(), "GET", &presign_v4(&s, &path, expires), &host, Some(b"")).await;
        r.check_error(400, "AuthorizationQueryParametersError", &path);
        assert!(r.text().contains(message), "{expires}: {}", r.text());
    }
}

// ---------------------------------------------------------------------------------------
// Presigned URLs

#[tokio::test]
async fn presigned_get_and_put() {
    let (s, c, b) = with_bucket("presign").await;
    put(&c, &b, "doc", FOX).await;
    let cfg = || PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
    let p = c.get_object().bucket(&b).key("doc").presigned(cfg()).await.unwrap();
    assert!(p.uri().contains("X-Amz-Signature="), "{}", p.uri());
    let r = send_presigned(&s, &p, b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, FOX);
    assert_eq!(r.header("etag"), Some(format!("\"{FOX_MD5_HEX}\"").as_str()));

    let p = c
        .put_object()
        .bucket(&b)
        .key("uploaded")
        .content_type("text/x-presigned")
        .presigned(cfg())
        .await
        .unwrap();
    assert_eq!(p.method(), "PUT");
    let r = send_presigned(&s, &p, b"uploaded through a presigned URL").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = c.get_object().bucket(&b).key("uploaded").send().await.unwrap();
    assert_eq!(got.content_type(), Some("text/x-presigned"));
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"uploaded through a presigned URL"
    );
}

#[tokio::test]
async fn tampered_presigned_url_is_signature_does_not_match() {
    let (s, c, b) = with_bucket("presigntamper").await;
    put(&c, &b, "doc", FOX).await;
    put(&c, &b, "other", b"secret").await;
    let p = c
        .get_object()
        .bucket(&b)
        .key("doc")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .unwrap();
    let uri: http::Uri = p.uri().parse().unwrap();
    let target = uri.path_and_query().unwrap().as_str().replace("/doc?", "/other?");
    let r = raw_send(&s.addr(), "GET", &target, &[("host".into(), s.addr())], Some(b"")).await;
    r.check_error(403, "SignatureDoesNotMatch", &format!("/{b}/other"));
}

#[tokio::test]
async fn expired_presigned_url_is_access_denied() {
    let (s, c, b) = with_bucket("presignexp").await;
    put(&c, &b, "doc", FOX).await;
    let p = c
        .get_object()
        .bucket(&b)
        .key("doc")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(1)).unwrap())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let r = send_presigned(&s, &p, b"").await;
    r.check_error(403, "AccessDenied", &format!("/{b}/doc"));
    assert!(!r.text().contains("quick brown fox"));
}

/// A write authorized while its bucket did not exist answers NoSuchBucket at once: it is
/// ordered before the bucket's creation, so it cannot land in a bucket another user
/// creates under that name while the body is still arriving.
#[tokio::test]
async fn a_write_cannot_land_in_a_bucket_created_during_its_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = Server::start();
    let (bk, bs) = s.add_user("bob").await;
    let (ak, asec) = s.add_user("alice").await;
    let alice = s.client_as(&ak, &asec);
    let b = bucket("claimed-later");
    let path = format!("/{b}/planted");
    let addr = s.addr();
    let mut req = sigv4::Request {
        method: "PUT",
        host: &addr,
        path: &path,
        query: vec![],
        headers: vec![
            ("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()),
            ("content-length".into(), "10".into()),
        ],
        body: vec![],
    };
    req.sign(
        &sigv4::Credentials {
            access_key_id: &bk,
            secret_access_key: &bs,
            region: "us-east-1",
        },
        time::OffsetDateTime::now_utc(),
    );
    let mut head = format!("PUT {} HTTP/1.1\r\n", req.target());
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("connection: close\r\n\r\n");
    let mut st = tokio::net::TcpStream::connect(&addr).await.unwrap();
    st.write_all(head.as_bytes()).await.unwrap();
    st.write_all(b"01234").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    alice.create_bucket().bucket(&b).send().await.unwrap();
    // The server may already have answered and closed; the rest of the body is moot.
    let _ = st.write_all(b"56789").await;
    let mut buf = Vec::new();
    st.read_to_end(&mut buf).await.unwrap();
    parse_response(&buf).check_error(404, "NoSuchBucket", &path);
    let listed = alice.list_objects_v2().bucket(&b).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0));
}
