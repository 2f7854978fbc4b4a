//! `coffer admin ...`: the admin API's version 1 from the command line, signed with the
//! root credentials (`COFFER_ACCESS_KEY_ID` / `COFFER_SECRET_ACCESS_KEY`, else the data
//! directory's stored ones), printing the JSON answers.

use crate::AdminServer;
use crate::server::anyhow_like::Result;
use coffer::sigv4;

#[derive(clap::Subcommand)]
pub enum AdminAction {
    /// The server's version, uptime, data directory and store sizes, as JSON.
    Info,
    /// Buckets' usage and quotas.
    Bucket {
        #[command(subcommand)]
        action: BucketAction,
    },
}

#[derive(clap::Subcommand)]
pub enum BucketAction {
    /// Every bucket with its usage and quota, as JSON.
    List,
    /// One bucket's usage and quota, as JSON.
    Show { name: String },
    /// Set a bucket's quota (writes past it answer 403 QuotaExceeded), or clear it.
    Quota {
        name: String,
        #[arg(long, conflicts_with = "clear")]
        max_bytes: Option<u64>,
        #[arg(long, conflicts_with = "clear")]
        max_objects: Option<u64>,
        #[arg(long)]
        clear: bool,
    },
}

/// `coffer user key ...`: a user's access keys.
#[derive(clap::Subcommand)]
pub enum KeyAction {
    /// Give a user another access key (at most 10); prints its id and secret as JSON, the
    /// only time the secret is shown.
    Add {
        name: String,
        #[arg(long)]
        access_key_id: Option<String>,
        #[arg(long)]
        secret_access_key: Option<String>,
    },
    /// List a user's access keys as JSON (ids and creation times, no secrets).
    List { name: String },
    /// Remove one of a user's access keys; requests it signs fail at once.
    Remove { name: String, access_key_id: String },
}

/// Percent-encodes a path segment (RFC 3986 unreserved characters stay).
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Sends one signed request to `/_coffer/admin/v1/{path}`; returns the body of a 2xx
/// answer (empty for 204), or the error the server gave.
pub async fn request(server: &AdminServer, method: &'static str, path: &str, body: Vec<u8>) -> Result<Vec<u8>> {
    let path = format!("{}{path}", super::V1_PREFIX);
    signed(server, method, &path, vec![], body).await
}

/// Sends one request signed with the root credentials (from the environment, else the
/// data directory); returns the body of a 2xx answer.
pub async fn signed(
    server: &AdminServer,
    method: &'static str,
    path: &str,
    query: Vec<(String, String)>,
    body: Vec<u8>,
) -> Result<Vec<u8>> {
    let env = |k| std::env::var(k).ok().filter(|v: &String| !v.is_empty());
    let (id, secret) = match (env("COFFER_ACCESS_KEY_ID"), env("COFFER_SECRET_ACCESS_KEY")) {
        (Some(i), Some(s)) => (i, s),
        _ => {
            let stored = crate::server::read_stored_root(&server.data)
                .ok_or("set COFFER_ACCESS_KEY_ID and COFFER_SECRET_ACCESS_KEY to the root credentials")?;
            (stored.access_key_id, stored.secret_access_key)
        }
    };
    let host = server
        .endpoint
        .strip_prefix("http://")
        .ok_or("only http:// endpoints are supported")?
        .trim_end_matches('/');
    let mut req = sigv4::Request {
        method,
        host,
        path,
        query,
        headers: vec![],
        body,
    };
    req.sign(
        &sigv4::Credentials {
            access_key_id: &id,
            secret_access_key: &secret,
            region: &server.region,
        },
        time::OffsetDateTime::now_utc(),
    );
    let (status, body) = req.send(host).await?;
    if !(200..300).contains(&status) {
        return Err(format!("server answered {status}: {}", String::from_utf8_lossy(&body)).into());
    }
    Ok(body)
}

pub async fn key(action: KeyAction, server: &AdminServer) -> Result<()> {
    let (method, path, body) = match &action {
        KeyAction::Add {
            name,
            access_key_id,
            secret_access_key,
        } => {
            let mut body = serde_json::Map::new();
            if let Some(k) = access_key_id {
                body.insert("access_key_id".into(), k.clone().into());
            }
            if let Some(s) = secret_access_key {
                body.insert("secret_access_key".into(), s.clone().into());
            }
            let body = serde_json::to_vec(&body)?;
            ("POST", format!("users/{}/keys", segment(name)), body)
        }
        KeyAction::List { name } => ("GET", format!("users/{}/keys", segment(name)), vec![]),
        KeyAction::Remove { name, access_key_id } => (
            "DELETE",
            format!("users/{}/keys/{}", segment(name), segment(access_key_id)),
            vec![],
        ),
    };
    let body = request(server, method, &path, body).await?;
    match action {
        KeyAction::Remove { name, access_key_id } => println!("removed {access_key_id} of {name}"),
        _ => {
            let v: serde_json::Value = serde_json::from_slice(&body)?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
    }
    Ok(())
}

pub async fn run(action: AdminAction, server: &AdminServer) -> Result<()> {
    let (method, path, body) = match &action {
        AdminAction::Info => ("GET", "info".to_owned(), vec![]),
        AdminAction::Bucket { action } => match action {
            BucketAction::List => ("GET", "buckets".to_owned(), vec![]),
            BucketAction::Show { name } => ("GET", format!("buckets/{}", segment(name)), vec![]),
            BucketAction::Quota {
                name,
                max_bytes,
                max_objects,
                clear,
            } => {
                let path = format!("buckets/{}/quota", segment(name));
                if *clear {
                    ("DELETE", path, vec![])
                } else if max_bytes.is_none() && max_objects.is_none() {
                    ("GET", path, vec![])
                } else {
                    let body = serde_json::json!({ "max_bytes": max_bytes, "max_objects": max_objects });
                    ("PUT", path, serde_json::to_vec(&body)?)
                }
            }
        },
    };
    let body = request(server, method, &path, body).await?;
    if body.is_empty() {
        println!("ok");
    } else {
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(super::segment("bob@x.com"), "bob%40x.com");
        assert_eq!(super::segment("my-bucket.1"), "my-bucket.1");
    }
}
