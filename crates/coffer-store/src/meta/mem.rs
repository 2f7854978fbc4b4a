//! An in-memory engine, for tests: ordered maps behind a lock, snapshots shared
//! copy-on-write. With `rerun`, every write closure runs twice and the first run is
//! thrown away, as a retrying engine may do: a closure that is not a pure function of what
//! it reads fails the conformance suite there.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::{AnyBox, MetaStore, Op, ReadTxn, Table, Visitor, WriteFn, scan_passes, visit_pass};
use crate::error::StoreResult;

type Tables = Vec<BTreeMap<Vec<u8>, Vec<u8>>>;

pub struct MemMeta {
    state: Mutex<Arc<Tables>>,
    rerun: bool,
}

impl MemMeta {
    pub fn new(rerun: bool) -> Self {
        Self {
            state: Mutex::new(Arc::new(vec![BTreeMap::new(); Table::ALL.len()])),
            rerun,
        }
    }

    fn snapshot(&self) -> Arc<Tables> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

struct Snapshot(Arc<Tables>);

impl ReadTxn for Snapshot {
    fn get(&self, table: Table, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.0[table.index()].get(key).cloned())
    }

    fn scan(&self, table: Table, from: Bound<&[u8]>, to: Option<&[u8]>, visit: Visitor<'_>) -> StoreResult<()> {
        let map = &self.0[table.index()];
        scan_passes(from, to, visit, |lower, upper, visit| {
            visit_pass(map.range::<[u8], _>((lower, upper)).map(Ok), visit)
        })
    }
}

impl MetaStore for MemMeta {
    fn read(&self) -> StoreResult<Box<dyn ReadTxn + '_>> {
        Ok(Box::new(Snapshot(self.snapshot())))
    }

    fn write(&self, f: WriteFn) -> oneshot::Receiver<StoreResult<AnyBox>> {
        let (tx, rx) = oneshot::channel();
        // One writer at a time, like redb's writer thread.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let view = Snapshot(state.clone());
        if self.rerun {
            let _ = f(&view);
        }
        let result = f(&view).map(|(ops, out)| {
            let tables = Arc::make_mut(&mut state);
            for op in ops {
                match op {
                    Op::Put(t, k, v) => {
                        tables[t.index()].insert(k, v);
                    }
                    Op::Delete(t, k) => {
                        tables[t.index()].remove(&k);
                    }
                }
            }
            out
        });
        let _ = tx.send(result);
        rx
    }
}
