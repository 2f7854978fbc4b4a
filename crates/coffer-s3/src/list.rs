//! ListObjects (V1) and ListObjectsV2 over the store's ordered scan.

use coffer_store::{ListPage, ListQuery};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::Coffer;
use crate::convert::{encode, page_size, timestamp, url_encoding};
use crate::error::IntoS3;

fn max_keys(v: Option<i32>) -> S3Result<usize> {
    page_size(v, "max-keys").map(|n| n as usize)
}

fn page(c: &Coffer, bucket: &str, q: &ListQuery<'_>) -> S3Result<ListPage> {
    c.store.list_objects(bucket, q).s3()
}

fn contents(
    c: &Coffer,
    bucket: &str,
    page: &mut ListPage,
    url: bool,
    with_owner: bool,
    acls: bool,
) -> S3Result<(Vec<Object>, Vec<CommonPrefix>)> {
    let mut owners = if with_owner {
        let b = c.store.bucket(bucket).s3()?.ok_or_else(|| s3_error!(NoSuchBucket))?;
        Some(crate::acl::Owners::new(c, b.owner, acls))
    } else {
        None
    };
    let objects = page
        .objects
        .drain(..)
        .map(|(key, rec)| Object {
            key: Some(encode(&key, url)),
            e_tag: Some(ETag::Strong(rec.etag)),
            last_modified: Some(timestamp(rec.last_modified_ms)),
            size: Some(rec.size as i64),
            storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
            owner: owners.as_mut().map(|o| o.of(rec.owner)),
            ..Default::default()
        })
        .collect();
    let prefixes = page
        .common_prefixes
        .drain(..)
        .map(|p| CommonPrefix {
            prefix: Some(encode(&p, url)),
        })
        .collect();
    Ok((objects, prefixes))
}

pub async fn list_objects(c: &Coffer, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
    let acls = crate::acl::acls_enabled(&req);
    let input = req.input;
    let url = url_encoding(input.encoding_type.as_ref())?;
    let max = max_keys(input.max_keys)?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let q = ListQuery {
        prefix: &prefix,
        delimiter: input.delimiter.as_deref().filter(|d| !d.is_empty()),
        after: input.marker.as_deref().filter(|m| !m.is_empty()),
        max_keys: max,
    };
    let mut p = page(c, &input.bucket, &q)?;
    let (objects, prefixes) = contents(c, &input.bucket, &mut p, url, true, acls)?;
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(input.bucket),
        prefix: Some(encode(&prefix, url)),
        marker: Some(encode(input.marker.as_deref().unwrap_or(""), url)),
        next_marker: p.last.filter(|_| p.truncated).map(|m| encode(&m, url)),
        max_keys: Some(max as i32),
        delimiter: input.delimiter.filter(|d| !d.is_empty()).map(|d| encode(&d, url)),
        is_truncated: Some(p.truncated),
        contents: Some(objects),
        common_prefixes: Some(prefixes),
        encoding_type: input.encoding_type,
        request_charged: None,
    }))
}

pub async fn list_objects_v2(
    c: &Coffer,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let acls = crate::acl::acls_enabled(&req);
    let input = req.input;
    let url = url_encoding(input.encoding_type.as_ref())?;
    let max = max_keys(input.max_keys)?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let token = input
        .continuation_token
        .as_deref()
        .map(|t| {
            hex::decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| s3_error!(InvalidArgument, "The continuation token provided is incorrect"))
        })
        .transpose()?;
    let after = token
        .as_deref()
        .or(input.start_after.as_deref())
        .filter(|a| !a.is_empty());
    let q = ListQuery {
        prefix: &prefix,
        delimiter: input.delimiter.as_deref().filter(|d| !d.is_empty()),
        after,
        max_keys: max,
    };
    let mut p = page(c, &input.bucket, &q)?;
    let (objects, prefixes) = contents(c, &input.bucket, &mut p, url, input.fetch_owner == Some(true), acls)?;
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(input.bucket),
        prefix: Some(encode(&prefix, url)),
        key_count: Some((objects.len() + prefixes.len()) as i32),
        max_keys: Some(max as i32),
        continuation_token: input.continuation_token,
        next_continuation_token: p.last.filter(|_| p.truncated).map(hex::encode),
        start_after: input.start_after.map(|s| encode(&s, url)),
        delimiter: input.delimiter.filter(|d| !d.is_empty()).map(|d| encode(&d, url)),
        is_truncated: Some(p.truncated),
        contents: Some(objects),
        common_prefixes: Some(prefixes),
        encoding_type: input.encoding_type,
        request_charged: None,
    }))
}
