//! Prometheus metrics: counters kept as requests are answered, rendered as text at
//! `/_coffer/metrics`. Everything here is an atomic or a maintained counter; rendering
//! never scans objects.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use coffer_s3::service::Finished;
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

pub struct Metrics {
    started: Instant,
    ops: RwLock<HashMap<&'static str, Arc<OpStats>>>,
    pub in_flight: AtomicI64,
    pub connections_open: AtomicI64,
    pub connections_accepted: AtomicU64,
    /// Unproven connections closed to make room for new ones.
    pub connections_evicted: AtomicU64,
    /// Connections whose TLS handshake failed or timed out.
    pub handshakes_failed: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            ops: RwLock::default(),
            in_flight: AtomicI64::new(0),
            connections_open: AtomicI64::new(0),
            connections_accepted: AtomicU64::new(0),
            connections_evicted: AtomicU64::new(0),
            handshakes_failed: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    fn op(&self, name: &'static str) -> Arc<OpStats> {
        if let Some(s) = self.ops.read().expect("not poisoned").get(name) {
            return s.clone();
        }
        self.ops.write().expect("not poisoned").entry(name).or_default().clone()
    }

    pub fn record(&self, done: &Finished<'_>) {
        let op = self.op(done.operation);
        let class = (done.status / 100).clamp(1, 5) as usize - 1;
        op.classes[class].fetch_add(1, Relaxed);
        op.latency.0.observe_duration(done.duration);
        op.bytes_in.fetch_add(done.bytes_in, Relaxed);
        op.bytes_out.fetch_add(done.bytes_out, Relaxed);
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

        let mut ops: Vec<(&'static str, Arc<OpStats>)> = self
            .ops
            .read()
            .expect("not poisoned")
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        ops.sort_by_key(|(k, _)| *k);
        header(
            o,
            "coffer_requests_total",
            "counter",
            "Requests answered, by S3 operation and status class.",
        );
        for (name, s) in &ops {
            for (i, c) in s.classes.iter().enumerate() {
                let n = c.load(Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        o,
                        "coffer_requests_total{{operation=\"{name}\",status=\"{}xx\"}} {n}",
                        i + 1
                    );
                }
            }
        }
        header(
            o,
            "coffer_request_duration_seconds",
            "histogram",
            "Time to answer a request (to its response head), by S3 operation.",
        );
        for (name, s) in &ops {
            histogram(
                o,
                "coffer_request_duration_seconds",
                &format!("operation=\"{name}\""),
                &s.latency.0,
                1e-6,
            );
        }
        header(
            o,
            "coffer_received_bytes_total",
            "counter",
            "Request body bytes, by S3 operation.",
        );
        for (name, s) in &ops {
            let _ = writeln!(
                o,
                "coffer_received_bytes_total{{operation=\"{name}\"}} {}",
                s.bytes_in.load(Relaxed)
            );
        }
        header(
            o,
            "coffer_sent_bytes_total",
            "counter",
            "Response body bytes, by S3 operation.",
        );
        for (name, s) in &ops {
            let _ = writeln!(
                o,
                "coffer_sent_bytes_total{{operation=\"{name}\"}} {}",
                s.bytes_out.load(Relaxed)
            );
        }
        gauge(
            o,
            "coffer_requests_in_flight",
            "Requests being answered.",
            &[("", self.in_flight.load(Relaxed) as f64)],
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
        header(
            o,
            "coffer_blob_fsync_duration_seconds",
            "histogram",
            "Making a new blob file durable: its fdatasync and its directory's fsync.",
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
fn buckets(_o: &mut String, _store: &Store) {
    // PENDING: the store's usage counters (admin issue) land next.
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
