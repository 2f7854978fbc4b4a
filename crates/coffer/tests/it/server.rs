//! Starting and stopping: generated root credentials, and a clean stop that lets requests
//! in flight finish.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;

/// Starts without credentials in the environment; returns the stdout lines up to the
/// listening line, and the child.
fn start_without_env(dir: &std::path::Path) -> (Vec<String>, std::process::Child) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["server", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir)
        .env_remove("COFFER_ACCESS_KEY_ID")
        .env_remove("COFFER_SECRET_ACCESS_KEY")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in out.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("coffer listening on");
        lines.push(line);
        if done {
            break;
        }
    }
    std::thread::spawn(move || for _ in out {});
    (lines, child)
}

#[test]
fn root_credentials_are_generated_stored_and_printed_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let (first, mut child) = start_without_env(&dir);
    child.kill().unwrap();
    child.wait().unwrap();
    let key = first
        .iter()
        .find_map(|l| l.trim().strip_prefix("COFFER_ACCESS_KEY_ID="))
        .expect("key printed on first start")
        .to_owned();
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("root-credentials.json")).unwrap()).unwrap();
    assert_eq!(stored["access_key_id"], key.as_str());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("root-credentials.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "credentials file is private");

    let (second, mut child) = start_without_env(&dir);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        second.iter().all(|l| !l.contains("COFFER_SECRET_ACCESS_KEY=")),
        "printed once: {second:?}"
    );
}

#[tokio::test]
async fn sigterm_lets_an_upload_in_flight_finish() {
    let mut s = Server::start();
    let b = bucket("drain");
    s.client().create_bucket().bucket(&b).send().await.unwrap();
    let data = vec![42u8; 256 << 10];
    let addr = s.addr();
    let path = format!("/{b}/inflight");
    let mut req = sigv4::Request {
        method: "PUT",
        host: &addr,
        path: &path,
        query: vec![],
        headers: vec![],
        body: data.clone(),
    };
    req.sign(&ROOT_CREDS, time::OffsetDateTime::now_utc());
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut head = format!("PUT {path} HTTP/1.1\r\n");
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", data.len()));
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&data[..1000]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    std::process::Command::new("kill")
        .args(["-TERM", &s.pid().to_string()])
        .status()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    conn.write_all(&data[1000..]).await.unwrap();
    let mut resp = vec![0u8; 4096];
    let n = conn.read(&mut resp).await.unwrap();
    let text = String::from_utf8_lossy(&resp[..n]);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(s.wait().success());
    // What was acknowledged is there after a restart.
    let dir = s.dir.clone();
    let s2 = Server::start_in(&dir);
    let got = s2
        .client()
        .get_object()
        .bucket(&b)
        .key("inflight")
        .send()
        .await
        .unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().to_vec(), data);
}

/// Writes 2,400 objects of 8 KiB (inline: they live in the metadata engine's pages), reads
/// each back once from 16 tasks, and returns how far the server's peak RSS grew.
async fn hwm_growth_over_inline_objects(extra: &[&str]) -> u64 {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_with(&tmp.path().join("data"), extra);
    let c = s.client();
    let b = bucket("cache");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let before = s.vm_hwm_kib();
    let body = data(8 << 10, 7);
    for round in ["put", "get"] {
        let tasks: Vec<_> = (0..16)
            .map(|t| {
                let (c, b, body) = (c.clone(), b.clone(), body.clone());
                tokio::spawn(async move {
                    for i in (t..2400).step_by(16) {
                        let key = format!("o{i:05}");
                        if round == "put" {
                            put(&c, &b, &key, &body).await;
                        } else {
                            let o = c.get_object().bucket(&b).key(&key).send().await.unwrap();
                            assert_eq!(o.body.collect().await.unwrap().into_bytes().len(), body.len());
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    }
    s.vm_hwm_kib().saturating_sub(before)
}

#[tokio::test]
async fn meta_cache_mb_bounds_what_the_metadata_pages_cost() {
    // 19 MiB of object data: a 64 MiB cache keeps it all, a 2 MiB one cannot.
    let big = hwm_growth_over_inline_objects(&["--meta-cache-mb", "64"]).await;
    let small = hwm_growth_over_inline_objects(&["--meta-cache-mb", "2"]).await;
    assert!(big >= 16 << 10, "the 64 MiB cache held the data: grew {big} KiB");
    assert!(
        small + (10 << 10) <= big,
        "2 MiB cache grew {small} KiB, 64 MiB grew {big} KiB"
    );
}

#[test]
fn meta_cache_mb_must_be_at_least_one() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in ["0", "lots", "1048577"] {
        let out = Command::new(env!("CARGO_BIN_EXE_coffer"))
            .args(["server", "--listen", "127.0.0.1:0", "--meta-cache-mb", bad, "--data"])
            .arg(tmp.path().join("data"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--meta-cache-mb {bad} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--meta-cache-mb"), "{err}");
    }
}
