//! What the binary adds around S3: the endpoints under `/_coffer/` that are not S3 (health,
//! metrics, console), and a record of every answered request (metrics, access log).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::{Request, Response};
use s3s::Body;

/// Paths under this prefix are never buckets: bucket names cannot contain `_`.
pub const RESERVED_PREFIX: &str = "/_coffer/";

/// The admin API, which s3s authenticates like any S3 request.
pub const ADMIN_PREFIX: &str = "/_coffer/admin/";

pub trait Observer: Send + Sync + 'static {
    /// Answers a path-style request under [`RESERVED_PREFIX`] other than the admin API,
    /// unauthenticated.
    fn serve(&self, req: &Request<Body>) -> Response<Body>;

    /// Whether [`Observer::finished`] wants to hear about requests at all.
    fn records(&self) -> bool;

    /// Whether it wants the caller, method, bucket and key too (costlier to gather).
    fn wants_details(&self) -> bool;

    /// A request is being served; [`Observer::ended`] follows, even for one cut short.
    fn started(&self);

    fn ended(&self);

    /// A request was answered (its response head is ready; a streamed body may follow).
    fn finished(&self, done: &Finished<'_>);
}

/// One answered request.
pub struct Finished<'a> {
    pub request_id: &'a str,
    /// The S3 operation (`PutObject`, ...); `Unknown` when the request failed before s3s
    /// resolved one (a bad signature, a malformed request).
    pub operation: Operation,
    /// The access key id that signed it, if any.
    pub caller: Option<&'a str>,
    pub method: &'a http::Method,
    /// The bucket named by a virtual host, if any; else the path's first segment names it.
    pub vh_bucket: Option<&'a str>,
    pub path: &'a str,
    pub status: u16,
    /// Body bytes declared by the request and the response (Content-Length, or the
    /// decoded length of an aws-chunked body).
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub duration: Duration,
}

impl Finished<'_> {
    /// The bucket and key the request addressed.
    pub fn bucket_and_key(&self) -> (Option<&str>, Option<&str>) {
        if self.vh_bucket.is_none() && self.path.starts_with(RESERVED_PREFIX) {
            return (None, None);
        }
        let path = self.path.trim_start_matches('/');
        match self.vh_bucket {
            Some(b) => (Some(b), Some(path).filter(|k| !k.is_empty())),
            None => {
                let mut it = path.splitn(2, '/');
                let b = it.next().filter(|b| !b.is_empty());
                (b, it.next().filter(|k| !k.is_empty()))
            }
        }
    }
}

/// The operation label of a request for a reserved path.
pub fn reserved_operation(path: &str) -> &'static str {
    let rest = &path[RESERVED_PREFIX.len().min(path.len())..];
    match rest.split('/').next() {
        Some("health") => "Health",
        Some("metrics") => "Metrics",
        Some("console") => "Console",
        _ => "Unknown",
    }
}

/// Every operation name seen, at its id.
static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

/// An S3 operation's name, interned: the same name always has the same small `id`, so a
/// per-operation table can be a vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    pub name: &'static str,
    pub id: usize,
}

impl Operation {
    pub const UNKNOWN: Operation = Operation { name: "Unknown", id: 0 };

    /// s3s lends operation names only for a request's life; they are a fixed set of about
    /// a hundred, so each is leaked once. Each thread remembers the names it has seen by
    /// address (s3s's names are literals), so a request takes no lock and hashes no string.
    pub fn named(name: &str) -> Operation {
        thread_local! {
            static SEEN: std::cell::RefCell<Vec<(usize, Operation)>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let addr = name.as_ptr() as usize;
        if let Some(op) = SEEN.with_borrow(|seen| {
            seen.iter()
                .find(|(a, op)| *a == addr && op.name == name)
                .map(|(_, op)| *op)
        }) {
            return op;
        }
        let op = Self::intern(name);
        SEEN.with_borrow_mut(|seen| seen.push((addr, op)));
        op
    }

    /// The operation with this id (`Unknown` for an id never handed out).
    pub fn by_id(id: usize) -> Operation {
        let names = NAMES.lock().expect("not poisoned");
        names.get(id).map_or(Self::UNKNOWN, |name| Operation { name, id })
    }

    fn intern(name: &str) -> Operation {
        let mut names = NAMES.lock().expect("not poisoned");
        if names.is_empty() {
            names.push(Self::UNKNOWN.name);
        }
        if let Some(id) = names.iter().position(|n| *n == name) {
            return Operation { name: names[id], id };
        }
        let n: &'static str = Box::leak(name.into());
        names.push(n);
        Operation {
            name: n,
            id: names.len() - 1,
        }
    }
}

/// Filled in by authorization as s3s resolves the request, read when it is answered.
#[derive(Clone, Default)]
pub struct Seen(Arc<SeenInner>);

#[derive(Default)]
struct SeenInner {
    operation: OnceLock<Operation>,
    /// Whether anyone will read the caller (the access log).
    wants_caller: bool,
    caller: OnceLock<String>,
}

impl Seen {
    pub fn new(wants_caller: bool) -> Self {
        Self(Arc::new(SeenInner {
            wants_caller,
            ..SeenInner::default()
        }))
    }

    pub fn set(&self, operation: &str, caller: Option<&str>) {
        let _ = self.0.operation.set(Operation::named(operation));
        if let Some(c) = caller.filter(|_| self.0.wants_caller) {
            let _ = self.0.caller.set(c.to_owned());
        }
    }

    pub fn operation(&self) -> Operation {
        self.0.operation.get().copied().unwrap_or(Operation::UNKNOWN)
    }

    pub fn caller(&self) -> Option<&str> {
        self.0.caller.get().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished<'a>(vh: Option<&'a str>, path: &'a str) -> Finished<'a> {
        Finished {
            request_id: "r",
            operation: Operation::named("GetObject"),
            caller: None,
            method: &http::Method::GET,
            vh_bucket: vh,
            path,
            status: 200,
            bytes_in: 0,
            bytes_out: 0,
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn operations_are_interned_with_stable_ids() {
        let a = Operation::named("PutObject");
        let owned = String::from("PutObject");
        assert_eq!(Operation::named(&owned), a);
        let b = Operation::named("GetObject");
        assert_ne!(a.id, b.id);
        assert_ne!(a.id, Operation::UNKNOWN.id);
        assert_eq!(Operation::named("Unknown"), Operation::UNKNOWN);
        let other = std::thread::spawn(|| Operation::named("GetObject")).join().unwrap();
        assert_eq!(other, b);
        assert_eq!(Operation::by_id(b.id), b);
        assert_eq!(Operation::by_id(usize::MAX), Operation::UNKNOWN);
    }

    #[test]
    fn bucket_and_key_come_from_the_host_or_the_path() {
        assert_eq!(finished(None, "/b/k/x").bucket_and_key(), (Some("b"), Some("k/x")));
        assert_eq!(finished(None, "/b").bucket_and_key(), (Some("b"), None));
        assert_eq!(finished(None, "/b/").bucket_and_key(), (Some("b"), None));
        assert_eq!(finished(None, "/").bucket_and_key(), (None, None));
        assert_eq!(finished(Some("v"), "/k").bucket_and_key(), (Some("v"), Some("k")));
        assert_eq!(finished(Some("v"), "/").bucket_and_key(), (Some("v"), None));
        assert_eq!(finished(None, "/_coffer/metrics").bucket_and_key(), (None, None));
        assert_eq!(
            finished(Some("v"), "/_coffer/x").bucket_and_key(),
            (Some("v"), Some("_coffer/x"))
        );
    }
}
