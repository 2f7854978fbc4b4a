//! Read transactions per request, end to end: coffer's S3 service in this process over the
//! real redb and file engines, wrapped to count read transactions, driven by aws-sdk-s3.
//! The store pins its own share (`coffer-store/tests/conformance.rs`); this pins what
//! authentication and the handlers add on top.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use coffer_s3::{Coffer, Config, Identity, RootCredentials};
use coffer_store::meta::{AnyBox, ReadTxn, WriteFn};
use coffer_store::{CanonicalId, FsBlobStore, MetaStore, NewUser, RedbMeta, Store, StoreResult};
use hyper_util::rt::TokioIo;

use crate::common::{ROOT_KEY, ROOT_SECRET, client_at, data, put};

/// The redb engine, counting the read transactions it opens.
struct Counting {
    inner: RedbMeta,
    reads: AtomicUsize,
}

impl MetaStore for Counting {
    fn read(&self) -> StoreResult<Box<dyn ReadTxn + '_>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.read()
    }

    fn write(&self, f: WriteFn) -> tokio::sync::oneshot::Receiver<StoreResult<AnyBox>> {
        self.inner.write(f)
    }
}

/// No routes besides S3's.
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

/// Serves coffer over `meta` on a loopback port; returns the endpoint.
async fn serve(dir: &std::path::Path, meta: Arc<Counting>) -> (String, Store) {
    let store = Store::with_engines(
        meta,
        Arc::new(FsBlobStore::open(dir).unwrap()),
        coffer_store::DEFAULT_INLINE_MAX,
    );
    let root = RootCredentials {
        access_key_id: ROOT_KEY.into(),
        secret_access_key: ROOT_SECRET.into(),
        canonical_user_id: CanonicalId::random(),
    };
    let identity = Identity::new(store.clone(), root);
    let config = Config {
        region: "us-east-1".into(),
        domains: Vec::new(),
        default_ownership: coffer_s3::Ownership::default(),
        lifecycle_day_secs: 86_400,
        website_domains: Vec::new(),
        sse_c_over_http: false,
    };
    let service = Coffer::new(store.clone(), identity, config).into_service(None::<NoRoute>);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = service.clone();
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    (format!("http://{addr}"), store)
}

/// Before the request context, a non-root GET of a small object opened six read
/// transactions (the user twice, the bucket twice, the record, the inline bytes); now three.
#[tokio::test]
async fn read_transactions_per_get_and_head() {
    let tmp = tempfile::tempdir().unwrap();
    let meta = Arc::new(Counting {
        inner: RedbMeta::open(&tmp.path().join("meta.redb")).unwrap(),
        reads: AtomicUsize::new(0),
    });
    let (endpoint, store) = serve(tmp.path(), meta.clone()).await;
    store
        .add_user(NewUser {
            name: "alice".into(),
            access_key_id: "CKALICE0000000000001".into(),
            secret_access_key: "alice-secret-0123456789abcdefghijklmnopq".into(),
            canonical_user_id: CanonicalId::random(),
        })
        .await
        .unwrap();
    // A second key costs what the first does: its row names the user.
    let (key2, secret2) = store.add_access_key("alice", None).await.unwrap();
    let reads = || meta.reads.load(Ordering::SeqCst);
    for (who, c) in [
        ("root", client_at(&endpoint, ROOT_KEY, ROOT_SECRET)),
        (
            "user",
            client_at(
                &endpoint,
                "CKALICE0000000000001",
                "alice-secret-0123456789abcdefghijklmnopq",
            ),
        ),
        ("user-key2", client_at(&endpoint, &key2, &secret2)),
    ] {
        let b = format!("reads-{who}");
        c.create_bucket().bucket(&b).send().await.unwrap();
        put(&c, &b, "small", b"tiny").await;
        put(&c, &b, "big", &data(200 << 10, 1)).await;
        // Root is known without the store. A user is read once for its signature (s3s asks
        // for the secret by access key alone) and again with the bucket, in one.
        let caller = usize::from(who != "root");
        // Then the bucket, then the record and its inline bytes; a blob adds one to
        // re-check the record once the blob is pinned.
        for (key, want) in [("small", 2 + caller), ("big", 3 + caller)] {
            let before = reads();
            let r = c.get_object().bucket(&b).key(key).send().await.unwrap();
            r.body.collect().await.unwrap();
            assert_eq!(reads() - before, want, "{who} GET {key}");
        }
        let before = reads();
        c.head_object().bucket(&b).key("small").send().await.unwrap();
        assert_eq!(reads() - before, 2 + caller, "{who} HEAD");
    }
}
