//! Encryption at rest: SSE-S3, SSE-KMS and SSE-C.
//!
//! Every encrypted object (every part of an encrypted multipart object) has its own random
//! 256-bit data key. Its bytes are stored as *packages*: each [`PACKAGE`] bytes of plaintext
//! (the last may be shorter) sealed with AES-256-GCM under the data key, with the package's
//! index as the nonce, followed by its 16-byte tag. A range decrypts only the packages it
//! touches; a changed, truncated or reordered package fails its tag. The data key is stored
//! in the record, sealed (AES-256-GCM, random nonce) under a key-encryption key (KEK):
//!
//! - SSE-S3: the server's master key.
//! - SSE-KMS: a named key of the built-in key service, whose material is itself sealed
//!   under the master key in the `keys` table; the encryption context is authenticated
//!   with the data key.
//! - SSE-C: the customer's key, never stored; a keyed MAC of it recognises it on reads.
//!
//! Rotating the master key re-seals SSE-S3 data keys and KMS key material, never data.

use std::io;
use std::path::Path;

use bytes::{Bytes, BytesMut};
use futures::{StreamExt, stream};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::blob::ByteStream;
use crate::error::{StoreError, StoreResult};

/// Plaintext bytes per package.
pub const PACKAGE: u64 = 64 << 10;
/// The GCM tag after each package.
pub const TAG_LEN: u64 = 16;

/// Bytes stored for `plain` bytes of plaintext.
pub fn stored_len(plain: u64) -> u64 {
    plain + TAG_LEN * plain.div_ceil(PACKAGE)
}

/// The server's master key: seals SSE-S3 data keys and KMS key material.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", hex::encode(self.id()))
    }
}

impl MasterKey {
    pub fn generate() -> Self {
        Self(rand::random())
    }

    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }

    /// Names the key without revealing it: the data directory records the id of the key
    /// it is sealed under, so a server given another key refuses to start.
    pub fn id(&self) -> [u8; 8] {
        let d = Sha256::new()
            .chain_update(b"coffer master key id\0")
            .chain_update(self.0)
            .finalize();
        d[..8].try_into().expect("8 bytes")
    }

    /// Reads a key file: 64 hex digits (surrounding whitespace ignored).
    pub fn load(path: &Path) -> io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        let mut b = [0; 32];
        hex::decode_to_slice(text.trim(), &mut b).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: a master key file holds 64 hex digits", path.display()),
            )
        })?;
        Ok(Self(b))
    }

    /// Writes the key to a new file readable by its owner only, durably.
    pub fn write_new(&self, path: &Path) -> io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        writeln!(f, "{}", hex::encode(self.0))?;
        f.sync_all()?;
        if let Some(dir) = path.parent() {
            crate::blob::sync_dir(dir)?;
        }
        Ok(())
    }
}

/// A customer's SSE-C key, as the request brought it. Never stored, never logged.
#[derive(Clone)]
pub struct CustomerKey([u8; 32]);

impl std::fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomerKey(..)")
    }
}

impl CustomerKey {
    pub fn new(b: [u8; 32]) -> Self {
        Self(b)
    }

    /// What a record keeps to recognise the key: a MAC of the record's own random salt
    /// under a key derived from this one, so it reveals nothing without the key (unlike
    /// its MD5) and does not link the objects that share a key.
    pub fn mac(&self, salt: &[u8; 16]) -> [u8; 32] {
        hmac_sha256(&derive(&self.0, b"coffer sse-c key check"), salt)
            .as_ref()
            .try_into()
            .expect("32 bytes")
    }

    /// Whether this is the key `mac` was made with (compared in constant time).
    pub fn matches(&self, salt: &[u8; 16], mac: &[u8; 32]) -> bool {
        // Every byte compared, whatever differs first: no timing to learn a MAC from.
        let diff = self.mac(salt).iter().zip(mac).fold(0u8, |d, (a, b)| d | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

/// What a write asks its bytes to be encrypted with.
#[derive(Debug, Clone)]
pub enum Encrypt {
    S3,
    Kms {
        /// The key service's key name.
        key_id: String,
        /// The encryption context as sent (base64 of a JSON object), empty for none.
        context: String,
        bucket_key: bool,
    },
    Customer(CustomerKey),
}

/// How a version (or upload, or part) is encrypted, as its record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SseMode {
    S3,
    Kms {
        key_id: String,
        context: String,
        bucket_key: bool,
    },
    Customer {
        salt: [u8; 16],
        key_mac: [u8; 32],
    },
}

/// A data key sealed under its mode's key-encryption key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedKey {
    pub nonce: [u8; 12],
    pub key: [u8; 32],
    pub tag: [u8; 16],
}

impl std::fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedKey(..)")
    }
}

/// The encryption of a stored piece of data: its mode and its sealed data key (none on a
/// completed multipart object's record, whose parts each carry their own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sse {
    pub mode: SseMode,
    pub key: Option<SealedKey>,
}

/// AES-256-GCM under `key`.
fn aes_gcm(key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("a 256-bit key"))
}

/// A key-encryption key, with the associated data that binds a sealed key to its mode.
pub struct Kek {
    cipher: LessSafeKey,
    aad: Vec<u8>,
    /// A customer's key: a sealed key that does not open means the wrong key was given;
    /// under the server's keys, that the record is corrupt.
    customer: bool,
}

impl Kek {
    fn new(key: &[u8; 32], aad: Vec<u8>) -> Self {
        Self {
            cipher: aes_gcm(key),
            aad,
            customer: false,
        }
    }

    fn seal(&self, data_key: &[u8; 32]) -> SealedKey {
        let nonce: [u8; 12] = rand::random();
        let mut key = *data_key;
        let tag = self
            .cipher
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&self.aad), &mut key)
            .expect("32 bytes always seal");
        SealedKey {
            nonce,
            key,
            tag: tag.as_ref().try_into().expect("16 bytes"),
        }
    }

    /// The data key, or `WrongKey` when this KEK did not seal it.
    fn unseal(&self, s: &SealedKey) -> StoreResult<[u8; 32]> {
        let mut key = s.key;
        self.cipher
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(s.nonce),
                Aad::from(&self.aad),
                Tag::from(s.tag),
                &mut key,
                0..,
            )
            .map_err(|_| match self.customer {
                true => StoreError::SseWrongKey,
                false => StoreError::Corrupt("a sealed key does not open under the key that sealed it".into()),
            })?;
        Ok(key)
    }

    /// The package cipher of a piece sealed under this KEK.
    pub(crate) fn cipher_of(&self, sse: Option<&Sse>) -> StoreResult<LessSafeKey> {
        let sealed = sse
            .and_then(|s| s.key.as_ref())
            .ok_or_else(|| StoreError::Corrupt("encrypted data without its key".into()))?;
        Ok(aes_gcm(&self.unseal(sealed)?))
    }
}

/// What a write's bytes are sealed with: made by [`crate::Store::sealing`].
pub struct Sealing {
    pub(crate) mode: SseMode,
    pub(crate) kek: Kek,
    /// Keys the ETag of SSE-KMS and SSE-C data (none: SSE-S3, whose ETag is the MD5).
    pub(crate) etag_key: Option<[u8; 32]>,
}

fn hmac_sha256(key: &[u8; 32], data: &[u8]) -> ring::hmac::Tag {
    ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), data)
}

/// A key derived from `key` for one purpose, so no key is used for two.
fn derive(key: &[u8; 32], purpose: &[u8]) -> [u8; 32] {
    hmac_sha256(key, purpose).as_ref().try_into().expect("32 bytes")
}

impl Sealing {
    pub fn mode(&self) -> &SseMode {
        &self.mode
    }

    /// The ETag of data with this MD5: the MD5 itself for SSE-S3 (as S3 gives); for SSE-KMS
    /// and SSE-C, which S3 does not give the data's MD5 as ETag, a MAC of it under a key
    /// derived from the KMS or customer key: the same content under the same key has the
    /// same ETag (a part uploaded again completes), and it reveals nothing without the key.
    pub(crate) fn etag(&self, md5: [u8; 16]) -> [u8; 16] {
        match &self.etag_key {
            None => md5,
            Some(k) => hmac_sha256(k, &md5).as_ref()[..16].try_into().expect("16 bytes"),
        }
    }

    /// A fresh data key for one piece of data, sealed, and the packager that uses it.
    pub(crate) fn start(&self) -> (Sse, Packager) {
        let data_key: [u8; 32] = rand::random();
        let sse = Sse {
            mode: self.mode.clone(),
            key: Some(self.kek.seal(&data_key)),
        };
        (sse, Packager::new(aes_gcm(&data_key)))
    }
}

/// A package's nonce: whether it is the last, and its index. Every piece has its own data
/// key, so no (key, nonce) pair is ever used twice; the last-package flag makes a piece cut
/// short at a package boundary, or extended, fail as a reordered one does.
fn nonce(index: u64, last: bool) -> Nonce {
    let mut n = [0; 12];
    n[0] = u8::from(last);
    n[4..].copy_from_slice(&index.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

/// Cuts plaintext into sealed packages as it arrives.
pub(crate) struct Packager {
    cipher: LessSafeKey,
    index: u64,
    buf: BytesMut,
}

impl Packager {
    fn new(cipher: LessSafeKey) -> Self {
        Self {
            cipher,
            index: 0,
            buf: BytesMut::new(),
        }
    }

    /// The packages `data` completes. A full package is held until more data comes: only
    /// then is it known not to be the last.
    pub(crate) fn push(&mut self, mut data: &[u8]) -> Vec<Bytes> {
        let mut out = Vec::new();
        while !data.is_empty() {
            if self.buf.len() == PACKAGE as usize {
                out.push(self.seal(false));
            }
            if self.buf.is_empty() {
                self.buf.reserve((PACKAGE + TAG_LEN) as usize);
            }
            let n = data.len().min(PACKAGE as usize - self.buf.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        out
    }

    /// The last package, if there was any data.
    pub(crate) fn finish(mut self) -> Option<Bytes> {
        (!self.buf.is_empty()).then(|| self.seal(true))
    }

    fn seal(&mut self, last: bool) -> Bytes {
        let tag = self
            .cipher
            .seal_in_place_separate_tag(nonce(self.index, last), Aad::empty(), self.buf.as_mut())
            .expect("a package always seals");
        self.index += 1;
        self.buf.extend_from_slice(tag.as_ref());
        self.buf.split().freeze()
    }
}

/// Where a plaintext range lies in the stored bytes: the first package's index, the stored
/// offset and length of the packages it touches, and the plaintext bytes to skip in the first.
pub(crate) fn stored_range(offset: u64, len: u64, total: u64) -> (u64, u64, u64, u64) {
    if len == 0 {
        return (0, 0, 0, 0);
    }
    let first = offset / PACKAGE;
    let last = (offset + len - 1) / PACKAGE;
    let from = first * (PACKAGE + TAG_LEN);
    let to = ((last + 1) * (PACKAGE + TAG_LEN)).min(stored_len(total));
    (first, from, to - from, offset - first * PACKAGE)
}

/// Decrypts the packages `stored` streams (from package `first` of a piece of `total`
/// plaintext bytes) and yields `len` bytes after skipping `skip`. A package that fails its
/// tag ends the stream in an error, so the client sees a failed read, never wrong bytes.
pub(crate) fn open_stream(
    stored: ByteStream,
    cipher: LessSafeKey,
    first: u64,
    total: u64,
    skip: u64,
    len: u64,
) -> ByteStream {
    struct State {
        stored: ByteStream,
        cipher: LessSafeKey,
        index: u64,
        /// What is left of the last chunk read.
        pending: Bytes,
        skip: usize,
        left: u64,
        total: u64,
    }
    fn fail(mut st: State, e: io::Error) -> Option<(io::Result<Bytes>, State)> {
        st.left = 0;
        Some((Err(e), st))
    }
    let st = State {
        stored,
        cipher,
        index: first,
        pending: Bytes::new(),
        skip: skip as usize,
        left: len,
        total,
    };
    Box::pin(stream::unfold(st, |mut st| async move {
        if st.left == 0 {
            return None;
        }
        let plain = (st.total - st.index * PACKAGE).min(PACKAGE) as usize;
        let want = plain + TAG_LEN as usize;
        // Decrypted in place: the package is gathered into a buffer of its own.
        let mut pkg = BytesMut::with_capacity(want);
        while pkg.len() < want {
            if st.pending.is_empty() {
                match st.stored.next().await {
                    Some(Ok(b)) => st.pending = b,
                    Some(Err(e)) => return fail(st, e),
                    None => {
                        let e = io::Error::new(io::ErrorKind::UnexpectedEof, "encrypted data is truncated");
                        return fail(st, e);
                    }
                }
            }
            let n = (want - pkg.len()).min(st.pending.len());
            pkg.extend_from_slice(&st.pending.split_to(n));
        }
        let tag = Tag::try_from(&pkg[plain..]).expect("16 bytes");
        let last = (st.index + 1) * PACKAGE >= st.total;
        let opened = st
            .cipher
            .open_in_place_separate_tag(nonce(st.index, last), Aad::empty(), tag, &mut pkg[..plain], 0..)
            .is_ok();
        if !opened {
            tracing::error!("an encrypted package failed its authentication tag; refusing to complete the read");
            let e = io::Error::new(io::ErrorKind::InvalidData, "stored data failed its authentication");
            return fail(st, e);
        }
        st.index += 1;
        pkg.truncate(plain);
        let mut out = pkg.freeze().slice(st.skip..);
        st.skip = 0;
        if out.len() as u64 > st.left {
            out.truncate(st.left as usize);
        }
        st.left -= out.len() as u64;
        Some((Ok(out), st))
    }))
}

/// A key of the built-in key service, as stored in the `keys` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmsKeyRecord {
    pub created_ms: i64,
    pub enabled: bool,
    material: SealedKey,
}

/// The key service's key names: what an S3 client may send in
/// `x-amz-server-side-encryption-aws-kms-key-id` (the name, `alias/NAME`, or an ARN
/// ending in `key/NAME` or `alias/NAME`) is brought to the name.
pub fn kms_key_name(id: &str) -> &str {
    let id = id.rsplit_once(":key/").map_or(id, |(_, n)| n);
    let id = id.rsplit_once(":alias/").map_or(id, |(_, n)| n);
    id.strip_prefix("alias/").unwrap_or(id)
}

/// A valid key name: 1 to 128 of `A-Za-z0-9/_-.`.
pub fn valid_kms_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'))
}

/// The key SSE-KMS uses when a request names none, like AWS's managed `aws/s3` key:
/// created on first use.
pub const DEFAULT_KMS_KEY: &str = "aws/s3";

pub(crate) fn master_kek(master: &MasterKey) -> Kek {
    Kek::new(&derive(&master.0, b"coffer sse-s3 kek"), b"coffer sse-s3".to_vec())
}

fn kms_material_kek(master: &MasterKey, name: &str) -> Kek {
    let mut aad = b"coffer kms key\0".to_vec();
    aad.extend_from_slice(name.as_bytes());
    Kek::new(&derive(&master.0, b"coffer kms material kek"), aad)
}

pub(crate) fn new_kms_key(master: &MasterKey, name: &str) -> KmsKeyRecord {
    let material: [u8; 32] = rand::random();
    KmsKeyRecord {
        created_ms: crate::now_ms(),
        enabled: true,
        material: kms_material_kek(master, name).seal(&material),
    }
}

/// The KEK of SSE-KMS data under a key of the key service and a context, and the key of
/// such data's ETags.
pub(crate) fn kms_kek(
    master: &MasterKey,
    name: &str,
    rec: &KmsKeyRecord,
    context: &str,
) -> StoreResult<(Kek, [u8; 32])> {
    let material = kms_material_kek(master, name).unseal(&rec.material)?;
    let mut aad = b"coffer sse-kms\0".to_vec();
    aad.extend_from_slice(name.as_bytes());
    aad.push(0);
    aad.extend_from_slice(context.as_bytes());
    let kek = Kek::new(&derive(&material, b"coffer sse-kms kek"), aad);
    Ok((kek, derive(&material, b"coffer etag")))
}

/// The KEK of SSE-C data, and the key of such data's ETags.
pub(crate) fn customer_kek(key: &CustomerKey) -> (Kek, [u8; 32]) {
    let mut kek = Kek::new(&derive(&key.0, b"coffer sse-c kek"), b"coffer sse-c".to_vec());
    kek.customer = true;
    (kek, derive(&key.0, b"coffer etag"))
}

/// Re-seals a KMS key's material under a new master key.
pub(crate) fn reseal_kms(old: &MasterKey, new: &MasterKey, name: &str, rec: &mut KmsKeyRecord) -> StoreResult<()> {
    let material = kms_material_kek(old, name).unseal(&rec.material)?;
    rec.material = kms_material_kek(new, name).seal(&material);
    Ok(())
}

/// Re-seals an SSE-S3 data key under a new master key; other modes are left as they are.
pub(crate) fn reseal_s3(old: &Kek, new: &Kek, sse: &mut Option<Sse>) -> StoreResult<bool> {
    match sse {
        Some(Sse {
            mode: SseMode::S3,
            key: Some(k),
        }) => {
            *k = new.seal(&old.unseal(k)?);
            Ok(true)
        }
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(s: ByteStream) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut s = s;
        while let Some(b) = s.next().await {
            out.extend_from_slice(&b?);
        }
        Ok(out)
    }

    fn seal_all(plain: &[u8], chunk: usize) -> (Vec<u8>, [u8; 32]) {
        let key: [u8; 32] = rand::random();
        let mut p = Packager::new(aes_gcm(&key));
        let mut out = Vec::new();
        for c in plain.chunks(chunk.max(1)) {
            for pkg in p.push(c) {
                out.extend_from_slice(&pkg);
            }
        }
        if let Some(last) = p.finish() {
            out.extend_from_slice(&last);
        }
        (out, key)
    }

    fn read(stored: &[u8], key: [u8; 32], total: u64, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        let (first, from, n, skip) = stored_range(offset, len, total);
        let piece = Bytes::copy_from_slice(&stored[from as usize..(from + n) as usize]);
        // Arrives in uneven chunks, as from a file.
        let chunks: Vec<io::Result<Bytes>> = piece.chunks(7001).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let s: ByteStream = Box::pin(stream::iter(chunks));
        futures::executor::block_on(collect(open_stream(s, aes_gcm(&key), first, total, skip, len)))
    }

    #[test]
    fn ranges_decrypt_only_their_packages_and_round_trip() {
        let plain: Vec<u8> = (0..(3 * PACKAGE + 1000)).map(|i| (i % 251) as u8).collect();
        let total = plain.len() as u64;
        let (stored, key) = seal_all(&plain, 10_000);
        assert_eq!(stored.len() as u64, stored_len(total));
        assert_ne!(&stored[..100], &plain[..100]);
        for (off, len) in [
            (0, total),
            (1, 5),
            (PACKAGE - 1, 2),
            (PACKAGE, PACKAGE),
            (3 * PACKAGE, 1000),
            (5, 0),
        ] {
            let got = read(&stored, key, total, off, len).unwrap();
            assert_eq!(got, &plain[off as usize..(off + len) as usize], "{off}+{len}");
        }
        // A range inside the second package reads that package alone.
        let (first, from, n, skip) = stored_range(PACKAGE + 10, 100, total);
        assert_eq!((first, from, n, skip), (1, PACKAGE + TAG_LEN, PACKAGE + TAG_LEN, 10));
    }

    #[test]
    fn tampered_reordered_or_truncated_packages_fail() {
        let plain = vec![9u8; (2 * PACKAGE) as usize];
        let total = plain.len() as u64;
        let (stored, key) = seal_all(&plain, 65_536);
        let mut flipped = stored.clone();
        flipped[100] ^= 1;
        assert!(read(&flipped, key, total, 0, total).is_err());
        let p = (PACKAGE + TAG_LEN) as usize;
        let mut swapped = stored[p..].to_vec();
        swapped.extend_from_slice(&stored[..p]);
        assert!(read(&swapped, key, total, 0, total).is_err());
        let s: ByteStream = Box::pin(stream::iter(vec![Ok(Bytes::copy_from_slice(&stored[..p + 10]))]));
        let r = futures::executor::block_on(collect(open_stream(s, aes_gcm(&key), 0, total, 0, total)));
        assert!(r.is_err());
        assert!(read(&stored, [0; 32], total, 0, 1).is_err());
        // Cut at a package boundary (the record's size edited to match): the new last
        // package was not sealed as the last.
        assert!(read(&stored[..p], key, PACKAGE, 0, PACKAGE).is_err());
        // A piece of whole packages ends in a last one that opens.
        assert_eq!(
            read(&stored, key, total, total - 5, 5).unwrap(),
            &plain[plain.len() - 5..]
        );
    }

    #[test]
    fn data_keys_unseal_only_under_their_kek_and_context() {
        let master = MasterKey::generate();
        let kek = master_kek(&master);
        let dk = [3; 32];
        let sealed = kek.seal(&dk);
        assert_eq!(kek.unseal(&sealed).unwrap(), dk);
        assert!(master_kek(&MasterKey::generate()).unseal(&sealed).is_err());
        let kms = new_kms_key(&master, "app");
        let (a, etag_a) = kms_kek(&master, "app", &kms, "ctx-a").unwrap();
        let sealed = a.seal(&dk);
        let (b, etag_b) = kms_kek(&master, "app", &kms, "ctx-b").unwrap();
        assert!(b.unseal(&sealed).is_err());
        // ETags depend on the key, not on the context.
        assert_eq!(etag_a, etag_b);
        assert!(kms_kek(&master, "other", &kms, "ctx-a").is_err());
        let c = CustomerKey::new([1; 32]);
        let salt = [9; 16];
        assert!(c.matches(&salt, &c.mac(&salt)));
        assert!(!CustomerKey::new([2; 32]).matches(&salt, &c.mac(&salt)));
        assert_ne!(c.mac(&salt), c.mac(&[8; 16]), "salted");
        assert!(
            customer_kek(&CustomerKey::new([2; 32]))
                .0
                .unseal(&customer_kek(&c).0.seal(&dk))
                .is_err()
        );
        assert_ne!(customer_kek(&c).1, customer_kek(&CustomerKey::new([2; 32])).1);
    }

    #[test]
    fn kms_ids_come_to_the_key_name() {
        assert_eq!(kms_key_name("app"), "app");
        assert_eq!(kms_key_name("alias/app"), "app");
        assert_eq!(kms_key_name("arn:aws:kms:us-east-1:123:key/app"), "app");
        assert_eq!(kms_key_name("arn:aws:kms:us-east-1:123:alias/app"), "app");
        assert!(valid_kms_name("aws/s3") && !valid_kms_name("") && !valid_kms_name("a b"));
    }
}
