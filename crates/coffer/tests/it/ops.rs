//! Health, metrics and the access log: `/_coffer/...` on the S3 port, as a load balancer,
//! Prometheus and an operator reading logs see them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;

use crate::common::{ROOT_KEY, ROOT_SECRET, Server, anonymous, bucket, raw_send};

/// The value of one series line, `name{labels} value`, or None if it is absent.
fn series(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' ')?.parse().ok())
}

async fn scrape(s: &Server, headers: &[(&str, &str)]) -> crate::common::Raw {
    let host = s.addr();
    let mut h = vec![("host".to_owned(), host.clone())];
    h.extend(headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    raw_send(&host, "GET", "/_coffer/metrics", &h, Some(b"")).await
}

#[tokio::test]
async fn health_answers_without_credentials() {
    let s = Server::start();
    for path in ["/_coffer/health/live", "/_coffer/health/ready"] {
        let r = anonymous(&s, "GET", path, b"").await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r.header("x-amz-request-id").is_some(), "{path}");
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["status"], if path.ends_with("live") { "live" } else { "ready" });
        let head = anonymous(&s, "HEAD", path, b"").await;
        assert_eq!(head.status, 200);
    }
    let r = anonymous(&s, "POST", "/_coffer/health/ready", b"").await;
    assert_eq!(r.status, 405);
    let r = anonymous(&s, "GET", "/_coffer/nothing-here", b"").await;
    assert_eq!(r.status, 404);
    // A virtual-hosted bucket's key of that name is the bucket's business, not health.
    let host = format!("somebucket.localhost:{}", s.port);
    let r = raw_send(
        &s.addr(),
        "GET",
        "/_coffer/health/live",
        &[("host".into(), host)],
        Some(b""),
    )
    .await;
    assert!(r.status == 403 || r.status == 404, "{}", r.text());
    assert!(r.text().contains("<Error>"), "{}", r.text());
}

#[tokio::test]
async fn ready_turns_503_on_sigterm_while_serving_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_with(&dir.path().join("d"), &["--shutdown-delay-secs", "4"]);
    let c = s.client();
    let b = bucket("drain");
    c.create_bucket().bucket(&b).send().await.unwrap();
    assert_eq!(anonymous(&s, "GET", "/_coffer/health/ready", b"").await.status, 200);
    Command::new("kill")
        .args(["-TERM", &s.pid().to_string()])
        .status()
        .unwrap();
    let began = Instant::now();
    loop {
        let r = anonymous(&s, "GET", "/_coffer/health/ready", b"").await;
        if r.status == 503 {
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(v["reason"], "draining");
            break;
        }
        assert!(began.elapsed() < Duration::from_secs(3), "ready stayed {}", r.status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(anonymous(&s, "GET", "/_coffer/health/live", b"").await.status, 200);
    // Still serving S3 during the delay: the load balancer moves traffic away first.
    c.put_object()
        .bucket(&b)
        .key("late")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    assert!(s.wait().success());
    assert!(began.elapsed() >= Duration::from_secs(3), "left before its delay");
}

#[tokio::test]
async fn metrics_count_known_traffic() {
    let s = Server::start();
    let c = s.client();
    let b = bucket("metrics");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let sizes = [10usize, 1000, 300 << 10];
    for (i, n) in sizes.iter().enumerate() {
        c.put_object()
            .bucket(&b)
            .key(format!("k{i}"))
            .body(ByteStream::from(vec![7u8; *n]))
            .send()
            .await
            .unwrap();
    }
    for i in 0..2 {
        c.get_object()
            .bucket(&b)
            .key(format!("k{i}"))
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap();
    }
    assert!(c.get_object().bucket(&b).key("absent").send().await.is_err());

    let r = scrape(&s, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let t = r.text();
    let get = |k: &str| series(&t, k).unwrap_or_else(|| panic!("no series {k} in\n{t}"));
    assert_eq!(get(r#"coffer_requests_total{operation="PutObject",status="2xx"}"#), 3.0);
    assert_eq!(get(r#"coffer_requests_total{operation="GetObject",status="2xx"}"#), 2.0);
    assert_eq!(get(r#"coffer_requests_total{operation="GetObject",status="4xx"}"#), 1.0);
    assert_eq!(
        get(r#"coffer_requests_total{operation="CreateBucket",status="2xx"}"#),
        1.0
    );
    assert_eq!(
        get(r#"coffer_received_bytes_total{operation="PutObject"}"#),
        sizes.iter().sum::<usize>() as f64
    );
    // The two objects, and the NoSuchKey error's XML body.
    let sent = get(r#"coffer_sent_bytes_total{operation="GetObject"}"#);
    assert!((1010.0..1010.0 + 1024.0).contains(&sent), "{sent}");
    assert_eq!(
        get(r#"coffer_request_duration_seconds_count{operation="PutObject"}"#),
        3.0
    );
    assert_eq!(
        get(r#"coffer_request_duration_seconds_bucket{operation="PutObject",le="+Inf"}"#),
        3.0
    );
    assert!(get(r#"coffer_request_duration_seconds_sum{operation="PutObject"}"#) > 0.0);
    // The scrape itself is in flight.
    assert_eq!(get("coffer_requests_in_flight"), 1.0);
    assert!(get("coffer_connections_accepted_total") >= 2.0);
    assert!(get("coffer_connections_open") >= 1.0);
    assert_eq!(get(r#"coffer_connections_rejected_total{reason="evicted"}"#), 0.0);
    // Bucket creation, three PUTs: at least four commits, each a batch of at least one.
    assert!(get("coffer_meta_commit_batch_size_count") >= 4.0);
    assert!(get("coffer_meta_commit_duration_seconds_count") >= 4.0);
    // The 300 KiB object is a blob file (inline objects stop at 128 KiB).
    assert!(get("coffer_blobs_written_total") >= 1.0);
    assert!(get("coffer_blob_written_bytes_total") >= (300 << 10) as f64);
    assert!(get("coffer_blob_fsync_duration_seconds_count") >= 1.0);
    assert_eq!(get(&format!(r#"coffer_bucket_objects{{bucket="{b}"}}"#)), 3.0);
    assert_eq!(
        get(&format!(r#"coffer_bucket_bytes{{bucket="{b}"}}"#)),
        sizes.iter().sum::<usize>() as f64
    );
    assert_eq!(get(&format!(r#"coffer_bucket_uploads{{bucket="{b}"}}"#)), 0.0);
    // Every line is a comment or `name{labels} value`, and every family is typed.
    for line in t.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
        let family = name.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                family
                    .strip_suffix(s)
                    .filter(|f| t.contains(&format!("# TYPE {f} histogram")))
            })
            .unwrap_or(family);
        assert!(t.contains(&format!("# TYPE {family} ")), "untyped: {line}");
    }
}

#[tokio::test]
async fn metrics_can_require_a_token_or_be_off() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_with(&dir.path().join("a"), &["--metrics-token", "s3cret"]);
    let r = scrape(&s, &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert_eq!(scrape(&s, &[("authorization", "Bearer wrong")]).await.status, 401);
    let r = scrape(&s, &[("authorization", "Bearer s3cret")]).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("coffer_build_info"));
    drop(s);

    let s = Server::start_with(&dir.path().join("b"), &["--metrics", "false"]);
    assert_eq!(scrape(&s, &[]).await.status, 404);
    // Health does not depend on metrics.
    assert_eq!(anonymous(&s, "GET", "/_coffer/health/ready", b"").await.status, 200);
}

/// A server whose stderr goes to a file, for the log's tests.
fn logging_server(dir: &std::path::Path, extra: &[&str]) -> (std::process::Child, u16, std::path::PathBuf) {
    let log = dir.join("server.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["server", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.join("data"))
        .args(extra)
        .env("COFFER_ACCESS_KEY_ID", ROOT_KEY)
        .env("COFFER_SECRET_ACCESS_KEY", ROOT_SECRET)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = loop {
        let line = lines.next().expect("server exited").unwrap();
        if let Some(rest) = line.strip_prefix("coffer listening on http://127.0.0.1:") {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, port, log)
}

#[tokio::test]
async fn the_access_log_has_a_json_line_per_request_with_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port, log) = logging_server(dir.path(), &["--log-format", "json", "--log", "debug"]);
    let endpoint = format!("http://127.0.0.1:{port}");
    let c = crate::common::client_at(&endpoint, ROOT_KEY, ROOT_SECRET);
    c.create_bucket().bucket("logged").send().await.unwrap();
    c.put_object()
        .bucket("logged")
        .key("dir/a.txt")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap();
    // A signed body that ends early: the handler logs it, inside the request.
    {
        use tokio::io::AsyncWriteExt;
        let addr = format!("127.0.0.1:{port}");
        let mut req = coffer::sigv4::Request {
            method: "PUT",
            host: &addr,
            path: "/logged/cut",
            query: vec![],
            headers: vec![
                ("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()),
                ("content-length".into(), "100".into()),
            ],
            body: vec![],
        };
        let cred = coffer::sigv4::Credentials {
            access_key_id: ROOT_KEY,
            secret_access_key: ROOT_SECRET,
            region: "us-east-1",
        };
        req.sign(&cred, time::OffsetDateTime::now_utc());
        let mut head = format!("PUT {} HTTP/1.1\r\n", req.target());
        for (k, v) in &req.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\nonly ten b");
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(head.as_bytes()).await.unwrap();
        s.shutdown().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let anon = anonymous_at(port, "/logged/dir/a.txt").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    child.kill().unwrap();
    child.wait().unwrap();

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let access: Vec<&serde_json::Value> = lines.iter().filter(|l| l["target"] == "coffer::access").collect();
    let put_line = access
        .iter()
        .find(|l| l["fields"]["operation"] == "PutObject" && l["fields"]["status"] == 200)
        .unwrap_or_else(|| panic!("no PutObject line in\n{text}"));
    let f = &put_line["fields"];
    assert_eq!(f["bucket"], "logged");
    assert_eq!(f["key"], "dir/a.txt");
    assert_eq!(f["caller"], ROOT_KEY);
    assert_eq!(f["bytes_in"], 5);
    assert_eq!(f["level"].as_str().or(put_line["level"].as_str()), Some("INFO"));
    let id = f["request_id"].as_str().unwrap();
    assert_eq!(id.len(), 16);
    assert_eq!(put_line["span"]["request_id"], id, "the line is in its request's span");

    let anon_line = access
        .iter()
        .find(|l| l["fields"]["request_id"] == anon.as_str())
        .unwrap_or_else(|| panic!("no line for {anon} in\n{text}"));
    assert_eq!(anon_line["fields"]["caller"], "anonymous");
    assert_eq!(anon_line["fields"]["status"], 403);

    // Every line logged while a request was served carries that request's id.
    let inner = lines
        .iter()
        .find(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("ended early"))
        })
        .unwrap_or_else(|| panic!("no line from inside a request in\n{text}"));
    assert_eq!(inner["span"]["request_id"].as_str().map(str::len), Some(16), "{inner}");
}

async fn anonymous_at(port: u16, path: &str) -> String {
    let addr = format!("127.0.0.1:{port}");
    let r = raw_send(&addr, "GET", path, &[("host".into(), addr.clone())], Some(b"")).await;
    r.header("x-amz-request-id").unwrap().to_owned()
}

#[tokio::test]
async fn the_access_log_can_be_switched_off_and_text_is_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port, log) = logging_server(dir.path(), &["--access-log", "false"]);
    anonymous_at(port, "/").await;
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("coffer::access"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let (mut child, port, log) = logging_server(dir.path(), &[]);
    let id = anonymous_at(port, "/").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("coffer::access"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains(&format!("request_id={id}")), "{line}");
    assert!(
        line.contains("operation=\"ListBuckets\"") || line.contains("operation=ListBuckets"),
        "{line}"
    );
}

/// docs/grafana-dashboard.json asks only for series the server exports.
#[tokio::test]
async fn the_grafana_dashboard_queries_exported_series() {
    let s = Server::start();
    let t = scrape(&s, &[]).await.text();
    let dash = include_str!("../../../../docs/grafana-dashboard.json");
    let v: serde_json::Value = serde_json::from_str(dash).unwrap();
    let mut names = Vec::new();
    for panel in v["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(i) = rest.find("coffer_") {
                let name: String = rest[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[i + name.len()..];
                names.push(name);
            }
        }
    }
    assert!(names.len() > 20, "{names:?}");
    for name in names {
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| t.contains(&format!("# TYPE {f} histogram")))
            })
            .unwrap_or(&name);
        assert!(
            t.contains(&format!("# TYPE {family} ")),
            "the dashboard asks for {name}"
        );
    }
}
