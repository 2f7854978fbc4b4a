//! Power loss: the data directory lives on `powercut`, a FUSE filesystem that keeps only
//! what was fsynced (file data by fsync of the file, directory entries by fsync of the
//! directory). Writers run, the power is cut at a random moment, the server is killed,
//! and after the "reboot" every acknowledged write must be there byte-exact. Half the cuts
//! are torn: unsynced pages and directory changes survive or not at random.
//!
//! Needs /dev/fuse and root, as on the CI machines; `COFFER_POWERCUT_ROUNDS` runs more.

use std::sync::Arc;
use std::time::Duration;

use powercut::{Cut, Image, PowerCut};

use crate::common::*;
use crate::crash::{Journal, verify, writer};

fn mount(mnt: &std::path::Path, image: Option<Image>) -> PowerCut {
    PowerCut::mount(mnt, image)
        .unwrap_or_else(|e| panic!("cannot mount the power-cut filesystem ({e}); it needs /dev/fuse and root"))
}

#[tokio::test]
async fn power_cut_during_writes_loses_nothing_acknowledged() {
    let rounds: usize = std::env::var("COFFER_POWERCUT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    // The server makes its data directory itself: its entry must be made durable too.
    let dir = mnt.join("data");
    let b = bucket("power");
    let (mut image, mut journal): (Option<Image>, Option<Journal>) = (None, None);
    let (mut verified, mut torn, mut syncs) = (0, 0, 0);
    for round in 0..=rounds {
        let fs = mount(&mnt, image.take());
        let mut s = Server::start_in(&dir);
        let c = s.client();
        match journal.take() {
            Some(j) => {
                let j = j.lock().unwrap().clone();
                verified += verify(&s, &b, &j).await;
            }
            None => {
                c.create_bucket().bucket(&b).send().await.unwrap();
            }
        }
        if round == rounds {
            break;
        }
        let j: Journal = Arc::default();
        let tasks: Vec<_> = (0..8u64)
            .map(|t| tokio::spawn(writer(c.clone(), b.clone(), round as u64 * 100 + t, j.clone())))
            .collect();
        tokio::time::sleep(Duration::from_millis(400 + rand::random_range(0..1200))).await;
        let how = if round % 2 == 1 {
            torn += 1;
            Cut::Torn(rand::random())
        } else {
            Cut::Clean
        };
        image = Some(fs.cut(how));
        // Writes between the cut and the kill fail: the filesystem answers EIO.
        s.kill();
        for t in tasks {
            t.await.unwrap();
        }
        let acked: usize = j.lock().unwrap().values().flatten().filter(|(_, a)| *a).count();
        assert!(acked > 0, "round {round}: no write was acknowledged before the cut");
        syncs += fs.stats().file_syncs + fs.stats().dir_syncs;
        fs.unmount().unwrap();
        journal = Some(j);
    }
    eprintln!(
        "power-cut rounds: {rounds} ({torn} torn), acknowledged ops verified: {verified}, fsyncs seen: {syncs}, violations: 0"
    );
}
