//! Limits on what one request may hold: the size of its header section and XML body, and
//! the pace of its body.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use s3s::Body;
use tokio::time::Instant;

/// What became of a request's body: whether it was cut for stalling or crawling, and how
/// many bytes arrived.
#[derive(Clone, Default)]
pub(crate) struct BodyWatch {
    pub stalled: Arc<AtomicBool>,
    pub bytes: Arc<AtomicU64>,
}

/// How slowly a body may arrive.
#[derive(Clone, Copy, Debug)]
pub struct BodyPace {
    /// The longest the server waits for the next bytes.
    pub idle: Duration,
    /// Bytes a second the client must average, counting only the time the server waited for
    /// it, after a first `idle` of grace; 0 for no minimum.
    pub min_rate: u64,
}

/// A request body that fails when its client stops sending for `idle`, or sends so slowly
/// that the time the server spent waiting for it exceeds `idle + bytes / min_rate`. A client
/// trickling a byte every few seconds thus cannot hold a connection and its buffers; time
/// the server itself took (a slow disk) is not charged to the client. AWS answers such a
/// request 400 RequestTimeout, which `CofferService::call` does when `stalled` is set.
pub(crate) struct PacedBody {
    inner: hyper::body::Incoming,
    pace: BodyPace,
    timer: Pin<Box<tokio::time::Sleep>>,
    /// Since when the server has been waiting for the client, if it is.
    waiting_since: Option<Instant>,
    waited: Duration,
    watch: BodyWatch,
}

impl PacedBody {
    pub fn new(inner: hyper::body::Incoming, pace: BodyPace, watch: BodyWatch) -> Self {
        Self {
            inner,
            pace,
            timer: Box::pin(tokio::time::sleep(pace.idle)),
            waiting_since: None,
            waited: Duration::ZERO,
            watch,
        }
    }
}

/// How much longer the server waits for a client that has sent `bytes` and kept it waiting
/// `waited` so far.
fn patience(pace: BodyPace, bytes: u64, waited: Duration) -> Duration {
    if pace.min_rate == 0 {
        return pace.idle;
    }
    let earned = pace.idle + Duration::from_secs_f64(bytes as f64 / pace.min_rate as f64);
    earned.saturating_sub(waited).min(pace.idle)
}

#[derive(Debug)]
struct BodyTooSlow(Duration);

impl std::fmt::Display for BodyTooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BodyTooSlow: the request body stalled or crawled (idle limit {:?})",
            self.0
        )
    }
}

impl std::error::Error for BodyTooSlow {}

impl http_body::Body for PacedBody {
    type Data = Bytes;
    type Error = s3s::StdError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some(since) = this.waiting_since.take() {
                    this.waited += since.elapsed();
                }
                if let Some(Ok(data)) = frame.as_ref().map(|f| f.as_ref().map(http_body::Frame::data_ref)) {
                    let n = data.map_or(0, |d| d.len() as u64);
                    this.watch.bytes.fetch_add(n, Ordering::Relaxed);
                }
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                if this.waiting_since.is_none() {
                    let now = Instant::now();
                    this.waiting_since = Some(now);
                    let sent = this.watch.bytes.load(Ordering::Relaxed);
                    let deadline = now + patience(this.pace, sent, this.waited);
                    this.timer.as_mut().reset(deadline);
                }
                match this.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.watch.stalled.store(true, Ordering::SeqCst);
                        Poll::Ready(Some(Err(Box::new(BodyTooSlow(this.pace.idle)))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// S3 refuses a request whose header section is over 8 KiB with RequestHeaderSectionTooLarge.
/// Larger blocks than hyper buffers (about 400 KiB, or over 100 headers) never reach us:
/// hyper answers those 431 itself.
pub(super) const MAX_HEADER_SECTION: usize = 8 << 10;

/// Bytes of the header section as sent: `name: value\r\n` per header.
pub(super) fn header_section_len(req: &Request<Body>) -> usize {
    req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum()
}

/// A request (DeleteObjects, PutBucketVersioning, ...) declaring an XML body over s3s's
/// cap. s3s would read up to the cap before refusing; the declared length says it at once.
pub(super) fn xml_body_too_large(req: &Request<Body>, xml_max: u64) -> bool {
    carries_xml(req)
        && req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > xml_max)
}

/// Whether the body of this request is an XML document (capped by s3s) rather than object
/// data: any POST but a form upload, and any PUT addressed to a subresource other than a
/// part upload's `partNumber`/`uploadId` (and the SDKs' `x-id` tag).
pub(super) fn carries_xml(req: &Request<Body>) -> bool {
    match *req.method() {
        http::Method::POST => !is_form(req),
        http::Method::PUT => req.uri().query().is_some_and(|q| {
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| p.split_once('=').map_or(p, |(k, _)| k))
                .any(|k| !matches!(k, "partNumber" | "uploadId" | "x-id"))
        }),
        _ => false,
    }
}

/// A browser-form upload (POST Object).
pub(crate) fn is_form(req: &Request<Body>) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crawling_client_runs_out_of_patience() {
        let pace = BodyPace {
            idle: Duration::from_secs(30),
            min_rate: 1024,
        };
        assert_eq!(patience(pace, 0, Duration::ZERO), Duration::from_secs(30));
        // A byte every 5 s: after 30 s of waiting, almost nothing is left.
        assert_eq!(
            patience(pace, 6, Duration::from_secs(30)),
            Duration::from_secs_f64(6.0 / 1024.0)
        );
        // A steady client is never cut by the rate, only by a full idle period.
        assert_eq!(
            patience(pace, 1 << 30, Duration::from_secs(600)),
            Duration::from_secs(30)
        );
        let no_minimum = BodyPace { min_rate: 0, ..pace };
        assert_eq!(
            patience(no_minimum, 0, Duration::from_secs(600)),
            Duration::from_secs(30)
        );
    }
}
