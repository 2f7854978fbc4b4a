//! Crash consistency: kill -9 the server while clients put, complete multipart uploads,
//! overwrite and delete, restart on the same data, and check that every acknowledged write
//! survived byte-exact, nothing partial is visible, listings agree with reads, and no orphan
//! blob outlives the restart. `powerloss.rs` runs the same writers and checks across a
//! simulated power cut.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use md5::{Digest, Md5};

use crate::common::*;
use crate::versioning::{all_versions, set_state};

#[derive(Clone, Copy, Debug)]
pub enum Op {
    Put(u64),
    /// A multipart upload completed with the parts of `parts(seed)`.
    Multipart(u64),
    Delete,
}

/// Objects above this are blob files; at or below it they live in the metadata.
const INLINE_MAX: usize = 128 << 10;
const MIN_PART: usize = 5 << 20;

/// Deterministic content: sizes span inline objects and blob files.
pub fn content(seed: u64) -> Vec<u8> {
    let sizes = [0usize, 1, 4 << 10, 100 << 10, 129 << 10, 700 << 10, 2 << 20];
    data(sizes[(seed % sizes.len() as u64) as usize], seed)
}

/// A multipart object's parts: one part, or a minimum-size part and a last one.
fn parts(seed: u64) -> Vec<Vec<u8>> {
    match seed % 2 {
        0 => vec![content(seed)],
        _ => vec![data(MIN_PART, seed ^ 0xFF), content(seed)],
    }
}

fn expected(op: Op) -> Option<Vec<u8>> {
    match op {
        Op::Put(seed) => Some(content(seed)),
        Op::Multipart(seed) => Some(parts(seed).concat()),
        Op::Delete => None,
    }
}

/// Per key: every op sent, in order, and whether the server acknowledged it.
pub type Journal = Arc<Mutex<HashMap<String, Vec<(Op, bool)>>>>;

async fn multipart_put(c: &aws_sdk_s3::Client, b: &str, key: &str, seed: u64) -> Result<(), ()> {
    let up = c
        .create_multipart_upload()
        .bucket(b)
        .key(key)
        .send()
        .await
        .map_err(drop)?;
    let id = up.upload_id().ok_or(())?;
    let mut done = Vec::new();
    for (n, body) in (1..).zip(parts(seed)) {
        let r = c
            .upload_part()
            .bucket(b)
            .key(key)
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(drop)?;
        done.push(CompletedPart::builder().part_number(n).set_e_tag(r.e_tag).build());
    }
    c.complete_multipart_upload()
        .bucket(b)
        .key(key)
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
        .send()
        .await
        .map_err(drop)?;
    Ok(())
}

/// Writes, overwrites and deletes four keys of its own until the server stops answering.
pub async fn writer(c: aws_sdk_s3::Client, b: String, task: u64, journal: Journal) {
    for i in 0u64.. {
        let key = format!("t{task}/k{}", i % 4);
        let seed = task * 1_000_000 + i;
        let op = match i % 11 {
            6 => Op::Delete,
            3 | 9 => Op::Multipart(seed),
            _ => Op::Put(seed),
        };
        let idx = {
            let mut j = journal.lock().unwrap();
            let ops = j.entry(key.clone()).or_default();
            ops.push((op, false));
            ops.len() - 1
        };
        let ok = match op {
            Op::Put(seed) => c
                .put_object()
                .bucket(&b)
                .key(&key)
                .body(ByteStream::from(content(seed)))
                .send()
                .await
                .is_ok(),
            Op::Multipart(seed) => multipart_put(&c, &b, &key, seed).await.is_ok(),
            Op::Delete => c.delete_object().bucket(&b).key(&key).send().await.is_ok(),
        };
        if !ok {
            return; // the server is gone
        }
        journal.lock().unwrap().get_mut(&key).unwrap()[idx].1 = true;
    }
}

/// Blob files an object listed with `etag` and `size` holds: multipart objects one per
/// part above the inline limit.
fn blob_count(etag: &str, size: usize) -> usize {
    let part_sizes = if etag.trim_matches('"').ends_with("-2") {
        vec![MIN_PART, size - MIN_PART]
    } else {
        vec![size]
    };
    part_sizes.into_iter().filter(|s| *s > INLINE_MAX).count()
}

/// Aborts the uploads a crash left open, so their parts' blob files are freed.
async fn abort_open_uploads(c: &aws_sdk_s3::Client, b: &str) {
    let r = c.list_multipart_uploads().bucket(b).send().await.unwrap();
    assert_ne!(r.is_truncated, Some(true), "more open uploads than one page");
    for u in r.uploads() {
        c.abort_multipart_upload()
            .bucket(b)
            .key(u.key().unwrap())
            .upload_id(u.upload_id().unwrap())
            .send()
            .await
            .unwrap();
    }
}

/// What verifications found so far: per key, the MD5 of its body, or None if it was absent.
/// Keys belong to one round's writers, so every later restart must show the same.
pub type Confirmed = HashMap<String, Option<[u8; 16]>>;

fn md5(b: &[u8]) -> [u8; 16] {
    Md5::digest(b).into()
}

/// Checks this round's journal, then that listings agree with reads and with every state
/// confirmed in earlier rounds, and that no orphan blob is left. Adds this round's states
/// to `confirmed`.
pub async fn verify(
    s: &Server,
    b: &str,
    journal: &HashMap<String, Vec<(Op, bool)>>,
    confirmed: &mut Confirmed,
) -> usize {
    let c = s.client();
    let mut acked = 0;
    for (key, ops) in journal {
        let last_acked = ops.iter().rposition(|(_, a)| *a);
        acked += ops.iter().filter(|(_, a)| *a).count();
        let got = match c.get_object().bucket(b).key(key).send().await {
            Ok(r) => Some(r.body.collect().await.unwrap().into_bytes().to_vec()),
            Err(e) => {
                let code = e.into_service_error().meta().code().map(str::to_owned);
                assert_eq!(code.as_deref(), Some("NoSuchKey"), "{key}");
                None
            }
        };
        // The state must be what some op at or after the last acknowledged one left.
        let from = last_acked.unwrap_or(0);
        let candidates: Vec<Option<Vec<u8>>> = ops[from..]
            .iter()
            .map(|(op, _)| expected(*op))
            .chain(last_acked.is_none().then_some(None))
            .collect();
        assert!(
            candidates.contains(&got),
            "{key}: state after restart is no outcome of an op at or after the last acknowledged one ({} bytes read)",
            got.as_ref().map_or(0, Vec::len)
        );
        confirmed.insert(key.clone(), got.as_deref().map(md5));
    }
    abort_open_uploads(&c, b).await;
    // Listings agree with reads, across every page.
    let mut seen = HashMap::new();
    let mut blobs_expected = 0;
    let mut token = None;
    loop {
        let listed = c
            .list_objects_v2()
            .bucket(b)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        for o in listed.contents() {
            let key = o.key().unwrap();
            let r = c.get_object().bucket(b).key(key).send().await.unwrap();
            let body = r.body.collect().await.unwrap().into_bytes();
            assert_eq!(body.len() as i64, o.size().unwrap(), "{key}");
            blobs_expected += blob_count(o.e_tag().unwrap(), body.len());
            seen.insert(key.to_owned(), md5(&body));
        }
        token = listed.next_continuation_token.clone();
        if token.is_none() {
            break;
        }
    }
    for (key, state) in confirmed.iter() {
        assert_eq!(seen.get(key), state.as_ref(), "{key}: changed since it was verified");
    }
    assert!(
        seen.keys().all(|k| confirmed.contains_key(k)),
        "a listed key that no writer wrote"
    );
    // Every blob file belongs to a listed object: orphans were swept at startup, or on a
    // shared store, are collected (and the uploads aborted above freed) by its collector.
    if embedded_blobs() {
        let deadline = std::time::Instant::now() + Duration::from_secs(if embedded_engines() { 0 } else { 20 });
        loop {
            let blobs = s.blobs().len();
            if blobs == blobs_expected || std::time::Instant::now() >= deadline {
                assert_eq!(blobs, blobs_expected, "blob files on disk vs objects stored as blobs");
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    acked
}

/// Rounds of write, kill -9 at a random moment, restart, verify. `COFFER_CRASH_ROUNDS`
/// runs more (the long version).
#[tokio::test]
async fn kill_9_during_writes_loses_nothing_acknowledged() {
    if skip_on_shared_engines() {
        return;
    }
    let rounds: usize = std::env::var("COFFER_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let tmp = tempfile::tempdir().unwrap();
    crash_rounds(&tmp.path().join("data"), rounds, false).await;
}

/// The same with every object SSE-S3 encrypted (the bucket's default encryption): nothing
/// acknowledged is lost, and the data directory opens with no master key but its own.
#[tokio::test]
async fn kill_9_during_encrypted_writes_loses_nothing_and_needs_the_master_key() {
    if skip_on_shared_engines() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    crash_rounds(&dir, 2, true).await;
    let wrong = tmp.path().join("wrong.key");
    coffer_store::MasterKey::generate().write_new(&wrong).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["server", "--listen", "127.0.0.1:0", "--data"])
        .arg(&dir)
        .arg("--master-key-file")
        .arg(&wrong)
        .env("COFFER_ACCESS_KEY_ID", ROOT_KEY)
        .env("COFFER_SECRET_ACCESS_KEY", ROOT_SECRET)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a server started with another master key");
}

async fn crash_rounds(dir: &std::path::Path, rounds: usize, encrypted: bool) {
    let b = bucket("crash");
    let mut total_acked = 0;
    let mut confirmed = Confirmed::new();
    for round in 0..rounds {
        let journal: Journal = Arc::default();
        let mut s = Server::start_in(dir);
        let c = s.client();
        if round == 0 {
            c.create_bucket().bucket(&b).send().await.unwrap();
            if encrypted {
                encrypt_by_default(&c, &b).await;
            }
        }
        let tasks: Vec<_> = (0..12u64)
            .map(|t| tokio::spawn(writer(c.clone(), b.clone(), round as u64 * 100 + t, journal.clone())))
            .collect();
        let ms = 300 + rand::random_range(0..900);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        s.kill();
        for t in tasks {
            t.await.unwrap();
        }
        let s = Server::start_in(dir);
        let journal = journal.lock().unwrap().clone();
        let acked = verify(&s, &b, &journal, &mut confirmed).await;
        assert!(acked > 0, "round {round}: no write was acknowledged before the kill");
        total_acked += acked;
        if encrypted {
            check_all_encrypted(&s.client(), &b).await;
        }
        // Leave the bucket as verified for the next round's writers.
        drop(s);
    }
    eprintln!(
        "crash rounds: {rounds}, encrypted: {encrypted}, acknowledged ops verified: {total_acked}, violations: 0"
    );
}

async fn encrypt_by_default(c: &aws_sdk_s3::Client, b: &str) {
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .unwrap();
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(by_default)
        .build();
    c.put_bucket_encryption()
        .bucket(b)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// Every object that survived is SSE-S3 encrypted.
async fn check_all_encrypted(c: &aws_sdk_s3::Client, b: &str) {
    let listed = c.list_objects_v2().bucket(b).send().await.unwrap();
    for o in listed.contents() {
        let h = c.head_object().bucket(b).key(o.key().unwrap()).send().await.unwrap();
        assert_eq!(
            h.server_side_encryption,
            Some(aws_sdk_s3::types::ServerSideEncryption::Aes256),
            "{:?}",
            o.key()
        );
    }
}

/// Acknowledged versioned ops: key, version id, and the put's seed (None for a marker).
pub type Acked = Arc<Mutex<Vec<(String, String, Option<u64>)>>>;
/// Per key, the seeds of every put sent, acknowledged or not.
pub type Tried = Arc<Mutex<HashMap<String, Vec<u64>>>>;

pub async fn create_versioned_bucket(c: &aws_sdk_s3::Client, b: &str) {
    c.create_bucket().bucket(b).send().await.unwrap();
    set_state(c, b, aws_sdk_s3::types::BucketVersioningStatus::Enabled).await;
}

/// Every acknowledged version and marker, of this round and of earlier ones (`history`), is
/// listed as what it was; this round's acknowledged puts (and a sample of earlier ones)
/// read back their own bytes; every other listed version of a key written this round is
/// the whole body of some put sent for it. Adds this round's to `history`.
pub async fn verify_versions(
    s: &Server,
    b: &str,
    acked: &[(String, String, Option<u64>)],
    tried: &HashMap<String, Vec<u64>>,
    history: &mut Vec<(String, String, Option<u64>)>,
) -> usize {
    let c = s.client();
    // (key, version id) -> is a delete marker
    let listed: HashMap<(String, String), bool> = all_versions(&c, b, 1000)
        .await
        .into_iter()
        .map(|(k, v, _, marker)| ((k, v), marker))
        .collect();
    for (key, v, seed) in history.iter().chain(acked) {
        let marker = listed.get(&(key.clone(), v.clone()));
        assert_eq!(
            marker,
            Some(&seed.is_none()),
            "acknowledged {key}@{v} listed as what it was"
        );
    }
    let sample = (0..20.min(history.len())).map(|_| &history[rand::random_range(0..history.len())]);
    for (key, v, seed) in acked.iter().chain(sample) {
        let Some(seed) = seed else { continue };
        let r = c.get_object().bucket(b).key(key).version_id(v).send().await.unwrap();
        let body = r.body.collect().await.unwrap().into_bytes();
        assert!(body == content(*seed), "acknowledged {key}@{v} reads back other bytes");
    }
    for ((key, v), marker) in &listed {
        // Keys of earlier rounds were checked in their round.
        let Some(seeds) = tried.get(key).filter(|_| !*marker) else {
            continue;
        };
        let r = c.get_object().bucket(b).key(key).version_id(v).send().await.unwrap();
        let body = r.body.collect().await.unwrap().into_bytes().to_vec();
        assert!(
            seeds.iter().any(|s| content(*s) == body),
            "{key}@{v} is no whole body that was sent"
        );
    }
    history.extend_from_slice(acked);
    acked.len()
}

/// Versioned writer: every acknowledged put returns a version id, every acknowledged
/// delete a marker id; all of them must survive the crash.
pub async fn versioned_writer(c: aws_sdk_s3::Client, b: String, task: u64, acked: Acked, tried: Tried) {
    for i in 0u64.. {
        let key = format!("v{task}/k{}", i % 3);
        let seed = task * 1_000_000 + i;
        let r = if i % 5 == 4 {
            c.delete_object()
                .bucket(&b)
                .key(&key)
                .send()
                .await
                .map(|r| (r.version_id, None))
                .map_err(|_| ())
        } else {
            tried.lock().unwrap().entry(key.clone()).or_default().push(seed);
            c.put_object()
                .bucket(&b)
                .key(&key)
                .body(ByteStream::from(content(seed)))
                .send()
                .await
                .map(|r| (r.version_id, Some(seed)))
                .map_err(|_| ())
        };
        match r {
            Ok((Some(v), seed)) => acked.lock().unwrap().push((key, v, seed)),
            Ok((None, _)) => panic!("a versioned bucket answered without a version id"),
            Err(_) => return,
        }
    }
}

#[tokio::test]
async fn kill_9_during_versioned_writes_keeps_every_acknowledged_version() {
    if skip_on_shared_engines() {
        return;
    }
    let rounds: usize = std::env::var("COFFER_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let b = bucket("vcrash");
    let mut verified = 0;
    let mut history = Vec::new();
    for round in 0..rounds {
        let acked: Acked = Arc::default();
        let tried: Tried = Arc::default();
        let mut s = Server::start_in(&dir);
        let c = s.client();
        if round == 0 {
            create_versioned_bucket(&c, &b).await;
        }
        let tasks: Vec<_> = (0..8u64)
            .map(|t| {
                let task = round as u64 * 100 + t;
                tokio::spawn(versioned_writer(
                    c.clone(),
                    b.clone(),
                    task,
                    acked.clone(),
                    tried.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300 + rand::random_range(0..700))).await;
        s.kill();
        for t in tasks {
            t.await.unwrap();
        }
        let s = Server::start_in(&dir);
        let (acked, tried) = (acked.lock().unwrap().clone(), tried.lock().unwrap().clone());
        verified += verify_versions(&s, &b, &acked, &tried, &mut history).await;
    }
    eprintln!("versioned crash rounds: {rounds}, acknowledged versions verified: {verified}, violations: 0");
}
