//! `/buckets`: every bucket with its usage and quota; `/buckets/{name}`: one;
//! `/buckets/{name}/quota`: set or clear its quota.

use std::collections::HashMap;

use coffer_store::{BucketRecord, CanonicalId, Quota, Usage};
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiResult, Call, Reply, reply};

#[derive(Debug, Serialize, Deserialize)]
pub struct BucketJson {
    pub name: String,
    /// RFC 3339.
    pub created: String,
    /// The owner's user name, or its canonical id once the user is gone.
    pub owner: String,
    pub objects: u64,
    pub bytes: u64,
    pub uploads: u64,
    pub quota: QuotaJson,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaJson {
    #[serde(default)]
    pub max_bytes: Option<u64>,
    #[serde(default)]
    pub max_objects: Option<u64>,
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// Owner names by canonical id: root and every user.
fn owners(c: &Call<'_>) -> ApiResult<HashMap<CanonicalId, String>> {
    let mut names: HashMap<CanonicalId, String> = c
        .route
        .store
        .list_users()?
        .into_iter()
        .map(|u| (u.canonical_user_id, u.name))
        .collect();
    names.insert(
        c.route.identity.root().canonical_user_id,
        coffer_s3::ROOT_USER.to_owned(),
    );
    Ok(names)
}

fn to_json(
    name: String,
    rec: &BucketRecord,
    usage: Usage,
    quota: Quota,
    owners: &HashMap<CanonicalId, String>,
) -> BucketJson {
    BucketJson {
        created: rfc3339(rec.created_ms),
        owner: owners.get(&rec.owner).cloned().unwrap_or_else(|| rec.owner.to_string()),
        objects: usage.objects,
        bytes: usage.bytes,
        uploads: usage.uploads,
        quota: QuotaJson {
            max_bytes: quota.max_bytes,
            max_objects: quota.max_objects,
        },
        name,
    }
}

fn arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

pub(super) async fn serve(c: &mut Call<'_>) -> ApiResult<Reply> {
    let segs: Vec<String> = c.segments[1..].to_vec();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let store = c.route.store.clone();
    match (segs.as_slice(), &c.method) {
        ([], &Method::GET) => {
            c.allow("admin:GetBucketUsage", "arn:aws:s3:::*")?;
            let owners = owners(c)?;
            let usage: HashMap<String, Usage> = store.all_usage()?.into_iter().collect();
            let mut out = Vec::new();
            for (name, rec) in store.list_buckets(None)? {
                // A bucket deleted between the two reads is left out.
                let Some(u) = usage.get(&name).copied() else { continue };
                let q = match store.bucket_quota(&name) {
                    Ok(q) => q,
                    Err(coffer_store::StoreError::NoSuchBucket) => continue,
                    Err(e) => return Err(e.into()),
                };
                out.push(to_json(name, &rec, u, q, &owners));
            }
            reply(&serde_json::json!({ "buckets": out }))
        }
        ([name], &Method::GET) => {
            c.allow("admin:GetBucketUsage", &arn(name))?;
            let rec = store.bucket(name)?.ok_or(coffer_store::StoreError::NoSuchBucket)?;
            let (u, q) = (store.bucket_usage(name)?, store.bucket_quota(name)?);
            reply(&to_json(name.to_string(), &rec, u, q, &owners(c)?))
        }
        ([name, "quota"], &Method::GET) => {
            c.allow("admin:GetBucketUsage", &arn(name))?;
            let q = store.bucket_quota(name)?;
            reply(&QuotaJson {
                max_bytes: q.max_bytes,
                max_objects: q.max_objects,
            })
        }
        ([name, "quota"], &Method::PUT) => {
            let name = name.to_string();
            c.allow("admin:PutBucketQuota", &arn(&name))?;
            let q: QuotaJson = c.json().await?;
            if q.max_bytes.is_none() && q.max_objects.is_none() {
                return Err(ApiError::bad(
                    "Give max_bytes, max_objects or both; DELETE the quota to remove it.",
                ));
            }
            store
                .put_bucket_quota(
                    &name,
                    Quota {
                        max_bytes: q.max_bytes,
                        max_objects: q.max_objects,
                    },
                )
                .await?;
            Ok(Reply::NoContent)
        }
        ([name, "quota"], &Method::DELETE) => {
            c.allow("admin:PutBucketQuota", &arn(name))?;
            store.put_bucket_quota(name, Quota::default()).await?;
            Ok(Reply::NoContent)
        }
        ([], _) | ([_], _) | ([_, "quota"], _) => Err(c.method_not_allowed()),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NoSuchResource",
            "No such admin resource.",
        )),
    }
}
