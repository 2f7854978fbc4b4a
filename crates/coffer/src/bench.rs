//! `coffer bench`: a load generator for any S3 endpoint, in the style of MinIO's warp.
//!
//! The client must not be the bottleneck: every worker task owns one keep-alive HTTP/1.1
//! connection (TCP_NODELAY) driven by hyper directly, requests are signed with
//! `UNSIGNED-PAYLOAD` so bodies are never hashed, and every PUT sends a slice of one
//! pre-generated buffer instead of allocating. Its own CPU time is part of the report.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Args, ValueEnum};
use coffer::units::{parse_duration, parse_size};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::json;

use crate::server::anyhow_like::Result;
use crate::sigv4;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
pub enum Scenario {
    /// PUT new objects of --size.
    Put,
    /// GET objects uploaded first (--objects of them).
    Get,
    /// 45% GET, 25% HEAD of uploaded objects; 20% PUT, 10% DELETE of keys each connection
    /// creates (up to 64, then its PUTs overwrite them, so long runs stay bounded on disk).
    Mixed,
    /// Fill a bucket with --objects keys, then list it again and again in pages of --max-keys.
    List,
    /// Multipart uploads of --size objects in --part-size parts, --part-concurrency at once.
    Multipart,
    /// DELETE objects uploaded first.
    Delete,
}

/// Server-side encryption the objects are written (and read) with.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
pub enum SseArg {
    None,
    /// SSE-S3 (`x-amz-server-side-encryption: AES256`).
    S3,
    /// SSE-KMS with the server's default key.
    Kms,
    /// SSE-C with the bench's own key (the same every run, so a later run reads what an
    /// earlier one wrote).
    C,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[arg(value_enum)]
    scenario: Scenario,
    /// The S3 endpoint (http:// only).
    #[arg(long, default_value = "http://127.0.0.1:9000", env = "COFFER_ENDPOINT")]
    endpoint: String,
    #[arg(long, env = "COFFER_ACCESS_KEY_ID", hide_env_values = true)]
    access_key: Option<String>,
    #[arg(long, env = "COFFER_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    #[arg(long, default_value = "us-east-1", env = "COFFER_REGION")]
    region: String,
    /// Bucket to use; created if missing (and removed at the end if this run created it).
    #[arg(long, default_value = "coffer-bench")]
    bucket: String,
    /// Key prefix; default a random `bench-XXXXXXXX/`, so runs never collide.
    #[arg(long)]
    prefix: Option<String>,
    /// Object size: bytes, or with a unit: KiB/MiB/GiB (or K/M/G), KB/MB/GB (powers of 1000).
    #[arg(long, default_value = "4KiB", value_parser = parse_size)]
    size: u64,
    /// Concurrent clients, each with its own connection.
    #[arg(long, short = 'c', default_value_t = 16)]
    concurrency: usize,
    /// How long to run, e.g. 10s, 1m, 500ms (default 10s unless --count).
    #[arg(long, short = 'd', value_parser = parse_duration, conflicts_with = "count")]
    duration: Option<Duration>,
    /// Operations to run instead of a duration.
    #[arg(long, short = 'n')]
    count: Option<u64>,
    /// Objects to upload first for get, mixed, list and delete (default by scenario).
    #[arg(long)]
    objects: Option<u64>,
    /// Multipart part size.
    #[arg(long, default_value = "8MiB", value_parser = parse_size)]
    part_size: u64,
    /// Parts of one multipart upload sent at once (one connection each).
    #[arg(long, default_value_t = 4)]
    part_concurrency: usize,
    /// Keys per ListObjectsV2 page.
    #[arg(long, default_value_t = 1000)]
    max_keys: u32,
    /// Leave the objects (and the bucket) in place.
    #[arg(long)]
    no_cleanup: bool,
    /// get only: read objects PREFIX00000000.. that already exist instead of uploading them
    /// (they are not deleted afterwards).
    #[arg(long)]
    no_prepare: bool,
    /// Send unsigned requests, e.g. to a plain web server as a reference for raw GETs.
    #[arg(long)]
    anonymous: bool,
    /// Put this bucket policy (a JSON file; `{bucket}` in it becomes the bucket's name) on
    /// the bucket before the run, to measure what evaluating it costs.
    #[arg(long)]
    bucket_policy: Option<std::path::PathBuf>,
    /// Encrypt what is written: none, s3, kms or c (SSE-C needs a server that takes
    /// SSE-C keys over plain HTTP: `coffer server --sse-c-over-http`).
    #[arg(long, value_enum, default_value = "none")]
    sse: SseArg,
    /// get only: read a random range of this many bytes of each object instead of all of it.
    #[arg(long, value_parser = parse_size)]
    range: Option<u64>,
    /// Print the result as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

type Headers = Vec<(String, String)>;

/// The headers of a write and of a read (or part upload) for `sse`.
fn sse_headers(sse: SseArg) -> (Headers, Headers) {
    let h = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    match sse {
        SseArg::None => (vec![], vec![]),
        SseArg::S3 => (vec![h("x-amz-server-side-encryption", "AES256")], vec![]),
        SseArg::Kms => (vec![h("x-amz-server-side-encryption", "aws:kms")], vec![]),
        SseArg::C => {
            use md5::Digest;
            let key: [u8; 32] = sha2::Sha256::digest(b"coffer bench SSE-C key").into();
            let b64 = |b: &[u8]| base64_simd::STANDARD.encode_to_string(b);
            let c = vec![
                h("x-amz-server-side-encryption-customer-algorithm", "AES256"),
                h("x-amz-server-side-encryption-customer-key", &b64(&key)),
                h(
                    "x-amz-server-side-encryption-customer-key-md5",
                    &b64(&md5::Md5::digest(key)),
                ),
            ];
            (c.clone(), c)
        }
    }
}

/// Where requests go and how they are signed.
struct Target {
    addr: String,
    host: String,
    creds: Option<(String, String)>,
    region: String,
    bucket: String,
    /// Encryption headers of object writes, and of object reads and part uploads.
    write_headers: Headers,
    read_headers: Headers,
}

type Body = Full<Bytes>;

impl Target {
    /// `payload_hash` None means UNSIGNED-PAYLOAD: the body is sent without being hashed.
    fn request(
        &self,
        method: &'static str,
        path: &str,
        query: Vec<(String, String)>,
        payload_hash: Option<String>,
        body: Bytes,
    ) -> http::Request<Body> {
        self.request_with(method, path, query, payload_hash, body, &[])
    }

    /// [`Target::request`] with more headers, signed.
    fn request_with(
        &self,
        method: &'static str,
        path: &str,
        query: Vec<(String, String)>,
        payload_hash: Option<String>,
        body: Bytes,
        headers: &[(String, String)],
    ) -> http::Request<Body> {
        let mut r = sigv4::Request {
            method,
            host: &self.host,
            path,
            query,
            headers: headers.to_vec(),
            body: vec![],
        };
        if let Some((id, secret)) = &self.creds {
            let hash = payload_hash.unwrap_or_else(|| "UNSIGNED-PAYLOAD".to_owned());
            r.headers.push(("x-amz-content-sha256".to_owned(), hash));
            r.sign(
                &sigv4::Credentials {
                    access_key_id: id,
                    secret_access_key: secret,
                    region: &self.region,
                },
                time::OffsetDateTime::now_utc(),
            );
        } else {
            r.headers.push(("host".to_owned(), self.host.clone()));
        }
        let mut b = http::Request::builder().method(method).uri(r.target());
        for (k, v) in &r.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        b.body(Full::new(body)).expect("a valid request")
    }

    fn object_path(&self, key: &str) -> String {
        format!("/{}/{key}", self.bucket)
    }
}

/// One keep-alive connection, reopened after an error.
struct Conn {
    target: Arc<Target>,
    tx: Option<SendRequest<Body>>,
}

type Outcome = std::result::Result<Response, String>;

struct Response {
    headers: http::HeaderMap,
    /// Kept only when asked for (XML answers); otherwise just counted.
    body: Bytes,
    len: u64,
}

impl Conn {
    async fn connect(target: Arc<Target>) -> std::result::Result<Self, String> {
        let mut c = Self { target, tx: None };
        c.ensure().await?;
        Ok(c)
    }

    async fn ensure(&mut self) -> std::result::Result<(), String> {
        if self.tx.as_ref().is_some_and(|t| !t.is_closed()) {
            return Ok(());
        }
        let stream = tokio::net::TcpStream::connect(&self.target.addr)
            .await
            .map_err(|e| format!("connect {}: {e}", self.target.addr))?;
        // Without it a small request's body waits for the server's delayed ACK.
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        self.tx = Some(tx);
        Ok(())
    }

    /// Sends and reads the whole response; `keep` keeps the body (else it is only counted).
    async fn send(&mut self, req: http::Request<Body>, keep: bool) -> Outcome {
        self.ensure().await?;
        let tx = self.tx.as_mut().expect("connected");
        let sent = async {
            tx.ready().await?;
            tx.send_request(req).await
        };
        let resp = match sent.await {
            Ok(r) => r,
            Err(e) => {
                self.tx = None;
                return Err(format!("request failed: {e}"));
            }
        };
        let status = resp.status().as_u16();
        let (parts, mut body) = resp.into_parts();
        let keep = keep || status >= 300;
        let mut len = 0u64;
        let mut kept = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                self.tx = None;
                format!("reading the body: {e}")
            })?;
            if let Ok(data) = frame.into_data() {
                len += data.len() as u64;
                if keep {
                    kept.extend_from_slice(&data);
                }
            }
        }
        let r = Response {
            headers: parts.headers,
            body: kept.into(),
            len,
        };
        if status >= 300 {
            let text = String::from_utf8_lossy(&r.body);
            let code = xml_values(&text, "Code").into_iter().next().unwrap_or_default();
            return Err(format!("HTTP {status} {code}"));
        }
        Ok(r)
    }
}

/// The text of every `<tag>` element, unescaped (enough for S3's flat answers).
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        rest = &rest[i + open.len()..];
        let Some(j) = rest.find(&close) else { break };
        out.push(
            rest[..j]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
        rest = &rest[j + close.len()..];
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Put,
    Get,
    Head,
    Delete,
    List,
    Multipart,
}

const OPS: [Op; 6] = [Op::Put, Op::Get, Op::Head, Op::Delete, Op::List, Op::Multipart];

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Put => "PUT",
            Op::Get => "GET",
            Op::Head => "HEAD",
            Op::Delete => "DELETE",
            Op::List => "LIST",
            Op::Multipart => "MULTIPART",
        }
    }
}

#[derive(Default)]
struct Stats {
    lat_us: Vec<u32>,
    ok: u64,
    errors: u64,
    bytes: u64,
    /// Keys listed.
    items: u64,
}

#[derive(Clone, Copy)]
enum Phase {
    Prepare,
    Measure,
    Cleanup,
}

/// What the workers of one phase share.
struct Ctx {
    scenario: Scenario,
    prefix: String,
    body: Bytes,
    size: u64,
    part_size: u64,
    max_keys: u32,
    /// get: bytes of each object read (none: all).
    range: Option<u64>,
    /// Keys to upload first (get, mixed, list, delete).
    objects: u64,
    /// Next key number: keys `PREFIX{n:08}` below it may exist and are cleaned up.
    next_key: AtomicU64,
    /// The first key the cleanup phase deletes.
    cleanup_from: AtomicU64,
    issued: AtomicU64,
    done: AtomicU64,
    failed: AtomicU64,
    limit: Mutex<Option<u64>>,
    deadline: Mutex<Option<Instant>>,
    stop: AtomicBool,
    first_errors: Mutex<Vec<String>>,
}

impl Ctx {
    fn key(&self, n: u64) -> String {
        format!("{}{n:08}", self.prefix)
    }

    /// The next operation's number, or None when the phase is over.
    fn next(&self) -> Option<u64> {
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        if let Some(d) = *self.deadline.lock().expect("lock")
            && Instant::now() >= d
        {
            return None;
        }
        let i = self.issued.fetch_add(1, Ordering::Relaxed);
        match *self.limit.lock().expect("lock") {
            Some(n) if i >= n => None,
            _ => Some(i),
        }
    }

    fn reset(&self, limit: Option<u64>, deadline: Option<Instant>) {
        self.issued.store(0, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        self.failed.store(0, Ordering::Relaxed);
        *self.limit.lock().expect("lock") = limit;
        *self.deadline.lock().expect("lock") = deadline;
    }

    fn record(&self, stats: &mut [Stats], op: Op, started: Instant, r: std::result::Result<(u64, u64), String>) {
        let s = &mut stats[op as usize];
        match r {
            Ok((bytes, items)) => {
                s.lat_us
                    .push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
                s.ok += 1;
                s.bytes += bytes;
                s.items += items;
            }
            Err(e) => {
                s.errors += 1;
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = self.first_errors.lock().expect("lock");
                if first.len() < 5 {
                    first.push(format!("{}: {e}", op.name()));
                }
            }
        }
        self.done.fetch_add(1, Ordering::Relaxed);
    }
}

async fn put(conn: &mut Conn, ctx: &Ctx, key: &str) -> std::result::Result<(u64, u64), String> {
    let t = &conn.target;
    let body = ctx.body.slice(..ctx.size as usize);
    let req = t.request_with("PUT", &t.object_path(key), vec![], None, body, &t.write_headers);
    conn.send(req, false).await?;
    Ok((ctx.size, 0))
}

async fn get(conn: &mut Conn, ctx: &Ctx, key: &str) -> std::result::Result<(u64, u64), String> {
    let t = &conn.target;
    let mut headers = t.read_headers.clone();
    let want = match ctx.range {
        Some(n) if n < ctx.size => {
            let from = rand::random_range(0..=ctx.size - n);
            headers.push(("range".to_owned(), format!("bytes={from}-{}", from + n - 1)));
            n
        }
        _ => ctx.size,
    };
    let req = t.request_with("GET", &t.object_path(key), vec![], None, Bytes::new(), &headers);
    let r = conn.send(req, false).await?;
    if r.len != want {
        return Err(format!("got {} bytes, expected {want}", r.len));
    }
    Ok((r.len, 0))
}

async fn head(conn: &mut Conn, key: &str) -> std::result::Result<(u64, u64), String> {
    let t = &conn.target;
    let req = t.request_with("HEAD", &t.object_path(key), vec![], None, Bytes::new(), &t.read_headers);
    conn.send(req, false).await?;
    Ok((0, 0))
}

async fn delete(conn: &mut Conn, key: &str) -> std::result::Result<(u64, u64), String> {
    let t = &conn.target;
    let req = t.request("DELETE", &t.object_path(key), vec![], None, Bytes::new());
    conn.send(req, false).await?;
    Ok((0, 0))
}

/// One ListObjectsV2 page; updates `token` to where the next page starts (None: from the top).
async fn list_page(conn: &mut Conn, ctx: &Ctx, token: &mut Option<String>) -> std::result::Result<(u64, u64), String> {
    let t = &conn.target;
    let mut q = vec![
        ("list-type".to_owned(), "2".to_owned()),
        ("prefix".to_owned(), ctx.prefix.clone()),
        ("max-keys".to_owned(), ctx.max_keys.to_string()),
    ];
    if let Some(tok) = token.take() {
        q.push(("continuation-token".to_owned(), tok));
    }
    let req = t.request("GET", &format!("/{}", t.bucket), q, None, Bytes::new());
    let r = conn.send(req, true).await?;
    let text = String::from_utf8_lossy(&r.body);
    let keys = text.matches("<Key>").count() as u64;
    if xml_values(&text, "IsTruncated").first().is_some_and(|v| v == "true") {
        *token = xml_values(&text, "NextContinuationToken").into_iter().next();
    }
    Ok((r.len, keys))
}

/// A whole multipart upload, its parts spread over `conns`.
async fn multipart(conns: &mut [Conn], ctx: &Ctx, key: &str) -> std::result::Result<(u64, u64), String> {
    let t = conns[0].target.clone();
    let path = t.object_path(key);
    let req = t.request_with(
        "POST",
        &path,
        vec![("uploads".into(), String::new())],
        None,
        Bytes::new(),
        &t.write_headers,
    );
    let r = conns[0].send(req, true).await?;
    let upload_id = xml_values(&String::from_utf8_lossy(&r.body), "UploadId")
        .into_iter()
        .next()
        .ok_or("no UploadId in the answer")?;
    let nparts = ctx.size.div_ceil(ctx.part_size).max(1);
    let next_part = AtomicU64::new(0);
    let uploads = conns.iter_mut().map(|conn| {
        let (t, path, upload_id, next_part) = (&t, &path, &upload_id, &next_part);
        async move {
            let mut etags = Vec::new();
            loop {
                let p = next_part.fetch_add(1, Ordering::Relaxed);
                if p >= nparts {
                    return Ok::<_, String>(etags);
                }
                let len = ctx.part_size.min(ctx.size - p * ctx.part_size);
                let q = vec![
                    ("partNumber".to_owned(), (p + 1).to_string()),
                    ("uploadId".to_owned(), upload_id.clone()),
                ];
                let req = t.request_with("PUT", path, q, None, ctx.body.slice(..len as usize), &t.read_headers);
                let r = conn.send(req, false).await?;
                let etag = r
                    .headers
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .ok_or("no ETag for a part")?
                    .to_owned();
                etags.push((p + 1, etag));
            }
        }
    });
    let results = futures::future::join_all(uploads).await;
    let mut parts = Vec::new();
    let mut failure = None;
    for r in results {
        match r {
            Ok(e) => parts.extend(e),
            Err(e) => failure = Some(e),
        }
    }
    let id_q = vec![("uploadId".to_owned(), upload_id)];
    if let Some(e) = failure {
        let req = t.request("DELETE", &path, id_q, None, Bytes::new());
        let _ = conns[0].send(req, false).await;
        return Err(e);
    }
    parts.sort();
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (n, etag) in &parts {
        xml.push_str(&format!("<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"));
    }
    xml.push_str("</CompleteMultipartUpload>");
    let hash = sigv4::sha256_hex(xml.as_bytes());
    let req = t.request("POST", &path, id_q, Some(hash), Bytes::from(xml));
    let r = conns[0].send(req, true).await?;
    // S3 may answer 200 and put the error in the body.
    if String::from_utf8_lossy(&r.body).contains("<Error>") {
        return Err("CompleteMultipartUpload failed".into());
    }
    Ok((ctx.size, 0))
}

/// A tiny xorshift: picks keys and operations without locking a shared RNG.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Keys a mixed-workload worker creates before its PUTs turn into overwrites.
const MIXED_OWN_KEYS: usize = 64;

async fn worker(mut conns: Vec<Conn>, ctx: Arc<Ctx>, phase: Phase, id: u64) -> (Vec<Conn>, Vec<Stats>) {
    let mut stats: Vec<Stats> = OPS.iter().map(|_| Stats::default()).collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (id + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    let mut list_token = None;
    let mut own_keys: Vec<u64> = Vec::new();
    while let Some(i) = ctx.next() {
        let started = Instant::now();
        let conn = &mut conns[0];
        match phase {
            Phase::Prepare => {
                let r = put(conn, &ctx, &ctx.key(i)).await;
                if let Err(e) = &r {
                    // A benchmark over missing objects would measure errors; stop instead.
                    ctx.first_errors.lock().expect("lock").push(format!("preparing: {e}"));
                    ctx.stop.store(true, Ordering::Relaxed);
                }
                ctx.record(&mut stats, Op::Put, started, r);
            }
            Phase::Cleanup => {
                let from = ctx.cleanup_from.load(Ordering::Relaxed);
                let r = delete(conn, &ctx.key(from + i)).await;
                ctx.record(&mut stats, Op::Delete, started, r);
            }
            Phase::Measure => match ctx.scenario {
                Scenario::Put => {
                    let n = ctx.next_key.fetch_add(1, Ordering::Relaxed);
                    let r = put(conn, &ctx, &ctx.key(n)).await;
                    ctx.record(&mut stats, Op::Put, started, r);
                }
                Scenario::Get => {
                    let r = get(conn, &ctx, &ctx.key(i % ctx.objects)).await;
                    ctx.record(&mut stats, Op::Get, started, r);
                }
                Scenario::Delete => {
                    let r = delete(conn, &ctx.key(i)).await;
                    ctx.record(&mut stats, Op::Delete, started, r);
                }
                Scenario::List => {
                    let r = list_page(conn, &ctx, &mut list_token).await;
                    ctx.record(&mut stats, Op::List, started, r);
                }
                Scenario::Multipart => {
                    let n = ctx.next_key.fetch_add(1, Ordering::Relaxed);
                    let r = multipart(&mut conns, &ctx, &ctx.key(n)).await;
                    ctx.record(&mut stats, Op::Multipart, started, r);
                }
                Scenario::Mixed => {
                    let dice = rng.next() % 100;
                    let existing = ctx.key(rng.next() % ctx.objects);
                    if dice < 45 {
                        let r = get(conn, &ctx, &existing).await;
                        ctx.record(&mut stats, Op::Get, started, r);
                    } else if dice < 70 {
                        let r = head(conn, &existing).await;
                        ctx.record(&mut stats, Op::Head, started, r);
                    } else if dice < 90 || own_keys.is_empty() {
                        // Keys of its own, so GETs of the prepared ones never miss; past
                        // MIXED_OWN_KEYS it overwrites them, so a long run's data stays bounded.
                        let r = if own_keys.len() < MIXED_OWN_KEYS {
                            let n = ctx.next_key.fetch_add(1, Ordering::Relaxed);
                            let r = put(conn, &ctx, &ctx.key(n)).await;
                            if r.is_ok() {
                                own_keys.push(n);
                            }
                            r
                        } else {
                            let n = own_keys[(rng.next() % own_keys.len() as u64) as usize];
                            put(conn, &ctx, &ctx.key(n)).await
                        };
                        ctx.record(&mut stats, Op::Put, started, r);
                    } else {
                        let n = own_keys.swap_remove((rng.next() % own_keys.len() as u64) as usize);
                        let r = delete(conn, &ctx.key(n)).await;
                        ctx.record(&mut stats, Op::Delete, started, r);
                    }
                }
            },
        }
    }
    (conns, stats)
}

/// Runs one phase on every worker, with a progress bar; returns the stats of all of them.
async fn run_phase(
    pool: &mut Vec<Vec<Conn>>,
    ctx: &Arc<Ctx>,
    phase: Phase,
    label: &str,
    limit: Option<u64>,
    duration: Option<Duration>,
) -> Vec<Stats> {
    let deadline = duration.map(|d| Instant::now() + d);
    ctx.reset(limit, deadline);
    let bar = match (limit, duration) {
        (_, Some(d)) => indicatif::ProgressBar::new(d.as_millis() as u64),
        (Some(n), None) => indicatif::ProgressBar::new(n),
        (None, None) => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(5));
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix:>10} [{elapsed_precise}] {wide_bar} {msg}")
            .expect("a valid template"),
    );
    bar.set_prefix(label.to_owned());
    let started = Instant::now();
    let ticker = {
        let (bar, ctx) = (bar.clone(), ctx.clone());
        tokio::spawn(async move {
            loop {
                let done = ctx.done.load(Ordering::Relaxed);
                bar.set_position(if duration.is_some() {
                    started.elapsed().as_millis() as u64
                } else {
                    done
                });
                bar.set_message(format!("{done} ops, {} errors", ctx.failed.load(Ordering::Relaxed)));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let tasks: Vec<_> = pool
        .drain(..)
        .enumerate()
        .map(|(i, conns)| tokio::spawn(worker(conns, ctx.clone(), phase, i as u64)))
        .collect();
    let mut all: Vec<Stats> = OPS.iter().map(|_| Stats::default()).collect();
    for t in tasks {
        let (conns, stats) = t.await.expect("worker panicked");
        pool.push(conns);
        for (a, s) in all.iter_mut().zip(stats) {
            a.lat_us.extend(s.lat_us);
            a.ok += s.ok;
            a.errors += s.errors;
            a.bytes += s.bytes;
            a.items += s.items;
        }
    }
    ticker.abort();
    bar.finish_and_clear();
    all
}

/// The process's user + system CPU time so far.
fn cpu_time() -> Duration {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given and cannot fail for RUSAGE_SELF.
    let ru = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr());
        ru.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

fn summarize(op: &str, s: &mut Stats, secs: f64) -> serde_json::Value {
    s.lat_us.sort_unstable();
    let mean = if s.lat_us.is_empty() {
        0.0
    } else {
        s.lat_us.iter().map(|&v| v as f64).sum::<f64>() / s.lat_us.len() as f64 / 1000.0
    };
    json!({
        "op": op,
        "ops": s.ok,
        "errors": s.errors,
        "bytes": s.bytes,
        "ops_per_sec": s.ok as f64 / secs,
        "mib_per_sec": s.bytes as f64 / secs / (1 << 20) as f64,
        "keys": s.items,
        "keys_per_sec": s.items as f64 / secs,
        "latency_ms": {
            "mean": mean,
            "p50": percentile(&s.lat_us, 0.50),
            "p90": percentile(&s.lat_us, 0.90),
            "p99": percentile(&s.lat_us, 0.99),
            "max": percentile(&s.lat_us, 1.0),
        },
    })
}

fn human_size(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} B"),
    }
}

pub async fn run(a: BenchArgs) -> Result<()> {
    let uri: http::Uri = a.endpoint.parse().map_err(|e| format!("bad --endpoint: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("only http:// endpoints are supported".into());
    }
    let authority = uri.authority().ok_or("--endpoint needs a host")?;
    let addr = format!("{}:{}", authority.host(), authority.port_u16().unwrap_or(80));
    let creds = if a.anonymous {
        None
    } else {
        match (a.access_key.clone(), a.secret_key.clone()) {
            (Some(k), Some(s)) => Some((k, s)),
            _ => return Err("set --access-key and --secret-key (or COFFER_ACCESS_KEY_ID/COFFER_SECRET_ACCESS_KEY), or pass --anonymous".into()),
        }
    };
    if a.concurrency == 0 || a.part_concurrency == 0 || a.part_size == 0 {
        return Err("--concurrency, --part-concurrency and --part-size must be positive".into());
    }
    if a.no_prepare && a.scenario != Scenario::Get {
        return Err("--no-prepare is for the get scenario".into());
    }
    let (write_headers, read_headers) = sse_headers(a.sse);
    let target = Arc::new(Target {
        addr,
        host: authority.as_str().to_owned(),
        creds,
        region: a.region.clone(),
        bucket: a.bucket.clone(),
        write_headers,
        read_headers,
    });
    let prefix = a
        .prefix
        .clone()
        .unwrap_or_else(|| format!("bench-{:08x}/", rand::random::<u32>()));
    let duration = match (a.duration, a.count) {
        (None, None) => Some(Duration::from_secs(10)),
        (d, _) => d,
    };
    let objects = match a.scenario {
        Scenario::Get | Scenario::Mixed => a.objects.unwrap_or_else(|| {
            let fit = ((1u64 << 30) / a.size.max(1)).clamp(1, 1000);
            fit.max(a.concurrency as u64).min(a.count.unwrap_or(u64::MAX))
        }),
        Scenario::List => a.objects.unwrap_or(10_000),
        Scenario::Delete => a.objects.or(a.count).unwrap_or(10_000),
        Scenario::Put | Scenario::Multipart => 0,
    }
    .max(u64::from(matches!(a.scenario, Scenario::Get | Scenario::Mixed)));
    // One buffer for every body: PUTs send slices of it.
    let buf_len = match a.scenario {
        Scenario::Multipart => a.part_size.min(a.size),
        _ => a.size,
    };
    let mut buf = vec![0u8; buf_len as usize];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut buf);
    let ctx = Arc::new(Ctx {
        scenario: a.scenario,
        prefix,
        body: Bytes::from(buf),
        size: a.size,
        part_size: a.part_size,
        max_keys: a.max_keys,
        range: a.range,
        objects,
        next_key: AtomicU64::new(0),
        cleanup_from: AtomicU64::new(0),
        issued: AtomicU64::new(0),
        done: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        limit: Mutex::new(None),
        deadline: Mutex::new(None),
        stop: AtomicBool::new(false),
        first_errors: Mutex::new(Vec::new()),
    });

    let per_worker = if a.scenario == Scenario::Multipart {
        a.part_concurrency
    } else {
        1
    };
    let mut pool = Vec::with_capacity(a.concurrency);
    for _ in 0..a.concurrency {
        let mut conns = Vec::with_capacity(per_worker);
        for _ in 0..per_worker {
            conns.push(Conn::connect(target.clone()).await?);
        }
        pool.push(conns);
    }

    let created = if a.anonymous || a.no_prepare {
        false
    } else {
        ensure_bucket(&mut pool[0][0]).await?
    };

    if let Some(file) = &a.bucket_policy {
        let text = std::fs::read_to_string(file)?.replace("{bucket}", &a.bucket);
        let t = pool[0][0].target.clone();
        let path = format!("/{}", t.bucket);
        let req = t.request(
            "PUT",
            &path,
            vec![("policy".to_owned(), String::new())],
            None,
            Bytes::from(text),
        );
        pool[0][0]
            .send(req, false)
            .await
            .map_err(|e| format!("putting the bucket policy: {e}"))?;
    }

    let prepare = objects > 0 && a.scenario != Scenario::Put && !a.no_prepare;
    if prepare {
        run_phase(&mut pool, &ctx, Phase::Prepare, "preparing", Some(objects), None).await;
        if ctx.stop.load(Ordering::Relaxed) {
            let errs = ctx.first_errors.lock().expect("lock").join("; ");
            cleanup(&mut pool, &ctx, objects, created, &a).await;
            return Err(format!("preparing objects failed: {errs}").into());
        }
        ctx.next_key.store(objects, Ordering::Relaxed);
    }

    let limit = match a.scenario {
        Scenario::Delete => Some(a.count.unwrap_or(objects).min(objects)),
        _ => a.count,
    };
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let mut stats = run_phase(&mut pool, &ctx, Phase::Measure, a.scenario_name(), limit, duration).await;
    let secs = t0.elapsed().as_secs_f64();
    let cpu = (cpu_time() - cpu0).as_secs_f64();

    // The delete scenario removed keys 0..issued already.
    let cleanup_from = match a.scenario {
        Scenario::Delete => ctx.issued.load(Ordering::Relaxed).min(objects),
        _ => 0,
    };
    if !a.no_prepare {
        cleanup_range(&mut pool, &ctx, cleanup_from, created, &a).await;
    }

    let mut total = Stats::default();
    let mut by_op = Vec::new();
    for op in OPS {
        let s = &mut stats[op as usize];
        if s.ok + s.errors == 0 {
            continue;
        }
        total.lat_us.extend_from_slice(&s.lat_us);
        total.ok += s.ok;
        total.errors += s.errors;
        total.bytes += s.bytes;
        total.items += s.items;
        by_op.push(summarize(op.name(), s, secs));
    }
    let mut result = summarize("total", &mut total, secs);
    let obj = result.as_object_mut().expect("an object");
    obj.remove("op");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let extra = json!({
        "scenario": a.scenario_name(),
        "endpoint": a.endpoint,
        "bucket": a.bucket,
        "prefix": ctx.prefix,
        "size": a.size,
        "concurrency": a.concurrency,
        "part_size": (a.scenario == Scenario::Multipart).then_some(a.part_size),
        "part_concurrency": (a.scenario == Scenario::Multipart).then_some(a.part_concurrency),
        "objects": objects,
        "duration_secs": secs,
        "client_cpu_secs": cpu,
        "client_cpu_percent": cpu / secs * 100.0,
        "client_cores": cores,
        "by_op": by_op,
        "first_errors": *ctx.first_errors.lock().expect("lock"),
    });
    for (k, v) in extra.as_object().expect("an object") {
        obj.insert(k.clone(), v.clone());
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print_table(&a, &result);
    }
    Ok(())
}

impl BenchArgs {
    fn scenario_name(&self) -> &'static str {
        match self.scenario {
            Scenario::Put => "put",
            Scenario::Get => "get",
            Scenario::Mixed => "mixed",
            Scenario::List => "list",
            Scenario::Multipart => "multipart",
            Scenario::Delete => "delete",
        }
    }
}

fn print_table(a: &BenchArgs, r: &serde_json::Value) {
    let f = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0);
    let mut what = format!("{} objects", human_size(a.size));
    if a.scenario == Scenario::Multipart {
        what += &format!(" in {} parts, {} at once", human_size(a.part_size), a.part_concurrency);
    }
    if a.scenario == Scenario::List {
        what = format!("{} keys, pages of {}", r["objects"], a.max_keys);
    }
    println!(
        "coffer bench {}: {what}, {} clients, {:.1} s against {}",
        a.scenario_name(),
        a.concurrency,
        f(&r["duration_secs"]),
        a.endpoint
    );
    println!(
        "{:<10} {:>9} {:>10} {:>9} {:>8} {:>8} {:>8} {:>8}",
        "op", "ops", "ops/s", "MiB/s", "p50 ms", "p90 ms", "p99 ms", "errors"
    );
    for o in r["by_op"].as_array().into_iter().flatten() {
        let l = &o["latency_ms"];
        println!(
            "{:<10} {:>9} {:>10.1} {:>9.2} {:>8.2} {:>8.2} {:>8.2} {:>8}",
            o["op"].as_str().unwrap_or(""),
            o["ops"].as_u64().unwrap_or(0),
            f(&o["ops_per_sec"]),
            f(&o["mib_per_sec"]),
            f(&l["p50"]),
            f(&l["p90"]),
            f(&l["p99"]),
            o["errors"].as_u64().unwrap_or(0)
        );
    }
    if a.scenario == Scenario::List {
        println!("keys/s: {:.0}", f(&r["keys_per_sec"]));
    }
    println!(
        "client CPU: {:.2} s, {:.0}% of one core ({} cores)",
        f(&r["client_cpu_secs"]),
        f(&r["client_cpu_percent"]),
        r["client_cores"]
    );
    for e in r["first_errors"].as_array().into_iter().flatten() {
        println!("error: {}", e.as_str().unwrap_or(""));
    }
}

/// Creates the bucket unless it exists; true if this run created it.
async fn ensure_bucket(conn: &mut Conn) -> Result<bool> {
    let t = conn.target.clone();
    let path = format!("/{}", t.bucket);
    if conn
        .send(t.request("HEAD", &path, vec![], None, Bytes::new()), false)
        .await
        .is_ok()
    {
        return Ok(false);
    }
    match conn
        .send(t.request("PUT", &path, vec![], None, Bytes::new()), false)
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.contains("BucketAlreadyOwnedByYou") => Ok(false),
        Err(e) => Err(format!("creating bucket {}: {e}", t.bucket).into()),
    }
}

async fn cleanup(pool: &mut Vec<Vec<Conn>>, ctx: &Arc<Ctx>, upto: u64, created: bool, a: &BenchArgs) {
    ctx.next_key.fetch_max(upto, Ordering::Relaxed);
    ctx.stop.store(false, Ordering::Relaxed);
    cleanup_range(pool, ctx, 0, created, a).await;
}

/// Deletes keys `from..next_key`, then the bucket if this run created it.
async fn cleanup_range(pool: &mut Vec<Vec<Conn>>, ctx: &Arc<Ctx>, from: u64, created: bool, a: &BenchArgs) {
    if a.no_cleanup {
        return;
    }
    let end = ctx.next_key.load(Ordering::Relaxed);
    if end > from {
        ctx.cleanup_from.store(from, Ordering::Relaxed);
        run_phase(pool, ctx, Phase::Cleanup, "cleanup", Some(end - from), None).await;
    }
    if created {
        let conn = &mut pool[0][0];
        let t = conn.target.clone();
        let _ = conn
            .send(
                t.request("DELETE", &format!("/{}", t.bucket), vec![], None, Bytes::new()),
                false,
            )
            .await;
    }
}
