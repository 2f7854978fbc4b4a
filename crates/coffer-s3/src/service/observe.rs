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
    /// unauthenticated; `draining` once shutdown has begun.
    fn serve(&self, req: &Request<Body>, draining: bool) -> Response<Body>;

    /// Whether [`Observer::finished`] wants to hear about requests at all.
    fn records(&self) -> bool;

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
    pub operation: &'static str,
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

/// Filled in by authorization as s3s resolves the request, read when it is answered.
#[derive(Clone, Default)]
pub struct Seen(Arc<SeenInner>);

#[derive(Default)]
struct SeenInner {
    operation: OnceLock<&'static str>,
    caller: OnceLock<String>,
}

/// s3s lends operation names only for a request's life; they are a fixed set of about a
/// hundred, so each is leaked once and shared after.
fn intern(name: &str) -> &'static str {
    type Names = std::sync::RwLock<std::collections::HashSet<&'static str>>;
    static NAMES: OnceLock<Names> = OnceLock::new();
    let names = NAMES.get_or_init(Names::default);
    if let Some(n) = names.read().expect("not poisoned").get(name) {
        return n;
    }
    let mut names = names.write().expect("not poisoned");
    if let Some(n) = names.get(name) {
        return n;
    }
    let n: &'static str = Box::leak(name.into());
    names.insert(n);
    n
}

impl Seen {
    pub fn set(&self, operation: &str, caller: Option<&str>) {
        let _ = self.0.operation.set(intern(operation));
        if let Some(c) = caller {
            let _ = self.0.caller.set(c.to_owned());
        }
    }

    pub fn operation(&self) -> Option<&'static str> {
        self.0.operation.get().copied()
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
            operation: "GetObject",
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
    fn bucket_and_key_come_from_the_host_or_the_path() {
        assert_eq!(finished(None, "/b/k/x").bucket_and_key(), (Some("b"), Some("k/x")));
        assert_eq!(finished(None, "/b").bucket_and_key(), (Some("b"), None));
        assert_eq!(finished(None, "/b/").bucket_and_key(), (Some("b"), None));
        assert_eq!(finished(None, "/").bucket_and_key(), (None, None));
        assert_eq!(finished(Some("v"), "/k").bucket_and_key(), (Some("v"), Some("k")));
        assert_eq!(finished(Some("v"), "/").bucket_and_key(), (Some("v"), None));
    }
}
