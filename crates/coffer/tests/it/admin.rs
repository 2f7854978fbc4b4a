//! The admin API's version 1 (`/_coffer/admin/v1/...`): every endpoint with signed
//! requests, its JSON errors, bucket usage counts and quotas, across restarts and upgrades.

use aws_sdk_s3::primitives::ByteStream;
use serde_json::{Value, json};

use crate::common::*;

const V1: &str = "/_coffer/admin/v1/";

async fn admin(s: &Server, method: &str, path: &str, body: &[u8]) -> Raw {
    s.raw(method, &format!("{V1}{path}"), &[], &[], body).await
}

fn json_body(r: &Raw) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {} {}", r.status, r.text()))
}

/// A JSON error of `status` and `code`, carrying the request id of its header.
fn check_json_error(r: &Raw, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = json_body(r);
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    let id = r.header("x-amz-request-id").expect("a request id");
    assert_eq!(v["request_id"], id);
}

async fn usage(s: &Server, b: &str) -> (u64, u64, u64) {
    let r = admin(s, "GET", &format!("buckets/{b}"), b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json_body(&r);
    let n = |f: &str| v[f].as_u64().unwrap_or_else(|| panic!("{f} in {v}"));
    (n("objects"), n("bytes"), n("uploads"))
}

async fn set_quota(s: &Server, b: &str, q: Value) {
    let r = admin(s, "PUT", &format!("buckets/{b}/quota"), q.to_string().as_bytes()).await;
    assert_eq!(r.status, 204, "{}", r.text());
}

#[tokio::test]
async fn info_users_and_policies_endpoints() {
    let s = Server::start();
    let r = admin(&s, "GET", "info", b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json_body(&r);
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["region"], "us-east-1");
    assert!(v["uptime_secs"].is_u64());
    assert_eq!(v["data_dir"], s.dir.display().to_string());
    // The size of redb's file; PostgreSQL's tables are not the server's to size.
    assert!(v["store"]["meta_bytes"].as_u64().unwrap() > 0 || !embedded_engines());
    assert_eq!(v["store"]["buckets"], 0);
    assert_eq!(v["store"]["objects"], 0);
    assert!(v["store"]["blob_bytes"].is_u64());

    // Users: add, list, show, policies, remove.
    let r = admin(
        &s,
        "POST",
        "users",
        br#"{"name":"carol","access_key_id":"CAROLKEY0000000000AA"}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let carol = json_body(&r);
    assert_eq!(carol["name"], "carol");
    assert_eq!(carol["access_key_id"], "CAROLKEY0000000000AA");
    assert_eq!(carol["canonical_user_id"].as_str().unwrap().len(), 64);
    assert_eq!(carol["policies"], json!([]));
    let secret = carol["secret_access_key"].as_str().unwrap().to_owned();
    let r = admin(&s, "POST", "users", br#"{"name":"carol"}"#).await;
    check_json_error(&r, 409, "UserAlreadyExists");
    let r = admin(&s, "POST", "users", br#"{"name":"root"}"#).await;
    check_json_error(&r, 400, "InvalidArgument");

    let r = admin(&s, "PUT", "users/carol/policies/readonly", b"").await;
    assert_eq!(r.status, 204, "{}", r.text());
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::x/*"}]}"#;
    let body = json!({ "document": doc }).to_string();
    let r = admin(&s, "PUT", "users/carol/policies/mine", body.as_bytes()).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = admin(&s, "PUT", "users/carol/policies/bad", br#"{"document":"{}"}"#).await;
    check_json_error(&r, 400, "MalformedPolicy");
    let r = admin(&s, "GET", "users/carol/policies", b"").await;
    let v = json_body(&r);
    assert_eq!(v["policies"][0]["policy"], "readonly");
    assert_eq!(v["policies"][1]["policy"], "mine");
    assert_eq!(v["policies"][1]["document"], doc);
    let r = admin(&s, "GET", "users", b"").await;
    let v = json_body(&r);
    assert_eq!(v["users"][0]["name"], "carol");
    assert_eq!(v["users"][0]["policies"], json!(["readonly", "mine"]));
    assert!(v["users"][0].get("secret_access_key").is_none());
    let r = admin(&s, "DELETE", "users/carol/policies/mine", b"").await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = admin(&s, "DELETE", "users/carol/policies/mine", b"").await;
    check_json_error(&r, 404, "NoSuchPolicy");

    // Carol, with readonly, may not use the admin API; with `admin` she may.
    let as_carol = |m: &'static str, p: &'static str| {
        let secret = secret.clone();
        let s = &s;
        async move {
            s.raw_as("CAROLKEY0000000000AA", &secret, m, &format!("{V1}{p}"), &[], &[], b"")
                .await
        }
    };
    check_json_error(&as_carol("GET", "users").await, 403, "AccessDenied");
    check_json_error(&as_carol("GET", "info").await, 403, "AccessDenied");
    let r = admin(&s, "PUT", "users/carol/policies/admin", b"").await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(as_carol("GET", "users").await.status, 200);
    assert_eq!(as_carol("GET", "info").await.status, 200);

    // Anonymous callers get a JSON 403.
    let r = anonymous(&s, "GET", &format!("{V1}users"), b"").await;
    check_json_error(&r, 403, "AccessDenied");

    let r = admin(&s, "DELETE", "users/carol", b"").await;
    assert_eq!(r.status, 204, "{}", r.text());
    check_json_error(&admin(&s, "DELETE", "users/carol", b"").await, 404, "NoSuchUser");
    check_json_error(&admin(&s, "GET", "users/carol/policies", b"").await, 404, "NoSuchUser");
    assert_eq!(json_body(&admin(&s, "GET", "users", b"").await)["users"], json!([]));
}

/// `/users/{name}/keys`: list, add (random or given), remove; the cap, taken ids, who may.
#[tokio::test]
async fn access_keys_endpoints() {
    let s = Server::start();
    let (k1, s1) = s.add_user("dana").await;
    let (erin_key, erin_secret) = s.add_user("erin").await;
    let keys = |v: &Value| -> Vec<String> {
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["access_key_id"].as_str().unwrap().to_owned())
            .collect()
    };

    let r = admin(&s, "GET", "users/dana/keys", b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json_body(&r);
    assert_eq!(keys(&v), std::slice::from_ref(&k1));
    assert!(v["keys"][0]["created"].as_i64().unwrap() > 1_600_000_000_000, "{v}");
    assert!(v["keys"][0].get("secret_access_key").is_none());

    // A random key (no body, or an empty one), then a given one.
    let r = admin(&s, "POST", "users/dana/keys", b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json_body(&r);
    let (k2, s2) = (
        v["access_key_id"].as_str().unwrap().to_owned(),
        v["secret_access_key"].as_str().unwrap().to_owned(),
    );
    assert_eq!((k2.len(), s2.len()), (20, 40));
    let body = br#"{"access_key_id":"DANAKEY3","secret_access_key":"dana-three"}"#;
    let r = admin(&s, "POST", "users/dana/keys", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        json_body(&r),
        json!({ "access_key_id": "DANAKEY3", "secret_access_key": "dana-three" })
    );
    let r = admin(&s, "GET", "users/dana/keys", b"").await;
    assert_eq!(keys(&json_body(&r)), [k1.clone(), k2.clone(), "DANAKEY3".into()]);
    // Every key signs as dana: the same buckets.
    s.client_as(&k1, &s1)
        .create_bucket()
        .bucket("bkt-dana")
        .send()
        .await
        .unwrap();
    for (k, secret) in [(k2.as_str(), s2.as_str()), ("DANAKEY3", "dana-three")] {
        let l = s.client_as(k, secret).list_buckets().send().await.unwrap();
        assert_eq!(l.buckets().len(), 1, "{k}");
        assert_eq!(l.buckets()[0].name(), Some("bkt-dana"));
    }

    // GET users keeps the first key and lists them all.
    let v = json_body(&admin(&s, "GET", "users/dana", b"").await);
    assert_eq!(v["access_key_id"], k1.as_str());
    assert_eq!(v["access_keys"], json!([k1, k2, "DANAKEY3"]));
    let v = json_body(&admin(&s, "GET", "users", b"").await);
    assert_eq!(v["users"][0]["name"], "dana");
    assert_eq!(v["users"][0]["access_keys"].as_array().unwrap().len(), 3);

    // Taken ids: dana's own, another user's, root's.
    for taken in [k1.as_str(), erin_key.as_str(), ROOT_KEY] {
        let body = json!({ "access_key_id": taken }).to_string();
        check_json_error(
            &admin(&s, "POST", "users/dana/keys", body.as_bytes()).await,
            409,
            "AccessKeyAlreadyExists",
        );
    }
    check_json_error(
        &admin(&s, "POST", "users/dana/keys", br#"{"access_key_id":"a/b"}"#).await,
        400,
        "InvalidArgument",
    );
    check_json_error(
        &admin(&s, "POST", "users/dana/keys", br#"{"other":1}"#).await,
        400,
        "MalformedJSON",
    );
    check_json_error(&admin(&s, "POST", "users/nobody/keys", b"").await, 404, "NoSuchUser");
    check_json_error(&admin(&s, "GET", "users/nobody/keys", b"").await, 404, "NoSuchUser");
    check_json_error(&admin(&s, "PUT", "users/dana/keys", b"").await, 405, "MethodNotAllowed");

    // The cap: ten keys.
    for _ in 3..10 {
        assert_eq!(admin(&s, "POST", "users/dana/keys", b"").await.status, 200);
    }
    check_json_error(&admin(&s, "POST", "users/dana/keys", b"").await, 409, "LimitExceeded");
    assert_eq!(
        keys(&json_body(&admin(&s, "GET", "users/dana/keys", b"").await)).len(),
        10
    );

    // Removing a key: 204, then it signs nothing; it is gone from the list.
    let r = admin(&s, "DELETE", &format!("users/dana/keys/{k2}"), b"").await;
    assert_eq!(r.status, 204, "{}", r.text());
    check_sdk_error(
        s.client_as(&k2, &s2).list_buckets().send().await,
        403,
        "InvalidAccessKeyId",
        "/",
    );
    s.client_as(&k1, &s1).list_buckets().send().await.unwrap();
    check_json_error(
        &admin(&s, "DELETE", &format!("users/dana/keys/{k2}"), b"").await,
        404,
        "NoSuchAccessKey",
    );
    // Another user's key is not dana's to remove.
    check_json_error(
        &admin(&s, "DELETE", &format!("users/dana/keys/{erin_key}"), b"").await,
        404,
        "NoSuchAccessKey",
    );
    // Room again under the cap.
    assert_eq!(admin(&s, "POST", "users/dana/keys", b"").await.status, 200);

    // Erin may not manage keys, hers or dana's, until a policy allows it.
    let as_erin = |m: &'static str, p: String| {
        let (k, secret, s) = (erin_key.clone(), erin_secret.clone(), &s);
        async move { s.raw_as(&k, &secret, m, &format!("{V1}{p}"), &[], &[], b"").await }
    };
    check_json_error(&as_erin("GET", "users/erin/keys".into()).await, 403, "AccessDenied");
    check_json_error(&as_erin("POST", "users/dana/keys".into()).await, 403, "AccessDenied");
    check_json_error(
        &as_erin("DELETE", format!("users/dana/keys/{k1}")).await,
        403,
        "AccessDenied",
    );
    let doc =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["admin:ListAccessKeys"],"Resource":"*"}]}"#;
    let body = json!({ "document": doc }).to_string();
    let r = admin(&s, "PUT", "users/erin/policies/keys", body.as_bytes()).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(as_erin("GET", "users/dana/keys".into()).await.status, 200);
    check_json_error(&as_erin("POST", "users/dana/keys".into()).await, 403, "AccessDenied");

    // Removing the user removes every key.
    let all = keys(&json_body(&admin(&s, "GET", "users/dana/keys", b"").await));
    assert_eq!(admin(&s, "DELETE", "users/dana", b"").await.status, 204);
    check_sdk_error(
        s.client_as(&k1, &s1).list_buckets().send().await,
        403,
        "InvalidAccessKeyId",
        "/",
    );
    check_sdk_error(
        s.client_as("DANAKEY3", "dana-three").list_buckets().send().await,
        403,
        "InvalidAccessKeyId",
        "/",
    );
    // Their ids are free again.
    let (k, _) = s.add_user("dana").await;
    assert!(!all.contains(&k));
    let body = json!({ "access_key_id": "DANAKEY3" }).to_string();
    assert_eq!(admin(&s, "POST", "users/dana/keys", body.as_bytes()).await.status, 200);
}

#[tokio::test]
async fn errors_are_json_with_the_request_id() {
    let s = Server::start();
    check_json_error(&admin(&s, "GET", "nothing", b"").await, 404, "NoSuchResource");
    check_json_error(&admin(&s, "GET", "users/a/b/c/d", b"").await, 404, "NoSuchResource");
    check_json_error(&admin(&s, "DELETE", "info", b"").await, 405, "MethodNotAllowed");
    check_json_error(&admin(&s, "PATCH", "users", b"").await, 405, "MethodNotAllowed");
    check_json_error(&admin(&s, "POST", "users", b"{not json").await, 400, "MalformedJSON");
    // Refused by the signature check, before the admin route: JSON all the same.
    let r = s
        .raw_as(
            crate::common::ROOT_KEY,
            "not-the-secret",
            "GET",
            &format!("{V1}users"),
            &[],
            &[],
            b"",
        )
        .await;
    check_json_error(&r, 403, "SignatureDoesNotMatch");
    let r = s
        .raw_as(
            "NOSUCHKEY00000000000",
            "whatever",
            "GET",
            &format!("{V1}info"),
            &[],
            &[],
            b"",
        )
        .await;
    check_json_error(&r, 403, "InvalidAccessKeyId");
    check_json_error(
        &admin(&s, "POST", "users", br#"{"nom":"x"}"#).await,
        400,
        "MalformedJSON",
    );
    let big = vec![b' '; 65 << 10];
    check_json_error(&admin(&s, "POST", "users", &big).await, 413, "MaxMessageLengthExceeded");
    check_json_error(&admin(&s, "GET", "buckets/nope", b"").await, 404, "NoSuchBucket");
    // `_coffer` is never a bucket, whatever the operation.
    let r = s.raw("PUT", "/_coffer", &[], &[], b"").await;
    r.check_error(400, "InvalidBucketName", "/_coffer");
    let r = s.raw("GET", "/_coffer/admin/v2/info", &[], &[], b"").await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("InvalidBucketName"), "{}", r.text());
    // (Other paths under `/_coffer/` belong to health, metrics and the console.)
    let r = s.raw("PUT", "/_coffer/some-key", &[], &[], b"x").await;
    assert!(r.status >= 400, "{}", r.text());
    let c = s.client();
    assert!(c.create_bucket().bucket("_coffer").send().await.is_err());
    assert!(c.list_buckets().send().await.unwrap().buckets().is_empty());
    // The first admin API still answers.
    let r = s.raw("GET", "/", &[("coffer-admin", "users")], &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn usage_counts_follow_puts_overwrites_deletes_and_multipart() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("counted").send().await.unwrap();
    assert_eq!(usage(&s, "counted").await, (0, 0, 0));
    put(&c, "counted", "a", &data(1000, 1)).await;
    put(&c, "counted", "b", &data(200 << 10, 2)).await;
    assert_eq!(usage(&s, "counted").await, (2, 1000 + (200 << 10), 0));
    put(&c, "counted", "a", &data(10, 3)).await;
    assert_eq!(usage(&s, "counted").await, (2, 10 + (200 << 10), 0));
    c.delete_object().bucket("counted").key("b").send().await.unwrap();
    assert_eq!(usage(&s, "counted").await, (1, 10, 0));
    // Versioned: noncurrent versions count, markers do not.
    enable_versioning(&c, "counted").await;
    put(&c, "counted", "a", &data(20, 4)).await;
    c.delete_object().bucket("counted").key("a").send().await.unwrap();
    assert_eq!(usage(&s, "counted").await, (2, 30, 0));
    // Multipart: an upload counts until it completes into one object.
    let up = c
        .create_multipart_upload()
        .bucket("counted")
        .key("mp")
        .send()
        .await
        .unwrap();
    let id = up.upload_id.unwrap();
    assert_eq!(usage(&s, "counted").await, (2, 30, 1));
    let p = c
        .upload_part()
        .bucket("counted")
        .key("mp")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from(data(5000, 5)))
        .send()
        .await
        .unwrap();
    c.complete_multipart_upload()
        .bucket("counted")
        .key("mp")
        .upload_id(&id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .set_e_tag(p.e_tag)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(usage(&s, "counted").await, (3, 5030, 0));
    let v = json_body(&admin(&s, "GET", "buckets", b"").await);
    assert_eq!(v["buckets"][0]["name"], "counted");
    assert_eq!(v["buckets"][0]["owner"], "root");
    assert_eq!(v["buckets"][0]["objects"], 3);
    assert_eq!(
        v["buckets"][0]["quota"],
        json!({"max_bytes": null, "max_objects": null})
    );
    assert!(v["buckets"][0]["created"].as_str().unwrap().ends_with('Z'));
    let info = json_body(&admin(&s, "GET", "info", b"").await);
    assert_eq!(
        (info["store"]["buckets"].as_u64(), info["store"]["objects"].as_u64()),
        (Some(1), Some(3))
    );
}

#[tokio::test]
async fn quotas_refuse_writes_past_them_and_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_in(&dir);
    let c = s.client();
    c.create_bucket().bucket("capped").send().await.unwrap();
    put(&c, "capped", "first", &data(600, 1)).await;
    set_quota(&s, "capped", json!({ "max_bytes": 1000 })).await;
    let r = admin(&s, "GET", "buckets/capped", b"").await;
    assert_eq!(json_body(&r)["quota"], json!({"max_bytes": 1000, "max_objects": null}));
    // Over max_bytes: refused before the body, as XML with the request id.
    let r = s.raw("PUT", "/capped/second", &[], &[], &data(500, 2)).await;
    r.check_error(403, "QuotaExceeded", "/capped/second");
    assert!(r.header("x-amz-request-id").is_some());
    // An overwrite that shrinks the bucket is fine.
    put(&c, "capped", "first", &data(100, 3)).await;
    put(&c, "capped", "second", &data(500, 2)).await;
    assert_eq!(usage(&s, "capped").await, (2, 600, 0));
    // A copy is checked at its commit.
    let r = c
        .copy_object()
        .bucket("capped")
        .key("third")
        .copy_source("capped/second")
        .send()
        .await;
    assert_eq!(sdk_status(r), 403);
    // Over max_objects.
    set_quota(&s, "capped", json!({ "max_objects": 2 })).await;
    let r = s.raw("PUT", "/capped/third", &[], &[], b"x").await;
    r.check_error(403, "QuotaExceeded", "/capped/third");
    let r = c.head_object().bucket("capped").key("third").send().await;
    assert_eq!(sdk_status(r), 404);
    assert_eq!(usage(&s, "capped").await, (2, 600, 0));
    // It survives a restart, with the counts.
    s.terminate();
    let s = Server::start_in(&dir);
    assert_eq!(usage(&s, "capped").await, (2, 600, 0));
    let r = s.raw("PUT", "/capped/third", &[], &[], b"x").await;
    r.check_error(403, "QuotaExceeded", "/capped/third");
    let r = admin(&s, "DELETE", "buckets/capped/quota", b"").await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = s.raw("PUT", "/capped/third", &[], &[], b"x").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(usage(&s, "capped").await, (3, 601, 0));
    // The CLI shows and sets the same.
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
            .arg("admin")
            .args(args)
            .args(["--endpoint", &s.endpoint()])
            .env("COFFER_ACCESS_KEY_ID", ROOT_KEY)
            .env("COFFER_SECRET_ACCESS_KEY", ROOT_SECRET)
            .env_remove("COFFER_REGION")
            .output()
            .unwrap()
    };
    let out = cli(&["bucket", "quota", "capped", "--max-objects", "5"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(&["bucket", "show", "capped"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["quota"]["max_objects"], 5);
    assert_eq!(v["objects"], 3);
    let out = cli(&["info"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(&["bucket", "quota", "capped", "--clear"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(&["bucket", "list"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["buckets"][0]["quota"]["max_objects"], Value::Null);
}

/// A data directory from before usage was counted gets its counts when opened.
#[tokio::test]
async fn an_older_data_directory_gets_its_counts_at_open() {
    if skip_on_shared_engines() {
        return;
    }
    let (_tmp, dir) = crate::common::unpack("data-format-2.tar.gz");
    let s = Server::start_in(&dir);
    let c = s.client();
    let v = json_body(&admin(&s, "GET", "buckets", b"").await);
    let buckets = v["buckets"].as_array().unwrap();
    assert!(!buckets.is_empty());
    for b in buckets {
        let name = b["name"].as_str().unwrap();
        let listed = c.list_object_versions().bucket(name).send().await.unwrap();
        let versions = listed.versions();
        let bytes: i64 = versions.iter().map(|v| v.size.unwrap_or(0)).sum();
        let uploads = c
            .list_multipart_uploads()
            .bucket(name)
            .send()
            .await
            .unwrap()
            .uploads()
            .len();
        assert_eq!(b["objects"].as_u64(), Some(versions.len() as u64), "{name}: {b}");
        assert_eq!(b["bytes"].as_u64(), Some(bytes as u64), "{name}: {b}");
        assert_eq!(b["uploads"].as_u64(), Some(uploads as u64), "{name}: {b}");
    }
}
