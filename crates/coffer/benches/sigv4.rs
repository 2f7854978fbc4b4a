//! SigV4 costs: what the client pays to sign a request, and what a signed request costs the
//! server over an anonymous one (the difference is mostly signature verification), both
//! in-process through the real S3 service. Run with `cargo bench -p coffer`.

use std::time::Duration;

use coffer::sigv4;
use coffer_s3::{Coffer, Config, Identity, RootCredentials};
use coffer_store::Store;
use criterion::{Criterion, criterion_group, criterion_main};
use s3s::route::S3Route;
use s3s::{Body, S3Request, S3Response, S3Result};

const KEY: &str = "CKBENCHKEY0000000001";
const SECRET: &str = "bench-secret-0123456789abcdefghijklmnopq";

fn signed_head(host: &str) -> Vec<(String, String)> {
    let mut r = sigv4::Request {
        method: "HEAD",
        host,
        path: "/bucket/some/object/key.bin",
        query: vec![],
        headers: vec![("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into())],
        body: vec![],
    };
    r.sign(
        &sigv4::Credentials {
            access_key_id: KEY,
            secret_access_key: SECRET,
            region: "us-east-1",
        },
        time::OffsetDateTime::now_utc(),
    );
    r.headers
}

/// No custom route: the bench serves only S3.
#[derive(Clone)]
struct NoRoute;

#[async_trait::async_trait]
impl S3Route for NoRoute {
    fn is_match(&self, _: &http::Method, _: &http::Uri, _: &http::HeaderMap, _: &mut http::Extensions) -> bool {
        false
    }

    async fn call(&self, _req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        Err(s3s::s3_error!(NotImplemented))
    }
}

fn sign(c: &mut Criterion) {
    c.bench_function("sigv4/sign_unsigned_payload", |b| {
        b.iter(|| signed_head(std::hint::black_box("127.0.0.1:9000")))
    });
}

fn verify(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let service = rt.block_on(async {
        let store = Store::open(dir.path(), coffer_store::CanonicalId([0; 32]), None)
            .await
            .unwrap();
        store
            .create_bucket("bucket", coffer_store::CanonicalId([1; 32]), false)
            .await
            .unwrap();
        let root = RootCredentials {
            access_key_id: KEY.into(),
            secret_access_key: SECRET.into(),
            canonical_user_id: coffer_store::CanonicalId([1; 32]),
        };
        let identity = Identity::new(store.clone(), root);
        let config = Config {
            region: "us-east-1".into(),
            domains: vec![],
            default_ownership: coffer_s3::Ownership::default(),
            lifecycle_day_secs: 86_400,
            website_domains: vec![],
            sse_c_over_http: false,
        };
        Coffer::new(store, identity, config).into_service(Some(NoRoute))
    });
    let request = |headers: &[(String, String)]| {
        let mut b = http::Request::builder()
            .method("HEAD")
            .uri("/bucket/some/object/key.bin");
        for (k, v) in headers {
            b = b.header(k.as_str(), v.as_str());
        }
        b.body(Body::empty()).unwrap()
    };
    let mut g = c.benchmark_group("request");
    // A missing key: the whole path through s3s and the store, answered 404 after auth.
    let signed = signed_head("127.0.0.1:9000");
    g.bench_function("head_signed", |b| {
        b.iter(|| {
            let resp = rt.block_on(service.call(request(&signed)));
            assert_eq!(resp.status(), 404);
        })
    });
    let anonymous = vec![("host".to_owned(), "127.0.0.1:9000".to_owned())];
    g.bench_function("head_anonymous", |b| {
        b.iter(|| {
            let resp = rt.block_on(service.call(request(&anonymous)));
            assert_eq!(resp.status(), 403);
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = sign, verify
}
criterion_main!(benches);
