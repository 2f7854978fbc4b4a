//! Listing: the walk every listing shares (ListObjects, ListObjectsV2, ListObjectVersions,
//! ListMultipartUploads), and live objects as one ordered scan of the `Current` table per
//! page, jumping over each common prefix with a single seek.

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
        let mut walk = Walk::new(q.prefix, q.delimiter, after, q.max_keys);
        txn.scan(Table::Current, from, end.as_deref(), &mut |k, v| {
            let key = std::str::from_utf8(&k[bp.len()..]).unwrap_or_default();
            Ok(match walk.step(key) {
                Step::Take => {
                    page.objects.push((key.to_owned(), model::decode(v)?));
                    page.last = Some(key.to_owned());
                    Scan::Next
                }
                Step::Prefix(cp) => {
                    page.common_prefixes.push(cp.to_owned());
                    page.last = Some(cp.to_owned());
                    seek_past(&bp, cp)
                }
                Step::Past(cp) => seek_past(&bp, cp),
                Step::Skip => Scan::Next,
                Step::Stop => Scan::Stop,
            })
        })?;
        page.truncated = walk.truncated;
        Ok(page)
    }
}

/// Where a listing is within its page: which keys roll up into a common prefix, which
/// prefixes an earlier page returned, and where the page ends. A listing walks its table in
/// key order, asks [`Walk::step`] about each key, and seeks past each common prefix, so a
/// prefix holding a million keys costs one seek.
pub(crate) struct Walk<'q> {
    prefix: &'q str,
    delimiter: Option<&'q str>,
    /// Common prefixes up to this key were returned on an earlier page.
    marker: Option<&'q str>,
    max: usize,
    count: usize,
    last_prefix: Option<String>,
    /// A key was left over when the page filled.
    pub truncated: bool,
}

/// What to do with a key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step<'k> {
    /// Its entry goes on the page.
    Take,
    /// It rolls up into this common prefix, new to the page: add it, then seek past it.
    Prefix(&'k str),
    /// It rolls up into a common prefix already returned: seek past it.
    Past(&'k str),
    /// It sorts before the prefix: go on.
    Skip,
    /// The page is full, or the keys have left the prefix.
    Stop,
}

impl<'q> Walk<'q> {
    pub(crate) fn new(prefix: &'q str, delimiter: Option<&'q str>, marker: Option<&'q str>, max: usize) -> Self {
        Walk {
            prefix,
            delimiter: delimiter.filter(|d| !d.is_empty()),
            marker,
            max,
            count: 0,
            last_prefix: None,
            truncated: false,
        }
    }

    pub(crate) fn step<'k>(&mut self, key: &'k str) -> Step<'k> {
        let Some(rest) = key.strip_prefix(self.prefix) else {
            return if key > self.prefix { Step::Stop } else { Step::Skip };
        };
        if let Some(d) = self.delimiter
            && let Some(i) = rest.find(d)
        {
            let cp = &key[..self.prefix.len() + i + d.len()];
            if self.marker.is_some_and(|m| cp <= m) || self.last_prefix.as_deref() == Some(cp) {
                return Step::Past(cp);
            }
            if !self.room() {
                return Step::Stop;
            }
            self.last_prefix = Some(cp.to_owned());
            return Step::Prefix(cp);
        }
        if !self.room() {
            return Step::Stop;
        }
        Step::Take
    }

    fn room(&mut self) -> bool {
        if self.count == self.max {
            self.truncated = true;
            return false;
        }
        self.count += 1;
        true
    }
}

/// Past every `Current` row under `prefix`.
fn seek_past(bp: &[u8], prefix: &str) -> Scan {
    let mut k = bp.to_vec();
    k.extend_from_slice(prefix.as_bytes());
    match model::prefix_successor(&k) {
        Some(next) => Scan::Seek(next),
        None => Scan::Stop,
    }
}

/// Past every key-group row (`Versions`, `Uploads`) under `prefix`.
pub(crate) fn seek_past_group(bucket: &str, prefix: &str) -> Scan {
    match model::prefix_successor(&model::escaped_prefix(bucket, prefix.as_bytes())) {
        Some(next) => Scan::Seek(next),
        None => Scan::Stop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each key's step, in order, with `truncated` at the end.
    fn walk(prefix: &str, delimiter: Option<&str>, marker: Option<&str>, max: usize, keys: &[&str]) -> Vec<String> {
        let mut w = Walk::new(prefix, delimiter, marker, max);
        let mut out: Vec<String> = keys
            .iter()
            .map(|k| match w.step(k) {
                Step::Take => format!("take {k}"),
                Step::Prefix(cp) => format!("prefix {cp}"),
                Step::Past(cp) => format!("past {cp}"),
                Step::Skip => "skip".into(),
                Step::Stop => "stop".into(),
            })
            .collect();
        out.push(format!("truncated {}", w.truncated));
        out
    }

    /// Prefix, delimiter, marker, page size, keys in order, and the steps they get.
    type Case<'a> = (
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        usize,
        &'a [&'a str],
        &'a [&'a str],
    );

    #[test]
    fn steps() {
        let cases: &[Case] = &[
            // No delimiter: every key under the prefix, until the page is full.
            (
                "",
                None,
                None,
                2,
                &["a", "b/c", "d"],
                &["take a", "take b/c", "stop", "truncated true"],
            ),
            // A delimiter rolls keys up; a prefix is counted once.
            (
                "",
                Some("/"),
                None,
                3,
                &["a", "b/1", "b/2", "c"],
                &["take a", "prefix b/", "past b/", "take c", "truncated false"],
            ),
            // The prefix is not part of the rollup; the delimiter may be longer than a byte.
            (
                "p/",
                Some("--"),
                None,
                9,
                &["p/x--y", "p/z"],
                &["prefix p/x--", "take p/z", "truncated false"],
            ),
            // An empty delimiter is none.
            ("", Some(""), None, 9, &["a/b"], &["take a/b", "truncated false"]),
            // A prefix at or before the marker was on an earlier page.
            (
                "",
                Some("/"),
                Some("b/"),
                9,
                &["a/1", "b/1", "c/1"],
                &["past a/", "past b/", "prefix c/", "truncated false"],
            ),
            // Keys before the prefix are skipped, keys after it end the walk.
            (
                "m",
                None,
                None,
                9,
                &["l", "m1", "n"],
                &["skip", "take m1", "stop", "truncated false"],
            ),
            // A full page is truncated only when another entry is left.
            (
                "",
                Some("/"),
                None,
                1,
                &["a/1", "a/2", "b/1"],
                &["prefix a/", "past a/", "stop", "truncated true"],
            ),
            ("", None, None, 1, &["a"], &["take a", "truncated false"]),
        ];
        for (prefix, delim, marker, max, keys, want) in cases {
            assert_eq!(
                walk(prefix, *delim, *marker, *max, keys),
                want.to_vec(),
                "prefix {prefix:?} delimiter {delim:?} marker {marker:?} max {max}"
            );
        }
    }
}
