//! `/users`: list and add users; `/users/{name}`: show and remove one;
//! `/users/{name}/policies[/{policy}]`: list, attach and detach its policies;
//! `/users/{name}/keys[/{id}]`: list, add and remove its access keys.

use coffer_s3::ROOT_USER;
use coffer_store::{CanonicalId, UserRecord};
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiResult, Call, Reply, reply};

#[derive(Debug, Serialize, Deserialize)]
pub struct UserJson {
    pub name: String,
    /// Its oldest access key; `null` for a user left with none.
    pub access_key_id: Option<String>,
    /// All its access keys, oldest first.
    #[serde(default)]
    pub access_keys: Vec<String>,
    pub canonical_user_id: String,
    pub policies: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPolicy {
    document: Option<String>,
}

fn to_json(c: &Call<'_>, u: UserRecord, secret: Option<String>) -> ApiResult<UserJson> {
    let policies = c
        .route
        .store
        .user_policies(&u.name)?
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    Ok(UserJson {
        access_key_id: u.access_key_id().map(str::to_owned),
        access_keys: u.access_keys.into_iter().map(|k| k.access_key_id).collect(),
        name: u.name,
        canonical_user_id: u.canonical_user_id.to_string(),
        policies,
        secret_access_key: secret,
    })
}

/// User names: 1-64 of `A-Z a-z 0-9 - _ . @`, and not `root`.
pub fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name != ROOT_USER
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
}

/// Access key ids given by the caller: 1-128 of `A-Z a-z 0-9 - _ .` (a `/` would break the
/// signature's credential scope).
pub fn valid_access_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Secrets given by the caller: 1-128 printable ASCII characters.
pub fn valid_secret(secret: &str) -> bool {
    !secret.is_empty() && secret.len() <= 128 && secret.bytes().all(|b| b.is_ascii_graphic())
}

/// Policy names: 1-128 of `A-Z a-z 0-9 + = , . @ - _`.
pub fn valid_policy_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+' | b'=' | b'@' | b','))
}

/// The text to attach as `policy`: a built-in by name alone, else the document given.
pub fn policy_text(policy: &str, document: Option<&str>) -> Result<String, String> {
    let text = match (document, coffer_iam::builtin::builtin(policy)) {
        (Some(doc), None) => doc.to_owned(),
        (None, Some(b)) => b.to_owned(),
        (Some(_), Some(_)) => return Err(format!("{policy} is a built-in policy's name.")),
        (None, None) => {
            return Err(format!(
                "No built-in policy {policy}: give a document (built-ins: readwrite, readonly, writeonly, admin)."
            ));
        }
    };
    coffer_iam::Policy::parse(text.as_bytes(), coffer_iam::Attached::User).map_err(|e| e.to_string())?;
    Ok(text)
}

fn no_user() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NoSuchUser", "The user does not exist.")
}

pub(super) async fn serve(c: &mut Call<'_>) -> ApiResult<Reply> {
    let segs: Vec<String> = c.segments[1..].to_vec();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let store = &c.route.store;
    match (segs.as_slice(), &c.method) {
        ([], &Method::GET) => {
            c.allow("admin:ListUsers", "*")?;
            let users = store
                .list_users()?
                .into_iter()
                .map(|u| to_json(c, u, None))
                .collect::<ApiResult<Vec<_>>>()?;
            reply(&serde_json::json!({ "users": users }))
        }
        ([], &Method::POST) => {
            c.allow("admin:CreateUser", "*")?;
            let add: NewUser = c.json().await?;
            if !valid_user_name(&add.name) {
                return Err(ApiError::bad(
                    "User names are 1-64 of A-Z a-z 0-9 - _ . @, and not 'root'.",
                ));
            }
            if add.access_key_id.as_deref() == Some(c.route.identity.root().access_key_id.as_str()) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "UserAlreadyExists",
                    "A user with this name or access key already exists.",
                ));
            }
            let secret = add.secret_access_key.unwrap_or_else(super::random_secret);
            let user = coffer_store::NewUser {
                name: add.name,
                canonical_user_id: CanonicalId::random(),
                access_key_id: add.access_key_id.unwrap_or_else(super::random_access_key_id),
                secret_access_key: secret.clone(),
            };
            let user = store.add_user(user).await?;
            reply(&to_json(c, user, Some(secret))?)
        }
        ([name], &Method::GET) => {
            c.allow("admin:ListUsers", "*")?;
            let u = store.user_by_name(name)?.ok_or_else(no_user)?;
            reply(&to_json(c, u, None)?)
        }
        ([name], &Method::DELETE) => {
            c.allow("admin:DeleteUser", "*")?;
            store.remove_user(name).await?;
            Ok(Reply::NoContent)
        }
        ([name, "policies"], &Method::GET) => {
            c.allow("admin:ListUserPolicies", "*")?;
            store.user_by_name(name)?.ok_or_else(no_user)?;
            let list: Vec<_> = store
                .user_policies(name)?
                .into_iter()
                .map(|(policy, document)| serde_json::json!({ "policy": policy, "document": document }))
                .collect();
            reply(&serde_json::json!({ "policies": list }))
        }
        ([name, "policies", policy], &Method::PUT) => {
            c.allow("admin:AttachUserPolicy", "*")?;
            let (name, policy) = (name.to_string(), policy.to_string());
            let body: NewPolicy = c.json().await?;
            if !valid_policy_name(&policy) {
                return Err(ApiError::bad("Policy names are 1-128 of A-Z a-z 0-9 + = , . @ - _"));
            }
            let text = policy_text(&policy, body.document.as_deref())
                .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "MalformedPolicy", m))?;
            store.attach_user_policy(&name, &policy, &text).await?;
            Ok(Reply::NoContent)
        }
        ([name, "policies", policy], &Method::DELETE) => {
            c.allow("admin:DetachUserPolicy", "*")?;
            if !store.detach_user_policy(name, policy).await? {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "NoSuchPolicy",
                    format!("Policy {policy} is not attached to {name}."),
                ));
            }
            Ok(Reply::NoContent)
        }
        ([name, "keys"], &Method::GET) => {
            c.allow("admin:ListAccessKeys", "*")?;
            let keys: Vec<_> = store
                .list_access_keys(name)?
                .into_iter()
                .map(|k| serde_json::json!({ "access_key_id": k.access_key_id, "created": k.created_ms }))
                .collect();
            reply(&serde_json::json!({ "keys": keys }))
        }
        ([name, "keys"], &Method::POST) => {
            c.allow("admin:CreateAccessKey", "*")?;
            let name = name.to_string();
            let add: NewKey = c.json().await?;
            if add.access_key_id.as_deref().is_some_and(|k| !valid_access_key_id(k)) {
                return Err(ApiError::bad("Access key ids are 1-128 of A-Z a-z 0-9 - _ ."));
            }
            if add.secret_access_key.as_deref().is_some_and(|k| !valid_secret(k)) {
                return Err(ApiError::bad(
                    "Secret access keys are 1-128 printable ASCII characters.",
                ));
            }
            if add.access_key_id.as_deref() == Some(c.route.identity.root().access_key_id.as_str()) {
                return Err(coffer_store::StoreError::AccessKeyExists.into());
            }
            let key = match (add.access_key_id, add.secret_access_key) {
                (None, None) => None,
                (id, secret) => Some((
                    id.unwrap_or_else(super::random_access_key_id),
                    secret.unwrap_or_else(super::random_secret),
                )),
            };
            let (id, secret) = store.add_access_key(&name, key).await?;
            reply(&serde_json::json!({ "access_key_id": id, "secret_access_key": secret }))
        }
        ([name, "keys", key], &Method::DELETE) => {
            c.allow("admin:DeleteAccessKey", "*")?;
            store.remove_access_key(name, key).await?;
            Ok(Reply::NoContent)
        }
        ([], _)
        | ([_], _)
        | ([_, "policies"], _)
        | ([_, "policies", _], _)
        | ([_, "keys"], _)
        | ([_, "keys", _], _) => Err(c.method_not_allowed()),
        _ => Err(super::not_found()),
    }
}
