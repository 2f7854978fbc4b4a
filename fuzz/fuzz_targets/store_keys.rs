//! The store's key encodings, through its public API: arbitrary keys (NUL, control
//! characters, `/` runs, `..`, any UTF-8) are put, overwritten and deleted on a real store,
//! and every listing must match a model kept in a BTreeMap: byte order, no key lost or
//! invented, paging and delimiters included; every key reads back its own bytes.

#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use bytes::Bytes;
use coffer_store::{ListQuery, ObjectMeta, PutCondition};
use libfuzzer_sys::fuzz_target;

mod common;
use common::TempStore;

#[derive(Arbitrary, Debug)]
enum Op {
    Put(String),
    Delete(String),
    /// Lists with a prefix, an optional one-character delimiter and a page size.
    List {
        prefix: String,
        delimiter: Option<char>,
        page: u8,
    },
}

fn env() -> &'static TempStore {
    static ENV: OnceLock<TempStore> = OnceLock::new();
    ENV.get_or_init(TempStore::new)
}

fn model_list(model: &BTreeMap<String, Vec<u8>>, prefix: &str, delim: Option<&str>) -> (Vec<String>, Vec<String>) {
    let mut keys = Vec::new();
    let mut prefixes = BTreeSet::new();
    for k in model.keys().filter(|k| k.starts_with(prefix)) {
        match delim.and_then(|d| k[prefix.len()..].find(d).map(|i| (i, d))) {
            Some((i, d)) => {
                prefixes.insert(k[..prefix.len() + i + d.len()].to_owned());
            }
            None => keys.push(k.clone()),
        }
    }
    (keys, prefixes.into_iter().collect())
}

fuzz_target!(|ops: Vec<Op>| {
    let env = env();
    // A fresh bucket per input: inputs do not see each other's keys.
    let bucket = format!("b{:016x}", rand_id());
    env.rt.block_on(async {
        let s = &env.store;
        s.create_bucket(&bucket, coffer_store::CanonicalId([1; 32]), false).await.unwrap();
        let mut model: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for op in ops.into_iter().take(64) {
            match op {
                Op::Put(key) => {
                    let body = key.as_bytes().to_vec();
                    let chunk: Result<Bytes, std::io::Error> = Ok(Bytes::from(body.clone()));
                    let staged = s
                        .stage(futures::stream::iter([chunk]), Some(body.len() as u64), &mut |_| {})
                        .await
                        .unwrap();
                    s.put_object(&bucket, &key, staged, ObjectMeta::default(), PutCondition::None)
                        .await
                        .unwrap();
                    model.insert(key, body);
                }
                Op::Delete(key) => {
                    s.delete_object(&bucket, &key, None, false, coffer_store::PutCondition::None).await.unwrap();
                    model.remove(&key);
                }
                Op::List {
                    prefix,
                    delimiter,
                    page,
                } => {
                    let delim = delimiter.map(String::from);
                    let (want_keys, want_prefixes) = model_list(&model, &prefix, delim.as_deref());
                    let (mut keys, mut prefixes) = (Vec::new(), Vec::new());
                    let mut after: Option<String> = None;
                    loop {
                        let q = ListQuery {
                            prefix: &prefix,
                            delimiter: delim.as_deref(),
                            after: after.as_deref(),
                            max_keys: 1 + usize::from(page % 8),
                        };
                        let p = s.list_objects(&bucket, &q).unwrap();
                        keys.extend(p.objects.into_iter().map(|(k, _)| k));
                        prefixes.extend(p.common_prefixes);
                        if !p.truncated {
                            break;
                        }
                        assert!(p.last > after, "paging moves forward");
                        after = p.last;
                    }
                    assert_eq!(keys, want_keys, "keys of prefix {prefix:?} delimiter {delim:?}");
                    assert_eq!(
                        prefixes, want_prefixes,
                        "common prefixes of {prefix:?} delimiter {delim:?}"
                    );
                }
            }
        }
        for (k, body) in &model {
            let h = s.get_object(&bucket, k, None).await.unwrap();
            assert_eq!(h.record.size, body.len() as u64, "{k:?}");
            let mut got = Vec::new();
            let mut st = h.stream(0, body.len() as u64);
            while let Some(c) = futures::StreamExt::next(&mut st).await {
                got.extend_from_slice(&c.unwrap());
            }
            assert_eq!(&got, body, "{k:?} reads back its own bytes");
            s.delete_object(&bucket, k, None, false, coffer_store::PutCondition::None).await.unwrap();
        }
        s.delete_bucket(&bucket).await.unwrap();
    });
});

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
