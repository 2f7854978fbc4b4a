//! Records as stored in the metadata tables, and the key encodings that make a listing
//! one ordered range scan.

use serde::{Deserialize, Serialize};

use crate::acl::Grant;
use crate::blob::BlobId;
use crate::checksum::{ChecksumAlgorithm, ChecksumType, Checksums};
pub use crate::lock::LockMode;
pub(crate) use crate::record::{decode, encode};
use crate::sse::{Sse, SseMode};

/// A user's immutable identity: 32 bytes, shown as 64 hex digits (S3's canonical user id).
/// Names are display names; everything owned stores this. Encoded as a byte string, which
/// decodes with one copy: every listed version carries one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CanonicalId(pub [u8; 32]);

impl Serialize for CanonicalId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for CanonicalId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Bytes32;
        impl serde::de::Visitor<'_> for Bytes32 {
            type Value = CanonicalId;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("32 bytes")
            }

            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<CanonicalId, E> {
                <[u8; 32]>::try_from(v)
                    .map(CanonicalId)
                    .map_err(|_| E::invalid_length(v.len(), &self))
            }
        }
        d.deserialize_bytes(Bytes32)
    }
}

impl CanonicalId {
    pub fn random() -> Self {
        Self(rand::random())
    }

    /// From its 64 hex digits.
    pub fn parse(hex_id: &str) -> Option<Self> {
        let mut b = [0; 32];
        hex::decode_to_slice(hex_id, &mut b).ok()?;
        Some(Self(b))
    }
}

impl std::fmt::Display for CanonicalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::fmt::Debug for CanonicalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CanonicalId({self})")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketRecord {
    pub owner: CanonicalId,
    /// Milliseconds since the Unix epoch.
    pub created_ms: i64,
    pub versioning: Versioning,
    pub object_lock: bool,
    /// Retention given to new versions that ask for none.
    pub default_retention: Option<DefaultRetention>,
}

/// A bucket's default object-lock retention: mode and a period in days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRetention {
    pub mode: LockMode,
    pub days: u32,
}

impl DefaultRetention {
    pub fn from_now(&self) -> Retention {
        Retention {
            mode: self.mode,
            until_ms: crate::now_ms() + i64::from(self.days) * 86_400_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versioning {
    Unversioned,
    Enabled,
    Suspended,
}

/// Where an object's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataRef {
    Empty,
    /// In the `Data` table under this id, committed with the record.
    Inline(u128),
    Blob(BlobId),
    /// A completed multipart object: `count` rows in `ObjectParts` under this id.
    Parts {
        id: u128,
        count: u32,
    },
}

/// Content headers stored with an object and returned on GET/HEAD.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
    /// As sent, an HTTP date.
    pub expires: Option<String>,
    /// `x-amz-meta-*` without the prefix, lower-cased names.
    pub user: Vec<(String, String)>,
    /// Additional checksums: algorithm and base64 value.
    pub checksums: Checksums,
}

/// One version of an object. The unversioned case is the `null` version (`version_id: None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub version_id: Option<String>,
    /// Orders a key's versions, newest first; a non-null version id is its hex.
    pub sort: u128,
    pub delete_marker: bool,
    pub size: u64,
    /// Hex, without quotes.
    pub etag: String,
    /// MD5 of the whole content as stored, kept for scrubbing.
    pub md5: [u8; 16],
    /// CRC32C of the content as stored, checked whenever it is read whole (None: multipart, whose
    /// parts carry their own, and delete markers).
    pub crc32c: Option<u32>,
    pub last_modified_ms: i64,
    pub data: DataRef,
    pub meta: ObjectMeta,
    /// Object lock: retention mode (`GOVERNANCE` or `COMPLIANCE`) and its end.
    pub retention: Option<Retention>,
    pub legal_hold: bool,
    /// Who owns this version, when not the bucket's owner. `None`, the bucket's owner, is
    /// S3's default (BucketOwnerEnforced) and costs one byte instead of 33 in every record.
    pub owner: Option<CanonicalId>,
    /// The version's ACL; `None`: its owner's FULL_CONTROL alone (`private`, and every
    /// version in a bucket with ACLs disabled). Added in format 2.
    pub acl: Option<Vec<Grant>>,
    /// Object tags (key, value), sorted by key. Added in format 2.
    pub tags: Vec<(String, String)>,
    /// `x-amz-website-redirect-location`: where a website request for this version goes.
    /// Added in format 2.
    pub website_redirect: Option<String>,
    /// How the version's bytes are encrypted; `md5`, `crc32c` and a blob's size are then
    /// those of the stored (encrypted) bytes. Added in format 3.
    pub sse: Option<Sse>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub mode: LockMode,
    pub until_ms: i64,
}

impl ObjectRecord {
    /// The version id as S3 shows it.
    pub fn version_id_str(&self) -> &str {
        self.version_id.as_deref().unwrap_or("null")
    }
}

/// A sort key for a new version: newer versions sort first.
pub(crate) fn new_sort() -> u128 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (u128::from(u64::MAX - nanos) << 64) | u128::from(rand::random::<u64>())
}

/// The version id of a sort key, and back. Other strings are not version ids.
pub(crate) fn version_id_of(sort: u128) -> String {
    format!("{sort:032x}")
}

pub(crate) fn sort_of(version_id: &str) -> Option<u128> {
    (version_id.len() == 32 && version_id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u128::from_str_radix(version_id, 16).ok())
        .flatten()
}

/// `Versions` row key: the key's group, then the version's sort key.
pub(crate) fn version_key(bucket: &str, key: &str, sort: u128) -> Vec<u8> {
    let mut k = key_group(bucket, key);
    k.extend_from_slice(&sort.to_be_bytes());
    k
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub owner: CanonicalId,
    pub initiated_ms: i64,
    pub meta: ObjectMeta,
    /// Additional checksum algorithm asked for at creation, and its type (COMPOSITE or FULL_OBJECT).
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub checksum_type: Option<ChecksumType>,
    /// The completed object's owner, ACL and tags, as `ObjectRecord`'s. Added in format 2.
    pub object_owner: Option<CanonicalId>,
    pub acl: Option<Vec<Grant>>,
    pub tags: Vec<(String, String)>,
    pub website_redirect: Option<String>,
    /// How the parts are encrypted (each has its own data key). Added in format 3.
    pub sse: Option<SseMode>,
}

/// One uploaded part, and later one part of a completed object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    pub part_number: u32,
    pub size: u64,
    /// Hex MD5 of the part, without quotes.
    pub etag: String,
    pub md5: [u8; 16],
    /// CRC32C of the part, checked whenever it is read whole.
    pub crc32c: u32,
    pub last_modified_ms: i64,
    pub data: DataRef,
    pub checksums: Checksums,
    /// The part's encryption and its own data key; `md5` and `crc32c` are then those of
    /// the stored bytes. Added in format 3.
    pub sse: Option<Sse>,
}

/// `Current` key: bucket names never hold a NUL, so `bucket \0 key` keeps a bucket's keys
/// contiguous and in UTF-8 byte order.
pub(crate) fn current_key(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.len() + 1 + key.len());
    k.extend_from_slice(bucket.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

pub(crate) fn bucket_prefix(bucket: &str) -> Vec<u8> {
    current_key(bucket, "")
}

/// `bucket \0 escaped(key) \0\0`, with NUL in the key escaped as `\0\xff`: the rows of
/// one key (uploads, later versions) stay contiguous and in key order.
pub(crate) fn key_group(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = escaped_prefix(bucket, key.as_bytes());
    k.extend_from_slice(&[0, 0]);
    k
}

/// `bucket \0 escaped(prefix)`: every key group of keys starting with `prefix` starts so.
pub(crate) fn escaped_prefix(bucket: &str, prefix: &[u8]) -> Vec<u8> {
    let mut k = bucket_prefix(bucket);
    for &b in prefix {
        k.push(b);
        if b == 0 {
            k.push(0xff);
        }
    }
    k
}

/// Inverse of [`key_group`] for a row key: the object key and what follows the group.
pub(crate) fn split_key_group(bucket_len: usize, row: &[u8]) -> Option<(String, &[u8])> {
    let mut key = Vec::new();
    let mut i = bucket_len + 1;
    while i < row.len() {
        match (row[i], row.get(i + 1)) {
            (0, Some(0xff)) => {
                key.push(0);
                i += 2;
            }
            (0, Some(0)) => return Some((String::from_utf8(key).ok()?, &row[i + 2..])),
            (b, _) => {
                key.push(b);
                i += 1;
            }
        }
    }
    None
}

pub(crate) fn upload_key(bucket: &str, key: &str, upload_id: &str) -> Vec<u8> {
    let mut k = key_group(bucket, key);
    k.extend_from_slice(upload_id.as_bytes());
    k
}

pub(crate) fn part_key(upload_id: &str, part_number: u32) -> Vec<u8> {
    let mut k = upload_id.as_bytes().to_vec();
    k.extend_from_slice(&part_number.to_be_bytes());
    k
}

pub(crate) fn object_part_key(data_id: u128, index: u32) -> Vec<u8> {
    let mut k = data_id.to_be_bytes().to_vec();
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// The least byte string greater than every string that starts with `prefix`,
/// or `None` when no such string exists (all bytes 0xff).
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut p = prefix.to_vec();
    while let Some(last) = p.pop() {
        if last < 0xff {
            p.push(last + 1);
            return Some(p);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_keys_sort_by_key_bytes_within_a_bucket() {
        let mut keys = [
            current_key("b", "a/b"),
            current_key("b", "a"),
            current_key("b", "a0"),
            current_key("bb", ""),
            current_key("b", "é"),
        ];
        keys.sort();
        assert_eq!(keys[0], current_key("b", "a"));
        assert_eq!(keys[1], current_key("b", "a/b"));
        assert_eq!(keys[2], current_key("b", "a0"));
        assert_eq!(keys[3], current_key("b", "é"));
        assert_eq!(keys[4], current_key("bb", ""));
    }

    #[test]
    fn key_groups_stay_contiguous_and_split_back() {
        let a = upload_key("b", "a", "1");
        let anul = upload_key("b", "a\0x", "0");
        let ab = upload_key("b", "ab", "0");
        let mut v = vec![ab.clone(), anul.clone(), a.clone()];
        v.sort();
        assert_eq!(v, vec![a.clone(), anul.clone(), ab]);
        assert_eq!(split_key_group(1, &anul), Some(("a\0x".to_owned(), &b"0"[..])));
        assert_eq!(split_key_group(1, &a), Some(("a".to_owned(), &b"1"[..])));
    }

    #[test]
    fn newer_versions_sort_first_and_ids_round_trip() {
        let a = new_sort();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_sort();
        assert!(b < a);
        assert_eq!(sort_of(&version_id_of(a)), Some(a));
        assert_eq!(sort_of("null"), None);
        assert!(version_key("b", "k", b) < version_key("b", "k", a));
    }

    #[test]
    fn successor_skips_a_whole_prefix() {
        assert_eq!(prefix_successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
    }

    #[test]
    fn records_round_trip() {
        let r = ObjectRecord {
            version_id: None,
            sort: 5,
            delete_marker: false,
            size: 3,
            etag: "abc".into(),
            md5: [7; 16],
            crc32c: Some(3),
            last_modified_ms: 1,
            data: DataRef::Inline(9),
            meta: ObjectMeta {
                user: vec![("k".into(), "v".into())],
                ..ObjectMeta::default()
            },
            retention: None,
            legal_hold: false,
            owner: Some(CanonicalId([1; 32])),
            acl: Some(vec![Grant {
                grantee: crate::Grantee::AllUsers,
                permission: crate::Permission::Read,
            }]),
            tags: vec![("k".into(), "v".into())],
            website_redirect: Some("/elsewhere".into()),
            sse: Some(Sse {
                mode: SseMode::Customer {
                    salt: [5; 16],
                    key_mac: [4; 32],
                },
                key: None,
            }),
        };
        assert_eq!(decode::<ObjectRecord>(&encode(&r)).unwrap(), r);
    }
}
