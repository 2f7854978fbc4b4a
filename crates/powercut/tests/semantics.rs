//! The filesystem keeps exactly what was synced: these run on a real FUSE mount.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use powercut::{Cut, PowerCut};

fn sync_dir(p: &Path) {
    File::open(p).unwrap().sync_all().unwrap();
}

/// Mounts, runs `f`, cuts the power the given way and remounts what survived.
fn after_cut(how: Cut, f: impl FnOnce(&Path)) -> (PowerCut, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let fs1 = PowerCut::mount(&mnt, None).expect("mount powercut (needs /dev/fuse and root)");
    f(&mnt);
    let image = fs1.cut(how);
    fs1.unmount().unwrap();
    (PowerCut::mount(&mnt, Some(image)).unwrap(), tmp)
}

#[test]
fn only_synced_data_and_entries_survive() {
    let (fs2, tmp) = after_cut(Cut::Clean, |m| {
        fs::create_dir(m.join("d")).unwrap();
        // Data written, entry synced, data never synced: an empty file.
        fs::write(m.join("d/unsynced-data"), b"lost").unwrap();
        // Data synced, entry never synced: no file.
        let mut f = File::create(m.join("d/x")).unwrap();
        f.write_all(b"data").unwrap();
        f.sync_all().unwrap();
        sync_dir(m);
        sync_dir(&m.join("d"));
        let mut f = File::create(m.join("d/unsynced-entry")).unwrap();
        f.write_all(b"data").unwrap();
        f.sync_all().unwrap();
        // Renamed without syncing the directory: the old name stays.
        fs::rename(m.join("d/x"), m.join("d/y")).unwrap();
        // Written again after the sync: the synced bytes stay.
        fs::write(m.join("d/unsynced-data"), b"overwritten").unwrap();
    });
    let m = fs2.mountpoint().to_owned();
    assert_eq!(fs::read(m.join("d/unsynced-data")).unwrap(), b"");
    assert_eq!(fs::read(m.join("d/x")).unwrap(), b"data");
    assert!(!m.join("d/y").exists());
    assert!(!m.join("d/unsynced-entry").exists());
    drop(fs2);
    drop(tmp);
}

#[test]
fn a_directory_entry_needs_its_parent_synced() {
    let (fs2, _tmp) = after_cut(Cut::Clean, |m| {
        fs::create_dir(m.join("new")).unwrap();
        let mut f = File::create(m.join("new/f")).unwrap();
        f.write_all(b"x").unwrap();
        f.sync_all().unwrap();
        sync_dir(&m.join("new"));
        // The root was never synced, so "new" and all below it are gone.
    });
    assert!(!fs2.mountpoint().join("new").exists());
}

#[test]
fn rename_then_sync_replaces_atomically() {
    let (fs2, _tmp) = after_cut(Cut::Clean, |m| {
        fs::write(m.join("a"), b"old").unwrap();
        File::open(m.join("a")).unwrap().sync_all().unwrap();
        sync_dir(m);
        let mut f = File::create(m.join("a.tmp")).unwrap();
        f.write_all(b"new").unwrap();
        f.sync_all().unwrap();
        fs::rename(m.join("a.tmp"), m.join("a")).unwrap();
        sync_dir(m);
    });
    let m = fs2.mountpoint();
    assert_eq!(fs::read(m.join("a")).unwrap(), b"new");
    assert!(!m.join("a.tmp").exists());
}

#[test]
fn after_the_cut_everything_fails_with_eio() {
    let tmp = tempfile::tempdir().unwrap();
    let fs1 = PowerCut::mount(tmp.path(), None).unwrap();
    let mut f = File::create(tmp.path().join("f")).unwrap();
    let _ = fs1.cut(Cut::Clean);
    assert_eq!(
        f.write_all(b"x").and_then(|_| f.sync_all()).unwrap_err().raw_os_error(),
        Some(libc::EIO)
    );
    assert!(File::create(tmp.path().join("g")).is_err());
    assert!(fs1.stats().refused > 0);
    drop(f);
    fs1.unmount().unwrap();
}

#[test]
fn torn_cuts_never_lose_synced_state() {
    for seed in 0..40 {
        let (fs2, _tmp) = after_cut(Cut::Torn(seed), |m| {
            let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
            fs::write(m.join("synced"), &big).unwrap();
            File::open(m.join("synced")).unwrap().sync_all().unwrap();
            sync_dir(m);
            // Unsynced overwrites of another file and new entries: any mix may survive.
            let mut f = fs::OpenOptions::new().write(true).open(m.join("synced")).unwrap();
            drop(f.write_all(&[0xAA; 50_000]));
            f.set_len(100_000).unwrap();
            fs::write(m.join("maybe"), b"maybe").unwrap();
        });
        let m = fs2.mountpoint();
        let got = fs::read(m.join("synced")).unwrap();
        assert!(
            got.len() == 200_000 || got.len() == 100_000,
            "seed {seed}: length {}",
            got.len()
        );
        for (i, b) in got.iter().enumerate() {
            let synced = i as u8;
            assert!(
                *b == synced || (i < 50_000 && *b == 0xAA),
                "seed {seed}: byte {i} is {b:#x}"
            );
        }
        if let Ok(d) = fs::read(m.join("maybe")) {
            // A length that reached the disk before its data reads as zeros, as on XFS.
            assert!(d.is_empty() || d == b"maybe" || d == [0; 5], "seed {seed}: {d:?}");
        }
    }
}

#[test]
fn removing_entries_while_listing_skips_none() {
    let tmp = tempfile::tempdir().unwrap();
    let fs1 = PowerCut::mount(tmp.path(), None).unwrap();
    for i in 0..3000 {
        fs::write(tmp.path().join(format!("f{i:04}")), b"x").unwrap();
    }
    for entry in fs::read_dir(tmp.path()).unwrap() {
        fs::remove_file(entry.unwrap().path()).unwrap();
    }
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    fs1.unmount().unwrap();
}
