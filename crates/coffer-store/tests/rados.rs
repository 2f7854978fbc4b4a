//! The RADOS blob engine on its own: striping, ranges across stripe ends, leftovers of
//! unfinished writers. Runs when built with `--features rados` and `COFFER_TEST_RADOS`
//! names a cluster's ceph.conf (`scripts/ceph-test.sh` makes one); passes, skipped,
//! otherwise. Each test has a namespace of its own in pool `coffer`.
#![cfg(feature = "rados")]

use std::time::{Duration, Instant};

use bytes::Bytes;
use coffer_store::blob::{BlobId, RadosBlobStore};
use coffer_store::{BlobStore, StoreError};
use futures::StreamExt;

const MIB: usize = 1 << 20;
/// The engine's stripe (an object per 4 MiB of a blob).
const STRIPE: usize = 4 * MIB;

fn store() -> Option<RadosBlobStore> {
    let Ok(conf) = std::env::var("COFFER_TEST_RADOS") else {
        eprintln!("skipped: COFFER_TEST_RADOS unset");
        return None;
    };
    let ns = format!("t{:016x}", rand::random::<u64>());
    Some(RadosBlobStore::connect(&format!("rados://coffer?conf={conf}&namespace={ns}")).unwrap())
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i / 7) as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Writes `body` in uneven chunks (one larger than a stripe) and finishes.
async fn write(s: &RadosBlobStore, body: &[u8]) -> BlobId {
    let mut w = s.create().await.unwrap();
    let id = w.id();
    let (mut at, mut i) = (0, 0);
    while at < body.len() {
        let n = if i == 1 { STRIPE + 4099 } else { 777_777 }.min(body.len() - at);
        w.write(Bytes::copy_from_slice(&body[at..at + n])).await.unwrap();
        (at, i) = (at + n, i + 1);
    }
    assert_eq!(w.finish().await.unwrap(), id);
    id
}

async fn read(s: &RadosBlobStore, id: BlobId, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut stream = s.open(id).await.unwrap().stream(offset, len);
    while let Some(c) = stream.next().await {
        let c = c?;
        assert!(c.len() <= MIB, "a read of {} bytes", c.len());
        out.extend_from_slice(&c);
    }
    Ok(out)
}

/// Waits (up to 10 s) until `list` says nothing is stored, deleting what it names when
/// `delete` (a sweep's work).
async fn until_empty(s: &RadosBlobStore, delete: bool) {
    let began = Instant::now();
    loop {
        let ids = s.list().await.unwrap();
        if ids.is_empty() {
            return;
        }
        assert!(began.elapsed() < Duration::from_secs(10), "still listed: {ids:?}");
        for id in ids.into_iter().filter(|_| delete) {
            s.delete(id).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_blob_of_three_stripes_reads_back_in_ranges_across_their_ends() {
    let Some(s) = store() else { return };
    let size = 9 * MIB + 123;
    let body = data(size, 3);
    let id = write(&s, &body).await;
    assert_eq!(s.list().await.unwrap(), [id]);
    assert!(read(&s, id, 0, size as u64).await.unwrap() == body);
    let s1 = STRIPE as u64;
    for (off, len) in [
        (0, 0),
        (0, 1),
        (s1 - 10, 20),
        (s1, s1),
        (s1 - 1, s1 + 2),
        (3 * MIB as u64, 6 * MIB as u64),
        (2 * s1 - 1, 2),
        (size as u64 - 23, 23),
    ] {
        let got = read(&s, id, off, len).await.unwrap();
        assert!(got[..] == body[off as usize..(off + len) as usize], "{off}+{len}");
    }
    let past = read(&s, id, size as u64 - 1, 2).await.unwrap_err();
    assert_eq!(past.kind(), std::io::ErrorKind::UnexpectedEof);
    s.delete(id).await.unwrap();
    assert!(s.list().await.unwrap().is_empty());
    // Empty blobs exist too: a head, no stripe.
    let empty = write(&s, b"").await;
    assert!(read(&s, empty, 0, 0).await.unwrap().is_empty());
    s.delete(empty).await.unwrap();
    assert!(s.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_missing_blob_is_not_found_and_deleting_it_is_ok() {
    let Some(s) = store() else { return };
    let id = BlobId::random();
    assert!(matches!(s.open(id).await, Err(StoreError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound));
    s.delete(id).await.unwrap();
    let written = write(&s, &data(100, 1)).await;
    s.delete(written).await.unwrap();
    s.delete(written).await.unwrap();
    assert!(matches!(s.open(written).await, Err(StoreError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound));
}

#[tokio::test]
async fn a_writer_dropped_unfinished_leaves_nothing() {
    let Some(s) = store() else { return };
    let mut w = s.create().await.unwrap();
    let id = w.id();
    // Two stripes written, one in flight, one partly buffered.
    for i in 0..9 {
        w.write(Bytes::from(data(MIB, i))).await.unwrap();
    }
    drop(w);
    until_empty(&s, false).await;
    assert!(s.open(id).await.is_err());
}

#[tokio::test]
async fn a_crashed_writers_stripes_are_listed_until_deleted() {
    let Some(s) = store() else { return };
    let mut w = s.create().await.unwrap();
    let id = w.id();
    w.write(Bytes::from(data(2 * STRIPE + 5, 1))).await.unwrap();
    // A crash: no cleanup runs. Its id is listed (stripes without a head), it cannot be
    // opened, and deleting it by that id clears it.
    std::mem::forget(w);
    let began = Instant::now();
    while s.list().await.unwrap() != [id] {
        assert!(began.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(matches!(s.open(id).await, Err(StoreError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound));
    // Its last stripe may still be landing: delete until nothing is left.
    until_empty(&s, true).await;
}

#[tokio::test]
async fn a_blob_deleted_mid_read_fails_the_stream() {
    let Some(s) = store() else { return };
    let id = write(&s, &data(9 * MIB, 2)).await;
    let mut stream = s.open(id).await.unwrap().stream(0, 9 * MIB as u64);
    assert_eq!(stream.next().await.unwrap().unwrap().len(), MIB);
    s.delete(id).await.unwrap();
    let mut failed = None;
    while let Some(c) = stream.next().await {
        if let Err(e) = c {
            failed = Some(e);
        }
    }
    // The chunk read ahead may have come through; the rest did not.
    assert_eq!(failed.expect("an error").kind(), std::io::ErrorKind::NotFound);
}

/// `cargo test -p coffer-store --features rados --release --test rados -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement"]
async fn throughput_of_64_mib_blobs() {
    let Some(s) = store() else { return };
    let body = Bytes::from(data(64 * MIB, 9));
    let n = 8;
    let began = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..n {
        let mut w = s.create().await.unwrap();
        for c in 0..64 {
            w.write(body.slice(c * MIB..(c + 1) * MIB)).await.unwrap();
        }
        ids.push(w.finish().await.unwrap());
    }
    let wrote = began.elapsed();
    let began = Instant::now();
    for &id in &ids {
        let mut stream = s.open(id).await.unwrap().stream(0, 64 * MIB as u64);
        while let Some(c) = stream.next().await {
            c.unwrap();
        }
    }
    let read = began.elapsed();
    let mib = (n * 64) as f64;
    eprintln!(
        "{n} x 64 MiB: write {:.0} MiB/s, read {:.0} MiB/s",
        mib / wrote.as_secs_f64(),
        mib / read.as_secs_f64()
    );
    for id in ids {
        s.delete(id).await.unwrap();
    }
}

#[tokio::test]
async fn a_missing_pool_or_conf_is_an_error_that_names_it() {
    let Ok(conf) = std::env::var("COFFER_TEST_RADOS") else {
        eprintln!("skipped: COFFER_TEST_RADOS unset");
        return;
    };
    for (url, names) in [
        (format!("rados://no-such-pool?conf={conf}"), "no-such-pool"),
        (
            "rados://coffer?conf=/no/such/ceph.conf".to_owned(),
            "/no/such/ceph.conf",
        ),
    ] {
        let e = RadosBlobStore::connect(&url).err().expect("an error");
        eprintln!("{url}: {e}");
        assert!(
            matches!(&e, StoreError::Io(e) if e.kind() == std::io::ErrorKind::NotFound),
            "{e}"
        );
        assert!(e.to_string().contains(names), "{e}");
    }
}

/// A cluster of its own, stopped when dropped.
struct Cluster(tempfile::TempDir, String);

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/ceph-test.sh"))
            .arg("stop")
            .arg(self.0.path().join("ceph"))
            .status();
    }
}

#[test]
fn a_write_to_a_full_cluster_fails_instead_of_waiting_for_space() {
    if std::env::var_os("COFFER_TEST_RADOS").is_none() {
        eprintln!("skipped: COFFER_TEST_RADOS unset");
        return;
    }
    // Filling the shared cluster would fail the other tests: this one starts a small one.
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/ceph-test.sh"))
        .arg(dir.path().join("ceph"))
        .env("MEMSTORE_BYTES", (64 * MIB).to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let conf = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    // A full OSD may drop a write rather than refuse it: the op timeout ends the wait.
    let mut f = std::fs::OpenOptions::new().append(true).open(&conf).unwrap();
    std::io::Write::write_all(&mut f, b"rados osd op timeout = 3\n").unwrap();
    let cluster = Cluster(dir, conf);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let began = Instant::now();
    let (full, written) = rt.block_on(async {
        let s = RadosBlobStore::connect(&format!("rados://coffer?conf={}", cluster.1)).unwrap();
        let body = data(STRIPE, 3);
        let mut written = 0;
        loop {
            // The OSD learns it is full from its own periodic statfs: past capacity, pause
            // between writes so that the next one sees it.
            if written >= 64 * MIB / STRIPE {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            assert!(
                began.elapsed() < Duration::from_secs(60),
                "64 MiB took {written} blobs of 4 MiB"
            );
            let mut w = s.create().await.unwrap();
            let done = match w.write(Bytes::copy_from_slice(&body)).await {
                Ok(()) => w.finish().await,
                Err(e) => Err(e),
            };
            match done {
                Ok(_) => written += 1,
                Err(e) => break (e, written),
            }
        }
    });
    // The failed writer's cleanup cannot reach a full OSD: leave it behind.
    rt.shutdown_timeout(Duration::from_millis(100));
    drop(cluster);
    // Not a wait for space (which is what a plain librados write does) but an error.
    let timed_out = matches!(&full, StoreError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut);
    assert!(matches!(full, StoreError::NoSpace) || timed_out, "{full}");
    assert!(written > 0, "the first write failed");
}
