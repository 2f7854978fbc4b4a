//! Listing live objects: one ordered scan of the `Current` table per page, jumping over
//! each common prefix with a single seek.

use std::ops::Bound;

use crate::Store;
use crate::error::StoreResult;
use crate::meta::{Scan, Table};
use crate::model::{self, ObjectRecord};

#[derive(Debug, Clone, Default)]
pub struct ListQuery<'a> {
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    /// Resume strictly after this key or common prefix (marker, start-after, token).
    pub after: Option<&'a str>,
    pub max_keys: usize,
}

#[derive(Debug, Default)]
pub struct ListPage {
    pub objects: Vec<(String, ObjectRecord)>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or common prefix in the page: where the next page resumes.
    pub last: Option<String>,
}

impl Store {
    /// Errors with NoSuchBucket when the bucket does not exist.
    pub fn list_objects(&self, bucket: &str, q: &ListQuery<'_>) -> StoreResult<ListPage> {
        let txn = self.meta.read()?;
        if txn.get(Table::Buckets, bucket.as_bytes())?.is_none() {
            return Err(crate::StoreError::NoSuchBucket);
        }
        let mut page = ListPage::default();
        if q.max_keys == 0 {
            return Ok(page);
        }
        let bp = model::bucket_prefix(bucket);
        let mut start = bp.clone();
        start.extend_from_slice(q.prefix.as_bytes());
        let end = model::prefix_successor(&start).or_else(|| model::prefix_successor(&bp));
        let after = q.after.filter(|a| a.as_bytes() >= q.prefix.as_bytes());
        let from_key = after.map(|a| model::current_key(bucket, a));
        let from = match &from_key {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => Bound::Included(start.as_slice()),
        };
        let delim = q.delimiter.filter(|d| !d.is_empty());
        let mut count = 0usize;
        txn.scan(Table::Current, from, end.as_deref(), &mut |k, v| {
            let key = std::str::from_utf8(&k[bp.len()..]).unwrap_or_default();
            let rollup = delim.and_then(|d| {
                key[q.prefix.len()..]
                    .find(d)
                    .map(|i| &key[..q.prefix.len() + i + d.len()])
            });
            if let Some(cp) = rollup
                && after.is_some_and(|a| cp <= a)
            {
                // Already returned on an earlier page.
                return Ok(seek_past(&bp, cp));
            }
            if count == q.max_keys {
                page.truncated = true;
                return Ok(Scan::Stop);
            }
            count += 1;
            match rollup {
                Some(cp) => {
                    page.common_prefixes.push(cp.to_owned());
                    page.last = Some(cp.to_owned());
                    Ok(seek_past(&bp, cp))
                }
                None => {
                    page.objects.push((key.to_owned(), model::decode(v)?));
                    page.last = Some(key.to_owned());
                    Ok(Scan::Next)
                }
            }
        })?;
        Ok(page)
    }
}

fn seek_past(bp: &[u8], prefix: &str) -> Scan {
    let mut k = bp.to_vec();
    k.extend_from_slice(prefix.as_bytes());
    match model::prefix_successor(&k) {
        Some(next) => Scan::Seek(next),
        None => Scan::Stop,
    }
}
