//! `coffer key rotate`: re-seals everything sealed under the master key (SSE-S3 data keys,
//! the key service's keys) under a new one, in one commit, without rewriting object data.
//! Offline: redb's lock makes it fail while a server has the data directory open.

use std::path::PathBuf;

use clap::Subcommand;
use coffer_store::{MasterKey, Store};

use crate::server::{CREDENTIALS_FILE, anyhow_like, master_key, read_stored_root, root_id};

#[derive(Subcommand)]
pub enum KeyAction {
    /// Rotate the master key. With the data directory's own key (`master.key`), a new one
    /// replaces it there. With --master-key-file, the new key is read from --new-key-file,
    /// or made and written there if that file does not exist; then start the server with
    /// --master-key-file pointing at it.
    Rotate {
        #[arg(long, default_value = "./coffer-data", env = "COFFER_DATA")]
        data: PathBuf,
        /// The current master key, if the server is given one.
        #[arg(long, env = "COFFER_MASTER_KEY_FILE")]
        master_key_file: Option<PathBuf>,
        /// The new master key (needed with --master-key-file).
        #[arg(long)]
        new_key_file: Option<PathBuf>,
    },
}

pub async fn run(action: KeyAction) -> anyhow_like::Result<()> {
    let KeyAction::Rotate {
        data,
        master_key_file,
        new_key_file,
    } = action;
    let root = read_stored_root(&data).ok_or_else(|| format!("no {CREDENTIALS_FILE} in {}", data.display()))?;
    let current = master_key(master_key_file.as_deref())?;
    let external = current.is_some();
    let store = Store::open(&data, root_id(&root)?, current)
        .await
        .map_err(|e| format!("cannot open {} (is a server running on it?): {e}", data.display()))?;
    if !external && new_key_file.is_some() {
        // The server would go on loading master.key, which no longer opens anything.
        return Err("--new-key-file is for a key kept outside the data directory (--master-key-file); without it, the new key replaces master.key".into());
    }
    let (n, path) = match (external, new_key_file) {
        (false, None) => (
            store.rotate_default_master_key(&data).await?,
            coffer_store::default_key_path(&data),
        ),
        (_, Some(path)) => {
            let new = if path.exists() {
                MasterKey::load(&path)?
            } else {
                let k = MasterKey::generate();
                k.write_new(&path)?;
                k
            };
            (store.rotate_master_key(&new).await?, path)
        }
        (true, None) => return Err("--master-key-file needs --new-key-file: where the new key is (or goes)".into()),
    };
    println!("re-sealed {n} keys under the new master key in {}", path.display());
    if external {
        println!("start the server with --master-key-file {}", path.display());
    }
    Ok(())
}
