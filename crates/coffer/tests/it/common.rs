//! A real coffer server for each test: the built binary on a free loopback port over a
//! fresh temp dir, driven by aws-sdk-s3 and, where no SDK will send a request, by raw
//! SigV4-signed HTTP.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::{RequestId, RequestIdExt};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

pub use coffer::sigv4;

pub const ROOT_KEY: &str = "CKTESTROOTKEY0000001";
pub const ROOT_SECRET: &str = "test-root-secret-0123456789abcdefghijklmn";
/// The root credentials, for requests signed by hand with `sigv4`.
pub const ROOT_CREDS: sigv4::Credentials<'static> = sigv4::Credentials {
    access_key_id: ROOT_KEY,
    secret_access_key: ROOT_SECRET,
    region: "us-east-1",
};

/// Whether tests run on the embedded engines (redb and files in the data directory), not
/// on the shared ones `COFFER_TEST_META`/`COFFER_TEST_BLOBS` name: tests of the data
/// directory's own files (formats, crashes, a full disk) need them.
pub fn embedded_engines() -> bool {
    std::env::var_os("COFFER_TEST_META").is_none() && std::env::var_os("COFFER_TEST_BLOBS").is_none()
}

/// True, and says so, when the suite runs on shared engines and a test of the data
/// directory's own files (its formats, a crash of the only process, a full disk) cannot run.
pub fn skip_on_shared_engines() -> bool {
    if embedded_engines() {
        return false;
    }
    eprintln!("skipped: a test of the embedded engines, and COFFER_TEST_META/COFFER_TEST_BLOBS are set");
    true
}

/// Whether blobs are files in the data directory (not in RADOS).
pub fn embedded_blobs() -> bool {
    std::env::var_os("COFFER_TEST_BLOBS").is_none()
}

/// `--meta`/`--blobs` for the shared engines the environment names, unless the test gives
/// its own: a PostgreSQL schema and a RADOS namespace per data directory, so a restart in
/// the same directory finds the same store.
fn shared_engines(dir: &Path, extra: &[&str]) -> Vec<String> {
    let name = store_name(dir);
    let with = |url: String, param: &str| {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}{param}={name}")
    };
    let mut args = Vec::new();
    if let Ok(url) = std::env::var("COFFER_TEST_META")
        && !extra.iter().any(|a| a.starts_with("--meta"))
    {
        args.extend(["--meta".to_owned(), with(url, "schema")]);
        // Released blobs go at once and orphans within seconds, as tests of freeing expect.
        for (flag, value) in [("--lease-secs", "1"), ("--free-grace-secs", "0")] {
            if !extra.contains(&flag) {
                args.extend([flag.to_owned(), value.to_owned()]);
            }
        }
    }
    if let Ok(url) = std::env::var("COFFER_TEST_BLOBS")
        && !extra.iter().any(|a| a.starts_with("--blobs"))
    {
        args.extend(["--blobs".to_owned(), with(url, "namespace")]);
    }
    args
}

/// The PostgreSQL schema and RADOS namespace of the store in `dir`: a hash of its path.
fn store_name(dir: &Path) -> String {
    format!(
        "t{:016x}",
        dir.as_os_str()
            .as_encoded_bytes()
            .iter()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b))
                .wrapping_mul(0x100_0000_01b3))
    )
}

/// A stored blob, reached behind the server's back to damage it: a file under `blobs/`,
/// or a blob's RADOS objects (through Ceph's `rados` tool).
#[derive(Debug)]
pub enum Blob {
    File(PathBuf),
    Rados { args: Vec<String>, id: String },
}

impl Blob {
    /// Flips a bit of the byte at `at` of the blob's data.
    pub fn flip_byte(&self, at: usize) {
        match self {
            Blob::File(path) => {
                let mut b = std::fs::read(path).unwrap();
                b[at] ^= 0x40;
                std::fs::write(path, b).unwrap();
            }
            Blob::Rados { args, id } => {
                // Data lives in 4 MiB stripes `<id>.<n>`, apart from the head `<id>`.
                const STRIPE: usize = 4 << 20;
                let (oid, at) = (format!("{id}.{}", at / STRIPE), at % STRIPE);
                let file = tempfile::NamedTempFile::new().unwrap();
                let path = file.path().to_str().unwrap();
                rados(args, &["get", &oid, path]);
                let mut b = std::fs::read(path).unwrap();
                b[at] ^= 0x40;
                std::fs::write(path, b).unwrap();
                rados(args, &["put", &oid, path]);
            }
        }
    }

    /// Deletes the blob (its head, for RADOS: without it the blob is gone to a reader).
    pub fn remove(&self) {
        match self {
            Blob::File(path) => std::fs::remove_file(path).unwrap(),
            Blob::Rados { args, id } => {
                rados(args, &["rm", id]);
            }
        }
    }
}

/// Runs Ceph's `rados` tool with `args` (cluster, pool, namespace), then `cmd`.
fn rados(args: &[String], cmd: &[&str]) -> String {
    let out = Command::new("rados")
        .args(args)
        .args(cmd)
        .output()
        .expect("Ceph's rados tool");
    assert!(
        out.status.success(),
        "rados {cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub struct Server {
    child: Option<Child>,
    /// The plain HTTP port; with TLS on `--listen` alone, the HTTPS port.
    pub port: u16,
    /// The HTTPS port, when `--tls-cert` is given.
    pub https_port: Option<u16>,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    pub fn start() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data");
        let mut s = Self::start_in(&dir);
        s._tmp = Some(tmp);
        s
    }

    /// Starts on `dir`, which outlives the server (for restarts).
    pub fn start_in(dir: &Path) -> Self {
        Self::start_with(dir, &[])
    }

    /// Starts on `dir` with extra `coffer server` arguments. `COFFER_TEST_BIN` runs another
    /// binary instead of this build's: an earlier release, to make an upgrade fixture.
    pub fn start_with(dir: &Path, extra: &[&str]) -> Self {
        let bin = std::env::var_os("COFFER_TEST_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_coffer").into());
        let mut child = Command::new(bin)
            .args(["server", "--data"])
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(shared_engines(dir, extra))
            .args(extra)
            .env("COFFER_ACCESS_KEY_ID", ROOT_KEY)
            .env("COFFER_SECRET_ACCESS_KEY", ROOT_SECRET)
            // A line per request would bury the test output; tests of the log turn it on.
            .env("COFFER_ACCESS_LOG", "false")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn coffer");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        // A line per listener: HTTP, or HTTPS alone, or HTTP and then (with --tls-listen)
        // HTTPS.
        let (mut http, mut https) = (None, None);
        let tls = extra.iter().any(|a| a.starts_with("--tls-cert"));
        while if tls { https.is_none() } else { http.is_none() } {
            let line = lines
                .next()
                .expect("server exited before listening")
                .expect("read stdout");
            let port = |rest: &str| rest.split_whitespace().next().unwrap().parse::<u16>().unwrap();
            if let Some(rest) = line.strip_prefix("coffer listening on http://127.0.0.1:") {
                http = Some(port(rest));
            } else if let Some(rest) = line.strip_prefix("coffer listening on https://127.0.0.1:") {
                https = Some(port(rest));
            }
        }
        let port = http.or(https).unwrap();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child: Some(child),
            port,
            https_port: https,
            dir: dir.to_owned(),
            _tmp: None,
        }
    }

    /// The blobs of the store: objects and parts stored outside the metadata records, as
    /// files or RADOS objects.
    pub fn blobs(&self) -> Vec<Blob> {
        if !embedded_engines() {
            // A shared store frees on its collector's next runs (a third of a second apart).
            std::thread::sleep(std::time::Duration::from_millis(1500));
        }
        let Ok(url) = std::env::var("COFFER_TEST_BLOBS") else {
            return self.blob_paths().into_iter().map(Blob::File).collect();
        };
        // rados://POOL?conf=PATH
        let (pool, query) = url
            .trim_start_matches("rados://")
            .split_once('?')
            .expect("rados://POOL?conf=");
        let conf = query.split('&').find_map(|p| p.strip_prefix("conf=")).expect("conf=");
        let args: Vec<String> = ["-c", conf, "-p", pool, "-N", &store_name(&self.dir)]
            .map(str::to_owned)
            .into();
        // Heads only: a blob whose head is not written yet is not stored.
        let mut ids: Vec<String> = rados(&args, &["ls"])
            .lines()
            .filter(|n| !n.contains('.'))
            .map(str::to_owned)
            .collect();
        ids.sort();
        ids.into_iter()
            .map(|id| Blob::Rados { args: args.clone(), id })
            .collect()
    }

    /// Paths of the blob files under `blobs/xx/` (on the embedded engines only).
    pub fn blob_paths(&self) -> Vec<PathBuf> {
        assert!(embedded_blobs(), "blob files, and the blobs are in RADOS");
        let Ok(dirs) = std::fs::read_dir(self.dir.join("blobs")) else {
            return Vec::new();
        };
        dirs.flatten()
            .filter(|d| d.path().is_dir())
            .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten().map(|f| f.path()))
            .collect()
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn client(&self) -> Client {
        self.client_as(ROOT_KEY, ROOT_SECRET)
    }

    pub fn client_as(&self, key: &str, secret: &str) -> Client {
        client_at(&self.endpoint(), key, secret)
    }

    /// kill -9: no chance to flush or finish anything.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// The server's peak resident memory so far.
    pub fn vm_hwm_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// Waits for the process to exit by itself.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.take().expect("running").wait().unwrap()
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        self.wait()
    }

    /// A signed request for `path` with the root credentials (or others).
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Raw {
        self.raw_as(ROOT_KEY, ROOT_SECRET, method, path, query, headers, body)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn raw_as(
        &self,
        key: &str,
        secret: &str,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Raw {
        let cred = sigv4::Credentials {
            access_key_id: key,
            secret_access_key: secret,
            region: "us-east-1",
        };
        self.raw_signed(&cred, method, path, query, headers, body).await
    }

    /// A request signed with `cred`, whatever its region.
    pub async fn raw_signed(
        &self,
        cred: &sigv4::Credentials<'_>,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Raw {
        let addr = self.addr();
        let mut req = sigv4::Request {
            method,
            host: &addr,
            path,
            query: query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_vec(),
        };
        req.sign(cred, time::OffsetDateTime::now_utc());
        raw_send(&addr, req.method, &req.target(), &req.headers, Some(&req.body)).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A path-style client for `endpoint`, retries off so every error reaches the test.
pub fn client_at(endpoint: &str, key: &str, secret: &str) -> Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .force_path_style(true)
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(conf)
}

/// A response read off the wire.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An unsigned request, as a browser or `curl` sends it.
pub async fn anonymous(s: &Server, method: &str, target: &str, body: &[u8]) -> Raw {
    let host = s.addr();
    raw_send(&host, method, target, &[("host".into(), host.clone())], Some(body)).await
}

/// Sends a request as given; `body: None` sends a chunked body of "hello".
pub async fn raw_send(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Raw {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {target} HTTP/1.1\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    match body {
        Some(b) => head.push_str(&format!("content-length: {}\r\n", b.len())),
        None => head.push_str("transfer-encoding: chunked\r\n"),
    }
    head.push_str("connection: close\r\n\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    match body {
        Some(b) => s.write_all(b).await.unwrap(),
        None => s.write_all(b"5\r\nhello\r\n0\r\n\r\n").await.unwrap(),
    }
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    parse_response(&buf)
}

/// A whole HTTP/1.1 response as read off the socket.
pub fn parse_response(buf: &[u8]) -> Raw {
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("response head");
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = buf[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Raw { status, headers, body }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&b[..end]).unwrap().trim(), 16).unwrap();
        b = &b[end + 2..];
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
    out
}

/// Sends a presigned request as any HTTP client would: its URL, its headers, `body`.
pub async fn send_presigned(s: &Server, p: &aws_sdk_s3::presigning::PresignedRequest, body: &[u8]) -> Raw {
    let uri: http::Uri = p.uri().parse().unwrap();
    assert_eq!(uri.authority().unwrap().as_str(), s.addr());
    let target = uri.path_and_query().unwrap().as_str().to_owned();
    let mut headers: Vec<(String, String)> = p
        .headers()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    if !headers.iter().any(|(k, _)| k == "host") {
        headers.push(("host".into(), s.addr()));
    }
    raw_send(&s.addr(), p.method(), &target, &headers, Some(body)).await
}

/// The text of `<name>` in an XML body.
pub fn xml_field(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&format!("</{name}>"))?;
    Some(xml[start..start + len].to_owned())
}

/// Checks an error response against the seed contract: status, `Code`, a `Message`, the
/// `Resource`, `RequestId` equal to `x-amz-request-id`, `x-amz-id-2`, and XML content type.
pub fn check_error_parts(
    status: u16,
    headers: &dyn Fn(&str) -> Option<String>,
    body: &str,
    want_status: u16,
    want_code: &str,
    want_resource: &str,
) {
    assert_eq!(status, want_status, "status for {want_code}: {body}");
    assert_eq!(xml_field(body, "Code").as_deref(), Some(want_code), "code in {body}");
    assert!(
        xml_field(body, "Message").is_some_and(|m| !m.is_empty()),
        "message in {body}"
    );
    assert_eq!(
        xml_field(body, "Resource").as_deref(),
        Some(want_resource),
        "resource in {body}"
    );
    let rid = headers("x-amz-request-id").expect("x-amz-request-id");
    assert!(!rid.is_empty());
    assert_eq!(xml_field(body, "RequestId"), Some(rid), "RequestId equals the header");
    assert!(headers("x-amz-id-2").is_some_and(|v| !v.is_empty()), "x-amz-id-2");
    assert_eq!(headers("content-type").as_deref(), Some("application/xml"));
}

impl Raw {
    pub fn check_error(&self, want_status: u16, want_code: &str, want_resource: &str) {
        check_error_parts(
            self.status,
            &|n| self.header(n).map(str::to_owned),
            &self.text(),
            want_status,
            want_code,
            want_resource,
        );
    }
}

/// Unwraps an SDK service error and checks it against the seed contract, through both the
/// SDK's parsed view and the raw response.
pub fn check_sdk_error<T, E>(
    r: Result<T, SdkError<E, HttpResponse>>,
    want_status: u16,
    want_code: &str,
    want_resource: &str,
) where
    T: std::fmt::Debug,
    E: ProvideErrorMetadata + RequestId + RequestIdExt + std::fmt::Debug,
{
    let err = match r {
        Err(SdkError::ServiceError(se)) => se,
        other => panic!("expected {want_code}, got {other:?}"),
    };
    assert_eq!(err.err().code(), Some(want_code));
    assert!(err.err().message().is_some_and(|m| !m.is_empty()));
    let raw = err.raw();
    let body = String::from_utf8_lossy(raw.body().bytes().unwrap_or_default()).into_owned();
    let headers = |n: &str| raw.headers().get(n).map(str::to_owned);
    check_error_parts(
        raw.status().as_u16(),
        &headers,
        &body,
        want_status,
        want_code,
        want_resource,
    );
    // What the SDK hands the application is what the server sent.
    assert_eq!(err.err().request_id(), headers("x-amz-request-id").as_deref());
    assert_eq!(err.err().extended_request_id(), headers("x-amz-id-2").as_deref());
}

/// A bucket name unique within a test.
pub fn bucket(n: &str) -> String {
    format!("bkt-{n}")
}

/// A fresh server with one empty bucket, `bucket(name)`, and a root client.
pub async fn with_bucket(name: &str) -> (Server, Client, String) {
    let s = Server::start();
    let c = s.client();
    let b = bucket(name);
    c.create_bucket().bucket(&b).send().await.unwrap();
    (s, c, b)
}

/// Standard base64, as Content-MD5 and SSE-C headers carry bytes.
pub fn b64(b: &[u8]) -> String {
    base64_simd::STANDARD.encode_to_string(b)
}

/// Deterministic test bytes, different for each `seed` and with no short period, so a
/// misplaced or repeated chunk shows.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The HTTP status of a failed SDK call, read off the raw response (for answers without an
/// error body: 304, and HEAD's 404 and 412).
pub fn sdk_status<T, E>(r: Result<T, SdkError<E, HttpResponse>>) -> u16
where
    T: std::fmt::Debug,
    E: std::fmt::Debug,
{
    match r {
        Ok(v) => panic!("expected an error status, got {v:?}"),
        Err(e) => e
            .raw_response()
            .unwrap_or_else(|| panic!("no response: {e:?}"))
            .status()
            .as_u16(),
    }
}

impl Server {
    /// Adds a user through the admin API; returns its access key id and secret.
    pub async fn add_user(&self, name: &str) -> (String, String) {
        let body = serde_json::json!({ "name": name }).to_string();
        let r = self
            .raw("POST", "/", &[("coffer-admin", "users")], &[], body.as_bytes())
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        (
            v["access_key_id"].as_str().unwrap().to_owned(),
            v["secret_access_key"].as_str().unwrap().to_owned(),
        )
    }
}

/// `Expires` as sent and as S3 returns it (an HTTP date).
pub const EXPIRES_SECS: i64 = 1_900_000_000;
pub const EXPIRES: &str = "Sun, 17 Mar 2030 17:46:40 GMT";

/// A body with a known MD5 (RFC 1321 test vector).
pub const FOX: &[u8] = b"The quick brown fox jumps over the lazy dog";
pub const FOX_MD5_HEX: &str = "9e107d9d372bb6826bd81d3542a419d6";
pub const FOX_MD5_B64: &str = "nhB9nTcrtoJr2B01QqQZ1g==";

/// PUT and return the ETag.
pub async fn put(c: &Client, b: &str, k: &str, body: &[u8]) -> String {
    c.put_object()
        .bucket(b)
        .key(k)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap()
        .e_tag
        .expect("etag")
}

/// Turns versioning on for `b`.
pub async fn enable_versioning(c: &Client, b: &str) {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    c.put_bucket_versioning()
        .bucket(b)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Sets `b`'s object ownership (ObjectWriter and BucketOwnerPreferred enable ACLs).
pub async fn set_ownership(c: &Client, b: &str, o: aws_sdk_s3::types::ObjectOwnership) {
    use aws_sdk_s3::types::{OwnershipControls, OwnershipControlsRule};
    c.put_bucket_ownership_controls()
        .bucket(b)
        .ownership_controls(
            OwnershipControls::builder()
                .rules(OwnershipControlsRule::builder().object_ownership(o).build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

pub async fn get_body(c: &Client, b: &str, k: &str) -> Vec<u8> {
    let got = c.get_object().bucket(b).key(k).send().await.unwrap();
    got.body.collect().await.unwrap().into_bytes().to_vec()
}

/// A root-signed request whose Host (signed and sent) is `host`, over `s`'s socket.
pub async fn raw_with_host(
    s: &Server,
    host: &str,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: &[u8],
) -> Raw {
    let mut req = sigv4::Request {
        method,
        host,
        path,
        query: query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        headers: vec![],
        body: body.to_vec(),
    };
    req.sign(&ROOT_CREDS, time::OffsetDateTime::now_utc());
    raw_send(&s.addr(), req.method, &req.target(), &req.headers, Some(&req.body)).await
}

/// Unpacks a committed fixture into a fresh directory.
pub fn unpack(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let archive = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let st = std::process::Command::new("tar")
        .arg("xzf")
        .arg(&archive)
        .arg("-C")
        .arg(tmp.path())
        .status()
        .unwrap();
    assert!(st.success(), "unpacking {}", archive.display());
    let dir = tmp.path().join("data");
    (tmp, dir)
}

/// The names of the buckets `c`'s ListBuckets shows.
pub async fn bucket_names(c: &Client) -> Vec<String> {
    c.list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name.clone())
        .collect()
}
