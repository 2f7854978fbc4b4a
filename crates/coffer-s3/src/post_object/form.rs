//! A streaming `multipart/form-data` reader for POST Object: the fields before the file
//! are read into memory within fixed limits; the file is handed over as a stream that
//! never holds more than one body chunk and a boundary. (s3s's own reader is private and
//! buffers the whole file before authorization runs.)

use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use memchr::memmem;
use s3s::Body;

/// Bounds on what the fields before the file may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_field: usize,
    pub max_fields: usize,
    pub max_parts: usize,
}

#[derive(Debug)]
pub enum FormError {
    /// Not a well-formed form, or no file part.
    Malformed(&'static str),
    /// The fields before the file exceed the limits.
    TooLarge,
    /// The request body failed (a stall, a dropped connection).
    Body(s3s::StdError),
}

impl std::fmt::Display for FormError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FormError::Malformed(m) => write!(f, "malformed POST form: {m}"),
            FormError::TooLarge => f.write_str("POST form fields over the limit"),
            FormError::Body(e) => write!(f, "POST body: {e}"),
        }
    }
}

impl std::error::Error for FormError {}

/// The fields of a form up to its file, and the file.
pub struct Form {
    pub fields: Fields,
    pub file: FileStream,
}

pub struct Fields {
    /// Names lower-cased, in the order sent.
    pub fields: Vec<(String, String)>,
    /// The file part's `filename`, for `${filename}` in the key.
    pub filename: String,
}

impl Fields {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

struct Reader {
    body: Body,
    buf: BytesMut,
}

impl Reader {
    /// Appends the next chunk of the body; `false` at its end.
    async fn fill(&mut self) -> Result<bool, FormError> {
        match self.body.next().await {
            Some(Ok(b)) => {
                self.buf.extend_from_slice(&b);
                Ok(true)
            }
            Some(Err(e)) => Err(FormError::Body(e)),
            None => Ok(false),
        }
    }

    /// Reads until `pat` is in the buffer, holding at most `limit` bytes before it; returns
    /// its offset.
    async fn find(&mut self, pat: &[u8], limit: usize, what: &'static str) -> Result<usize, FormError> {
        loop {
            if let Some(i) = memmem::find(&self.buf, pat) {
                return if i > limit { Err(FormError::TooLarge) } else { Ok(i) };
            }
            if self.buf.len() > limit + pat.len() {
                return Err(FormError::TooLarge);
            }
            if !self.fill().await? {
                return Err(FormError::Malformed(what));
            }
        }
    }
}

/// Reads a form's fields up to its file part.
pub async fn read(body: Body, boundary: &str, limits: Limits) -> Result<Form, FormError> {
    let mut r = Reader {
        body,
        buf: BytesMut::new(),
    };
    let dash = format!("--{boundary}");
    let delim = format!("\r\n--{boundary}").into_bytes();
    let mut total = 0usize;
    // The first boundary, after an optional preamble.
    let i = r.find(dash.as_bytes(), limits.max_field, "no opening boundary").await?;
    r.buf.advance(i + dash.len());
    let mut fields = Vec::new();
    loop {
        while r.buf.len() < 2 {
            if !r.fill().await? {
                return Err(FormError::Malformed("form ends after a boundary"));
            }
        }
        if r.buf.starts_with(b"--") {
            return Err(FormError::Malformed("no file part"));
        }
        if !r.buf.starts_with(b"\r\n") {
            return Err(FormError::Malformed("bad boundary line"));
        }
        r.buf.advance(2);
        if fields.len() >= limits.max_parts {
            return Err(FormError::TooLarge);
        }
        let room = limits.max_fields.saturating_sub(total);
        let end = r.find(b"\r\n\r\n", room, "part headers never end").await?;
        let head = r.buf.split_to(end + 4);
        total += head.len();
        let (name, filename) = disposition(&head)?;
        if name.eq_ignore_ascii_case("file") {
            return Ok(Form {
                fields: Fields {
                    fields,
                    filename: filename.unwrap_or_default(),
                },
                file: FileStream::new(r, delim, limits.max_fields),
            });
        }
        let len = r.find(&delim, limits.max_field, "field never ends").await?;
        let value = r.buf.split_to(len);
        r.buf.advance(delim.len());
        total += value.len();
        if total > limits.max_fields {
            return Err(FormError::TooLarge);
        }
        let value = String::from_utf8(value.to_vec()).map_err(|_| FormError::Malformed("field is not UTF-8"))?;
        fields.push((name.to_ascii_lowercase(), value));
    }
}

/// `name` and `filename` of a part's `Content-Disposition: form-data`.
fn disposition(head: &[u8]) -> Result<(String, Option<String>), FormError> {
    let head = std::str::from_utf8(head).map_err(|_| FormError::Malformed("part headers are not UTF-8"))?;
    let line = head
        .split("\r\n")
        .find(|l| {
            l.split_once(':')
                .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("content-disposition"))
        })
        .ok_or(FormError::Malformed("part without Content-Disposition"))?;
    let value = line.split_once(':').map_or("", |(_, v)| v);
    let mut name = None;
    let mut filename = None;
    for param in value.split(';').skip(1) {
        let Some((k, v)) = param.split_once('=') else { continue };
        let v = v.trim();
        let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(v.to_owned()),
            "filename" => filename = Some(v.to_owned()),
            _ => {}
        }
    }
    Ok((name.ok_or(FormError::Malformed("part without a name"))?, filename))
}

/// The file part's bytes, up to the boundary that ends it.
pub struct FileStream {
    inner: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, FormError>> + Send + Sync>>,
}

impl FileStream {
    fn new(r: Reader, delim: Vec<u8>, drain_max: usize) -> Self {
        let inner = futures::stream::try_unfold((r, delim, false), move |(mut r, delim, done)| async move {
            if done {
                return Ok(None);
            }
            loop {
                if let Some(i) = memmem::find(&r.buf, &delim) {
                    let chunk = r.buf.split_to(i).freeze();
                    // What follows the file (the closing boundary, fields AWS ignores) is
                    // read off, within a bound, so the answer is not lost to a reset.
                    let mut drained = r.buf.len();
                    r.buf.clear();
                    while drained <= drain_max && r.fill().await? {
                        drained += r.buf.len();
                        r.buf.clear();
                    }
                    return Ok(Some((chunk, (r, delim, true))));
                }
                // Keep what could be the start of the boundary.
                let keep = delim.len() - 1;
                if r.buf.len() > keep {
                    let chunk = r.buf.split_to(r.buf.len() - keep).freeze();
                    return Ok(Some((chunk, (r, delim, false))));
                }
                if !r.fill().await? {
                    return Err(FormError::Malformed("file part never ends"));
                }
            }
        });
        Self { inner: Box::pin(inner) }
    }
}

impl FileStream {
    /// Reads off what has already arrived of a file that will not be stored, within `max`
    /// bytes and `wait` per read, so that a small form's client sees the error instead of a
    /// reset. A large or slow one is cut off.
    pub async fn discard(&mut self, max: usize, wait: std::time::Duration) {
        let mut read = 0;
        while read <= max {
            match tokio::time::timeout(wait, self.next()).await {
                Ok(Some(Ok(c))) => read += c.len(),
                _ => return,
            }
        }
    }
}

impl Stream for FileStream {
    type Item = Result<Bytes, FormError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_field: 64,
        max_fields: 256,
        max_parts: 8,
    };

    /// A body delivered in chunks of `n` bytes, so boundaries fall across chunks.
    fn body(text: &[u8], n: usize) -> Body {
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            text.chunks(n).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let blob = s3s::dto::StreamingBlob::wrap(futures::stream::iter(chunks));
        Body::from(Box::pin(blob) as s3s::stream::DynByteStream)
    }

    fn form(file: &[u8]) -> Vec<u8> {
        let mut f = b"--XyZ\r\nContent-Disposition: form-data; name=\"Key\"\r\n\r\nphotos/${filename}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"acl\"\r\n\r\nprivate\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n".to_vec();
        f.extend_from_slice(file);
        f.extend_from_slice(
            b"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"after\"\r\n\r\nignored\r\n--XyZ--\r\n",
        );
        f
    }

    async fn collect(mut s: FileStream) -> Result<Vec<u8>, FormError> {
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn fields_then_the_file_whatever_the_chunking() {
        let file: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).chain(*b"\r\n--Xy").collect();
        for n in [1, 2, 3, 7, 64, 1 << 20] {
            let f = read(body(&form(&file), n), "XyZ", LIMITS).await.unwrap();
            assert_eq!(f.fields.field("key"), Some("photos/${filename}"));
            assert_eq!(f.fields.field("acl"), Some("private"));
            assert_eq!(f.fields.filename, "a.png");
            assert_eq!(collect(f.file).await.unwrap(), file, "chunks of {n}");
        }
    }

    #[tokio::test]
    async fn limits_hold_before_the_file() {
        let big = format!(
            "--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n{}\r\n--B\r\n",
            "a".repeat(65)
        );
        assert!(matches!(
            read(body(big.as_bytes(), 5), "B", LIMITS).await,
            Err(FormError::TooLarge)
        ));
        let many: String = (0..9)
            .map(|i| format!("--B\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nv\r\n"))
            .collect();
        assert!(matches!(
            read(body(many.as_bytes(), 5), "B", LIMITS).await,
            Err(FormError::TooLarge)
        ));
        // A field that never ends is refused once past its limit, not read for ever.
        let endless = format!(
            "--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n{}",
            "a".repeat(10_000)
        );
        assert!(matches!(
            read(body(endless.as_bytes(), 100), "B", LIMITS).await,
            Err(FormError::TooLarge)
        ));
    }

    #[tokio::test]
    async fn malformed_forms_are_errors() {
        for bad in [
            &b""[..],
            b"no boundary here",
            b"--B\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--B--\r\n",
            b"--B\r\nContent-Type: text/plain\r\n\r\nk\r\n--B--\r\n",
        ] {
            assert!(matches!(
                read(body(bad, 3), "B", LIMITS).await,
                Err(FormError::Malformed(_))
            ));
        }
        let f = read(
            body(
                b"--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nnever ends",
                4,
            ),
            "B",
            LIMITS,
        )
        .await
        .unwrap();
        assert!(matches!(collect(f.file).await, Err(FormError::Malformed(_))));
    }
}
