//! Bucket lifecycle: Put/Get/DeleteBucketLifecycleConfiguration with AWS's validation,
//! the rules as stored (settings kind `lifecycle`), what each rule says is due, and the
//! `x-amz-expiration` header of the versions an Expiration rule will remove. The worker that
//! carries the rules out is `coffer::workers`; everything it decides comes from here.
//!
//! Time: a rule's "day" is `Config::lifecycle_day_secs` (86,400; shorter for tests, like
//! RGW's `rgw_lc_debug_interval`). With real days, an expiry is rounded up to the next
//! midnight UTC, as AWS does.

use coffer_store::{ObjectRecord, SettingKind};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};
use serde::{Deserialize, Serialize};

use crate::Coffer;
use crate::error::{IntoS3, custom_with};

/// Which objects a rule applies to, as given (so it is shown back the same way). Never
/// reorder: it is part of the setting's encoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Filter {
    /// The rule-level `Prefix` of older configurations.
    Legacy(String),
    /// `<Filter/>`: every object.
    Empty,
    Prefix(String),
    Tag(String, String),
    SizeGreaterThan(u64),
    SizeLessThan(u64),
    And {
        prefix: Option<String>,
        tags: Vec<(String, String)>,
        greater_than: Option<u64>,
        less_than: Option<u64>,
    },
}

impl Filter {
    pub fn prefix(&self) -> &str {
        match self {
            Filter::Legacy(p) | Filter::Prefix(p) => p,
            Filter::And { prefix: Some(p), .. } => p,
            _ => "",
        }
    }

    fn tags(&self) -> Vec<(&str, &str)> {
        match self {
            Filter::Tag(k, v) => vec![(k, v)],
            Filter::And { tags, .. } => tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
            _ => Vec::new(),
        }
    }

    fn has_tags(&self) -> bool {
        !self.tags().is_empty()
    }

    /// Whether a version of `key` with this size and these tags is in the rule's scope.
    pub fn matches(&self, key: &str, size: u64, tags: &[(String, String)]) -> bool {
        let (gt, lt) = match self {
            Filter::SizeGreaterThan(n) => (Some(*n), None),
            Filter::SizeLessThan(n) => (None, Some(*n)),
            Filter::And {
                greater_than,
                less_than,
                ..
            } => (*greater_than, *less_than),
            _ => (None, None),
        };
        key.starts_with(self.prefix())
            && gt.is_none_or(|n| size > n)
            && lt.is_none_or(|n| size < n)
            && self
                .tags()
                .iter()
                .all(|(k, v)| tags.iter().any(|(tk, tv)| tk == k && tv == v))
    }
}

/// When current versions expire. Never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expiration {
    Days(u32),
    /// Milliseconds since the epoch, a midnight UTC.
    Date(i64),
    /// Remove a delete marker that has no versions left behind it.
    ExpiredObjectDeleteMarker,
}

/// One rule, as stored. Never reorder the fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub enabled: bool,
    pub filter: Filter,
    pub expiration: Option<Expiration>,
    /// NoncurrentVersionExpiration: days after a version stops being current, and how many
    /// of the newest noncurrent versions to keep regardless.
    pub noncurrent_days: Option<u32>,
    pub newer_noncurrent: Option<u32>,
    /// AbortIncompleteMultipartUpload: days after an upload was started.
    pub abort_days: Option<u32>,
}

const MAX_RULES: usize = 1000;
const DAY_MS: i64 = 86_400_000;

/// When something `days` lifecycle days after `from_ms` is due: with real days, at the
/// midnight UTC that follows, as AWS rounds.
pub fn due_after(from_ms: i64, days: u32, day_secs: u64) -> i64 {
    let t = from_ms.saturating_add(i64::from(days).saturating_mul(day_secs as i64 * 1000));
    if day_secs == 86_400 {
        t.div_euclid(DAY_MS).saturating_add(1).saturating_mul(DAY_MS)
    } else {
        t
    }
}

impl Rule {
    /// When the current version `rec` of `key` expires under this rule, if it does.
    pub fn current_expiry(&self, key: &str, rec: &ObjectRecord, day_secs: u64) -> Option<i64> {
        if !self.enabled || rec.delete_marker || !self.filter.matches(key, rec.size, &rec.tags) {
            return None;
        }
        match self.expiration? {
            Expiration::Days(d) => Some(due_after(rec.last_modified_ms, d, day_secs)),
            Expiration::Date(ms) => Some(ms),
            Expiration::ExpiredObjectDeleteMarker => None,
        }
    }
}

fn invalid(message: &'static str) -> s3s::S3Error {
    custom_with("InvalidArgument", http::StatusCode::BAD_REQUEST, message)
}

fn malformed() -> s3s::S3Error {
    s3_error!(
        MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema."
    )
}

fn positive(n: Option<i32>, message: &'static str) -> S3Result<Option<u32>> {
    match n {
        None => Ok(None),
        Some(n) if n > 0 => Ok(Some(n as u32)),
        Some(_) => Err(invalid(message)),
    }
}

fn size(n: Option<i64>) -> S3Result<Option<u64>> {
    n.map(|n| u64::try_from(n).map_err(|_| invalid("Object size must be a non-negative number")))
        .transpose()
}

fn tag(t: &Tag) -> S3Result<(String, String)> {
    match (&t.key, &t.value) {
        (Some(k), Some(v)) => Ok((k.clone(), v.clone())),
        _ => Err(malformed()),
    }
}

fn filter_of(rule_prefix: Option<String>, f: Option<LifecycleRuleFilter>) -> S3Result<Filter> {
    let f = match (rule_prefix, f) {
        (Some(_), Some(_)) => return Err(malformed()),
        (Some(p), None) => return Ok(Filter::Legacy(p)),
        (None, None) => return Err(malformed()),
        (None, Some(f)) => f,
    };
    let given = [
        f.and.is_some(),
        f.prefix.is_some(),
        f.tag.is_some(),
        f.object_size_greater_than.is_some(),
        f.object_size_less_than.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    if given > 1 {
        return Err(malformed());
    }
    Ok(if let Some(a) = f.and {
        Filter::And {
            prefix: a.prefix,
            tags: a.tags.unwrap_or_default().iter().map(tag).collect::<S3Result<_>>()?,
            greater_than: size(a.object_size_greater_than)?,
            less_than: size(a.object_size_less_than)?,
        }
    } else if let Some(p) = f.prefix {
        Filter::Prefix(p)
    } else if let Some(t) = f.tag {
        let (k, v) = tag(&t)?;
        Filter::Tag(k, v)
    } else if let Some(n) = f.object_size_greater_than {
        Filter::SizeGreaterThan(size(Some(n))?.unwrap_or(0))
    } else if let Some(n) = f.object_size_less_than {
        Filter::SizeLessThan(size(Some(n))?.unwrap_or(0))
    } else {
        Filter::Empty
    })
}

fn rule_of(r: LifecycleRule) -> S3Result<Rule> {
    if r.transitions.as_ref().is_some_and(|t| !t.is_empty())
        || r.noncurrent_version_transitions.as_ref().is_some_and(|t| !t.is_empty())
    {
        return Err(s3_error!(
            NotImplemented,
            "Transitions are not implemented: coffer keeps every object in STANDARD."
        ));
    }
    let enabled = match r.status.as_str() {
        ExpirationStatus::ENABLED => true,
        ExpirationStatus::DISABLED => false,
        _ => return Err(malformed()),
    };
    let id = match r.id {
        Some(id) if id.chars().count() > 255 => {
            return Err(invalid("ID length should not exceed allowed limit of 255"));
        }
        Some(id) if !id.is_empty() => id,
        _ => hex::encode(rand::random::<[u8; 16]>()),
    };
    let filter = filter_of(r.prefix, r.filter)?;
    let expiration = match r.expiration {
        None => None,
        Some(e) => match (e.days, e.date, e.expired_object_delete_marker) {
            (Some(d), None, None | Some(false)) => Some(Expiration::Days(
                positive(Some(d), "'Days' for Expiration action must be a positive integer")?.unwrap_or(1),
            )),
            (None, Some(date), None | Some(false)) => {
                let t: time::OffsetDateTime = date.into();
                let ms = (t.unix_timestamp_nanos() / 1_000_000) as i64;
                if ms.rem_euclid(DAY_MS) != 0 {
                    return Err(invalid("'Date' must be at midnight GMT"));
                }
                Some(Expiration::Date(ms))
            }
            (None, None, Some(true)) => Some(Expiration::ExpiredObjectDeleteMarker),
            (None, None, _) => return Err(malformed()),
            _ => return Err(malformed()),
        },
    };
    if expiration == Some(Expiration::ExpiredObjectDeleteMarker) && filter.has_tags() {
        return Err(invalid("ExpiredObjectDeleteMarker cannot be specified with tags."));
    }
    let (noncurrent_days, newer_noncurrent) = match r.noncurrent_version_expiration {
        None => (None, None),
        Some(n) => {
            let days = positive(
                n.noncurrent_days,
                "'NoncurrentDays' in NoncurrentVersionExpiration action must be a positive integer",
            )?
            .ok_or_else(malformed)?;
            let newer = match n.newer_noncurrent_versions {
                None => None,
                Some(k) if (1..=100).contains(&k) => Some(k as u32),
                Some(_) => return Err(invalid("NewerNoncurrentVersions must be between 1 and 100")),
            };
            (Some(days), newer)
        }
    };
    let abort_days = match r.abort_incomplete_multipart_upload {
        None => None,
        Some(a) => {
            if filter.has_tags() {
                return Err(invalid("Tags cannot be specified with AbortIncompleteMultipartUpload"));
            }
            Some(
                positive(
                    a.days_after_initiation,
                    "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
                )?
                .ok_or_else(malformed)?,
            )
        }
    };
    if expiration.is_none() && noncurrent_days.is_none() && abort_days.is_none() {
        return Err(invalid("At least one action needs to be specified in a rule"));
    }
    Ok(Rule {
        id,
        enabled,
        filter,
        expiration,
        noncurrent_days,
        newer_noncurrent,
        abort_days,
    })
}

fn to_tag((k, v): &(String, String)) -> Tag {
    Tag {
        key: Some(k.clone()),
        value: Some(v.clone()),
    }
}

fn rule_to_dto(r: &Rule) -> LifecycleRule {
    let (prefix, filter) = match &r.filter {
        Filter::Legacy(p) => (Some(p.clone()), None),
        f => (
            None,
            Some(match f {
                Filter::Prefix(p) => LifecycleRuleFilter {
                    prefix: Some(p.clone()),
                    ..Default::default()
                },
                Filter::Tag(k, v) => LifecycleRuleFilter {
                    tag: Some(to_tag(&(k.clone(), v.clone()))),
                    ..Default::default()
                },
                Filter::SizeGreaterThan(n) => LifecycleRuleFilter {
                    object_size_greater_than: Some(*n as i64),
                    ..Default::default()
                },
                Filter::SizeLessThan(n) => LifecycleRuleFilter {
                    object_size_less_than: Some(*n as i64),
                    ..Default::default()
                },
                Filter::And {
                    prefix,
                    tags,
                    greater_than,
                    less_than,
                } => LifecycleRuleFilter {
                    and: Some(LifecycleRuleAndOperator {
                        prefix: prefix.clone(),
                        tags: (!tags.is_empty()).then(|| tags.iter().map(to_tag).collect()),
                        object_size_greater_than: greater_than.map(|n| n as i64),
                        object_size_less_than: less_than.map(|n| n as i64),
                    }),
                    ..Default::default()
                },
                Filter::Empty | Filter::Legacy(_) => LifecycleRuleFilter::default(),
            }),
        ),
    };
    LifecycleRule {
        id: Some(r.id.clone()),
        status: ExpirationStatus::from_static(if r.enabled {
            ExpirationStatus::ENABLED
        } else {
            ExpirationStatus::DISABLED
        }),
        prefix,
        filter,
        expiration: r.expiration.map(|e| match e {
            Expiration::Days(d) => LifecycleExpiration {
                days: Some(d as i32),
                ..Default::default()
            },
            Expiration::Date(ms) => LifecycleExpiration {
                date: Some(crate::convert::timestamp(ms)),
                ..Default::default()
            },
            Expiration::ExpiredObjectDeleteMarker => LifecycleExpiration {
                expired_object_delete_marker: Some(true),
                ..Default::default()
            },
        }),
        noncurrent_version_expiration: r.noncurrent_days.map(|d| NoncurrentVersionExpiration {
            noncurrent_days: Some(d as i32),
            newer_noncurrent_versions: r.newer_noncurrent.map(|n| n as i32),
        }),
        abort_incomplete_multipart_upload: r.abort_days.map(|d| AbortIncompleteMultipartUpload {
            days_after_initiation: Some(d as i32),
        }),
        noncurrent_version_transitions: None,
        transitions: None,
    }
}

pub async fn put_bucket_lifecycle_configuration(
    c: &Coffer,
    req: S3Request<PutBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
    let input = req.input;
    let rules = input.lifecycle_configuration.map(|l| l.rules).unwrap_or_default();
    if rules.is_empty() || rules.len() > MAX_RULES {
        return Err(malformed());
    }
    let rules = rules.into_iter().map(rule_of).collect::<S3Result<Vec<_>>>()?;
    if rules
        .iter()
        .enumerate()
        .any(|(i, r)| rules[..i].iter().any(|o| o.id == r.id))
    {
        return Err(invalid("Rule ID must be unique. Found same ID for more than one rule"));
    }
    c.store
        .put_bucket_setting(&input.bucket, SettingKind::Lifecycle, &rules)
        .await
        .s3()?;
    Ok(S3Response::new(PutBucketLifecycleConfigurationOutput::default()))
}

/// A bucket's rules, if it has any.
pub fn rules(c: &Coffer, bucket: &str) -> S3Result<Option<Vec<Rule>>> {
    c.store.bucket_setting(bucket, SettingKind::Lifecycle).s3()
}

pub async fn get_bucket_lifecycle_configuration(
    c: &Coffer,
    req: S3Request<GetBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
    let rules = rules(c, &req.input.bucket)?.ok_or_else(|| {
        custom_with(
            "NoSuchLifecycleConfiguration",
            http::StatusCode::NOT_FOUND,
            "The lifecycle configuration does not exist",
        )
    })?;
    Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
        rules: Some(rules.iter().map(rule_to_dto).collect()),
        ..Default::default()
    }))
}

pub async fn delete_bucket_lifecycle(
    c: &Coffer,
    req: S3Request<DeleteBucketLifecycleInput>,
) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
    c.store
        .delete_bucket_setting(&req.input.bucket, SettingKind::Lifecycle)
        .await
        .s3()?;
    Ok(S3Response::with_status(
        DeleteBucketLifecycleOutput {},
        http::StatusCode::NO_CONTENT,
    ))
}

/// `x-amz-expiration` for the current version `rec` of `key` in the bucket a request
/// addresses (its rules come cached with the request's context).
pub fn header<T>(c: &Coffer, req: &S3Request<T>, key: &str, rec: &ObjectRecord) -> Option<String> {
    let rules = crate::ctx::RequestContext::of(req)?.rules.lifecycle.clone()?;
    expiration_header(&rules, key, rec, c.config.lifecycle_day_secs)
}

/// `x-amz-expiration` for the current version `rec` of `key`: the earliest expiry an
/// enabled Expiration rule gives it, and that rule's id.
pub fn expiration_header(rules: &[Rule], key: &str, rec: &ObjectRecord, day_secs: u64) -> Option<String> {
    let (due, id) = rules
        .iter()
        .filter_map(|r| r.current_expiry(key, rec, day_secs).map(|t| (t, &r.id)))
        .min_by_key(|(t, _)| *t)?;
    let date = crate::convert::http_date(&crate::convert::timestamp(due));
    Some(format!(
        "expiry-date=\"{date}\", rule-id=\"{}\"",
        id.replace('"', "\\\"")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_days_round_up_to_midnight_and_test_days_do_not() {
        let noon = 1_700_000_000_000 - 1_700_000_000_000 % DAY_MS + DAY_MS / 2;
        assert_eq!(due_after(noon, 1, 86_400), noon - DAY_MS / 2 + 2 * DAY_MS);
        assert_eq!(due_after(noon, 3, 2), noon + 6_000);
    }

    #[test]
    fn filters_match_prefix_size_and_tags() {
        let tags = vec![
            ("team".to_owned(), "a".to_owned()),
            ("env".to_owned(), "prod".to_owned()),
        ];
        let f = Filter::And {
            prefix: Some("logs/".into()),
            tags: vec![("env".into(), "prod".into())],
            greater_than: Some(10),
            less_than: Some(100),
        };
        assert!(f.matches("logs/1", 50, &tags));
        assert!(!f.matches("data/1", 50, &tags));
        assert!(!f.matches("logs/1", 10, &tags));
        assert!(!f.matches("logs/1", 100, &tags));
        assert!(!f.matches("logs/1", 50, &tags[..1]));
        assert!(Filter::Empty.matches("anything", 0, &[]));
        assert!(Filter::Tag("team".into(), "a".into()).matches("k", 0, &tags));
        assert!(!Filter::Tag("team".into(), "b".into()).matches("k", 0, &tags));
    }
}
