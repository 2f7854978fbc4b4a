//! Hot paths of the store: group commit of small PUTs, listing, and checksumming a large
//! body while it streams to a blob. Run with `cargo bench -p coffer-store`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use coffer_store::{ListQuery, ObjectMeta, PutCondition, Store};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn body(bytes: Bytes) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    futures::stream::iter([Ok(bytes)])
}

async fn put(store: &Store, bucket: &str, key: String, data: Bytes) {
    let staged = store.stage(body(data), None, &mut |_| {}).await.unwrap();
    store
        .put_object(bucket, &key, staged, ObjectMeta::default(), PutCondition::None)
        .await
        .unwrap();
}

/// Puts `n` small objects, `concurrency` at a time (so their commits are grouped).
async fn fill(store: &Store, bucket: &str, n: usize, concurrency: usize, key: impl Fn(usize) -> String) {
    use futures::StreamExt;
    futures::stream::iter(0..n)
        .map(|i| put(store, bucket, key(i), Bytes::from_static(b"x")))
        .buffer_unordered(concurrency)
        .collect::<()>()
        .await;
}

/// 4 KiB PUTs, 64 in flight: what group commit (one fsync for many writes) buys.
fn commit(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = rt
        .block_on(Store::open(dir.path(), coffer_store::CanonicalId([0; 32]), None))
        .unwrap();
    rt.block_on(store.create_bucket("b", coffer_store::CanonicalId([1; 32]), false))
        .unwrap();
    let data = Bytes::from(vec![7u8; 4096]);
    let next = AtomicU64::new(0);
    let mut g = c.benchmark_group("commit");
    for concurrency in [1usize, 64] {
        g.throughput(Throughput::Elements(concurrency as u64));
        g.bench_function(format!("put_4KiB_x{concurrency}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let puts = (0..concurrency).map(|_| {
                        let key = format!("k{}", next.fetch_add(1, Ordering::Relaxed));
                        let store = store.clone();
                        let data = data.clone();
                        tokio::spawn(async move { put(&store, "b", key, data).await })
                    });
                    for p in futures::future::join_all(puts).await {
                        p.unwrap();
                    }
                })
            })
        });
    }
    g.finish();
}

/// Pages over 10,000 keys: a flat walk in pages of 1,000, and the top level of keys spread
/// under 20 prefixes with a delimiter (20 seeks, whatever the number of keys).
fn list(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = rt
        .block_on(Store::open(dir.path(), coffer_store::CanonicalId([0; 32]), None))
        .unwrap();
    const KEYS: usize = 10_000;
    rt.block_on(async {
        store
            .create_bucket("flat", coffer_store::CanonicalId([1; 32]), false)
            .await
            .unwrap();
        store
            .create_bucket("tree", coffer_store::CanonicalId([1; 32]), false)
            .await
            .unwrap();
        fill(&store, "flat", KEYS, 256, |i| format!("obj/{i:08}")).await;
        fill(&store, "tree", KEYS, 256, |i| format!("dir{:02}/{i:08}", i % 20)).await;
    });
    let mut g = c.benchmark_group("list");
    g.throughput(Throughput::Elements(KEYS as u64));
    g.bench_function("10k_keys_pages_of_1000", |b| {
        b.iter(|| {
            let mut after = None::<String>;
            let mut n = 0;
            loop {
                let page = store
                    .list_objects(
                        "flat",
                        &ListQuery {
                            prefix: "",
                            delimiter: None,
                            after: after.as_deref(),
                            max_keys: 1000,
                        },
                    )
                    .unwrap();
                n += page.objects.len();
                if !page.truncated {
                    break;
                }
                after = page.last;
            }
            assert_eq!(n, KEYS);
        })
    });
    g.throughput(Throughput::Elements(20));
    g.bench_function("10k_keys_under_20_prefixes_delimiter", |b| {
        b.iter(|| {
            let q = ListQuery {
                prefix: "",
                delimiter: Some("/"),
                after: None,
                max_keys: 1000,
            };
            let page = store.list_objects("tree", &q).unwrap();
            assert_eq!(page.common_prefixes.len(), 20);
        })
    });
    g.finish();
}

/// A 16 MiB body in 64 KiB chunks through `Store::stage`: MD5 on the way, a blob file
/// written and fsynced (the uncommitted blob is deleted when `Staged` drops).
fn stage(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = rt
        .block_on(Store::open(dir.path(), coffer_store::CanonicalId([0; 32]), None))
        .unwrap();
    const SIZE: usize = 16 << 20;
    const CHUNK: usize = 64 << 10;
    let data = Bytes::from((0..SIZE).map(|i| (i * 31 % 251) as u8).collect::<Vec<_>>());
    let mut g = c.benchmark_group("stage");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.bench_function("16MiB", |b| {
        b.iter(|| {
            rt.block_on(async {
                let chunks = (0..SIZE / CHUNK).map(|i| Ok::<_, std::io::Error>(data.slice(i * CHUNK..(i + 1) * CHUNK)));
                let staged = store
                    .stage(futures::stream::iter(chunks), Some(SIZE as u64), &mut |_| {})
                    .await
                    .unwrap();
                assert_eq!(staged.size, SIZE as u64);
            })
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    // Short runs: these are for spotting regressions and comparing changes, not for papers.
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = commit, list, stage
}
criterion_main!(benches);
