//! A minimal AWS SigV4 signer and HTTP/1.1 client, for the CLI's calls to a running
//! server's admin API (and for tests that need requests no SDK will send).

use std::fmt::Write as _;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).expect("hmac takes any key");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// RFC 3986 encoding as SigV4 wants it; `/` kept in paths.
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

pub struct Credentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub region: &'a str,
}

/// The signing state after the seed signature, for aws-chunked chunk signatures.
pub struct Signed {
    key: Vec<u8>,
    amz_date: String,
    scope: String,
    pub signature: String,
}

impl Signed {
    /// The signature of the next chunk (SigV4 streaming), chained to the previous one.
    pub fn chunk(&mut self, data: &[u8]) -> String {
        let to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{}\n{}",
            self.amz_date,
            self.scope,
            self.signature,
            sha256_hex(b""),
            sha256_hex(data)
        );
        self.signature = hex::encode(hmac(&self.key, to_sign.as_bytes()));
        self.signature.clone()
    }
}

/// A request to sign: `query` pairs unencoded, `headers` lower-case names.
pub struct Request<'a> {
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request<'_> {
    /// Adds `host`, `x-amz-date`, `x-amz-content-sha256` and `authorization`; returns what
    /// signing aws-chunked payloads needs next.
    pub fn sign(&mut self, cred: &Credentials<'_>, now: time::OffsetDateTime) -> Signed {
        let date = format!("{:04}{:02}{:02}", now.year(), u8::from(now.month()), now.day());
        let amz_date = format!("{date}T{:02}{:02}{:02}Z", now.hour(), now.minute(), now.second());
        // A caller may declare the payload hash itself, e.g. UNSIGNED-PAYLOAD.
        let payload = match self.headers.iter().find(|(k, _)| k == "x-amz-content-sha256") {
            Some((_, v)) => v.clone(),
            None => {
                let p = sha256_hex(&self.body);
                self.headers.push(("x-amz-content-sha256".into(), p.clone()));
                p
            }
        };
        self.headers.push(("host".into(), self.host.into()));
        self.headers.push(("x-amz-date".into(), amz_date.clone()));
        self.headers.sort();
        let mut query: Vec<(String, String)> = self
            .query
            .iter()
            .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
            .collect();
        query.sort();
        let canonical_query = query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let canonical_headers: String = self
            .headers
            .iter()
            .map(|(k, v)| format!("{k}:{}\n", v.trim()))
            .collect();
        let signed = self
            .headers
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(";");
        let canonical = format!(
            "{}\n{}\n{canonical_query}\n{canonical_headers}\n{signed}\n{payload}",
            self.method,
            uri_encode(self.path, true)
        );
        let scope = format!("{date}/{}/s3/aws4_request", cred.region);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            sha256_hex(canonical.as_bytes())
        );
        let mut key = hmac(format!("AWS4{}", cred.secret_access_key).as_bytes(), date.as_bytes());
        for part in [cred.region, "s3", "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        let signature = hex::encode(hmac(&key, to_sign.as_bytes()));
        let signed_state = Signed {
            key,
            amz_date,
            scope: scope.clone(),
            signature: signature.clone(),
        };
        self.headers.push((
            "authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
                cred.access_key_id
            ),
        ));
        signed_state
    }

    /// The request target: encoded path and query.
    pub fn target(&self) -> String {
        let mut target = uri_encode(self.path, true);
        if !self.query.is_empty() {
            let q: Vec<String> = self
                .query
                .iter()
                .map(|(k, v)| format!("{}={}", uri_encode(k, false), uri_encode(v, false)))
                .collect();
            target = format!("{target}?{}", q.join("&"));
        }
        target
    }

    /// Sends over a fresh connection to `addr` and returns status and body.
    pub async fn send(&self, addr: &str) -> std::io::Result<(u16, Vec<u8>)> {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let target = self.target();
        let mut head = format!("{} {target} HTTP/1.1\r\n", self.method);
        for (k, v) in &self.headers {
            let _ = write!(head, "{k}: {v}\r\n");
        }
        let _ = write!(head, "content-length: {}\r\nconnection: close\r\n\r\n", self.body.len());
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&self.body).await?;
        let mut resp = Vec::new();
        stream.read_to_end(&mut resp).await?;
        parse_response(&resp)
    }
}

/// Status and body (de-chunked) of a complete HTTP/1.1 response; public for the fuzzer.
#[doc(hidden)]
pub fn parse_response(resp: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed HTTP response");
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(bad)?;
    let head = std::str::from_utf8(&resp[..split]).map_err(|_| bad())?;
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let mut body = resp[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body).ok_or_else(bad)?;
    }
    Ok((status, body))
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&b[..line_end]).ok()?.trim(), 16).ok()?;
        b = &b[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The GET Object example of the AWS SigV4 documentation ("Examples of signature
    /// calculation").
    #[test]
    fn signs_like_aws() {
        let mut r = Request {
            method: "GET",
            host: "examplebucket.s3.amazonaws.com",
            path: "/test.txt",
            query: vec![],
            headers: vec![("range".into(), "bytes=0-9".into())],
            body: vec![],
        };
        let now = time::macros::datetime!(2013-05-24 00:00:00 UTC);
        r.sign(
            &Credentials {
                access_key_id: "AKIAIOSFODNN7EXAMPLE",
                secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                region: "us-east-1",
            },
            now,
        );
        let auth = &r.headers.iter().find(|(k, _)| k == "authorization").unwrap().1;
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request")
        );
        assert!(auth.contains("SignedHeaders=host;range;x-amz-content-sha256;x-amz-date"));
        assert!(auth.ends_with("Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"));
    }

    #[test]
    fn reads_chunked_bodies() {
        let resp = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(resp).unwrap(), (200, b"abcde".to_vec()));
    }
}
