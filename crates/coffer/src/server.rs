//! `coffer server`: open the store, serve S3 on a loopback or public address, stop cleanly.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use coffer_s3::service::Admission;
use coffer_s3::{Coffer, Config, Identity, RootCredentials};
use coffer_store::{CanonicalId, Store};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering::Relaxed;
use tokio::net::TcpSocket;
use tokio::sync::Semaphore;

use crate::admin::{self, AdminRoute};

pub struct ServerArgs {
    pub data: PathBuf,
    pub listen: SocketAddr,
    pub region: String,
    pub domains: Vec<String>,
    /// Object ownership of buckets created without one (S3's default: BucketOwnerEnforced).
    pub default_ownership: coffer_s3::Ownership,
    /// The length of a lifecycle day, in seconds.
    pub lifecycle_day_secs: u64,
    /// Domains whose `bucket.<domain>` serves the bucket as a static website.
    pub website_domains: Vec<String>,
    /// Multipart uploads older than this are aborted and their parts freed.
    pub upload_expiry: Duration,
    /// A client that sends no complete header block in this time is cut off (slowloris).
    pub header_timeout: Duration,
    /// A request body that stalls this long, or crawls slower than this, fails with
    /// RequestTimeout.
    pub body_pace: coffer_s3::service::BodyPace,
    /// Connections served at once; more wait in the kernel's accept queue, so a flood costs
    /// no memory or file descriptors beyond this.
    pub max_connections: usize,
    /// The master key's file; none: the data directory's own `master.key`.
    pub master_key_file: Option<PathBuf>,
    /// Accept SSE-C keys over plain HTTP.
    pub sse_c_over_http: bool,
    /// redb's page cache.
    pub meta_cache_bytes: usize,
    /// Root's access key id and secret, if configured (both or neither).
    pub root_keys: (Option<String>, Option<String>),
    /// A log line per request.
    pub access_log: bool,
    /// Count requests and serve `/_coffer/metrics`.
    pub metrics: bool,
    pub metrics_token: Option<String>,
    /// Serving goes on this long after SIGTERM, with readiness off.
    pub shutdown_delay: Duration,
    /// The metadata and blob engines' URLs; none: redb and files in `data`.
    pub meta: Option<String>,
    pub blobs: Option<String>,
    /// With a shared store: how long a silent gateway counts as alive, and a worker's lease.
    pub lease: Duration,
    /// With a shared store: how long a released blob stays readable.
    pub free_grace: Duration,
    /// PEM certificate chain and private key: HTTPS on `listen`, or on `tls_listen` if
    /// given (both or neither).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS here as well as plain HTTP on `listen`.
    pub tls_listen: Option<SocketAddr>,
    /// How often the certificate and key files are read to see whether they changed.
    pub tls_poll: Duration,
}

/// The master key named by `--master-key-file`, if given (none: the data directory's own).
pub fn master_key(file: Option<&Path>) -> anyhow_like::Result<Option<coffer_store::MasterKey>> {
    file.map(|f| coffer_store::MasterKey::load(f).map_err(|e| format!("--master-key-file {}: {e}", f.display()).into()))
        .transpose()
}

/// One malloc arena per core instead of glibc's eight, unless `MALLOC_ARENA_MAX` says
/// otherwise; call before any thread starts. Each arena keeps what was freed into it, and
/// redb's page cache, filled by whichever thread read a page, ends up spread over the
/// arenas of the workers, the blocking pool and the group-commit writer, each near its own
/// high-water mark: random 4 KiB GETs after 10 s of PUTs held 83 MiB of RSS for 36 MiB of
/// live heap (heaptrack). One arena held 48 but made small GETs cost 30% more CPU in lock
/// waits (futex calls 20x); one per core costs nothing measurable here.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // SAFETY: mallopt only sets a tunable; no other thread exists yet.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, cores.min(64) as libc::c_int);
        }
    }
}

pub const CREDENTIALS_FILE: &str = "root-credentials.json";

#[derive(Serialize, Deserialize)]
pub struct StoredRoot {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub canonical_user_id: String,
}

pub fn read_stored_root(data: &Path) -> Option<StoredRoot> {
    let text = std::fs::read(data.join(CREDENTIALS_FILE)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Root credentials: as configured (flag, environment or config file), else those stored
/// in the data directory, else new ones, stored and printed once.
fn root_credentials(data: &Path, keys: (Option<String>, Option<String>)) -> anyhow_like::Result<RootCredentials> {
    let stored = read_stored_root(data);
    let some = |v: Option<String>| v.filter(|v| !v.is_empty());
    let (id, secret) = match (some(keys.0), some(keys.1)) {
        (Some(id), Some(secret)) => (id, secret),
        (None, None) => match &stored {
            Some(s) => (s.access_key_id.clone(), s.secret_access_key.clone()),
            None => {
                let (id, secret) = (admin::random_access_key_id(), admin::random_secret());
                println!(
                    "Generated root credentials (shown once; also in {}):",
                    data.join(CREDENTIALS_FILE).display()
                );
                println!("  COFFER_ACCESS_KEY_ID={id}");
                println!("  COFFER_SECRET_ACCESS_KEY={secret}");
                (id, secret)
            }
        },
        _ => return Err("set both COFFER_ACCESS_KEY_ID and COFFER_SECRET_ACCESS_KEY, or neither".into()),
    };
    let canonical_user_id = stored
        .as_ref()
        .map_or_else(|| CanonicalId::random().to_string(), |s| s.canonical_user_id.clone());
    let root = StoredRoot {
        access_key_id: id,
        secret_access_key: secret,
        canonical_user_id,
    };
    if stored
        .as_ref()
        .is_none_or(|s| s.access_key_id != root.access_key_id || s.secret_access_key != root.secret_access_key)
    {
        write_private(&data.join(CREDENTIALS_FILE), &serde_json::to_vec_pretty(&root)?)?;
    }
    let canonical_user_id = root_id(&root)?;
    Ok(RootCredentials {
        access_key_id: root.access_key_id,
        secret_access_key: root.secret_access_key,
        canonical_user_id,
    })
}

/// Root's canonical id as stored: 64 hex digits.
pub fn root_id(root: &StoredRoot) -> anyhow_like::Result<CanonicalId> {
    CanonicalId::parse(&root.canonical_user_id)
        .ok_or_else(|| format!("{CREDENTIALS_FILE}: canonical_user_id is not 64 hex digits").into())
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(path.parent().unwrap_or(Path::new(".")))?.sync_all()
}

/// Errors at startup are reported as text and end the process.
pub mod anyhow_like {
    pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;
}

/// How long in-flight requests get to finish after SIGINT/SIGTERM.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(args: ServerArgs) -> anyhow_like::Result<()> {
    // A name that is both would make `bucket.<name>` a website and an S3 endpoint at once.
    if let Some(d) = args
        .website_domains
        .iter()
        .find(|w| args.domains.iter().any(|d| d.eq_ignore_ascii_case(w)))
    {
        return Err(format!("--website-domain {d} is also an S3 --domain; give websites a name of their own").into());
    }
    // Before anything is opened: a bad certificate should not cost a store start.
    let tls = match (args.tls_cert.clone(), args.tls_key.clone()) {
        (Some(cert), Some(key)) => Some(crate::tls::Certificate::load(crate::tls::TlsFiles { cert, key })?),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together: give both, or neither".into()),
    };
    if tls.is_none() && args.tls_listen.is_some() {
        return Err("--tls-listen needs --tls-cert and --tls-key".into());
    }
    coffer_store::blob::create_dir_all_durable(&args.data)?;
    let root = root_credentials(&args.data, args.root_keys.clone())?;
    let master = master_key(args.master_key_file.as_deref())?;
    let options = coffer_store::StoreOptions {
        meta_cache_bytes: args.meta_cache_bytes,
        meta: args.meta.clone(),
        blobs: args.blobs.clone(),
    };
    let store = Store::open_with(&args.data, root.canonical_user_id, master, options).await?;
    let identity = Identity::new(store.clone(), root);
    let route = AdminRoute {
        store: store.clone(),
        identity: identity.clone(),
        started: std::time::Instant::now(),
        data_dir: args.data.clone(),
        region: args.region.clone(),
    };
    let config = Config {
        region: args.region.clone(),
        domains: args.domains.clone(),
        default_ownership: args.default_ownership,
        lifecycle_day_secs: args.lifecycle_day_secs,
        website_domains: args.website_domains.clone(),
        sse_c_over_http: args.sse_c_over_http,
    };
    tokio::spawn(sweep_incomplete_uploads(store.clone(), args.upload_expiry, args.lease));
    tokio::spawn(crate::workers::lifecycle(
        store.clone(),
        args.lifecycle_day_secs,
        args.lease,
    ));
    if store.shared() {
        store.heartbeat().await?;
        tokio::spawn(crate::workers::gateway(store.clone(), args.lease, args.free_grace));
    }
    let metrics = Arc::new(crate::metrics::Metrics::default());
    let ops = Arc::new(crate::ops::Ops {
        store: store.clone(),
        data: args.data.clone(),
        metrics: metrics.clone(),
        metrics_on: args.metrics,
        metrics_token: args.metrics_token.clone(),
        access_log: args.access_log,
        draining: Default::default(),
    });
    let service = Coffer::new(store, identity, config)
        .into_service(Some(route))
        .with_body_pace(args.body_pace)
        .with_observer(ops.clone());

    let plain = bind(args.listen)?;
    let secure = match (&tls, args.tls_listen) {
        (Some(_), Some(at)) => Some(bind(at)?),
        _ => None,
    };
    let acceptor = match &tls {
        Some(cert) => Some(tokio_rustls::TlsAcceptor::from(Arc::new(cert.server_config()?))),
        None => None,
    };
    // Without --tls-listen, --listen itself serves HTTPS.
    let (plain, secure) = match (secure, &acceptor) {
        (Some(s), Some(a)) => (Some(plain), Some((s, a.clone()))),
        (None, Some(a)) => (None, Some((plain, a.clone()))),
        _ => (Some(plain), None),
    };
    // Installed before the address is printed: from then on SIGHUP reloads the certificate,
    // and never ends the process (`systemctl reload` must not stop a server without TLS).
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    match tls {
        Some(cert) => drop(tokio::spawn(cert.watch(hangup, args.tls_poll))),
        None => drop(tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                tracing::info!("SIGHUP: no TLS certificate to reload");
            }
        })),
    }
    for (scheme, l) in [("http", plain.as_ref()), ("https", secure.as_ref().map(|(l, _)| l))] {
        if let Some(l) = l {
            println!(
                "coffer listening on {scheme}://{} (data in {}, region {})",
                l.local_addr()?,
                args.data.display(),
                args.region
            );
        }
    }

    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(args.header_timeout)
        .keep_alive(true);
    let conns = Connections {
        http,
        service: service.clone(),
        slots: Arc::new(Semaphore::new(args.max_connections.max(1))),
        // Connections not yet proven by an authenticated request get half the slots at most.
        admission: Admission::new(args.max_connections / 2),
        metrics,
        graceful: hyper_util::server::graceful::GracefulShutdown::new(),
        handshake_timeout: args.header_timeout,
    };
    // After SIGTERM, readiness goes first; serving goes on for the shutdown delay, so that
    // a load balancer's probe sees 503 and moves traffic away before the listeners close.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (draining_ops, delay) = (ops.clone(), args.shutdown_delay);
    tokio::spawn(async move {
        shutdown_signal().await;
        draining_ops.draining.store(true, Relaxed);
        if !delay.is_zero() {
            println!("coffer shutting down: not ready, serving for {delay:?} more");
            tokio::time::sleep(delay).await;
        }
        let _ = stop.send(true);
    });
    tokio::join!(
        async {
            if let Some(l) = plain {
                conns.accept_loop(l, None, stopped.clone()).await;
            }
        },
        async {
            if let Some((l, a)) = secure {
                conns.accept_loop(l, Some(a), stopped.clone()).await;
            }
        },
    );
    println!("coffer shutting down: finishing in-flight requests");
    service.begin_shutdown();
    if tokio::time::timeout(DRAIN_TIMEOUT, conns.graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!("coffer: some connections did not finish within {DRAIN_TIMEOUT:?}");
    }
    println!("coffer stopped");
    Ok(())
}

/// A listening socket on `addr` with a deep accept queue: past the connection cap, a flood
/// waits there instead of in SYN retries (std's default backlog is 128).
fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// What every listener's connections share: the connection cap and its admission, the
/// HTTP settings, the service, and the graceful shutdown that waits for them.
struct Connections {
    http: hyper::server::conn::http1::Builder,
    service: coffer_s3::service::CofferService,
    slots: Arc<Semaphore>,
    admission: Arc<Admission>,
    metrics: Arc<crate::metrics::Metrics>,
    graceful: hyper_util::server::graceful::GracefulShutdown,
    /// A TLS handshake gets as long as a header block: a client that stalls in it holds a
    /// slot no longer than one that stalls in its headers.
    handshake_timeout: Duration,
}

impl Connections {
    /// Accepts on `listener` (over TLS with `tls`) until `stopped` turns true, then drops
    /// the listener; the connections go on under `graceful`.
    async fn accept_loop(
        &self,
        listener: tokio::net::TcpListener,
        tls: Option<tokio_rustls::TlsAcceptor>,
        mut stopped: tokio::sync::watch::Receiver<bool>,
    ) {
        let stop = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        let mut stop = std::pin::pin!(stop);
        loop {
            // Take a slot before accepting: at the cap, new connections wait in the backlog,
            // unless an unproven connection can make room.
            if self.slots.available_permits() == 0 && self.admission.evict_oldest() {
                self.metrics.connections_evicted.fetch_add(1, Relaxed);
            }
            let permit = tokio::select! {
                p = self.slots.clone().acquire_owned() => p.expect("never closed"),
                () = &mut stop => break,
            };
            let (stream, peer) = tokio::select! {
                conn = listener.accept() => match conn {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut stop => break,
            };
            let _ = stream.set_nodelay(true);
            self.metrics.connections_accepted.fetch_add(1, Relaxed);
            let open = OpenConnection::new(&self.metrics);
            let admitted = self.admission.admit();
            let ticket = admitted.ticket.clone();
            let service = self.service.for_connection(ticket.clone(), Some(peer.ip()));
            let (http, watcher, tls) = (self.http.clone(), self.graceful.watcher(), tls.clone());
            let (handshake_timeout, metrics) = (self.handshake_timeout, self.metrics.clone());
            tokio::spawn(async move {
                let serve = async move {
                    let r = match tls {
                        None => {
                            watcher
                                .watch(http.serve_connection(TokioIo::new(stream), service))
                                .await
                        }
                        Some(tls) => match tokio::time::timeout(handshake_timeout, tls.accept(stream)).await {
                            Ok(Ok(stream)) => {
                                let service = service.with_secure(true);
                                watcher
                                    .watch(http.serve_connection(TokioIo::new(stream), service))
                                    .await
                            }
                            Ok(Err(e)) => {
                                metrics.handshakes_failed.fetch_add(1, Relaxed);
                                return tracing::debug!(error = %e, "TLS handshake failed");
                            }
                            Err(_) => {
                                metrics.handshakes_failed.fetch_add(1, Relaxed);
                                return tracing::debug!("TLS handshake timed out");
                            }
                        },
                    };
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                };
                tokio::select! {
                    () = serve => {}
                    () = admitted.evicted() => tracing::debug!("unproven connection evicted to make room"),
                }
                ticket.release();
                drop((permit, open));
            });
        }
    }
}

/// Counts a connection as open for as long as it lives.
struct OpenConnection(Arc<crate::metrics::Metrics>);

impl OpenConnection {
    fn new(m: &Arc<crate::metrics::Metrics>) -> Self {
        m.connections_open.fetch_add(1, Relaxed);
        Self(m.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, Relaxed);
    }
}

/// Aborts abandoned multipart uploads now and then, so their parts do not hold disk forever.
async fn sweep_incomplete_uploads(store: Store, expiry: Duration, lease: Duration) {
    let every = (expiry / 2).clamp(Duration::from_millis(100), Duration::from_secs(3600));
    loop {
        tokio::time::sleep(every).await;
        if !crate::workers::leased(&store, "uploads", every.max(lease)).await {
            continue;
        }
        let cutoff = std::time::SystemTime::now()
            .checked_sub(expiry)
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64);
        match store.abort_uploads_before(cutoff).await {
            Ok(0) => {}
            Ok(n) => {
                crate::metrics::UPLOADS_ABORTED.fetch_add(n as u64, Relaxed);
                tracing::info!(aborted = n, "aborted incomplete multipart uploads past their expiry")
            }
            Err(e) => tracing::warn!(error = %e, "incomplete upload sweep failed"),
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
