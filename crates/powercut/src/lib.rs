//! A FUSE filesystem that loses power on demand.
//!
//! kill -9 keeps the page cache, so a crash test run on a real filesystem cannot catch a
//! missing fsync. This filesystem keeps two states of everything in memory: what a
//! program sees, and what would survive a power cut. A file's bytes reach the durable
//! state only through fsync/fdatasync of that file; a directory's entries (creates,
//! unlinks, renames, mkdirs) only through fsync of that directory. [`PowerCut::cut`]
//! freezes the filesystem (every later request fails with EIO) and returns the [`Image`]
//! that survives, which [`PowerCut::mount`] serves again after the "reboot".
//!
//! A cut can also be torn ([`Cut::Torn`]): as on a real disk, some writes that were not
//! yet synced may have reached it anyway. Each unsynced 4 KiB page of a file, the file's
//! length and each unsynced change of a directory entry survive or not at random, by a
//! seed that reproduces the cut. Correct software must cope with both extremes and
//! everything between.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use fuser::{
    AccessFlags, BsdFileFlags, Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation,
    INodeNo, LockOwner, MountOption, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

/// The unit a torn cut keeps or loses: a disk sector group, and redb's page size.
const PAGE: usize = 4 << 10;
const ROOT: u64 = 1;
/// Entries and attributes change only through this filesystem, so the kernel may cache them.
const TTL: Duration = Duration::from_secs(1);

type Page = Arc<[u8; PAGE]>;

/// A file's bytes as shared pages: a sync copies page pointers, not bytes, and a write
/// after it copies only the pages it touches.
#[derive(Clone, Default)]
struct Data {
    len: u64,
    /// `None` pages read as zeros.
    pages: Vec<Option<Page>>,
}

impl Data {
    fn read(&self, offset: u64, size: usize) -> Vec<u8> {
        if offset >= self.len {
            return Vec::new();
        }
        let end = self.len.min(offset + size as u64);
        let mut out = Vec::with_capacity((end - offset) as usize);
        let mut pos = offset;
        while pos < end {
            let (idx, within) = ((pos / PAGE as u64) as usize, (pos % PAGE as u64) as usize);
            let take = (PAGE - within).min((end - pos) as usize);
            match self.pages.get(idx).and_then(Option::as_ref) {
                Some(p) => out.extend_from_slice(&p[within..within + take]),
                None => out.resize(out.len() + take, 0),
            }
            pos += take as u64;
        }
        out
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        let end = offset + data.len() as u64;
        let last_page = end.div_ceil(PAGE as u64) as usize;
        if self.pages.len() < last_page {
            self.pages.resize(last_page, None);
        }
        let mut done = 0;
        while done < data.len() {
            let pos = offset + done as u64;
            let (idx, within) = ((pos / PAGE as u64) as usize, (pos % PAGE as u64) as usize);
            let take = (PAGE - within).min(data.len() - done);
            let page = self.pages[idx].get_or_insert_with(|| Arc::new([0; PAGE]));
            Arc::make_mut(page)[within..within + take].copy_from_slice(&data[done..done + take]);
            done += take;
        }
        self.len = self.len.max(end);
    }

    /// Shrinking zeroes what lies past the new end, so growing again reads zeros.
    fn set_len(&mut self, len: u64) {
        if len < self.len {
            let keep = len.div_ceil(PAGE as u64) as usize;
            self.pages.truncate(keep);
            let within = (len % PAGE as u64) as usize;
            if within != 0
                && let Some(Some(p)) = self.pages.last_mut()
            {
                Arc::make_mut(p)[within..].fill(0);
            }
        }
        self.len = len;
    }
}

enum Kind {
    File {
        cur: Data,
        dur: Data,
    },
    Dir {
        cur: BTreeMap<OsString, u64>,
        dur: BTreeMap<OsString, u64>,
    },
}

struct Inode {
    kind: Kind,
    perm: u16,
    mtime: SystemTime,
    /// Entries naming this inode in the visible tree, in the durable tree, and open handles:
    /// the inode is dropped when all three reach zero.
    links: u32,
    dur_links: u32,
    open: u32,
}

impl Inode {
    fn new(kind: Kind, perm: u16) -> Self {
        Inode {
            kind,
            perm,
            mtime: SystemTime::now(),
            links: 0,
            dur_links: 0,
            open: 0,
        }
    }
}

/// What survives a power cut: the durable tree, every inode in it with one state.
#[derive(Clone, Default)]
pub struct Image {
    nodes: HashMap<u64, ImageNode>,
}

#[derive(Clone)]
enum ImageNode {
    File(Data, u16),
    Dir(BTreeMap<OsString, u64>, u16),
}

/// How a cut treats writes that were never synced.
#[derive(Clone, Copy, Debug)]
pub enum Cut {
    /// All of them are lost.
    Clean,
    /// Each unsynced page, file length and directory survives or not, by this seed.
    Torn(u64),
}

/// Counters of what the filesystem was asked to do.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub file_syncs: u64,
    pub dir_syncs: u64,
    /// Requests refused with EIO after the cut.
    pub refused: u64,
}

#[derive(Default)]
struct State {
    nodes: HashMap<u64, Inode>,
    next_ino: u64,
    next_fh: u64,
    /// Each open directory handle lists the entries it saw at opendir, so entries removed
    /// while a program walks the directory do not shift the rest past its offset.
    listings: HashMap<u64, Vec<(u64, FileType, OsString)>>,
    dead: bool,
    stats: Stats,
}

impl State {
    fn from_image(image: Image) -> Self {
        let mut st = State {
            next_ino: ROOT + 1,
            next_fh: 1,
            ..State::default()
        };
        let mut nodes = image.nodes;
        nodes
            .entry(ROOT)
            .or_insert_with(|| ImageNode::Dir(BTreeMap::new(), 0o755));
        let mut counts: HashMap<u64, u32> = HashMap::from([(ROOT, 1)]);
        for node in nodes.values() {
            if let ImageNode::Dir(entries, _) = node {
                for ino in entries.values() {
                    *counts.entry(*ino).or_default() += 1;
                }
            }
        }
        for (ino, node) in nodes {
            let (kind, perm) = match node {
                ImageNode::File(d, perm) => (Kind::File { cur: d.clone(), dur: d }, perm),
                ImageNode::Dir(e, perm) => (Kind::Dir { cur: e.clone(), dur: e }, perm),
            };
            let mut inode = Inode::new(kind, perm);
            inode.links = counts.get(&ino).copied().unwrap_or(0);
            inode.dur_links = inode.links;
            st.next_ino = st.next_ino.max(ino + 1);
            st.nodes.insert(ino, inode);
        }
        st
    }

    fn attr(&self, ino: u64) -> Option<FileAttr> {
        let n = self.nodes.get(&ino)?;
        let (kind, size) = match &n.kind {
            Kind::File { cur, .. } => (FileType::RegularFile, cur.len),
            Kind::Dir { cur, .. } => (FileType::Directory, cur.len() as u64),
        };
        Some(FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: n.mtime,
            mtime: n.mtime,
            ctime: n.mtime,
            crtime: n.mtime,
            kind,
            perm: n.perm,
            nlink: n.links.max(1),
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: PAGE as u32,
            flags: 0,
        })
    }

    fn entries(&self, ino: u64) -> Result<&BTreeMap<OsString, u64>, Errno> {
        match self.nodes.get(&ino).map(|n| &n.kind) {
            Some(Kind::Dir { cur, .. }) => Ok(cur),
            Some(Kind::File { .. }) => Err(Errno::ENOTDIR),
            None => Err(Errno::ENOENT),
        }
    }

    fn entries_mut(&mut self, ino: u64) -> Result<&mut BTreeMap<OsString, u64>, Errno> {
        match self.nodes.get_mut(&ino).map(|n| &mut n.kind) {
            Some(Kind::Dir { cur, .. }) => Ok(cur),
            Some(Kind::File { .. }) => Err(Errno::ENOTDIR),
            None => Err(Errno::ENOENT),
        }
    }

    fn data_mut(&mut self, ino: u64) -> Result<&mut Data, Errno> {
        match self.nodes.get_mut(&ino).map(|n| &mut n.kind) {
            Some(Kind::File { cur, .. }) => Ok(cur),
            Some(Kind::Dir { .. }) => Err(Errno::EISDIR),
            None => Err(Errno::ENOENT),
        }
    }

    fn touch(&mut self, ino: u64) {
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.mtime = SystemTime::now();
        }
    }

    /// Adds `name -> ino` to a directory, which must not hold `name` yet.
    fn link(&mut self, parent: u64, name: &OsStr, kind: Kind, perm: u16) -> Result<u64, Errno> {
        if self.entries(parent)?.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        let mut node = Inode::new(kind, perm);
        node.links = 1;
        self.nodes.insert(ino, node);
        self.entries_mut(parent)?.insert(name.to_owned(), ino);
        self.touch(parent);
        Ok(ino)
    }

    fn drop_link(&mut self, ino: u64) {
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.links = n.links.saturating_sub(1);
        }
        self.maybe_free(ino);
    }

    fn maybe_free(&mut self, ino: u64) {
        let free = ino != ROOT
            && self
                .nodes
                .get(&ino)
                .is_some_and(|n| n.links == 0 && n.dur_links == 0 && n.open == 0);
        if !free {
            return;
        }
        // A freed directory no longer holds its durable children.
        if let Some(Inode {
            kind: Kind::Dir { dur, .. },
            ..
        }) = self.nodes.remove(&ino)
        {
            for child in dur.into_values() {
                self.drop_dur_link(child);
            }
        }
    }

    fn drop_dur_link(&mut self, ino: u64) {
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.dur_links = n.dur_links.saturating_sub(1);
        }
        self.maybe_free(ino);
    }

    fn unlink(&mut self, parent: u64, name: &OsStr, want_dir: bool) -> Result<(), Errno> {
        let ino = *self.entries(parent)?.get(name).ok_or(Errno::ENOENT)?;
        match (&self.nodes[&ino].kind, want_dir) {
            (Kind::Dir { cur, .. }, true) if !cur.is_empty() => return Err(Errno::ENOTEMPTY),
            (Kind::Dir { .. }, false) => return Err(Errno::EISDIR),
            (Kind::File { .. }, true) => return Err(Errno::ENOTDIR),
            _ => {}
        }
        self.entries_mut(parent)?.remove(name);
        self.touch(parent);
        self.drop_link(ino);
        Ok(())
    }

    fn rename(
        &mut self,
        parent: u64,
        name: &OsStr,
        new_parent: u64,
        new_name: &OsStr,
        flags: RenameFlags,
    ) -> Result<(), Errno> {
        if flags.contains(RenameFlags::RENAME_EXCHANGE) || flags.contains(RenameFlags::RENAME_WHITEOUT) {
            return Err(Errno::EINVAL);
        }
        let ino = *self.entries(parent)?.get(name).ok_or(Errno::ENOENT)?;
        let moving_dir = matches!(self.nodes[&ino].kind, Kind::Dir { .. });
        if let Some(&old) = self.entries(new_parent)?.get(new_name) {
            if old == ino {
                return Ok(());
            }
            if flags.contains(RenameFlags::RENAME_NOREPLACE) {
                return Err(Errno::EEXIST);
            }
            match (&self.nodes[&old].kind, moving_dir) {
                (Kind::Dir { cur, .. }, true) if !cur.is_empty() => return Err(Errno::ENOTEMPTY),
                (Kind::Dir { .. }, false) => return Err(Errno::EISDIR),
                (Kind::File { .. }, true) => return Err(Errno::ENOTDIR),
                _ => {}
            }
        }
        self.entries_mut(parent)?.remove(name);
        let replaced = self.entries_mut(new_parent)?.insert(new_name.to_owned(), ino);
        self.touch(parent);
        self.touch(new_parent);
        if let Some(old) = replaced {
            self.drop_link(old);
        }
        Ok(())
    }

    fn sync(&mut self, ino: u64) -> Result<(), Errno> {
        let node = self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?;
        match &mut node.kind {
            Kind::File { cur, dur } => {
                *dur = cur.clone();
                self.stats.file_syncs += 1;
            }
            Kind::Dir { cur, dur } => {
                let added: Vec<u64> = cur
                    .iter()
                    .filter(|(k, v)| dur.get(*k) != Some(v))
                    .map(|(_, v)| *v)
                    .collect();
                let removed: Vec<u64> = dur
                    .iter()
                    .filter(|(k, v)| cur.get(*k) != Some(v))
                    .map(|(_, v)| *v)
                    .collect();
                *dur = cur.clone();
                self.stats.dir_syncs += 1;
                for a in added {
                    if let Some(n) = self.nodes.get_mut(&a) {
                        n.dur_links += 1;
                    }
                }
                for r in removed {
                    self.drop_dur_link(r);
                }
            }
        }
        Ok(())
    }

    /// The durable tree, with unsynced state kept or lost as `cut` says.
    fn image(&self, cut: Cut) -> Image {
        let mut rng = match cut {
            Cut::Clean => None,
            Cut::Torn(seed) => Some(SplitMix(seed)),
        };
        let mut coin = move || rng.as_mut().is_some_and(|r| r.next() & 1 == 1);
        let mut out = Image::default();
        let mut todo = vec![ROOT];
        let mut seen = HashSet::from([ROOT]);
        while let Some(ino) = todo.pop() {
            let Some(node) = self.nodes.get(&ino) else {
                continue;
            };
            let img = match &node.kind {
                Kind::File { cur, dur } => {
                    let len = if cur.len != dur.len && coin() { cur.len } else { dur.len };
                    let mut d = dur.clone();
                    let n = cur.pages.len().max(dur.pages.len());
                    d.pages.resize(n, None);
                    for (i, page) in d.pages.iter_mut().enumerate() {
                        // Past the visible end a page was truncated, not written: with the
                        // old length kept, its old bytes are what the disk has.
                        if (i as u64 + 1) * PAGE as u64 > cur.len && len > cur.len {
                            continue;
                        }
                        let c = cur.pages.get(i).cloned().flatten();
                        let same = match (&c, &*page) {
                            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                            (None, None) => true,
                            _ => false,
                        };
                        if !same && coin() {
                            *page = c;
                        }
                    }
                    // Pages past the chosen length, or a stale tail, must not leak back in.
                    d.len = d.pages.len() as u64 * PAGE as u64;
                    d.set_len(len);
                    ImageNode::File(d, node.perm)
                }
                Kind::Dir { cur, dur } => {
                    // Each unsynced change of an entry (created, removed, renamed to or
                    // from) reached the disk or not on its own.
                    let mut entries = dur.clone();
                    let names: BTreeSet<&OsString> = cur.keys().chain(dur.keys()).collect();
                    for name in names {
                        let (c, d) = (cur.get(name), dur.get(name));
                        if c != d && coin() {
                            match c {
                                Some(ino) => entries.insert(name.clone(), *ino),
                                None => entries.remove(name),
                            };
                        }
                    }
                    for child in entries.values() {
                        if seen.insert(*child) {
                            todo.push(*child);
                        }
                    }
                    ImageNode::Dir(entries, node.perm)
                }
            };
            out.nodes.insert(ino, img);
        }
        // A torn directory may name an inode whose own entry was lost elsewhere; drop
        // entries whose target the image does not hold.
        let present: HashSet<u64> = out.nodes.keys().copied().collect();
        for node in out.nodes.values_mut() {
            if let ImageNode::Dir(entries, _) = node {
                entries.retain(|_, ino| present.contains(ino));
            }
        }
        out
    }
}

struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

struct Fs(Arc<Mutex<State>>);

impl Fs {
    /// The state, or EIO once the power is cut.
    fn live(&self) -> Result<MutexGuard<'_, State>, Errno> {
        let mut st = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if st.dead {
            st.stats.refused += 1;
            return Err(Errno::EIO);
        }
        Ok(st)
    }
}

impl Filesystem for Fs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let r = self.live().and_then(|st| {
            let ino = *st.entries(parent.0)?.get(name).ok_or(Errno::ENOENT)?;
            st.attr(ino).ok_or(Errno::ENOENT)
        });
        match r {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.live().and_then(|st| st.attr(ino.0).ok_or(Errno::ENOENT)) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let r = self.live().and_then(|mut st| {
            if let Some(len) = size {
                st.data_mut(ino.0)?.set_len(len);
                st.touch(ino.0);
            }
            if let Some(mode) = mode {
                st.nodes.get_mut(&ino.0).ok_or(Errno::ENOENT)?.perm = (mode & 0o7777) as u16;
            }
            st.attr(ino.0).ok_or(Errno::ENOENT)
        });
        match r {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, reply: ReplyEntry) {
        let r = self.live().and_then(|mut st| {
            let dir = Kind::Dir {
                cur: BTreeMap::new(),
                dur: BTreeMap::new(),
            };
            let ino = st.link(parent.0, name, dir, (mode & !umask & 0o7777) as u16)?;
            st.attr(ino).ok_or(Errno::ENOENT)
        });
        match r {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.live().and_then(|mut st| st.unlink(parent.0, name, false)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.live().and_then(|mut st| st.unlink(parent.0, name, true)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        match self
            .live()
            .and_then(|mut st| st.rename(parent.0, name, newparent.0, newname, flags))
        {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let r = self.live().and_then(|mut st| {
            if flags.0 & libc::O_TRUNC != 0 {
                st.data_mut(ino.0)?.set_len(0);
            }
            st.nodes.get_mut(&ino.0).ok_or(Errno::ENOENT)?.open += 1;
            st.next_fh += 1;
            Ok(st.next_fh)
        });
        match r {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let r = self.live().and_then(|mut st| {
            let file = Kind::File {
                cur: Data::default(),
                dur: Data::default(),
            };
            let ino = st.link(parent.0, name, file, (mode & !umask & 0o7777) as u16)?;
            st.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?.open += 1;
            st.next_fh += 1;
            Ok((st.attr(ino).ok_or(Errno::ENOENT)?, st.next_fh))
        });
        match r {
            Ok((a, fh)) => reply.created(&TTL, &a, Generation(0), FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self
            .live()
            .and_then(|mut st| Ok(st.data_mut(ino.0)?.read(offset, size as usize)))
        {
            Ok(d) => reply.data(&d),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let r = self.live().and_then(|mut st| {
            st.data_mut(ino.0)?.write(offset, data);
            st.touch(ino.0);
            Ok(())
        });
        match r {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(e),
        }
    }

    fn flush(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _lock_owner: LockOwner, reply: ReplyEmpty) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let mut st = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = st.nodes.get_mut(&ino.0) {
            n.open = n.open.saturating_sub(1);
        }
        st.maybe_free(ino.0);
        reply.ok();
    }

    fn fsync(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        match self.live().and_then(|mut st| st.sync(ino.0)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let r = self.live().and_then(|mut st| {
            let mut list = vec![
                (ino.0, FileType::Directory, OsString::from(".")),
                (ino.0, FileType::Directory, OsString::from("..")),
            ];
            for (name, child) in st.entries(ino.0)? {
                let kind = match st.nodes.get(child).map(|n| &n.kind) {
                    Some(Kind::Dir { .. }) => FileType::Directory,
                    _ => FileType::RegularFile,
                };
                list.push((*child, kind, name.clone()));
            }
            st.next_fh += 1;
            let fh = st.next_fh;
            st.listings.insert(fh, list);
            Ok(fh)
        });
        match r {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let st = match self.live() {
            Ok(st) => st,
            Err(e) => return reply.error(e),
        };
        let Some(list) = st.listings.get(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        for (i, (child, kind, name)) in list.iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(*child), i as u64 + 1, *kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, _flags: OpenFlags, reply: ReplyEmpty) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).listings.remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        match self.live().and_then(|mut st| st.sync(ino.0)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let blocks = 1 << 28;
        reply.statfs(blocks, blocks, blocks, 1 << 24, 1 << 24, PAGE as u32, 255, PAGE as u32);
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        reply.ok();
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        if mode != 0 {
            return reply.error(Errno::EOPNOTSUPP);
        }
        let r = self.live().and_then(|mut st| {
            let d = st.data_mut(ino.0)?;
            if offset + length > d.len {
                d.set_len(offset + length);
            }
            Ok(())
        });
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }
}

/// A mounted power-cut filesystem.
pub struct PowerCut {
    state: Arc<Mutex<State>>,
    session: Option<fuser::BackgroundSession>,
    mountpoint: PathBuf,
}

impl PowerCut {
    /// Mounts an empty filesystem, or what survived an earlier cut, at `mountpoint`.
    /// Needs /dev/fuse and root (the mount is made directly, without fusermount).
    pub fn mount(mountpoint: &Path, image: Option<Image>) -> io::Result<Self> {
        let state = Arc::new(Mutex::new(State::from_image(image.unwrap_or_default())));
        let mut cfg = Config::default();
        cfg.mount_options = vec![MountOption::FSName("powercut".into()), MountOption::NoAtime];
        let session = fuser::spawn_mount(Fs(state.clone()), mountpoint, &cfg)?;
        Ok(PowerCut {
            state,
            session: Some(session),
            mountpoint: mountpoint.to_owned(),
        })
    }

    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Cuts the power: from now on every request fails with EIO. Returns what the disk
    /// holds; mount it again to reboot.
    pub fn cut(&self, how: Cut) -> Image {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.dead = true;
        st.image(how)
    }

    pub fn stats(&self) -> Stats {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).stats
    }

    /// Unmounts and waits for the filesystem thread. Processes using the mount should be
    /// gone first.
    pub fn unmount(mut self) -> io::Result<()> {
        match self.session.take() {
            Some(s) => s.umount_and_join(),
            None => Ok(()),
        }
    }
}

impl Drop for PowerCut {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            let _ = s.umount_and_join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_pages_read_write_truncate() {
        let mut d = Data::default();
        d.write(PAGE as u64 - 3, b"abcdef");
        assert_eq!(d.len, PAGE as u64 + 3);
        assert_eq!(d.read(PAGE as u64 - 4, 10), b"\0abcdef");
        assert_eq!(d.read(0, 2), b"\0\0");
        d.set_len(PAGE as u64 - 1);
        d.set_len(PAGE as u64 + 3);
        assert_eq!(d.read(PAGE as u64 - 3, 6), b"ab\0\0\0\0");
        let snapshot = d.clone();
        d.write(0, b"zz");
        assert_eq!(
            snapshot.read(0, 2),
            b"\0\0",
            "a write after a sync must not reach the synced copy"
        );
    }
}
