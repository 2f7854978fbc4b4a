//! Setup shared by the fuzz targets that run against a real store.

use coffer_store::Store;

/// A runtime and an empty store in a temp directory, made once per fuzzing process.
pub struct TempStore {
    pub rt: tokio::runtime::Runtime,
    pub store: Store,
    _dir: tempfile::TempDir,
}

impl TempStore {
    pub fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        // On tmpfs when there is one: fsyncs there are free, so inputs run faster.
        let dir = tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .unwrap();
        let store = rt.block_on(Store::open(dir.path(), coffer_store::CanonicalId([0; 32]), None)).unwrap();
        TempStore { rt, store, _dir: dir }
    }
}
