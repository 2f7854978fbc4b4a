//! Format 2: as format 3, except that `ObjectRecord`, `UploadRecord` and `PartRecord` had
//! no encryption. Their format-2 bytes (and format 1's and 0's parts, which were the same)
//! are read here and upgraded in memory: not encrypted.

use serde::Deserialize;

use super::Record;
use crate::acl::Grant;
use crate::checksum::{ChecksumAlgorithm, ChecksumType, Checksums};
use crate::model::{CanonicalId, DataRef, ObjectMeta, ObjectRecord, PartRecord, Retention, UploadRecord};

#[derive(Deserialize)]
struct ObjectRecordV2 {
    version_id: Option<String>,
    sort: u128,
    delete_marker: bool,
    size: u64,
    etag: String,
    md5: [u8; 16],
    crc32c: Option<u32>,
    last_modified_ms: i64,
    data: DataRef,
    meta: ObjectMeta,
    retention: Option<Retention>,
    legal_hold: bool,
    owner: Option<CanonicalId>,
    acl: Option<Vec<Grant>>,
    tags: Vec<(String, String)>,
    website_redirect: Option<String>,
}

pub(super) fn object(rest: &[u8]) -> postcard::Result<ObjectRecord> {
    let v: ObjectRecordV2 = postcard::from_bytes(rest)?;
    Ok(ObjectRecord {
        version_id: v.version_id,
        sort: v.sort,
        delete_marker: v.delete_marker,
        size: v.size,
        etag: v.etag,
        md5: v.md5,
        crc32c: v.crc32c,
        last_modified_ms: v.last_modified_ms,
        data: v.data,
        meta: v.meta,
        retention: v.retention,
        legal_hold: v.legal_hold,
        owner: v.owner,
        acl: v.acl,
        tags: v.tags,
        website_redirect: v.website_redirect,
        sse: None,
    })
}

#[derive(Deserialize)]
struct UploadRecordV2 {
    bucket: String,
    key: String,
    upload_id: String,
    owner: CanonicalId,
    initiated_ms: i64,
    meta: ObjectMeta,
    checksum_algorithm: Option<ChecksumAlgorithm>,
    checksum_type: Option<ChecksumType>,
    object_owner: Option<CanonicalId>,
    acl: Option<Vec<Grant>>,
    tags: Vec<(String, String)>,
    website_redirect: Option<String>,
}

pub(super) fn upload(rest: &[u8]) -> postcard::Result<UploadRecord> {
    let v: UploadRecordV2 = postcard::from_bytes(rest)?;
    Ok(UploadRecord {
        bucket: v.bucket,
        key: v.key,
        upload_id: v.upload_id,
        owner: v.owner,
        initiated_ms: v.initiated_ms,
        meta: v.meta,
        checksum_algorithm: v.checksum_algorithm,
        checksum_type: v.checksum_type,
        object_owner: v.object_owner,
        acl: v.acl,
        tags: v.tags,
        website_redirect: v.website_redirect,
        sse: None,
    })
}

/// A part in formats 0 to 2.
#[derive(Deserialize)]
pub struct PartRecordV2 {
    part_number: u32,
    size: u64,
    etag: String,
    md5: [u8; 16],
    crc32c: u32,
    last_modified_ms: i64,
    data: DataRef,
    checksums: Checksums,
}

impl PartRecordV2 {
    pub fn upgrade(self) -> PartRecord {
        PartRecord {
            part_number: self.part_number,
            size: self.size,
            etag: self.etag,
            md5: self.md5,
            crc32c: self.crc32c,
            last_modified_ms: self.last_modified_ms,
            data: self.data,
            checksums: self.checksums,
            sse: None,
        }
    }
}

impl Record for PartRecord {
    fn from_format_1(rest: &[u8]) -> postcard::Result<Self> {
        Self::from_format_2(rest)
    }

    fn from_format_2(rest: &[u8]) -> postcard::Result<Self> {
        postcard::from_bytes::<PartRecordV2>(rest).map(PartRecordV2::upgrade)
    }
}
