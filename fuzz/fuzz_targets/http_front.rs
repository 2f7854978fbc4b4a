//! The HTTP front end end to end, in process: coffer's S3 service over a real temp store.
//! Inputs are either raw request bytes or a structured request that is SigV4-signed with
//! the root key (so fuzzing reaches past authentication into the handlers). Nothing may
//! panic, and every error response must carry the seed's XML body and request ids.

#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use bytes::Bytes;
use coffer_s3::{Coffer, CofferService, Config, Identity, RootCredentials};
use libfuzzer_sys::fuzz_target;

mod common;
use common::TempStore;

const KEY: &str = "FUZZROOTKEY000000001";
const SECRET: &str = "fuzz-root-secret-0123456789";
const HOST: &str = "127.0.0.1:9000";

#[derive(Arbitrary, Debug)]
enum Input {
    /// Bytes parsed as an HTTP/1.1 request, sent unsigned as they are.
    Raw(Vec<u8>),
    Signed {
        method: u8,
        path: String,
        query: Vec<(String, String)>,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
}

const METHODS: [&str; 6] = ["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS"];

/// No admin routes: `into_service` wants a route type even when there is none.
struct NoRoute;

#[async_trait::async_trait]
impl s3s::route::S3Route for NoRoute {
    fn is_match(&self, _: &http::Method, _: &http::Uri, _: &http::HeaderMap, _: &mut http::Extensions) -> bool {
        false
    }

    async fn call(&self, _: s3s::S3Request<s3s::Body>) -> s3s::S3Result<s3s::S3Response<s3s::Body>> {
        Err(s3s::s3_error!(NotImplemented))
    }
}

struct Env {
    store: TempStore,
    service: CofferService,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let ts = TempStore::new();
        let store = ts.store.clone();
        ts.rt
            .block_on(store.create_bucket("fuzz", coffer_store::CanonicalId([1; 32]), false))
            .unwrap();
        let root = RootCredentials {
            access_key_id: KEY.into(),
            secret_access_key: SECRET.into(),
            canonical_user_id: coffer_store::CanonicalId([1; 32]),
        };
        let identity = Identity::new(store.clone(), root);
        let config = Config {
            region: "us-east-1".into(),
            domains: vec!["localhost".into()],
            default_ownership: coffer_s3::Ownership::default(),
            lifecycle_day_secs: 86_400,
            website_domains: vec!["web.localhost".into()],
            sse_c_over_http: false,
        };
        let service = Coffer::new(store, identity, config).into_service(None::<NoRoute>);
        Env { store: ts, service }
    })
}

fn parse_raw(bytes: &[u8]) -> Option<http::Request<s3s::Body>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(n) = req.parse(bytes).ok()? else {
        return None;
    };
    let mut b = http::Request::builder().method(req.method?).uri(req.path?);
    for h in req.headers.iter() {
        b = b.header(h.name, h.value);
    }
    b.body(s3s::Body::from(Bytes::copy_from_slice(&bytes[n..]))).ok()
}

fn signed(
    method: u8,
    path: &str,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Option<http::Request<s3s::Body>> {
    let method = METHODS[usize::from(method) % METHODS.len()];
    let path = format!("/{}", path.trim_start_matches('/'));
    let headers = headers
        .into_iter()
        .take(8)
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .filter(|(k, _)| !matches!(k.as_str(), "host" | "authorization" | "x-amz-date" | "content-length"))
        .collect();
    let mut req = coffer::sigv4::Request {
        method,
        host: HOST,
        path: &path,
        query: query.into_iter().take(8).collect(),
        headers,
        body,
    };
    req.sign(
        &coffer::sigv4::Credentials {
            access_key_id: KEY,
            secret_access_key: SECRET,
            region: "us-east-1",
        },
        time::OffsetDateTime::now_utc(),
    );
    let mut b = http::Request::builder().method(method).uri(req.target());
    for (k, v) in &req.headers {
        b = b.header(k, v);
    }
    b = b.header("content-length", req.body.len());
    b.body(s3s::Body::from(Bytes::from(req.body))).ok()
}

fn field<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&format!("</{name}>"))?;
    Some(&xml[start..start + len])
}

fuzz_target!(|input: Input| {
    let req = match input {
        Input::Raw(bytes) => parse_raw(&bytes),
        Input::Signed {
            method,
            path,
            query,
            headers,
            body,
        } => signed(method, &path, query, headers, body),
    };
    let Some(req) = req else { return };
    let env = env();
    env.store.rt.block_on(async {
        let resp = env.service.call(req).await;
        let rid = resp
            .headers()
            .get("x-amz-request-id")
            .expect("x-amz-request-id on every response")
            .to_str()
            .unwrap()
            .to_owned();
        assert!(resp.headers().contains_key("x-amz-id-2"));
        if resp.status().as_u16() < 400 {
            return;
        }
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .expect("error body")
            .to_bytes();
        let text = std::str::from_utf8(&body).expect("UTF-8 error body");
        assert!(field(text, "Code").is_some_and(|c| !c.is_empty()), "Code in {text}");
        assert!(
            field(text, "Message").is_some_and(|m| !m.is_empty()),
            "Message in {text}"
        );
        assert!(field(text, "Resource").is_some(), "Resource in {text}");
        assert_eq!(field(text, "RequestId"), Some(rid.as_str()), "RequestId in {text}");
        assert!(
            !text.contains("redb") && !text.contains("os error"),
            "internals leak: {text}"
        );
    });
});
