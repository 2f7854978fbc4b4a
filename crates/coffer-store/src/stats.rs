//! What the store counts about its own work, for the server's metrics: group-commit batch
//! sizes and latency, fsync latency, blobs written and freed. Process-wide atomics, so the
//! engines record without a handle and a commit pays a few relaxed increments.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// A Prometheus-style histogram with fixed upper bounds: `counts[i]` holds observations
/// in `(bounds[i-1], bounds[i]]`; those above the last bound count only in `count`.
pub struct Histogram<const N: usize> {
    bounds: [u64; N],
    counts: [AtomicU64; N],
    count: AtomicU64,
    sum: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    pub const fn new(bounds: [u64; N]) -> Self {
        Self {
            bounds,
            counts: [const { AtomicU64::new(0) }; N],
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, v: u64) {
        if let Some(i) = self.bounds.iter().position(|&b| v <= b) {
            self.counts[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum.fetch_add(v, Relaxed);
    }

    /// Records a duration in microseconds (the unit of latency histograms' bounds).
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_micros().min(u64::MAX as u128) as u64);
    }

    /// Adds what `other` (with the same bounds) has counted.
    pub fn add(&self, other: &Self) {
        for (mine, theirs) in self.counts.iter().zip(&other.counts) {
            mine.fetch_add(theirs.load(Relaxed), Relaxed);
        }
        self.count.fetch_add(other.count.load(Relaxed), Relaxed);
        self.sum.fetch_add(other.sum.load(Relaxed), Relaxed);
    }

    /// Upper bounds with their cumulative counts, then the total count and the sum.
    pub fn read(&self) -> (Vec<(u64, u64)>, u64, u64) {
        let mut acc = 0;
        let buckets = self
            .bounds
            .iter()
            .zip(&self.counts)
            .map(|(&b, c)| {
                acc += c.load(Relaxed);
                (b, acc)
            })
            .collect();
        (buckets, self.count.load(Relaxed), self.sum.load(Relaxed))
    }
}

/// Latency bounds in microseconds, 100 µs to 10 s.
pub const LATENCY_BOUNDS_US: [u64; 14] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000, 2_500_000, 10_000_000,
];

/// Writers sharing one metadata commit.
pub static COMMIT_BATCH: Histogram<9> = Histogram::new([1, 2, 4, 8, 16, 32, 64, 128, 256]);
/// One metadata commit, its fsync included.
pub static COMMIT_LATENCY: Histogram<14> = Histogram::new(LATENCY_BOUNDS_US);
/// A blob file's fdatasync plus its directory's fsync.
pub static FSYNC_LATENCY: Histogram<14> = Histogram::new(LATENCY_BOUNDS_US);
/// Metadata commits that failed (each failed every writer in its group).
pub static COMMIT_FAILURES: AtomicU64 = AtomicU64::new(0);
/// Write closures run again after a serialization conflict (shared engines).
pub static COMMIT_RETRIES: AtomicU64 = AtomicU64::new(0);
/// The latest metadata commit failed: the server is not ready for writes.
pub static LAST_COMMIT_FAILED: AtomicBool = AtomicBool::new(false);
pub static BLOBS_WRITTEN: AtomicU64 = AtomicU64::new(0);
pub static BLOB_BYTES_WRITTEN: AtomicU64 = AtomicU64::new(0);
pub static BLOBS_DELETED: AtomicU64 = AtomicU64::new(0);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_overflow_counts_only_in_the_total() {
        let h = Histogram::new([1, 10, 100]);
        for v in [0, 1, 5, 10, 50, 1000] {
            h.observe(v);
        }
        let (buckets, count, sum) = h.read();
        assert_eq!(buckets, vec![(1, 2), (10, 4), (100, 5)]);
        assert_eq!((count, sum), (6, 1066));
        let twice = Histogram::new([1, 10, 100]);
        twice.add(&h);
        twice.add(&h);
        assert_eq!(twice.read(), (vec![(1, 4), (10, 8), (100, 10)], 12, 2132));
    }
}
