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
    coffer_store::blob::create_dir_all_durable(&args.data)?;
    let root = root_credentials(&args.data, args.root_keys.clone())?;
    let master = master_key(args.master_key_file.as_deref())?;
    let options = coffer_store::StoreOptions {
        meta_cache_bytes: args.meta_cache_bytes,
    };
    let store = Store::open_with(&args.data, root.canonical_user_id, master, options).await?;
    let identity = Identity::new(store.clone(), root);
    let route = AdminRoute {
        store: store.clone(),
        identity: identity.clone(),
    };
    let config = Config {
        region: args.region.clone(),
        domains: args.domains.clone(),
        default_ownership: args.default_ownership,
        lifecycle_day_secs: args.lifecycle_day_secs,
        website_domains: args.website_domains.clone(),
        sse_c_over_http: args.sse_c_over_http,
    };
    tokio::spawn(sweep_incomplete_uploads(store.clone(), args.upload_expiry));
    tokio::spawn(crate::workers::lifecycle(store.clone(), args.lifecycle_day_secs));
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

    // A deep accept queue: past the connection cap, a flood waits there instead of in
    // SYN retries (std's default backlog is 128).
    let socket = if args.listen.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(args.listen)?;
    let listener = socket.listen(4096)?;
    let addr = listener.local_addr()?;
    println!(
        "coffer listening on http://{addr} (data in {}, region {})",
        args.data.display(),
        args.region
    );

    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(args.header_timeout)
        .keep_alive(true);
    let slots = Arc::new(Semaphore::new(args.max_connections.max(1)));
    // Connections not yet proven by an authenticated request get half the slots at most.
    let admission = Admission::new(args.max_connections / 2);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // After SIGTERM, readiness goes first; serving goes on for the shutdown delay, so that
    // a load balancer's probe sees 503 and moves traffic away before the listener closes.
    let (draining_ops, delay) = (ops.clone(), args.shutdown_delay);
    let mut shutdown = std::pin::pin!(async move {
        shutdown_signal().await;
        draining_ops.draining.store(true, Relaxed);
        if !delay.is_zero() {
            println!("coffer shutting down: not ready, serving for {delay:?} more");
            tokio::time::sleep(delay).await;
        }
    });
    loop {
        // Take a slot before accepting: at the cap, new connections wait in the backlog,
        // unless an unproven connection can make room.
        if slots.available_permits() == 0 && admission.evict_oldest() {
            metrics.connections_evicted.fetch_add(1, Relaxed);
        }
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("never closed"),
            () = &mut shutdown => break,
        };
        tokio::select! {
            conn = listener.accept() => {
                let (stream, peer) = match conn {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                metrics.connections_accepted.fetch_add(1, Relaxed);
                let open = OpenConnection::new(&metrics);
                let admitted = admission.admit();
                let ticket = admitted.ticket.clone();
                let conn = http.serve_connection(TokioIo::new(stream), service.for_connection(ticket.clone(), Some(peer.ip())));
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    tokio::select! {
                        r = conn => if let Err(e) = r {
                            tracing::debug!(error = %e, "connection ended with an error");
                        },
                        () = admitted.evicted() => tracing::debug!("unproven connection evicted to make room"),
                    }
                    ticket.release();
                    drop((permit, open));
                });
            }
            () = &mut shutdown => break,
        }
    }
    println!("coffer shutting down: finishing in-flight requests");
    service.begin_shutdown();
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        eprintln!("coffer: some connections did not finish within {DRAIN_TIMEOUT:?}");
    }
    println!("coffer stopped");
    Ok(())
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
async fn sweep_incomplete_uploads(store: Store, expiry: Duration) {
    let every = (expiry / 2).clamp(Duration::from_millis(100), Duration::from_secs(3600));
    loop {
        tokio::time::sleep(every).await;
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
