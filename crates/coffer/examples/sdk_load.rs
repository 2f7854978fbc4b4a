//! A load generator built on the AWS SDK for Rust, not on `coffer bench`: the same requests
//! an application sends (the SDK's own signing, checksums and connection pool), so a figure
//! it gives is measured by someone else's client. `scripts/bench-peers.sh` runs it.
//!
//!   cargo run --release --example sdk_load -- --endpoint http://127.0.0.1:9000 \
//!       [--server-pid PID] [--duration 10s] [phase ...]
//!
//! Phases, in the order given (default: all, in this order): put4k get4k put64m get64m list
//! multipart delete. One JSON line per phase: ops, MiB/s, errors and, with --server-pid, the
//! server's VmHWM and VmRSS when the phase ended.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

const SMALL: usize = 4 << 10;
const LARGE: usize = 64 << 20;
const SMALL_CLIENTS: usize = 32;
const LARGE_CLIENTS: usize = 4;
const LIST_KEYS: usize = 10_000;
const LISTERS: usize = 2;
const MULTIPART: usize = 128 << 20;
const PART: usize = 8 << 20;
const PARTS_AT_ONCE: usize = 4;

struct Args {
    endpoint: String,
    bucket: String,
    duration: Duration,
    server_pid: Option<u32>,
    phases: Vec<String>,
}

fn args() -> Args {
    let mut a = Args {
        endpoint: String::new(),
        bucket: format!("sdkload{:08x}", rand::random::<u32>()),
        duration: Duration::from_secs(10),
        server_pid: None,
        phases: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--endpoint" => a.endpoint = value(),
            "--bucket" => a.bucket = value(),
            "--duration" => a.duration = coffer::units::parse_duration(&value()).expect("a duration"),
            "--server-pid" => a.server_pid = Some(value().parse().expect("a pid")),
            _ => a.phases.push(arg),
        }
    }
    assert!(!a.endpoint.is_empty(), "--endpoint is required");
    if a.phases.is_empty() {
        a.phases = ["put4k", "get4k", "put64m", "get64m", "list", "multipart", "delete"]
            .map(String::from)
            .to_vec();
    }
    a
}

fn client(endpoint: &str) -> Client {
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("set {k}"));
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            env("COFFER_ACCESS_KEY_ID"),
            env("COFFER_SECRET_ACCESS_KEY"),
            None,
            None,
            "env",
        ))
        .force_path_style(true)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(conf)
}

fn status(pid: Option<u32>, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let line = text.lines().find_map(|l| l.strip_prefix(field))?;
    line.trim().trim_end_matches(" kB").trim().parse().ok()
}

#[derive(Default)]
struct Tally {
    ops: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
}

impl Tally {
    fn record(&self, r: Result<(), String>, bytes: usize) {
        match r {
            Ok(_) => {
                self.ops.fetch_add(1, Ordering::Relaxed);
                self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
            }
            Err(e) => {
                if self.errors.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("first error: {e}");
                }
            }
        }
    }
}

/// Runs `op(client, n)` on `clients` tasks until the deadline (or until `n` reaches `limit`),
/// each task taking the next n.
async fn drive<F, Fut>(c: &Client, clients: usize, deadline: Instant, limit: Option<u64>, op: F) -> Arc<Tally>
where
    F: Fn(Client, u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = (Result<(), String>, usize)> + Send,
{
    let tally = Arc::new(Tally::default());
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (c, op, tally, next) = (c.clone(), op.clone(), tally.clone(), next.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if limit.is_some_and(|l| n >= l) {
                        break;
                    }
                    let (r, bytes) = op(c.clone(), n).await;
                    tally.record(r, bytes);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("a load task");
    }
    tally
}

fn small_key(n: u64) -> String {
    format!("small/{n:08}")
}

async fn put(c: Client, bucket: String, key: String, body: bytes::Bytes) -> (Result<(), String>, usize) {
    let len = body.len();
    let r = c
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await;
    (r.map(|_| ()).map_err(|e| format!("{e:?}")), len)
}

async fn get(c: Client, bucket: String, key: String) -> (Result<(), String>, usize) {
    let r = async {
        let o = c
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        let body = o.body.collect().await.map_err(|e| format!("{e:?}"))?;
        Ok::<_, String>(body.into_bytes().len())
    }
    .await;
    match r {
        Ok(n) => (Ok(()), n),
        Err(e) => (Err(e), 0),
    }
}

async fn multipart(c: Client, bucket: String, key: String, part: bytes::Bytes) -> (Result<(), String>, usize) {
    let r = async {
        let up = c.create_multipart_upload().bucket(&bucket).key(&key).send().await;
        let id = up.map_err(|e| format!("{e:?}"))?.upload_id.unwrap_or_default();
        let mut parts = Vec::new();
        let numbers: Vec<i32> = (1..=(MULTIPART / PART) as i32).collect();
        for batch in numbers.chunks(PARTS_AT_ONCE) {
            let sends = batch.iter().map(|&n| {
                let req = c.upload_part().bucket(&bucket).key(&key).upload_id(&id).part_number(n);
                let body = ByteStream::from(part.clone());
                async move { (n, req.body(body).send().await) }
            });
            for (n, r) in futures::future::join_all(sends).await {
                let e_tag = r.map_err(|e| format!("{e:?}"))?.e_tag;
                parts.push(CompletedPart::builder().part_number(n).set_e_tag(e_tag).build());
            }
        }
        let done = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
        let r = c.complete_multipart_upload().bucket(&bucket).key(&key).upload_id(&id);
        r.multipart_upload(done).send().await.map_err(|e| format!("{e:?}"))?;
        Ok::<_, String>(())
    }
    .await;
    (r, MULTIPART)
}

async fn list_all(c: Client, bucket: String) -> (Result<(), String>, usize) {
    let mut token = None;
    let mut keys = 0;
    loop {
        let r = c
            .list_objects_v2()
            .bucket(&bucket)
            .prefix("list/")
            .set_continuation_token(token.take())
            .send()
            .await;
        match r {
            Ok(page) => {
                keys += page.contents().len();
                match page.next_continuation_token {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
            Err(e) => return (Err(format!("{e:?}")), 0),
        }
    }
    if keys != LIST_KEYS {
        return (Err(format!("listed {keys} keys, not {LIST_KEYS}")), 0);
    }
    (Ok(()), keys)
}

fn random_bytes(n: usize) -> bytes::Bytes {
    let mut v = vec![0u8; n];
    rand::fill(&mut v[..]);
    v.into()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let c = client(&a.endpoint);
    c.create_bucket()
        .bucket(&a.bucket)
        .send()
        .await
        .expect("create the bucket");
    let small = random_bytes(SMALL);
    let mut puts = 0u64;
    for phase in &a.phases {
        let started = Instant::now();
        let deadline = started + a.duration;
        let b = a.bucket.clone();
        let tally = match phase.as_str() {
            "put4k" => {
                let t = drive(&c, SMALL_CLIENTS, deadline, None, {
                    let small = small.clone();
                    move |c, n| put(c, b.clone(), small_key(n), small.clone())
                })
                .await;
                puts = puts.max(t.ops.load(Ordering::Relaxed) + t.errors.load(Ordering::Relaxed));
                t
            }
            "get4k" => {
                // Every object the PUT phase wrote, at random: reads that miss any cache.
                let objects = puts.max(1);
                drive(&c, SMALL_CLIENTS, deadline, None, move |c, _| {
                    get(c, b.clone(), small_key(rand::random_range(0..objects)))
                })
                .await
            }
            "put64m" => {
                let large = random_bytes(LARGE);
                drive(&c, LARGE_CLIENTS, deadline, None, move |c, n| {
                    put(c, b.clone(), format!("large/{}", n % 4), large.clone())
                })
                .await
            }
            "get64m" => {
                drive(&c, LARGE_CLIENTS, deadline, None, move |c, n| {
                    get(c, b.clone(), format!("large/{}", n % 4))
                })
                .await
            }
            "list" => {
                let one = random_bytes(1024);
                let far = Instant::now() + Duration::from_secs(3600);
                let fill = drive(&c, SMALL_CLIENTS, far, Some(LIST_KEYS as u64), {
                    let b = b.clone();
                    move |c, n| put(c, b.clone(), format!("list/{n:08}"), one.clone())
                })
                .await;
                assert_eq!(fill.errors.load(Ordering::Relaxed), 0, "filling the list bucket failed");
                drive(&c, LISTERS, Instant::now() + a.duration, None, move |c, _| {
                    list_all(c, b.clone())
                })
                .await
            }
            "multipart" => {
                let part = random_bytes(PART);
                drive(&c, 1, deadline, None, move |c, n| {
                    multipart(c, b.clone(), format!("mpu/{n}"), part.clone())
                })
                .await
            }
            "delete" => {
                drive(&c, SMALL_CLIENTS, deadline, Some(puts), move |c, n| {
                    let b = b.clone();
                    async move {
                        let r = c.delete_object().bucket(b).key(small_key(n)).send().await;
                        (r.map(|_| ()).map_err(|e| format!("{e:?}")), 0)
                    }
                })
                .await
            }
            other => panic!("unknown phase {other}"),
        };
        let secs = started.elapsed().as_secs_f64();
        let (ops, bytes, errors) = (
            tally.ops.load(Ordering::Relaxed),
            tally.bytes.load(Ordering::Relaxed),
            tally.errors.load(Ordering::Relaxed),
        );
        let line = serde_json::json!({
            "phase": phase,
            "ops": ops,
            "errors": errors,
            "seconds": secs,
            "ops_per_sec": ops as f64 / secs,
            "mib_per_sec": bytes as f64 / secs / (1 << 20) as f64,
            "server_vm_hwm_kib": status(a.server_pid, "VmHWM:"),
            "server_vm_rss_kib": status(a.server_pid, "VmRSS:"),
        });
        println!("{line}");
    }
}
