//! Prometheus metrics: counters kept as requests are answered, rendered as text at
//! `/_coffer/metrics`. Everything here is an atomic or a maintained counter; rendering
//! never scans objects.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use coffer_s3::service::{Finished, Operation};
use coffer_store::Store;
use coffer_store::stats::{self, Histogram, LATENCY_BOUNDS_US};

/// Work done by the background workers, counted where they run.
pub static LIFECYCLE_CURRENT_EXPIRED: AtomicU64 = AtomicU64::new(0);
pub static LIFECYCLE_NONCURRENT_EXPIRED: AtomicU64 = AtomicU64::new(0);
pub static LIFECYCLE_MARKERS_REMOVED: AtomicU64 = AtomicU64::new(0);
pub static UPLOADS_ABORTED: AtomicU64 = AtomicU64::new(0);

#[derive(Default)]
struct OpStats {
    /// Answers by status class: 1xx .. 5xx.
    classes: [AtomicU64; 5],
    latency: Latency,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

struct Latency(Histogram<14>);

impl Default for Latency {
    fn default() -> Self {
        Self(Histogram::new(LATENCY_BOUNDS_US))
    }
}

/// One thread's request counters. Each thread counts into its own, so two cores never
/// fight over a cache line on every request; a scrape adds them up.
#[derive(Default)]
struct Shard {
    /// Indexed by [`Operation::id`]; only the owning thread adds entries.
    ops: RwLock<Vec<Option<Arc<OpStats>>>>,
    /// Requests started minus ended here (a request may end on another thread).
    in_flight: AtomicI64,
}

/// One operation's counters, added up over the shards.
struct OpTotals {
    name: &'static str,
    classes: [u64; 5],
    latency: Histogram<14>,
    bytes_in: u64,
    bytes_out: u64,
}

pub struct Metrics {
    /// Tells this server's shards from another's in a thread's cache (tests run several).
    id: usize,
    started: Instant,
    shards: Mutex<Vec<Arc<Shard>>>,
    pub connections_open: AtomicI64,
    pub connections_accepted: AtomicU64,
    /// Unproven connections closed to make room for new ones.
    pub connections_evicted: AtomicU64,
    /// Connections whose TLS handshake failed or timed out.
    pub handshakes_failed: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        static IDS: AtomicUsize = AtomicUsize::new(1);
        Self {
            id: IDS.fetch_add(1, Relaxed),
            started: Instant::now(),
            shards: Mutex::default(),
            connections_open: AtomicI64::new(0),
            connections_accepted: AtomicU64::new(0),
            connections_evicted: AtomicU64::new(0),
            handshakes_failed: AtomicU64::new(0),
        }
    }
}

type Local = (usize, Option<Arc<Shard>>, Vec<Option<Arc<OpStats>>>);

thread_local! {
    /// This thread's shard, whose server, and its operations' counters, without a lock.
    static LOCAL: RefCell<Local> = const { RefCell::new((0, None, Vec::new())) };
}

impl Metrics {
    /// Runs `f` on this thread's shard and, given an operation, its counters there.
    fn local<R>(&self, op: Option<Operation>, f: impl FnOnce(&Shard, Option<&OpStats>) -> R) -> R {
        LOCAL.with_borrow_mut(|(owner, shard, ops)| {
            let shard = match shard {
                Some(s) if *owner == self.id => s,
                _ => {
                    let s = Arc::new(Shard::default());
                    self.shards.lock().expect("not poisoned").push(s.clone());
                    *owner = self.id;
                    ops.clear();
                    shard.insert(s)
                }
            };
            let stats = op.map(|op| {
                if ops.len() <= op.id {
                    ops.resize(op.id + 1, None);
                }
                ops[op.id].get_or_insert_with(|| {
                    let s = Arc::new(OpStats::default());
                    let mut shared = shard.ops.write().expect("not poisoned");
                    if shared.len() <= op.id {
                        shared.resize(op.id + 1, None);
                    }
                    shared[op.id] = Some(s.clone());
                    s
                })
            });
            f(shard, stats.map(|s| &**s))
        })
    }

    pub fn started(&self) {
        self.local(None, |shard, _| shard.in_flight.fetch_add(1, Relaxed));
    }

    pub fn ended(&self) {
        self.local(None, |shard, _| shard.in_flight.fetch_sub(1, Relaxed));
    }

    pub fn record(&self, done: &Finished<'_>) {
        self.local(Some(done.operation), |_, op| {
            let op = op.expect("asked for");
            let class = (done.status / 100).clamp(1, 5) as usize - 1;
            op.classes[class].fetch_add(1, Relaxed);
            op.latency.0.observe_duration(done.duration);
            op.bytes_in.fetch_add(done.bytes_in, Relaxed);
            op.bytes_out.fetch_add(done.bytes_out, Relaxed);
        });
    }

    /// Each operation seen, its counters added up over the shards, by name; and the
    /// requests in flight.
    fn totals(&self) -> (Vec<OpTotals>, i64) {
        let shards = self.shards.lock().expect("not poisoned").clone();
        let mut by_id: Vec<Option<OpTotals>> = Vec::new();
        let mut in_flight = 0;
        for shard in &shards {
            in_flight += shard.in_flight.load(Relaxed);
            for (id, s) in shard.ops.read().expect("not poisoned").iter().enumerate() {
                let Some(s) = s else { continue };
                if by_id.len() <= id {
                    by_id.resize_with(id + 1, || None);
                }
                let t = by_id[id].get_or_insert_with(|| OpTotals {
                    name: Operation::by_id(id).name,
                    classes: [0; 5],
                    latency: Histogram::new(LATENCY_BOUNDS_US),
                    bytes_in: 0,
                    bytes_out: 0,
                });
                for (total, c) in t.classes.iter_mut().zip(&s.classes) {
                    *total += c.load(Relaxed);
                }
                t.latency.add(&s.latency.0);
                t.bytes_in += s.bytes_in.load(Relaxed);
                t.bytes_out += s.bytes_out.load(Relaxed);
            }
        }
        let mut ops: Vec<OpTotals> = by_id.into_iter().flatten().collect();
        ops.sort_by_key(|t| t.name);
        (ops, in_flight)
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self, store: &Store) -> String {
        let mut out = String::with_capacity(16 << 10);
        let o = &mut out;
        gauge(
            o,
            "coffer_build_info",
            "The running version.",
            &[(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION")), 1.0)],
        );
        gauge(
            o,
            "coffer_uptime_seconds",
            "Seconds since the server started.",
            &[("", self.started.elapsed().as_secs_f64())],
        );

        let (ops, in_flight) = self.totals();
        header(
            o,
            "coffer_requests_total",
            "counter",
            "Requests answered, by S3 operation and status class.",
        );
        for t in &ops {
            for (i, n) in t.classes.iter().enumerate().filter(|(_, n)| **n > 0) {
                let _ = writeln!(
                    o,
                    "coffer_requests_total{{operation=\"{}\",status=\"{}xx\"}} {n}",
                    t.name,
                    i + 1
                );
            }
        }
        header(
            o,
            "coffer_request_duration_seconds",
            "histogram",
            "Time to answer a request (to its response head), by S3 operation.",
        );
        for t in &ops {
            let labels = format!("operation=\"{}\"", t.name);
            histogram(o, "coffer_request_duration_seconds", &labels, &t.latency, 1e-6);
        }
        header(
            o,
            "coffer_received_bytes_total",
            "counter",
            "Request body bytes, by S3 operation.",
        );
        for t in &ops {
            let _ = writeln!(
                o,
                "coffer_received_bytes_total{{operation=\"{}\"}} {}",
                t.name, t.bytes_in
            );
        }
        header(
            o,
            "coffer_sent_bytes_total",
            "counter",
            "Response body bytes, by S3 operation.",
        );
        for t in &ops {
            let _ = writeln!(o, "coffer_sent_bytes_total{{operation=\"{}\"}} {}", t.name, t.bytes_out);
        }
        gauge(
            o,
            "coffer_requests_in_flight",
            "Requests being answered.",
            &[("", in_flight as f64)],
        );
        gauge(
            o,
            "coffer_connections_open",
            "Client connections open.",
            &[("", self.connections_open.load(Relaxed) as f64)],
        );
        counter(
            o,
            "coffer_connections_accepted_total",
            "Client connections accepted.",
            &[("", self.connections_accepted.load(Relaxed))],
        );
        counter(
            o,
            "coffer_connections_rejected_total",
            "Connections closed without being served: evicted to make room at the connection cap, or a failed TLS handshake.",
            &[
                ("reason=\"evicted\"", self.connections_evicted.load(Relaxed)),
                ("reason=\"tls_handshake\"", self.handshakes_failed.load(Relaxed)),
            ],
        );

        header(
            o,
            "coffer_meta_commit_batch_size",
            "histogram",
            "Writes sharing one metadata commit (group commit).",
        );
        histogram(o, "coffer_meta_commit_batch_size", "", &stats::COMMIT_BATCH, 1.0);
        header(
            o,
            "coffer_meta_commit_duration_seconds",
            "histogram",
            "One metadata commit, its fsync included.",
        );
        histogram(
            o,
            "coffer_meta_commit_duration_seconds",
            "",
            &stats::COMMIT_LATENCY,
            1e-6,
        );
        counter(
            o,
            "coffer_meta_commit_failures_total",
            "Metadata commits that failed.",
            &[("", stats::COMMIT_FAILURES.load(Relaxed))],
        );
        counter(
            o,
            "coffer_meta_commit_retries_total",
            "Writes run again after a serialization conflict with another writer (PostgreSQL).",
            &[("", stats::COMMIT_RETRIES.load(Relaxed))],
        );
        header(
            o,
            "coffer_blob_fsync_duration_seconds",
            "histogram",
            "Making a new blob durable: a file's fdatasync and its directory's fsync; in RADOS, the writes of its last stripe and its head.",
        );
        histogram(o, "coffer_blob_fsync_duration_seconds", "", &stats::FSYNC_LATENCY, 1e-6);
        counter(
            o,
            "coffer_blobs_written_total",
            "Blob files written.",
            &[("", stats::BLOBS_WRITTEN.load(Relaxed))],
        );
        counter(
            o,
            "coffer_blob_written_bytes_total",
            "Bytes written to blob files.",
            &[("", stats::BLOB_BYTES_WRITTEN.load(Relaxed))],
        );
        counter(
            o,
            "coffer_blobs_deleted_total",
            "Blob files freed (overwrites, deletes, lifecycle, aborted uploads).",
            &[("", stats::BLOBS_DELETED.load(Relaxed))],
        );
        counter(
            o,
            "coffer_lifecycle_removed_total",
            "What lifecycle rules removed, by kind.",
            &[
                ("kind=\"current\"", LIFECYCLE_CURRENT_EXPIRED.load(Relaxed)),
                ("kind=\"noncurrent\"", LIFECYCLE_NONCURRENT_EXPIRED.load(Relaxed)),
                ("kind=\"delete_marker\"", LIFECYCLE_MARKERS_REMOVED.load(Relaxed)),
            ],
        );
        counter(
            o,
            "coffer_uploads_aborted_total",
            "Incomplete multipart uploads aborted by lifecycle rules or the expiry sweep.",
            &[("", UPLOADS_ABORTED.load(Relaxed))],
        );
        buckets(o, store);
        out
    }
}

/// Objects, bytes and uploads per bucket, from the store's maintained counters.
fn buckets(o: &mut String, store: &Store) {
    let usage = store.all_usage().unwrap_or_default();
    type Pick = fn(&coffer_store::Usage) -> u64;
    let families: [(&str, &str, Pick); 3] = [
        (
            "coffer_bucket_objects",
            "Object versions stored in the bucket, noncurrent ones included (delete markers excluded).",
            |u| u.objects,
        ),
        ("coffer_bucket_bytes", "Bytes of those versions.", |u| u.bytes),
        (
            "coffer_bucket_uploads",
            "Multipart uploads in progress in the bucket.",
            |u| u.uploads,
        ),
    ];
    for (metric, help, pick) in families {
        header(o, metric, "gauge", help);
        for (name, u) in &usage {
            let _ = writeln!(o, "{metric}{{bucket=\"{name}\"}} {}", pick(u));
        }
    }
}

fn header(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn labels(l: &str) -> String {
    if l.is_empty() {
        String::new()
    } else {
        format!("{{{l}}}")
    }
}

fn gauge(o: &mut String, name: &str, help: &str, values: &[(&str, f64)]) {
    header(o, name, "gauge", help);
    for (l, v) in values {
        let _ = writeln!(o, "{name}{} {v}", labels(l));
    }
}

fn counter(o: &mut String, name: &str, help: &str, values: &[(&str, u64)]) {
    header(o, name, "counter", help);
    for (l, v) in values {
        let _ = writeln!(o, "{name}{} {v}", labels(l));
    }
}

/// One histogram's series; `scale` turns its unit into the metric's (microseconds into
/// seconds).
fn histogram<const N: usize>(o: &mut String, name: &str, l: &str, h: &Histogram<N>, scale: f64) {
    let (buckets, count, sum) = h.read();
    let sep = if l.is_empty() { "" } else { "," };
    for (bound, n) in buckets {
        let _ = writeln!(o, "{name}_bucket{{{l}{sep}le=\"{}\"}} {n}", bound as f64 * scale);
    }
    let _ = writeln!(o, "{name}_bucket{{{l}{sep}le=\"+Inf\"}} {count}");
    let _ = writeln!(o, "{name}_sum{} {}", labels(l), sum as f64 * scale);
    let _ = writeln!(o, "{name}_count{} {count}", labels(l));
}
