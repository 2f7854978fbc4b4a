//! A full disk: the server on a small tmpfs is filled until writes fail. Every failing
//! write gets a clean S3 error, everything acknowledged before stays readable, and once
//! space is freed writes succeed again without a restart.

use std::path::{Path, PathBuf};
use std::process::Command;

use md5::{Digest, Md5};

use crate::common::*;

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "skipping: cannot mount a tmpfs ({})",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(Self(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Bytes unique to object `i`, of `len` bytes.
fn payload(i: usize, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut h = Md5::digest(i.to_le_bytes()).to_vec();
    while out.len() < len {
        out.extend_from_slice(&h);
        h = Md5::digest(&h).to_vec();
    }
    out.truncate(len);
    out
}

/// Every acknowledged object reads back byte-exact.
async fn read_all(s: &Server, b: &str, acked: &[(String, Vec<u8>)]) {
    let c = s.client();
    for (k, body) in acked {
        let got = c.get_object().bucket(b).key(k).send().await;
        let got = got.unwrap_or_else(|e| panic!("{k}: {e:?}"));
        let bytes = got.body.collect().await.unwrap().into_bytes();
        assert!(bytes.as_ref() == body.as_slice(), "{k} changed");
    }
}

#[tokio::test]
async fn a_full_disk_fails_writes_cleanly_and_recovers_when_space_returns() {
    if skip_on_shared_engines() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("mnt");
    let Some(_fs) = Tmpfs::mount(&mnt, "24m") else { return };
    let data = mnt.join("data");
    let mut s = Server::start_in(&data);
    let b = bucket("full");
    let r = s.raw("PUT", &format!("/{b}"), &[], &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());

    // Blobs (1 MiB) and inline objects (64 KiB) alternate, so both the blob files and the
    // metadata file run into the wall.
    let mut acked: Vec<(String, Vec<u8>)> = Vec::new();
    let mut failures = 0;
    for i in 0..200 {
        let len = if i % 2 == 0 { 1 << 20 } else { 64 << 10 };
        let key = format!("obj-{i:04}");
        let body = payload(i, len);
        let path = format!("/{b}/{key}");
        let r = s.raw("PUT", &path, &[], &[], &body).await;
        match r.status {
            200 => acked.push((key, body)),
            _ => {
                r.check_error(507, "InsufficientStorage", &path);
                failures += 1;
                // Small writes too must fail cleanly, not just the one that hit the wall.
                if failures >= 6 {
                    break;
                }
            }
        }
    }
    assert!(failures > 0, "24 MiB never filled up");
    assert!(acked.len() >= 10, "only {} writes succeeded", acked.len());
    eprintln!("disk full after {} acknowledged writes", acked.len());

    // Multipart too: creating an upload writes metadata.
    let r = s.raw("POST", &format!("/{b}/mp"), &[("uploads", "")], &[], b"").await;
    assert!(r.status == 200 || r.status == 507, "{}", r.text());
    if r.status == 507 {
        r.check_error(507, "InsufficientStorage", &format!("/{b}/mp"));
    }

    read_all(&s, &b, &acked).await;

    // Readiness follows the last metadata commit: a small inline write usually finds no
    // room left (not ready), but may fit in a page redb still has (ready). Filling the
    // metadata file to the last page would leave no room for the DELETEs below either.
    let small = s
        .raw("PUT", &format!("/{b}/small"), &[], &[], &payload(999, 1000))
        .await;
    let ready = anonymous(&s, "GET", "/_coffer/health/ready", b"").await;
    if small.status == 200 {
        assert_eq!(ready.status, 200, "{}", ready.text());
        acked.push(("small".into(), payload(999, 1000)));
    } else {
        small.check_error(507, "InsufficientStorage", &format!("/{b}/small"));
        assert_eq!(ready.status, 503, "{}", ready.text());
        assert!(
            ready.text().contains("metadata commits are failing"),
            "{}",
            ready.text()
        );
    }
    assert_eq!(anonymous(&s, "GET", "/_coffer/health/live", b"").await.status, 200);

    // Free space by deleting half of what is stored; writes work again, no restart.
    let mut kept = Vec::new();
    for (i, (k, body)) in acked.into_iter().enumerate() {
        if i % 2 == 0 {
            let r = s.raw("DELETE", &format!("/{b}/{k}"), &[], &[], b"").await;
            assert_eq!(r.status, 204, "DELETE {k}: {}", r.text());
        } else {
            kept.push((k, body));
        }
    }
    for i in 0..4 {
        let key = format!("after-{i}");
        let body = payload(1000 + i, if i % 2 == 0 { 1 << 20 } else { 1000 });
        let r = s.raw("PUT", &format!("/{b}/{key}"), &[], &[], &body).await;
        assert_eq!(r.status, 200, "PUT {key} after freeing space: {}", r.text());
        kept.push((key, body));
    }
    read_all(&s, &b, &kept).await;
    let ready = anonymous(&s, "GET", "/_coffer/health/ready", b"").await;
    assert_eq!(ready.status, 200, "ready again once commits succeed: {}", ready.text());

    // And all of it is on disk, not only in the server's memory.
    s.kill();
    let s = Server::start_in(&data);
    read_all(&s, &b, &kept).await;
}
