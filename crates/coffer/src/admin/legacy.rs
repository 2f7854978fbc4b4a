//! The first admin API, kept for `coffer user` and `coffer kms`: `/?coffer-admin=users` (GET list, POST add, DELETE remove) and
//! `/?coffer-admin=user-policies&name=USER` (GET list, PUT attach, DELETE detach with
//! `&policy=NAME`) and `/?coffer-admin=kms-keys` (GET list, POST create with `&name=NAME`,
//! PUT with `&name=NAME&enabled=true|false`). Only the root credentials may use it.

use bytes::Bytes;

use super::AdminRoute;
use coffer_s3::ROOT_USER;
use coffer_store::{CanonicalId, NewUser, UserRecord, random_access_key_id, random_secret};
use http::{Method, Uri};
use s3s::{Body, S3Request, S3Response, S3Result, s3_error};
use serde::{Deserialize, Serialize};

pub const ADMIN_QUERY: &str = "coffer-admin";

#[derive(Debug, Serialize, Deserialize)]
pub struct UserJson {
    pub name: String,
    pub access_key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<String>,
    pub canonical_user_id: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AddUser {
    pub name: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

/// A policy to attach: a built-in (`readwrite`, `readonly`, `writeonly`) by name alone,
/// or a JSON document under a name of its own.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AttachPolicy {
    pub policy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PolicyJson {
    pub policy: String,
    pub document: serde_json::Value,
}

/// A query parameter, percent-decoded (the CLI encodes names like `bob@x`).
pub(super) fn query_param(uri: &Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn json(v: &impl Serialize) -> S3Result<S3Response<Body>> {
    let body = serde_json::to_vec(v).map_err(|e| s3_error!(e, InternalError))?;
    let mut resp = S3Response::new(Body::from(Bytes::from(body)));
    resp.headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

impl AdminRoute {
    pub(super) async fn legacy_call(&self, req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        match query_param(&req.uri, ADMIN_QUERY).as_deref() {
            Some("users") => {}
            Some("user-policies") => return self.user_policies(req).await,
            Some("kms-keys") => return self.kms_keys(req).await,
            _ => return Err(s3_error!(InvalidArgument, "Unknown admin resource.")),
        }
        let to_json = |u: UserRecord, secret: Option<String>| UserJson {
            access_key_id: u.access_key_id().unwrap_or_default().to_owned(),
            name: u.name,
            secret_access_key: secret,
            canonical_user_id: u.canonical_user_id.to_string(),
        };
        match req.method {
            Method::GET => {
                let users: Vec<UserJson> = self
                    .store
                    .list_users()
                    .map_err(coffer_s3::error::store_error)?
                    .into_iter()
                    .map(|u| to_json(u, None))
                    .collect();
                json(&users)
            }
            Method::POST => {
                let mut body = req.input;
                let bytes = body
                    .store_all_limited(64 << 10)
                    .await
                    .map_err(|_| s3_error!(MaxMessageLengthExceeded))?;
                let add: AddUser = serde_json::from_slice(&bytes)
                    .map_err(|_| s3_error!(InvalidArgument, "The body must be a JSON user."))?;
                let valid_name = !add.name.is_empty()
                    && add.name.len() <= 64
                    && add
                        .name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
                if !valid_name || add.name == ROOT_USER {
                    return Err(s3_error!(
                        InvalidArgument,
                        "User names are 1-64 of A-Z a-z 0-9 - _ . @, and not 'root'."
                    ));
                }
                if self.identity.root().access_key_id == add.access_key_id.as_deref().unwrap_or_default() {
                    return Err(s3_error!(
                        InvalidArgument,
                        "A user with this name or access key already exists."
                    ));
                }
                let secret = add.secret_access_key.unwrap_or_else(random_secret);
                let user = NewUser {
                    name: add.name,
                    canonical_user_id: CanonicalId::random(),
                    access_key_id: add.access_key_id.unwrap_or_else(random_access_key_id),
                    secret_access_key: secret.clone(),
                };
                let user = self.store.add_user(user).await.map_err(coffer_s3::error::store_error)?;
                json(&to_json(user, Some(secret)))
            }
            Method::DELETE => {
                let name =
                    query_param(&req.uri, "name").ok_or_else(|| s3_error!(InvalidArgument, "name is required"))?;
                self.store
                    .remove_user(&name)
                    .await
                    .map_err(coffer_s3::error::store_error)?;
                json(&serde_json::json!({ "removed": name }))
            }
            _ => Err(s3_error!(MethodNotAllowed)),
        }
    }
}

/// A key of the key service, as the admin API shows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct KmsKeyJson {
    pub name: String,
    pub created_ms: i64,
    pub enabled: bool,
}

impl AdminRoute {
    async fn kms_keys(&self, req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        let err = coffer_s3::error::store_error;
        let name = || query_param(&req.uri, "name").ok_or_else(|| s3_error!(InvalidArgument, "name is required"));
        match req.method {
            Method::GET => {
                let keys: Vec<KmsKeyJson> = self
                    .store
                    .list_kms_keys()
                    .map_err(err)?
                    .into_iter()
                    .map(|k| KmsKeyJson {
                        name: k.name,
                        created_ms: k.created_ms,
                        enabled: k.enabled,
                    })
                    .collect();
                json(&keys)
            }
            Method::POST => {
                let name = name()?;
                if !coffer_store::sse::valid_kms_name(&name) || name.starts_with("alias/") {
                    return Err(s3_error!(
                        InvalidArgument,
                        "Key names are 1-128 of A-Z a-z 0-9 / _ - . and do not start with alias/."
                    ));
                }
                self.store.create_kms_key(&name).await.map_err(err)?;
                json(&serde_json::json!({ "created": name }))
            }
            Method::PUT => {
                let name = name()?;
                let enabled = match query_param(&req.uri, "enabled").as_deref() {
                    Some("true") => true,
                    Some("false") => false,
                    _ => return Err(s3_error!(InvalidArgument, "enabled must be true or false")),
                };
                self.store.set_kms_key_enabled(&name, enabled).await.map_err(err)?;
                json(&serde_json::json!({ "name": name, "enabled": enabled }))
            }
            _ => Err(s3_error!(MethodNotAllowed)),
        }
    }

    async fn user_policies(&self, req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        let err = coffer_s3::error::store_error;
        let user = query_param(&req.uri, "name").ok_or_else(|| s3_error!(InvalidArgument, "name is required"))?;
        match req.method {
            Method::GET => {
                let list: Vec<PolicyJson> = self
                    .store
                    .user_policies(&user)
                    .map_err(err)?
                    .into_iter()
                    .map(|(policy, text)| PolicyJson {
                        policy,
                        document: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
                    })
                    .collect();
                json(&list)
            }
            Method::PUT => {
                let mut body = req.input;
                let bytes = body
                    .store_all_limited(coffer_iam::policy::MAX_POLICY_BYTES + (4 << 10))
                    .await
                    .map_err(|_| s3_error!(MaxMessageLengthExceeded))?;
                let attach: AttachPolicy = serde_json::from_slice(&bytes)
                    .map_err(|_| s3_error!(InvalidArgument, "The body must be a JSON policy attachment."))?;
                let valid_name = !attach.policy.is_empty()
                    && attach.policy.len() <= 128
                    && attach.policy.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+' | b'=' | b'@' | b',')
                    });
                if !valid_name {
                    return Err(s3_error!(
                        InvalidArgument,
                        "Policy names are 1-128 of A-Z a-z 0-9 + = , . @ - _"
                    ));
                }
                let text = match (&attach.document, coffer_iam::builtin::builtin(&attach.policy)) {
                    (Some(doc), None) => doc.clone(),
                    (None, Some(builtin)) => builtin.to_owned(),
                    (Some(_), Some(_)) => {
                        return Err(s3_error!(
                            InvalidArgument,
                            "{} is a built-in policy's name.",
                            attach.policy
                        ));
                    }
                    (None, None) => {
                        return Err(s3_error!(
                            InvalidArgument,
                            "No built-in policy {}: give a document (built-ins: readwrite, readonly, writeonly).",
                            attach.policy
                        ));
                    }
                };
                coffer_iam::Policy::parse(text.as_bytes(), coffer_iam::Attached::User)
                    .map_err(|e| s3_error!(MalformedPolicy, "{e}"))?;
                self.store
                    .attach_user_policy(&user, &attach.policy, &text)
                    .await
                    .map_err(err)?;
                json(&serde_json::json!({ "user": user, "attached": attach.policy }))
            }
            Method::DELETE => {
                let policy =
                    query_param(&req.uri, "policy").ok_or_else(|| s3_error!(InvalidArgument, "policy is required"))?;
                if !self.store.detach_user_policy(&user, &policy).await.map_err(err)? {
                    return Err(s3_error!(InvalidArgument, "Policy {policy} is not attached to {user}."));
                }
                json(&serde_json::json!({ "user": user, "detached": policy }))
            }
            _ => Err(s3_error!(MethodNotAllowed)),
        }
    }
}
