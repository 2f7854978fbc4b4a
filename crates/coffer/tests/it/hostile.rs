//! Auth edge cases and hostile input against the real server: what must be refused is
//! refused with the S3 error a client expects, and nothing a client sends escapes the data
//! directory, corrupts metadata, crashes the server, or holds it hostage.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

/// Signs `method path[?query]` as root at `now` and returns the headers to send.
fn signed_at(s: &Server, method: &str, target: &str, body: &[u8], now: time::OffsetDateTime) -> Vec<(String, String)> {
    let addr = s.addr();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut req = sigv4::Request {
        method,
        host: &addr,
        path,
        query: query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        headers: vec![],
        body: body.to_vec(),
    };
    req.sign(&ROOT_CREDS, now);
    req.headers
}

async fn presign(c: &aws_sdk_s3::Client, b: &str, start: SystemTime) -> PresignedRequest {
    let cfg = PresigningConfig::builder()
        .start_time(start)
        .expires_in(Duration::from_secs(3600))
        .build()
        .unwrap();
    c.get_object().bucket(b).key("doc").presigned(cfg).await.unwrap()
}

/// Writes `bytes` on a fresh connection, then reads until the server closes or `wait`
/// passes. `Ok(None)`: closed (or reset) without a response; `Err`: still open at `wait`.
async fn exchange(addr: &str, bytes: &[u8], wait: Duration) -> Result<Option<u16>, ()> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before taking everything; what it said still counts.
    let _ = s.write_all(bytes).await;
    let mut buf = Vec::new();
    match tokio::time::timeout(wait, s.read_to_end(&mut buf)).await {
        Err(_) => Err(()),
        Ok(_) if buf.is_empty() => Ok(None),
        Ok(_) => Ok(std::str::from_utf8(&buf[..buf.len().min(64)])
            .ok()
            .and_then(|h| h.split(' ').nth(1))
            .and_then(|c| c.parse().ok())),
    }
}

/// The server still answers a signed request, and its process is alive.
async fn assert_serving(s: &Server) {
    let r = s.raw("GET", "/", &[], &[], b"").await;
    assert_eq!(r.status, 200, "ListBuckets after the abuse: {}", r.text());
    assert!(
        Path::new(&format!("/proc/{}", s.pid())).exists(),
        "server process is gone"
    );
}

// ---------------------------------------------------------------------------------------
// Auth edge cases

#[tokio::test]
async fn presigned_urls_work_only_inside_their_window() {
    let (s, c, b) = with_bucket("presignwin").await;
    put(&c, &b, "doc", b"inside").await;
    let now = SystemTime::now();
    let r = send_presigned(&s, &presign(&c, &b, now - Duration::from_secs(30)).await, b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, b"inside");
    // Signed two hours ago for one hour: expired an hour ago.
    let r = send_presigned(&s, &presign(&c, &b, now - Duration::from_secs(7200)).await, b"").await;
    r.check_error(403, "AccessDenied", &format!("/{b}/doc"));
    // Signed for an hour from now: not valid yet (15 minutes of clock skew are tolerated).
    let r = send_presigned(&s, &presign(&c, &b, now + Duration::from_secs(3600)).await, b"").await;
    r.check_error(403, "AccessDenied", &format!("/{b}/doc"));
    assert_eq!(
        xml_field(&r.text(), "Message").as_deref(),
        Some("Request is not yet valid")
    );
}

#[tokio::test]
async fn a_request_date_more_than_15_minutes_off_is_request_time_too_skewed() {
    let (s, c, b) = with_bucket("skew").await;
    put(&c, &b, "k", b"v").await;
    let path = format!("/{b}/k");
    let now = time::OffsetDateTime::now_utc();
    for (off, want) in [(-20 * 60, 403), (20 * 60, 403), (-10 * 60, 200), (10 * 60, 200)] {
        let h = signed_at(&s, "GET", &path, b"", now + time::Duration::seconds(off));
        let r = raw_send(&s.addr(), "GET", &path, &h, Some(b"")).await;
        if want == 200 {
            assert_eq!(r.status, 200, "{off}s off: {}", r.text());
        } else {
            r.check_error(403, "RequestTimeTooSkewed", &path);
        }
    }
}

#[tokio::test]
async fn a_signature_is_bound_to_its_path_and_method() {
    let (s, c, b) = with_bucket("replay").await;
    put(&c, &b, "mine", b"mine").await;
    put(&c, &b, "other", b"other").await;
    let mine = format!("/{b}/mine");
    let h = signed_at(&s, "GET", &mine, b"", time::OffsetDateTime::now_utc());
    let r = raw_send(&s.addr(), "GET", &mine, &h, Some(b"")).await;
    assert_eq!(r.body, b"mine", "the signature itself is good");

    let other = format!("/{b}/other");
    raw_send(&s.addr(), "GET", &other, &h, Some(b""))
        .await
        .check_error(403, "SignatureDoesNotMatch", &other);
    raw_send(&s.addr(), "DELETE", &mine, &h, Some(b""))
        .await
        .check_error(403, "SignatureDoesNotMatch", &mine);
    raw_send(&s.addr(), "PUT", &mine, &h, Some(b""))
        .await
        .check_error(403, "SignatureDoesNotMatch", &mine);
    assert_eq!(get_body(&c, &b, "mine").await, b"mine", "the replays changed nothing");
}

#[tokio::test]
async fn a_removed_users_key_is_invalid_access_key_id() {
    let s = Server::start();
    let (key, secret) = s.add_user("leaver").await;
    let b = bucket("leaver");
    s.client_as(&key, &secret)
        .create_bucket()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    let r = s
        .raw(
            "DELETE",
            "/",
            &[("coffer-admin", "users"), ("name", "leaver")],
            &[],
            b"",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s.raw_as(&key, &secret, "GET", &format!("/{b}"), &[], &[], b"").await;
    r.check_error(403, "InvalidAccessKeyId", &format!("/{b}"));
    check_sdk_error(
        s.client_as(&key, &secret).list_buckets().send().await,
        403,
        "InvalidAccessKeyId",
        "/",
    );
}

// ---------------------------------------------------------------------------------------
// Hostile keys

/// Every file under `root` whose name contains `marker`.
fn files_named(root: &Path, marker: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_name().to_string_lossy().contains(marker) {
                out.push(p.clone());
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            }
        }
    }
    out
}

/// Lists a bucket with `encoding-type=url` (XML 1.0 cannot carry NUL or most control
/// characters) and decodes the keys.
async fn list_keys(s: &Server, b: &str) -> Vec<String> {
    let r = s
        .raw(
            "GET",
            &format!("/{b}"),
            &[("list-type", "2"), ("encoding-type", "url")],
            &[],
            b"",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    text.split("<Key>")
        .skip(1)
        .map(|p| percent_decode(&p[..p.find("</Key>").unwrap()]))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The listing holds exactly what was stored, and plain objects read back.
async fn check_intact(s: &Server, b: &str, keys: &[String]) {
    let c = s.client();
    let mut want = keys.to_vec();
    want.extend(["plain/before".to_owned(), "plain/after".to_owned()]);
    want.sort();
    assert_eq!(list_keys(s, b).await, want);
    assert_eq!(get_body(&c, b, "plain/before").await, b"before");
    assert_eq!(get_body(&c, b, "plain/after").await, b"after");
}

#[tokio::test]
async fn hostile_keys_stay_inside_the_data_dir_and_leave_metadata_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut s = Server::start_in(&data);
    let c = s.client();
    let b = bucket("hostile");
    c.create_bucket().bucket(&b).send().await.unwrap();
    put(&c, &b, "plain/before", b"before").await;

    let m = "escmarker";
    let keys: Vec<String> = vec![
        format!("../../{m}-dotdot"),
        format!("../../../../../../../../tmp/{m}-abs"),
        format!("a/../../../{m}-mid"),
        format!("//{m}-runs//x///y"),
        format!("./{m}-dot/./z"),
        format!("{m}-nul\0after"),
        format!("{m}-ctl\x01\x07\x1b\x1f\x7f"),
        format!("{m}-tab\tnl\ncr\r"),
        format!("/{m}-lead"),
        format!("{m}-trail/"),
        "..".to_owned(),
        ".".to_owned(),
        "\0".to_owned(),
        "k".repeat(1024),
    ];
    let big = vec![7u8; 300 << 10]; // past the inline threshold: a blob file
    for (i, k) in keys.iter().enumerate() {
        let body = if i % 2 == 0 {
            format!("body {i}").into_bytes()
        } else {
            big.clone()
        };
        let path = format!("/{b}/{k}");
        let r = s.raw("PUT", &path, &[], &[], &body).await;
        assert_eq!(r.status, 200, "PUT {k:?}: {}", r.text());
        let r = s.raw("GET", &path, &[], &[], b"").await;
        assert_eq!(r.status, 200, "GET {k:?}: {}", r.text());
        assert!(r.body == body, "GET {k:?} returned other bytes");
    }

    // A key of 1025 bytes is refused before anything is stored.
    let long = format!("/{b}/{}", "k".repeat(1025));
    s.raw("PUT", &long, &[], &[], b"x")
        .await
        .check_error(400, "KeyTooLongError", &long);

    // Paths that do not decode to a key are refused, never served or stored.
    for target in [
        format!("/{b}/%zz{m}"),
        format!("/{b}/{m}%"),
        format!("/{b}/{m}%ff%fe"),
        format!("/{b}/{m}%c0%af"),
        format!("/{b}/%2e%2e/%2e%2e/{m}-enc"),
    ] {
        let h = signed_at(&s, "PUT", &format!("/{b}/x"), b"x", time::OffsetDateTime::now_utc());
        let r = raw_send(&s.addr(), "PUT", &target, &h, Some(b"x")).await;
        assert!((400..500).contains(&r.status), "{target}: {} {}", r.status, r.text());
        assert!(xml_field(&r.text(), "Code").is_some(), "{target}: {}", r.text());
    }

    put(&c, &b, "plain/after", b"after").await;
    check_intact(&s, &b, &keys).await;
    // Nothing was written anywhere but the data directory, under any of those names.
    let outside: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        outside,
        vec![std::ffi::OsString::from("data")],
        "files beside the data dir"
    );
    assert_eq!(files_named(Path::new("/tmp"), m), Vec::<std::path::PathBuf>::new());
    assert_eq!(files_named(&data, m), Vec::<std::path::PathBuf>::new());

    // The metadata survives a restart and the startup sweep.
    s.terminate();
    let s = Server::start_in(&data);
    check_intact(&s, &b, &keys).await;
    for k in &keys {
        let r = s.raw("DELETE", &format!("/{b}/{k}"), &[], &[], b"").await;
        assert_eq!(r.status, 204, "DELETE {k:?}: {}", r.text());
    }
    assert_eq!(list_keys(&s, &b).await, vec!["plain/after", "plain/before"]);
}

// ---------------------------------------------------------------------------------------
// Size limits

/// A DeleteObjects body far over s3s's XML cap (20 MiB).
fn delete_objects_head(s: &Server, b: &str, len: usize) -> String {
    let mut h = format!(
        "POST /{b}?delete HTTP/1.1\r\nhost: {}\r\ncontent-length: {len}\r\n",
        s.addr()
    );
    for (k, v) in signed_at(s, "POST", &format!("/{b}"), b"", time::OffsetDateTime::now_utc()) {
        if k != "host" {
            h.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    h.push_str("content-type: application/xml\r\n\r\n");
    h
}

#[tokio::test]
async fn an_xml_body_over_the_cap_is_refused_before_it_is_read() {
    let (s, c, b) = with_bucket("xmlcap").await;
    put(&c, &b, "keep", b"keep").await;
    // Only the head is sent: a server that waited for the 64 MiB body would never answer.
    let head = delete_objects_head(&s, &b, 64 << 20);
    let t = Instant::now();
    let status = exchange(&s.addr(), head.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(status, Ok(Some(400)), "answered early with a 400");
    assert!(t.elapsed() < Duration::from_secs(5));
    // The same with the whole error checked, through Expect: 100-continue.
    let mut stream = TcpStream::connect(s.addr()).await.unwrap();
    let head = head.replace("\r\n\r\n", "\r\nexpect: 100-continue\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf))
        .await
        .expect("answer without the body")
        .unwrap();
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    let body = &text[text.find("\r\n\r\n").unwrap() + 4..];
    assert_eq!(
        xml_field(body, "Code").as_deref(),
        Some("MaxMessageLengthExceeded"),
        "{text}"
    );
    assert!(xml_field(body, "RequestId").is_some(), "{text}");

    // A body that streams past the cap with no declared length is cut off at the cap.
    let head = delete_objects_head(&s, &b, 0).replace("content-length: 0\r\n", "transfer-encoding: chunked\r\n");
    let mut stream = TcpStream::connect(s.addr()).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..24 {
        let mut c = format!("{:x}\r\n", chunk.len()).into_bytes();
        c.extend_from_slice(&chunk);
        c.extend_from_slice(b"\r\n");
        if stream.write_all(&c).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf))
        .await
        .expect("an answer, not a hang");
    let text = String::from_utf8_lossy(&buf[..buf.len().min(400)]).into_owned();
    if !text.is_empty() {
        let code: u16 = text.split(' ').nth(1).unwrap().parse().unwrap();
        assert!((400..500).contains(&code), "{text}");
    }
    assert_eq!(get_body(&c, &b, "keep").await, b"keep");
    assert_serving(&s).await;
}

/// Sends `bytes` and reads the whole answer, if one comes before the connection ends.
async fn answer(addr: &str, bytes: &[u8]) -> Option<Raw> {
    let mut st = TcpStream::connect(addr).await.unwrap();
    let _ = st.write_all(bytes).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), st.read_to_end(&mut buf)).await;
    (buf.windows(4).any(|w| w == b"\r\n\r\n")).then(|| parse_response(&buf))
}

/// A PutBucketVersioning whose XML body is over the cap: declared, or streamed aws-chunked
/// with no length s3s can check first. Either way a 400 a client will not retry.
#[tokio::test]
async fn a_put_with_an_xml_body_over_the_cap_is_max_message_length_exceeded() {
    let (s, c, b) = with_bucket("xmlput").await;
    let len = 21 << 20;
    let signed = |sha: &str| {
        let addr = s.addr();
        let mut req = sigv4::Request {
            method: "PUT",
            host: &addr,
            path: &format!("/{b}"),
            query: vec![("versioning".into(), String::new())],
            headers: vec![("x-amz-content-sha256".into(), sha.into())],
            body: vec![],
        };
        if sha.starts_with("STREAMING") {
            req.headers.push(("content-encoding".into(), "aws-chunked".into()));
            req.headers
                .push(("x-amz-decoded-content-length".into(), len.to_string()));
            req.headers
                .push(("x-amz-trailer".into(), "x-amz-checksum-crc32".into()));
        }
        req.sign(&ROOT_CREDS, time::OffsetDateTime::now_utc());
        (req.target(), req.headers)
    };
    // Declared: refused on the head alone.
    let (target, headers) = signed("UNSIGNED-PAYLOAD");
    let mut head = format!("PUT {target} HTTP/1.1\r\ncontent-length: {len}\r\nexpect: 100-continue\r\n");
    for (k, v) in &headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let r = answer(&s.addr(), format!("{head}\r\n").as_bytes())
        .await
        .expect("an answer");
    r.check_error(400, "MaxMessageLengthExceeded", &format!("/{b}"));

    // Streamed: cut at the cap. The server answers before it has read the last bytes, so
    // the kernel may reset the connection before the answer is read; one of a few tries
    // must see it, and every answer seen must be this one.
    let (target, headers) = signed("STREAMING-UNSIGNED-PAYLOAD-TRAILER");
    let mut wire = format!("PUT {target} HTTP/1.1\r\ntransfer-encoding: chunked\r\n");
    for (k, v) in &headers {
        wire.push_str(&format!("{k}: {v}\r\n"));
    }
    let mut wire = format!("{wire}\r\n").into_bytes();
    let mut chunked = Vec::new();
    for c in vec![b' '; len].chunks(1 << 20) {
        chunked.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        chunked.extend_from_slice(c);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n");
    // The HTTP chunking around the aws-chunked body.
    wire.extend_from_slice(format!("{:x}\r\n", chunked.len()).as_bytes());
    wire.extend_from_slice(&chunked);
    wire.extend_from_slice(b"\r\n0\r\n\r\n");
    let mut seen = 0;
    for _ in 0..5 {
        if let Some(r) = answer(&s.addr(), &wire).await {
            r.check_error(400, "MaxMessageLengthExceeded", &format!("/{b}"));
            seen += 1;
        }
    }
    assert!(seen > 0, "no answer in five tries");
    let v = c.get_bucket_versioning().bucket(&b).send().await.unwrap();
    assert!(v.status.is_none());
    assert_serving(&s).await;
}

#[tokio::test]
async fn headers_and_query_strings_far_too_long_get_a_4xx_or_a_close() {
    let s = Server::start();
    let addr = s.addr();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "one 1 MiB header",
            format!(
                "GET / HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\nx-big: {}\r\n\r\n",
                "a".repeat(1 << 20)
            )
            .into_bytes(),
        ),
        ("10 000 headers", {
            let mut h = format!("GET / HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
            for i in 0..10_000 {
                h.push_str(&format!("x-h{i}: v\r\n"));
            }
            h.push_str("\r\n");
            h.into_bytes()
        }),
        (
            "a 100 KiB header",
            format!(
                "GET / HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\nx-amz-meta-big: {}\r\n\r\n",
                "a".repeat(100 << 10)
            )
            .into_bytes(),
        ),
        (
            "a 1 MiB query",
            format!(
                "GET /b?x={} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n",
                "q".repeat(1 << 20)
            )
            .into_bytes(),
        ),
        ("a 60 KiB query of many params", {
            let q: Vec<String> = (0..6000).map(|i| format!("p{i}=v")).collect();
            format!(
                "GET /b?{} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n",
                q.join("&")
            )
            .into_bytes()
        }),
        (
            "a 1 MiB path",
            format!(
                "GET /b/{} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n",
                "k".repeat(1 << 20)
            )
            .into_bytes(),
        ),
        (
            "a 1 MiB method",
            format!(
                "{} / HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n",
                "G".repeat(1 << 20)
            )
            .into_bytes(),
        ),
    ];
    for (what, bytes) in cases {
        let t = Instant::now();
        match exchange(&addr, &bytes, Duration::from_secs(10)).await {
            Err(()) => panic!("{what}: no answer and no close in 10 s"),
            Ok(None) => {}
            Ok(Some(code)) => assert!((400..500).contains(&code), "{what}: status {code}"),
        }
        assert!(t.elapsed() < Duration::from_secs(10), "{what}");
    }
    assert_serving(&s).await;
}

// ---------------------------------------------------------------------------------------
// Connections

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count()
}

#[tokio::test]
async fn a_flood_of_connections_does_not_take_the_server_down() {
    let (s, c, b) = with_bucket("flood").await;
    put(&c, &b, "k", b"still here").await;
    let addr = s.addr();
    let mut tasks = Vec::new();
    for i in 0..2000 {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let Ok(Ok(mut st)) = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&addr)).await else {
                return;
            };
            // Some send half a request, some garbage, some nothing; all hang up at once.
            let _ = match i % 3 {
                0 => st.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n").await,
                1 => st.write_all(b"\x16\x03\x01\x02\x00garbage\r\n\r\n").await,
                _ => Ok(()),
            };
            tokio::time::sleep(Duration::from_secs(2)).await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_serving(&s).await;
    assert_eq!(get_body(&c, &b, "k").await, b"still here");
}

#[tokio::test]
async fn concurrent_connections_are_capped() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_with(&tmp.path().join("data"), &["--max-connections", "32"]);
    let base = open_fds(s.pid());
    let mut held = Vec::new();
    for _ in 0..200 {
        held.push(TcpStream::connect(s.addr()).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = open_fds(s.pid());
    // Without the cap the server would hold one descriptor per connection.
    assert!(
        during <= base + 32,
        "{during} fds open with 200 connections (base {base})"
    );
    drop(held);
    tokio::time::timeout(Duration::from_secs(10), assert_serving(&s))
        .await
        .expect("serving again once the flood is gone");
}

#[tokio::test]
async fn a_client_sending_headers_a_byte_a_second_is_cut_off() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_with(&tmp.path().join("data"), &["--header-timeout-secs", "2"]);
    let head = format!(
        "GET / HTTP/1.1\r\nhost: {}\r\nx-slow: {}\r\n\r\n",
        s.addr(),
        "s".repeat(100)
    );
    let mut st = TcpStream::connect(s.addr()).await.unwrap();
    let t = Instant::now();
    let mut cut = false;
    for b in head.bytes() {
        if st.write_all(&[b]).await.is_err() {
            cut = true;
            break;
        }
        // A closed connection shows up as EOF on read before a write fails.
        let mut one = [0u8; 1];
        if let Ok(r) = tokio::time::timeout(Duration::from_secs(1), st.read(&mut one)).await {
            cut = matches!(r, Ok(0) | Err(_)) || r.is_ok();
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "still connected after 20 s");
    }
    assert!(cut, "the whole header block went through");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(8),
        "cut after {took:?}"
    );

    // A client that connects and sends nothing is cut off too.
    let mut st = TcpStream::connect(s.addr()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(8), st.read_to_end(&mut buf))
        .await
        .expect("an idle connection is closed")
        .ok();
    assert_serving(&s).await;
}

#[tokio::test]
async fn a_body_that_stalls_gets_request_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_with(&tmp.path().join("data"), &["--body-timeout-secs", "2"]);
    let b = bucket("stall");
    s.client().create_bucket().bucket(&b).send().await.unwrap();
    // An object body, and an XML body that s3s reads itself.
    let delete_xml = format!("<Delete><Object><Key>slow</Key></Object>{}</Delete>", " ".repeat(500));
    for (method, target, body) in [
        ("PUT", format!("/{b}/slow"), vec![b'x'; 1000]),
        ("POST", format!("/{b}?delete"), delete_xml.into_bytes()),
    ] {
        let mut head = format!("{method} {target} HTTP/1.1\r\ncontent-length: {}\r\n", body.len());
        for (k, v) in signed_at(&s, method, &target, &body, time::OffsetDateTime::now_utc()) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut st = TcpStream::connect(s.addr()).await.unwrap();
        st.write_all(head.as_bytes()).await.unwrap();
        st.write_all(&body[..10]).await.unwrap();
        let t = Instant::now();
        let mut buf = Vec::new();
        tokio::time::timeout(Duration::from_secs(15), st.read_to_end(&mut buf))
            .await
            .expect("the server answers a stalled body")
            .unwrap();
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(1500),
            "{method}: answered after {took:?}, before the timeout"
        );
        let resource = target.split('?').next().unwrap();
        parse_response(&buf).check_error(400, "RequestTimeout", resource);
    }
    let missing = s.client().head_object().bucket(&b).key("slow").send().await;
    assert!(missing.is_err(), "a timed-out upload stored nothing");
    assert_serving(&s).await;
}

/// A body that keeps arriving, but a byte at a time, is cut like a stalled one: the server
/// waited longer than the grace period plus what the bytes earned at the minimum rate.
#[tokio::test]
async fn a_body_trickling_a_byte_at_a_time_gets_request_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_with(&tmp.path().join("data"), &["--body-timeout-secs", "2"]);
    let b = bucket("trickle");
    s.client().create_bucket().bucket(&b).send().await.unwrap();
    let target = format!("/{b}/slow");
    let body = vec![b'x'; 1000];
    let mut head = format!("PUT {target} HTTP/1.1\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in signed_at(&s, "PUT", &target, &body, time::OffsetDateTime::now_utc()) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut st = TcpStream::connect(s.addr()).await.unwrap();
    st.write_all(head.as_bytes()).await.unwrap();
    let t = Instant::now();
    let (mut rd, mut wr) = st.into_split();
    let writer = tokio::spawn(async move {
        for b in body {
            // Never silent for a whole idle period.
            if wr.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), rd.read_to_end(&mut buf))
        .await
        .expect("the server cuts a crawling body")
        .unwrap();
    let took = t.elapsed();
    writer.abort();
    assert!(took < Duration::from_secs(10), "cut after {took:?}");
    parse_response(&buf).check_error(400, "RequestTimeout", &target);
    assert!(s.client().head_object().bucket(&b).key("slow").send().await.is_err());
}

/// Idle sockets and clients trickling their headers fill every connection slot; a client
/// with credentials still gets in at once, because unproven connections make room.
#[tokio::test]
async fn a_signed_client_gets_in_past_a_flood_of_idle_and_slow_sockets() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_with(&tmp.path().join("data"), &["--max-connections", "64"]);
    let c = s.client();
    let b = bucket("admission");
    c.create_bucket().bucket(&b).send().await.unwrap();
    put(&c, &b, "k", b"reachable").await;
    let mut held = Vec::new();
    for _ in 0..300 {
        held.push(TcpStream::connect(s.addr()).await.unwrap());
    }
    let addr = s.addr();
    let slow: Vec<_> = (0..50)
        .map(|_| {
            let addr = addr.clone();
            tokio::spawn(async move {
                let Ok(mut st) = TcpStream::connect(&addr).await else {
                    return;
                };
                for b in b"GET / HTTP/1.1\r\nhost: x\r\nx-slow: sssssssssssssssssssss" {
                    if st.write_all(&[*b]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut worst = Duration::ZERO;
    for i in 0..5 {
        // A new client each time: a new connection that has to find a slot.
        let fresh = s.client();
        let t = Instant::now();
        assert_eq!(get_body(&fresh, &b, "k").await, b"reachable", "request {i}");
        worst = worst.max(t.elapsed());
        // The flood goes on: more idle sockets after each request.
        for _ in 0..50 {
            held.push(TcpStream::connect(s.addr()).await.unwrap());
        }
    }
    println!("slowest signed GET through the flood: {worst:?}");
    assert!(worst < Duration::from_secs(3), "a signed GET waited {worst:?}");
    for t in slow {
        t.abort();
    }
}

#[tokio::test]
async fn a_header_section_over_8_kib_is_request_header_section_too_large() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_in(&tmp.path().join("data"));
    let b = bucket("hdrs");
    s.client().create_bucket().bucket(&b).send().await.unwrap();
    let path = format!("/{b}/k");
    let big = |n: usize| vec![("x-amz-meta-pad".to_owned(), "p".repeat(n))];
    let r = raw_send(&s.addr(), "GET", &path, &big(9 << 10), Some(b"")).await;
    r.check_error(400, "RequestHeaderSectionTooLarge", &path);
    // Just under the limit the request goes on to its own answer (unsigned: AccessDenied).
    let r = raw_send(&s.addr(), "GET", &path, &big(7 << 10), Some(b"")).await;
    r.check_error(403, "AccessDenied", &path);
}

/// Other local accounts cannot read the data directory: it holds every user's secret key.
#[tokio::test]
async fn the_data_directory_is_private_to_the_server() {
    if skip_on_shared_engines() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // As an older release left it: readable by everyone.
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = Server::start_in(&data);
    let c = s.client();
    c.create_bucket().bucket("private").send().await.unwrap();
    put(&c, "private", "big", &vec![7u8; 300 << 10]).await;
    assert_eq!(mode(&data), 0o700, "data directory");
    assert_eq!(mode(&data.join("meta.redb")), 0o600, "meta.redb");
    assert_eq!(mode(&data.join("root-credentials.json")), 0o600);
    assert_eq!(mode(&data.join("blobs")), 0o700);
    assert_eq!(mode(&data.join("tmp")), 0o700);
    let blobs = s.blob_paths();
    assert_eq!(blobs.len(), 1);
    assert_eq!(mode(&blobs[0]), 0o600, "blob file");
    assert_eq!(mode(blobs[0].parent().unwrap()), 0o700, "blob shard");
}
