//! HTTPS: `--tls-cert`/`--tls-key` on `--listen` or on `--tls-listen` beside plain HTTP,
//! certificate reload (SIGHUP and file change) without dropping connections, the handshake
//! bound, `aws:SecureTransport`, SSE-C over TLS, and refusal of bad files at startup.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use md5::Digest;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

/// A test CA that signs server certificates for 127.0.0.1 and localhost.
struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

/// A server certificate as written to the files.
struct Leaf {
    der: CertificateDer<'static>,
    /// The certificate, then the CA: a chain.
    chain_pem: String,
    key_pem: String,
}

impl Pki {
    fn new() -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "coffer test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        Self {
            ca_pem: cert.pem(),
            ca_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    fn leaf(&self, cn: &str) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            der: cert.der().clone(),
            chain_pem: format!("{}{}", cert.pem(), self.ca_pem),
            key_pem: key.serialize_pem(),
        }
    }

    /// A client configuration trusting this CA only, offering HTTP/1.1 and h2.
    fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        let mut c = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Arc::new(c)
    }

    /// An S3 client for `https://127.0.0.1:port` that trusts this CA.
    fn sdk_client(&self, port: u16) -> Client {
        use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .tls_context(
                TlsContext::builder()
                    .with_trust_store(TrustStore::empty().with_pem_certificate(self.ca_pem.as_bytes()))
                    .build()
                    .unwrap(),
            )
            .build_https();
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(format!("https://127.0.0.1:{port}"))
            .credentials_provider(Credentials::new(ROOT_KEY, ROOT_SECRET, None, None, "test"))
            .force_path_style(true)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .http_client(http)
            .build();
        Client::from_conf(conf)
    }
}

/// Writes `leaf` where the server reads it: the key first, then the certificate, each by
/// rename, as certificate tools do.
fn install(dir: &Path, leaf: &Leaf) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    for (path, text) in [(&key, &leaf.key_pem), (&cert, &leaf.chain_pem)] {
        let tmp = path.with_extension("new");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }
    (cert, key)
}

struct Fixture {
    pki: Pki,
    tmp: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
    first: Leaf,
}

impl Fixture {
    fn new() -> Self {
        let pki = Pki::new();
        let tmp = tempfile::tempdir().unwrap();
        let first = pki.leaf("coffer one");
        let (cert, key) = install(tmp.path(), &first);
        Self {
            pki,
            tmp,
            cert,
            key,
            first,
        }
    }

    fn start(&self, extra: &[&str]) -> Server {
        let mut args = vec![
            "--tls-cert",
            self.cert.to_str().unwrap(),
            "--tls-key",
            self.key.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        Server::start_with(&self.tmp.path().join("data"), &args)
    }
}

async fn connect(pki: &Pki, port: u16) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tokio_rustls::TlsConnector::from(pki.client_config())
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

fn peer_cert(s: &tokio_rustls::client::TlsStream<TcpStream>) -> CertificateDer<'static> {
    s.get_ref().1.peer_certificates().expect("a certificate")[0].clone()
}

/// One keep-alive request on `s`: the whole response, read by its Content-Length.
async fn request<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, method: &str, target: &str) -> Raw {
    let head = format!("{method} {target} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 0\r\n\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "connection closed mid-response: {}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let len = parse_response(&buf[..end + 4])
                .header("content-length")
                .map_or(0, |v| v.parse::<usize>().unwrap());
            if buf.len() >= end + 4 + len {
                return parse_response(&buf);
            }
        }
    }
}

fn signal(s: &Server, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Opens new connections until one shows `want`, for up to `within`.
async fn wait_for_cert(pki: &Pki, port: u16, want: &CertificateDer<'_>, within: Duration) {
    let start = Instant::now();
    loop {
        if &peer_cert(&connect(pki, port).await) == want {
            return;
        }
        assert!(
            start.elapsed() < within,
            "the new certificate was not served within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_sdk_puts_and_gets_over_https() {
    let f = Fixture::new();
    let s = f.start(&[]);
    let port = s.https_port.expect("an HTTPS listener");
    assert_eq!(s.port, port, "--listen itself serves HTTPS");
    let c = f.pki.sdk_client(port);
    c.create_bucket().bucket("tls-sdk").send().await.unwrap();
    let body = data(300_000, 7);
    put(&c, "tls-sdk", "k", &body).await;
    assert_eq!(get_body(&c, "tls-sdk", "k").await, body);
    // HTTP/1.1 only, whatever the client offers; and the chain as configured.
    let conn = connect(&f.pki, port).await;
    assert_eq!(conn.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(peer_cert(&conn), f.first.der);
    assert_eq!(conn.get_ref().1.peer_certificates().unwrap().len(), 2);
    // Plain HTTP on the HTTPS port gets no S3 answer.
    let mut plain = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut buf)).await;
    assert!(!buf.starts_with(b"HTTP/1.1"), "{}", String::from_utf8_lossy(&buf));
}

#[tokio::test]
async fn plain_http_and_https_at_once_and_sse_c_needs_tls() {
    let f = Fixture::new();
    let mut s = f.start(&["--tls-listen", "127.0.0.1:0"]);
    let https = f.pki.sdk_client(s.https_port.expect("an HTTPS listener"));
    assert_ne!(s.https_port, Some(s.port));
    let plain = s.client();
    plain.create_bucket().bucket("tls-both").send().await.unwrap();
    put(&plain, "tls-both", "a", b"over http").await;
    assert_eq!(get_body(&https, "tls-both", "a").await, b"over http");
    put(&https, "tls-both", "b", b"over https").await;
    assert_eq!(get_body(&plain, "tls-both", "b").await, b"over https");

    // SSE-C: refused over plain HTTP (no --sse-c-over-http), accepted over TLS.
    let key = [7u8; 32];
    let md5 = b64(&md5::Md5::digest(key));
    let sse_put = |c: &Client| {
        c.put_object()
            .bucket("tls-both")
            .key("secret")
            .body(ByteStream::from_static(b"customer keyed"))
            .sse_customer_algorithm("AES256")
            .sse_customer_key(b64(&key))
            .sse_customer_key_md5(&md5)
    };
    assert_eq!(sdk_status(sse_put(&plain).send().await), 400);
    sse_put(&https).send().await.unwrap();
    let got = https
        .get_object()
        .bucket("tls-both")
        .key("secret")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(b64(&key))
        .sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"customer keyed"
    );
    // Both listeners stop cleanly, with the clients' idle connections still open.
    assert!(s.terminate().success());
}

#[tokio::test]
async fn a_policy_on_secure_transport_tells_the_listeners_apart() {
    let f = Fixture::new();
    let s = f.start(&["--tls-listen", "127.0.0.1:0"]);
    let c = s.client();
    let b = "tls-policy";
    c.create_bucket().bucket(b).send().await.unwrap();
    put(&c, b, "k", b"v").await;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*"}},
            {{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::{b}","arn:aws:s3:::{b}/*"],
              "Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}}]}}"#
    );
    c.put_bucket_policy().bucket(b).policy(policy).send().await.unwrap();
    let target = format!("/{b}/k");
    anonymous(&s, "GET", &target, b"")
        .await
        .check_error(403, "AccessDenied", &target);
    let mut conn = connect(&f.pki, s.https_port.unwrap()).await;
    let r = request(&mut conn, "GET", &target).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, b"v");
}

#[tokio::test]
async fn sighup_reloads_the_certificate_and_open_connections_go_on() {
    let f = Fixture::new();
    // Files are looked at only on SIGHUP here.
    let s = f.start(&["--tls-poll-secs", "3600"]);
    let port = s.https_port.unwrap();
    let mut old = connect(&f.pki, port).await;
    assert_eq!(peer_cert(&old), f.first.der);
    assert_eq!(request(&mut old, "GET", "/").await.status, 403);

    // A reload that fails keeps the old certificate.
    std::fs::write(&f.cert, "not a certificate").unwrap();
    signal(&s, "-HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(peer_cert(&connect(&f.pki, port).await), f.first.der);

    let second = f.pki.leaf("coffer two");
    install(f.tmp.path(), &second);
    // Without a signal nothing changes...
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(peer_cert(&connect(&f.pki, port).await), f.first.der);
    // ...with one, new handshakes get the new certificate.
    signal(&s, "-HUP");
    wait_for_cert(&f.pki, port, &second.der, Duration::from_secs(5)).await;
    // The connection opened before goes on with what it shook hands with.
    assert_eq!(request(&mut old, "GET", "/").await.status, 403);
    assert_eq!(peer_cert(&old), f.first.der);
    // And the server still serves S3 over it.
    let c = f.pki.sdk_client(port);
    c.create_bucket().bucket("tls-hup").send().await.unwrap();
}

#[tokio::test]
async fn a_changed_file_is_picked_up_without_a_signal() {
    let f = Fixture::new();
    let s = f.start(&["--tls-poll-secs", "1"]);
    let port = s.https_port.unwrap();
    let mut old = connect(&f.pki, port).await;
    assert_eq!(request(&mut old, "GET", "/").await.status, 403);
    let second = f.pki.leaf("coffer two");
    install(f.tmp.path(), &second);
    wait_for_cert(&f.pki, port, &second.der, Duration::from_secs(10)).await;
    assert_eq!(request(&mut old, "GET", "/").await.status, 403);
    assert_eq!(peer_cert(&old), f.first.der);
}

#[tokio::test]
async fn a_stalled_handshake_is_cut_off() {
    let f = Fixture::new();
    let s = f.start(&["--header-timeout-secs", "1", "--tls-listen", "127.0.0.1:0"]);
    let mut idle = TcpStream::connect(("127.0.0.1", s.https_port.unwrap())).await.unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(10), idle.read(&mut buf))
        .await
        .expect("the server closes a silent connection");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    // Plain HTTP to the TLS port fails its handshake; both count as rejected.
    let mut plain = TcpStream::connect(("127.0.0.1", s.https_port.unwrap())).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut plain, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read(&mut buf)).await;
    // The client sees the TLS alert a moment before the server's task counts the failure.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = crate::common::anonymous(&s, "GET", "/_coffer/metrics", b"")
            .await
            .text();
        let rejected = metrics
            .lines()
            .find_map(|l| l.strip_prefix(r#"coffer_connections_rejected_total{reason="tls_handshake"} "#))
            .unwrap_or_else(|| panic!("{metrics}"))
            .to_owned();
        if rejected == "2" || Instant::now() > deadline {
            assert_eq!(rejected, "2", "{metrics}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `coffer server` with `args`, which must fail; returns its stderr.
fn refused(dir: &Path, args: &[&str]) -> String {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["server", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.join("data"))
        .args(args)
        .env("COFFER_ACCESS_KEY_ID", ROOT_KEY)
        .env("COFFER_SECRET_ACCESS_KEY", ROOT_SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("coffer server {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "{args:?} started");
    err
}

#[test]
fn startup_refuses_incomplete_or_invalid_tls_files() {
    let f = Fixture::new();
    let dir = f.tmp.path();
    let (cert, key) = (f.cert.to_str().unwrap(), f.key.to_str().unwrap());
    let err = refused(dir, &["--tls-cert", cert]);
    assert!(err.contains("--tls-key"), "{err}");
    let err = refused(dir, &["--tls-key", key]);
    assert!(err.contains("--tls-cert"), "{err}");
    let err = refused(dir, &["--tls-listen", "127.0.0.1:0"]);
    assert!(err.contains("--tls-cert"), "{err}");

    let garbage = dir.join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let g = garbage.to_str().unwrap();
    let err = refused(dir, &["--tls-cert", g, "--tls-key", key]);
    assert!(err.contains("--tls-cert") && err.contains("garbage.pem"), "{err}");
    let err = refused(dir, &["--tls-cert", cert, "--tls-key", g]);
    assert!(err.contains("--tls-key") && err.contains("garbage.pem"), "{err}");
    let err = refused(dir, &["--tls-cert", key, "--tls-key", key]);
    assert!(err.contains("--tls-cert"), "{err}");
    let missing = dir.join("missing.pem");
    let err = refused(dir, &["--tls-cert", cert, "--tls-key", missing.to_str().unwrap()]);
    assert!(err.contains("missing.pem"), "{err}");
    // A key that is not the certificate's.
    let other = f.pki.leaf("other");
    let other_key = dir.join("other-key.pem");
    std::fs::write(&other_key, &other.key_pem).unwrap();
    let err = refused(dir, &["--tls-cert", cert, "--tls-key", other_key.to_str().unwrap()]);
    assert!(err.contains("--tls-key"), "{err}");
    // Nothing was started: no data directory.
    assert!(!dir.join("data").exists());
}

/// The README's recipe, with keys in the other formats: an RSA key in PKCS#1 and an EC key
/// in SEC1, and self-signed certificates, all made by openssl.
#[tokio::test]
async fn openssl_made_keys_in_every_format_serve() {
    if !Path::new("/usr/bin/openssl").exists() {
        eprintln!("no /usr/bin/openssl: skipped");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("/usr/bin/openssl")
            .args(args)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&["genrsa", "-traditional", "-out", "rsa.pem", "2048"]);
    openssl(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.pem"]);
    for key in ["rsa.pem", "ec.pem"] {
        let head = std::fs::read_to_string(d.join(key)).unwrap();
        assert!(head.starts_with("-----BEGIN RSA PRIVATE KEY") || head.starts_with("-----BEGIN EC PRIVATE KEY"));
        openssl(&[
            "req",
            "-x509",
            "-key",
            key,
            "-out",
            "cert.pem",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ]);
        let cert_pem = std::fs::read_to_string(d.join("cert.pem")).unwrap();
        let s = Server::start_with(
            &d.join(format!("data-{key}")),
            &[
                "--tls-cert",
                d.join("cert.pem").to_str().unwrap(),
                "--tls-key",
                d.join(key).to_str().unwrap(),
            ],
        );
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(der).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = TcpStream::connect(("127.0.0.1", s.https_port.unwrap())).await.unwrap();
        let mut conn = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
            .await
            .unwrap();
        assert_eq!(request(&mut conn, "GET", "/").await.status, 403, "{key}");
    }
}
