//! `coffer scrub`: offline check of every stored byte against its recorded MD5.

use std::path::Path;

use coffer_store::Store;

use crate::server::{CREDENTIALS_FILE, anyhow_like, read_stored_root, root_id};

/// Prints every corrupted object; `Ok(false)` if there was any.
pub async fn run(data: &Path, master_key_file: Option<&Path>) -> anyhow_like::Result<bool> {
    if !data.join("meta.redb").exists() {
        return Err(format!("no coffer data in {}", data.display()).into());
    }
    let root = read_stored_root(data).ok_or_else(|| format!("no {CREDENTIALS_FILE} in {}", data.display()))?;
    // redb locks its file: a running server makes this fail rather than race it.
    let store = Store::open(data, root_id(&root)?, crate::server::master_key(master_key_file)?)
        .await
        .map_err(|e| format!("cannot open {} (is a server running on it?): {e}", data.display()))?;
    let report = store.scrub().await?;
    for c in &report.corrupt {
        println!("CORRUPT {}: {}", c.object, c.detail);
    }
    println!(
        "scrubbed {} objects, {} bytes: {} corrupt",
        report.objects,
        report.bytes,
        report.corrupt.len()
    );
    Ok(report.corrupt.is_empty())
}
