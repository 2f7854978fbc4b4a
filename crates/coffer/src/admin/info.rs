//! `/info`: the server's version, uptime, data directory and region, and what it stores.

use http::Method;
use serde::{Deserialize, Serialize};

use super::{ApiResult, Call, Reply, reply};

#[derive(Debug, Serialize, Deserialize)]
pub struct InfoJson {
    pub version: String,
    pub uptime_secs: u64,
    pub data_dir: String,
    pub region: String,
    pub store: StoreJson,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct StoreJson {
    /// The metadata file's size.
    pub meta_bytes: u64,
    /// The blob files' total size (walks `blobs/`: one stat per blob).
    pub blob_bytes: u64,
    pub buckets: u64,
    /// Stored object versions, from the buckets' usage counts.
    pub objects: u64,
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

pub(super) async fn serve(c: &mut Call<'_>) -> ApiResult<Reply> {
    if c.segments.len() != 1 {
        return Err(super::not_found());
    }
    if c.method != Method::GET {
        return Err(c.method_not_allowed());
    }
    c.allow("admin:ServerInfo", "*")?;
    let usage = c.route.store.all_usage()?;
    let data = c.route.data_dir.clone();
    let (meta_bytes, blob_bytes) = tokio::task::spawn_blocking(move || {
        (
            std::fs::metadata(data.join("meta.redb")).map_or(0, |m| m.len()),
            dir_bytes(&data.join("blobs")),
        )
    })
    .await
    .unwrap_or_default();
    reply(&InfoJson {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_secs: c.route.started.elapsed().as_secs(),
        data_dir: c.route.data_dir.display().to_string(),
        region: c.route.region.clone(),
        store: StoreJson {
            meta_bytes,
            blob_bytes,
            buckets: usage.len() as u64,
            objects: usage.iter().map(|(_, u)| u.objects).sum(),
        },
    })
}
