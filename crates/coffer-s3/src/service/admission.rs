//! Connection slots that anonymous clients cannot exhaust.
//!
//! A connection is *unproven* until a request on it passes authentication. Unproven
//! connections are capped apart from the rest: past the cap, or when every slot is taken, the
//! oldest unproven connection is closed to make room. A flood of idle or trickling sockets
//! thus only ever evicts itself; a connection that has carried a signed request is never
//! evicted, and a new client gets in at once instead of waiting out the header timeout.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

pub struct Admission {
    cap: usize,
    next: AtomicU64,
    /// Unproven connections by age, each with the way to close it.
    unproven: Mutex<BTreeMap<u64, oneshot::Sender<()>>>,
}

impl Admission {
    /// At most `cap` unproven connections at once.
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap: cap.max(1),
            next: AtomicU64::new(0),
            unproven: Mutex::new(BTreeMap::new()),
        })
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, oneshot::Sender<()>>> {
        self.unproven.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new connection, evicting the oldest unproven one if the cap is reached.
    /// The connection must end when `Admitted::evicted` resolves.
    pub fn admit(self: &Arc<Self>) -> Admitted {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let mut map = self.map();
        while map.len() >= self.cap {
            if let Some((_, old)) = map.pop_first() {
                let _ = old.send(());
            }
        }
        map.insert(id, tx);
        Admitted {
            ticket: Ticket {
                id,
                admission: self.clone(),
            },
            evicted: rx,
        }
    }

    /// Closes the oldest unproven connection; false if there is none.
    pub fn evict_oldest(&self) -> bool {
        match self.map().pop_first() {
            Some((_, tx)) => {
                let _ = tx.send(());
                true
            }
            None => false,
        }
    }

    pub fn unproven(&self) -> usize {
        self.map().len()
    }
}

pub struct Admitted {
    /// Goes into every request of the connection, so authentication can prove it.
    pub ticket: Ticket,
    evicted: oneshot::Receiver<()>,
}

impl Admitted {
    /// Resolves if the connection is evicted; never once it is proven.
    pub async fn evicted(self) {
        if self.evicted.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A connection's place among the unproven; dropping the last clone frees it.
#[derive(Clone)]
pub struct Ticket {
    id: u64,
    admission: Arc<Admission>,
}

impl Ticket {
    /// A request on this connection passed authentication: it is no longer evictable.
    pub fn proven(&self) {
        self.admission.map().remove(&self.id);
    }

    /// The connection ended.
    pub fn release(&self) {
        self.admission.map().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_oldest_unproven_connection_makes_room() {
        let a = Admission::new(2);
        let first = a.admit();
        let second = a.admit();
        second.ticket.proven();
        let third = a.admit();
        let fourth = a.admit();
        // Over the cap of 2: the first (oldest unproven) went; the proven one stays.
        tokio::time::timeout(std::time::Duration::from_secs(1), first.evicted())
            .await
            .expect("evicted");
        assert_eq!(a.unproven(), 2);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), second.evicted())
                .await
                .is_err(),
            "a proven connection is never evicted"
        );
        assert!(a.evict_oldest());
        tokio::time::timeout(std::time::Duration::from_secs(1), third.evicted())
            .await
            .expect("evicted");
        fourth.ticket.release();
        assert_eq!(a.unproven(), 0);
        assert!(!a.evict_oldest());
    }
}
