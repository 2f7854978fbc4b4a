//! `/kms-keys`: list and create the key service's keys; `/kms-keys/{name}`: show one,
//! enable or disable it.

use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiResult, Call, Reply, reply};

#[derive(Debug, Serialize, Deserialize)]
pub struct KmsKeyJson {
    pub name: String,
    pub created_ms: i64,
    pub enabled: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyState {
    enabled: bool,
}

fn keys(c: &Call<'_>) -> ApiResult<Vec<KmsKeyJson>> {
    Ok(c.route
        .store
        .list_kms_keys()?
        .into_iter()
        .map(|k| KmsKeyJson {
            name: k.name,
            created_ms: k.created_ms,
            enabled: k.enabled,
        })
        .collect())
}

pub(super) async fn serve(c: &mut Call<'_>) -> ApiResult<Reply> {
    let segs: Vec<String> = c.segments[1..].to_vec();
    let store = c.route.store.clone();
    match (segs.as_slice(), &c.method) {
        ([], &Method::GET) => {
            c.allow("admin:ListKmsKeys", "*")?;
            reply(&serde_json::json!({ "keys": keys(c)? }))
        }
        ([], &Method::POST) => {
            c.allow("admin:CreateKmsKey", "*")?;
            let k: NewKey = c.json().await?;
            if !coffer_store::sse::valid_kms_name(&k.name) || k.name.starts_with("alias/") {
                return Err(ApiError::bad(
                    "Key names are 1-128 of A-Z a-z 0-9 / _ - . and do not start with alias/.",
                ));
            }
            store.create_kms_key(&k.name).await?;
            let made = keys(c)?.into_iter().find(|x| x.name == k.name);
            reply(&made)
        }
        ([name], &Method::GET) => {
            c.allow("admin:ListKmsKeys", "*")?;
            match keys(c)?.into_iter().find(|x| x.name == *name) {
                Some(k) => reply(&k),
                None => Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "NoSuchKmsKey",
                    format!("No KMS key {name}."),
                )),
            }
        }
        ([name], &Method::PUT) => {
            let name = name.clone();
            c.allow("admin:UpdateKmsKey", "*")?;
            let s: KeyState = c.json().await?;
            store.set_kms_key_enabled(&name, s.enabled).await?;
            Ok(Reply::NoContent)
        }
        ([], _) | ([_], _) => Err(c.method_not_allowed()),
        _ => Err(super::not_found()),
    }
}
