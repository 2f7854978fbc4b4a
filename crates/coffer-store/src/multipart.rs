//! Multipart uploads: the upload and each part are rows, so a 10,000-part upload costs the
//! same per part as a 10-part one; completion moves the chosen parts under the new object
//! in one transaction.

use std::ops::Bound;

use crate::checksum::{ChecksumAlgorithm, ChecksumType, Checksums};
use crate::error::{StoreError, StoreResult};
use crate::list::{Step, Walk, seek_past_group};
use crate::meta::{Op, ReadTxn, Scan, Table};
use crate::model::{self, CanonicalId, DataRef, ObjectMeta, ObjectRecord, PartRecord, UploadRecord};
use crate::object::{NewVersion, PutCondition, Released, Staged, check_condition, current, release};
use crate::sse::SseMode;
use crate::{Store, now_ms};

/// S3's smallest part, except the last.
pub const MIN_PART_SIZE: u64 = 5 << 20;

/// A part named in a CompleteMultipartUpload request.
#[derive(Debug, Clone)]
pub struct CompletePart {
    pub part_number: u32,
    /// Unquoted.
    pub etag: String,
    /// The part's checksums as the client sent them in CompleteMultipartUpload.
    pub checksums: Checksums,
}

#[derive(Debug, Clone, Default)]
pub struct UploadsQuery<'a> {
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    pub key_marker: Option<&'a str>,
    pub upload_id_marker: Option<&'a str>,
    pub max_uploads: usize,
}

#[derive(Debug, Default)]
pub struct UploadsPage {
    pub uploads: Vec<UploadRecord>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
}

fn new_upload_id() -> String {
    // Time first, so a key's uploads list in the order they were started.
    format!("{:016x}{:016x}", now_ms(), rand::random::<u64>())
}

fn get_upload(txn: &dyn ReadTxn, bucket: &str, key: &str, upload_id: &str) -> StoreResult<UploadRecord> {
    if upload_id.len() != 32 || !upload_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StoreError::NoSuchUpload);
    }
    // The bucket first: no upload is reachable through a bucket that is gone.
    if txn.get(Table::Buckets, bucket.as_bytes())?.is_none() {
        return Err(StoreError::NoSuchBucket);
    }
    match txn.get(Table::Uploads, &model::upload_key(bucket, key, upload_id))? {
        Some(v) => model::decode(&v),
        None => Err(StoreError::NoSuchUpload),
    }
}

/// Deletes an upload and its parts in `ops`, releasing their data.
pub(crate) fn drop_upload(
    txn: &dyn ReadTxn,
    upload: &UploadRecord,
    ops: &mut Vec<Op>,
    released: &mut Released,
) -> StoreResult<()> {
    ops.push(Op::Delete(
        Table::Uploads,
        model::upload_key(&upload.bucket, &upload.key, &upload.upload_id),
    ));
    for p in parts(txn, &upload.upload_id, 0, usize::MAX)? {
        release(txn, p.data, ops, released)?;
        ops.push(Op::Delete(
            Table::Parts,
            model::part_key(&upload.upload_id, p.part_number),
        ));
    }
    Ok(())
}

fn parts(txn: &dyn ReadTxn, upload_id: &str, after: u32, limit: usize) -> StoreResult<Vec<PartRecord>> {
    let from = model::part_key(upload_id, after);
    let to = model::part_key(upload_id, u32::MAX);
    let mut out = Vec::new();
    for (_, v) in txn.range(Table::Parts, Bound::Excluded(&from), Some(&to), limit)? {
        out.push(model::decode(&v)?);
    }
    Ok(out)
}

/// How an upload's parts are checked and stored: the additional checksum asked for at
/// creation and its type, and the encryption every part gets.
#[derive(Debug, Clone, Default)]
pub struct UploadOptions {
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub checksum_type: Option<ChecksumType>,
    pub sse: Option<SseMode>,
}

impl Store {
    /// Starts an upload by `initiator` whose object will have `v`'s metadata, owner and ACL.
    /// Lock settings are not kept for the object (CreateMultipartUpload refuses them).
    pub async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        initiator: CanonicalId,
        v: NewVersion,
        o: UploadOptions,
    ) -> StoreResult<UploadRecord> {
        debug_assert!(v.retention.is_none() && !v.legal_hold, "uploads keep no lock settings");
        let rec = UploadRecord {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            upload_id: new_upload_id(),
            owner: initiator,
            initiated_ms: now_ms(),
            meta: v.meta,
            checksum_algorithm: o.checksum_algorithm,
            checksum_type: o.checksum_type,
            object_owner: v.owner,
            acl: v.acl,
            tags: v.tags,
            website_redirect: v.website_redirect,
            sse: o.sse,
        };
        self.commit_counted(move |txn| {
            if txn.get(Table::Buckets, rec.bucket.as_bytes())?.is_none() {
                return Err(StoreError::NoSuchBucket);
            }
            let k = model::upload_key(&rec.bucket, &rec.key, &rec.upload_id);
            Ok((vec![Op::Put(Table::Uploads, k, model::encode(&rec))], rec.clone()))
        })
        .await
    }

    pub fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> StoreResult<UploadRecord> {
        get_upload(&*self.meta.read()?, bucket, key, upload_id)
    }

    /// Stores a part; a part uploaded again under the same number replaces the earlier one.
    pub async fn put_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        mut staged: Staged,
        checksums: Checksums,
    ) -> StoreResult<PartRecord> {
        let (data, inline) = staged.take_data();
        let part = PartRecord {
            part_number,
            size: staged.size,
            etag: hex::encode(staged.etag_md5()),
            md5: staged.stored_md5,
            crc32c: staged.crc32c,
            last_modified_ms: now_ms(),
            data,
            checksums,
            sse: staged.sse.clone(),
        };
        let (bucket, key, upload_id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        let rec = part.clone();
        let released = self
            .commit_counted(move |txn| {
                get_upload(txn, &bucket, &key, &upload_id)?;
                let pk = model::part_key(&upload_id, part_number);
                let mut ops = Vec::new();
                let mut released = Released::default();
                if let Some(old) = txn.get(Table::Parts, &pk)? {
                    release(txn, model::decode::<PartRecord>(&old)?.data, &mut ops, &mut released)?;
                }
                if let (DataRef::Inline(id), Some(bytes)) = (rec.data, &inline) {
                    ops.push(Op::Put(Table::Data, id.to_be_bytes().to_vec(), bytes.to_vec()));
                }
                ops.push(Op::Put(Table::Parts, pk, model::encode(&rec)));
                Ok((ops, released))
            })
            .await?;
        staged.committed();
        self.free(released).await;
        Ok(part)
    }

    /// Parts after `marker`, at most `max`; and whether more follow.
    pub fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        marker: u32,
        max: usize,
    ) -> StoreResult<(UploadRecord, Vec<PartRecord>, bool)> {
        let txn = self.meta.read()?;
        let upload = get_upload(&*txn, bucket, key, upload_id)?;
        let mut parts = parts(&*txn, upload_id, marker, max.saturating_add(1))?;
        let truncated = parts.len() > max;
        parts.truncate(max);
        Ok((upload, parts, truncated))
    }

    /// Drops an upload and frees its parts.
    pub async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> StoreResult<()> {
        let (bucket, key, upload_id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        let released = self
            .commit_counted(move |txn| {
                let upload = get_upload(txn, &bucket, &key, &upload_id)?;
                let (mut ops, mut released) = (Vec::new(), Released::default());
                drop_upload(txn, &upload, &mut ops, &mut released)?;
                Ok((ops, released))
            })
            .await?;
        self.free(released).await;
        Ok(())
    }

    /// Makes the named parts the object's content, atomically: the object appears whole or
    /// not at all. Parts not named are freed.
    pub async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        chosen: Vec<CompletePart>,
        cond: PutCondition,
        whole: Checksums,
    ) -> StoreResult<ObjectRecord> {
        let (bucket, key, upload_id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        let (record, released) = self
            .commit_counted(move |txn| {
                let upload = get_upload(txn, &bucket, &key, &upload_id)?;
                let stored = parts(txn, &upload_id, 0, usize::MAX)?;
                let mut picked = Vec::with_capacity(chosen.len());
                for (i, c) in chosen.iter().enumerate() {
                    let p = stored
                        .iter()
                        .find(|p| p.part_number == c.part_number && p.etag == c.etag)
                        .ok_or(StoreError::InvalidPart)?;
                    if i + 1 < chosen.len() && p.size < MIN_PART_SIZE {
                        return Err(StoreError::EntityTooSmall);
                    }
                    picked.push(p.clone());
                }
                let b = crate::version::bucket_record(txn, &bucket)?;
                let old = current(txn, &model::current_key(&bucket, &key))?;
                check_condition(old.as_ref(), &cond)?;
                let sums = crate::checksum::complete(&upload, &chosen, &picked, &whole)?;

                let data_id: u128 = rand::random();
                let mut md5s = Vec::with_capacity(16 * picked.len());
                let mut ops = Vec::with_capacity(stored.len() + picked.len() + 3);
                for (i, p) in picked.iter().enumerate() {
                    // A part's ETag is its MD5, or for SSE-C and SSE-KMS a MAC of it.
                    let mut md5 = [0; 16];
                    hex::decode_to_slice(&p.etag, &mut md5)
                        .map_err(|_| StoreError::Corrupt(format!("part ETag {}", p.etag)))?;
                    md5s.extend_from_slice(&md5);
                    ops.push(Op::Put(
                        Table::ObjectParts,
                        model::object_part_key(data_id, i as u32),
                        model::encode(p),
                    ));
                }
                let mut released = Released::default();
                for p in &stored {
                    ops.push(Op::Delete(Table::Parts, model::part_key(&upload_id, p.part_number)));
                    if !picked.iter().any(|c| c.part_number == p.part_number) {
                        release(txn, p.data, &mut ops, &mut released)?;
                    }
                }
                ops.push(Op::Delete(Table::Uploads, model::upload_key(&bucket, &key, &upload_id)));
                use md5::Digest;
                let mut record = ObjectRecord {
                    version_id: None,
                    // Set by `version::install`, inside this transaction.
                    sort: 0,
                    delete_marker: false,
                    size: picked.iter().map(|p| p.size).sum(),
                    etag: format!("{}-{}", hex::encode(md5::Md5::digest(&md5s)), picked.len()),
                    md5: [0; 16],
                    crc32c: None,
                    last_modified_ms: now_ms(),
                    data: DataRef::Parts {
                        id: data_id,
                        count: picked.len() as u32,
                    },
                    meta: ObjectMeta {
                        checksums: sums,
                        ..upload.meta
                    },
                    retention: b.default_retention.as_ref().map(|d| d.from_now()),
                    legal_hold: false,
                    owner: upload.object_owner,
                    acl: upload.acl,
                    tags: upload.tags,
                    website_redirect: upload.website_redirect,
                    sse: upload.sse.map(|mode| crate::sse::Sse { mode, key: None }),
                };
                crate::version::install(
                    txn,
                    &b,
                    &bucket,
                    &key,
                    &mut record,
                    old.as_ref(),
                    &mut ops,
                    &mut released,
                )?;
                Ok((ops, (record, released)))
            })
            .await?;
        self.free(released).await;
        Ok(record)
    }

    /// Aborts every upload started before `cutoff_ms` (ms since the epoch), freeing its
    /// parts; returns how many. The uploads of a bucket follow each other in the table, so
    /// this is one scan.
    pub async fn abort_uploads_before(&self, cutoff_ms: i64) -> StoreResult<usize> {
        let mut stale = Vec::new();
        self.meta
            .read()?
            .scan(Table::Uploads, Bound::Unbounded, None, &mut |_, v| {
                let u: UploadRecord = model::decode(v)?;
                if u.initiated_ms < cutoff_ms {
                    stale.push(u);
                }
                Ok(Scan::Next)
            })?;
        let mut n = 0;
        for u in stale {
            match self.abort_upload(&u.bucket, &u.key, &u.upload_id).await {
                Ok(()) => n += 1,
                // Completed or aborted meanwhile.
                Err(StoreError::NoSuchUpload) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    /// Uploads in progress, by key then by start time; one ordered scan.
    pub fn list_uploads(&self, bucket: &str, q: &UploadsQuery<'_>) -> StoreResult<UploadsPage> {
        let txn = self.meta.read()?;
        if txn.get(Table::Buckets, bucket.as_bytes())?.is_none() {
            return Err(StoreError::NoSuchBucket);
        }
        let mut page = UploadsPage::default();
        if q.max_uploads == 0 {
            return Ok(page);
        }
        let bp = model::bucket_prefix(bucket);
        let start = model::key_group(bucket, q.prefix);
        // Everything in the bucket from the prefix on; keys are checked against the prefix.
        let start = &start[..start.len() - 2];
        let end = model::prefix_successor(&bp);
        let from_key = match (q.key_marker, q.upload_id_marker) {
            (Some(k), Some(u)) if !k.is_empty() => Some((model::upload_key(bucket, k, u), true)),
            (Some(k), _) if !k.is_empty() => model::prefix_successor(&model::key_group(bucket, k)).map(|s| (s, false)),
            _ => None,
        };
        let from = match &from_key {
            Some((k, true)) => Bound::Excluded(k.as_slice()),
            Some((k, false)) => Bound::Included(k.as_slice()),
            None => Bound::Included(start),
        };
        let mut walk = Walk::new(q.prefix, q.delimiter, q.key_marker, q.max_uploads);
        txn.scan(Table::Uploads, from, end.as_deref(), &mut |k, v| {
            let Some((key, _)) = model::split_key_group(bucket.len(), k) else {
                return Ok(Scan::Next);
            };
            Ok(match walk.step(&key) {
                Step::Take => {
                    page.uploads.push(model::decode(v)?);
                    Scan::Next
                }
                Step::Prefix(cp) => {
                    page.common_prefixes.push(cp.to_owned());
                    seek_past_group(bucket, cp)
                }
                Step::Past(cp) => seek_past_group(bucket, cp),
                Step::Skip => Scan::Next,
                Step::Stop => Scan::Stop,
            })
        })?;
        page.truncated = walk.truncated;
        Ok(page)
    }
}
