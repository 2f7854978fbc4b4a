//! Format 1: as format 2, except that `ObjectRecord` and `UploadRecord` had no ACL, tags or
//! website redirect (and uploads no owner for the object they complete). Their format-1 bytes are read here and
//! upgraded in memory: the bucket-owner default, no ACL, no tags, no redirect.

use serde::Deserialize;

use super::Record;
use crate::checksum::{ChecksumAlgorithm, ChecksumType};
use crate::model::{CanonicalId, DataRef, ObjectMeta, ObjectRecord, Retention, UploadRecord};

#[derive(Deserialize)]
struct ObjectRecordV1 {
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
}

impl Record for ObjectRecord {
    fn from_format_2(rest: &[u8]) -> postcard::Result<Self> {
        super::v2::object(rest)
    }

    fn from_format_1(rest: &[u8]) -> postcard::Result<Self> {
        let v: ObjectRecordV1 = postcard::from_bytes(rest)?;
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
            acl: None,
            tags: Vec::new(),
            website_redirect: None,
            sse: None,
        })
    }
}

#[derive(Deserialize)]
struct UploadRecordV1 {
    bucket: String,
    key: String,
    upload_id: String,
    owner: CanonicalId,
    initiated_ms: i64,
    meta: ObjectMeta,
    checksum_algorithm: Option<ChecksumAlgorithm>,
    checksum_type: Option<ChecksumType>,
}

impl Record for UploadRecord {
    fn from_format_2(rest: &[u8]) -> postcard::Result<Self> {
        super::v2::upload(rest)
    }

    fn from_format_1(rest: &[u8]) -> postcard::Result<Self> {
        let v: UploadRecordV1 = postcard::from_bytes(rest)?;
        Ok(UploadRecord {
            bucket: v.bucket,
            key: v.key,
            upload_id: v.upload_id,
            owner: v.owner,
            initiated_ms: v.initiated_ms,
            meta: v.meta,
            checksum_algorithm: v.checksum_algorithm,
            checksum_type: v.checksum_type,
            object_owner: None,
            acl: None,
            tags: Vec::new(),
            website_redirect: None,
            sse: None,
        })
    }
}
