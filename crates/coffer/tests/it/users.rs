//! `coffer user add|list|remove` against a running server, and what users may touch.

use std::process::{Command, Output};

use aws_sdk_s3::primitives::ByteStream;

use crate::common::*;

/// Runs `coffer user ARGS --endpoint <server>` with the given root credentials.
fn coffer_user_with(s: &Server, key: &str, secret: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coffer"))
        .arg("user")
        .args(args)
        .args(["--endpoint", &s.endpoint()])
        .env("COFFER_ACCESS_KEY_ID", key)
        .env("COFFER_SECRET_ACCESS_KEY", secret)
        .env_remove("COFFER_ENDPOINT")
        .env_remove("COFFER_REGION")
        .env_remove("COFFER_DATA")
        .output()
        .expect("run coffer user")
}

fn coffer_user(s: &Server, args: &[&str]) -> Output {
    coffer_user_with(s, ROOT_KEY, ROOT_SECRET, args)
}

/// The JSON a successful command printed.
fn json_of(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn str_field<'a>(v: &'a serde_json::Value, name: &str) -> &'a str {
    v[name].as_str().unwrap_or_else(|| panic!("{name} in {v}"))
}

/// Adds a user with the CLI; returns its JSON.
fn add(s: &Server, name: &str) -> serde_json::Value {
    json_of(&coffer_user(s, &["add", name]))
}

fn listed(s: &Server) -> Vec<serde_json::Value> {
    json_of(&coffer_user(s, &["list"]))
        .as_array()
        .expect("a JSON array")
        .clone()
}

#[tokio::test]
async fn user_add_prints_credentials_and_the_user_gets_its_own_buckets() {
    let s = Server::start();
    let root = s.client();
    let rb = bucket("root-owned");
    root.create_bucket().bucket(&rb).send().await.unwrap();
    root.put_object()
        .bucket(&rb)
        .key("private")
        .body(ByteStream::from_static(b"root's"))
        .send()
        .await
        .unwrap();

    let v = add(&s, "alice");
    assert_eq!(str_field(&v, "name"), "alice");
    let key = str_field(&v, "access_key_id");
    let secret = str_field(&v, "secret_access_key");
    let canonical = str_field(&v, "canonical_user_id");
    assert!(key.len() >= 16 && key != ROOT_KEY, "{key}");
    assert!(secret.len() >= 30, "{secret}");
    assert_eq!(canonical.len(), 64, "S3 canonical ids are 64 hex digits: {canonical}");
    assert!(canonical.bytes().all(|b| b.is_ascii_hexdigit()), "{canonical}");

    // The new user creates and uses its own bucket.
    let alice = s.client_as(key, secret);
    let ab = bucket("alice");
    alice.create_bucket().bucket(&ab).send().await.unwrap();
    alice
        .put_object()
        .bucket(&ab)
        .key("hello")
        .body(ByteStream::from_static(b"from alice"))
        .send()
        .await
        .unwrap();
    let got = alice.get_object().bucket(&ab).key("hello").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"from alice");
    let out = alice.list_buckets().send().await.unwrap();
    assert_eq!(out.owner().and_then(|o| o.id()), Some(canonical));
    let names: Vec<&str> = out.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, [ab.as_str()]);

    // It cannot read root's bucket...
    check_sdk_error(
        alice.get_object().bucket(&rb).key("private").send().await,
        403,
        "AccessDenied",
        &format!("/{rb}/private"),
    );
    check_sdk_error(
        alice.list_objects_v2().bucket(&rb).send().await,
        403,
        "AccessDenied",
        &format!("/{rb}"),
    );
    // ...nor copy out of it into its own.
    check_sdk_error(
        alice
            .copy_object()
            .bucket(&ab)
            .key("stolen")
            .copy_source(format!("{rb}/private"))
            .send()
            .await,
        403,
        "AccessDenied",
        &format!("/{ab}/stolen"),
    );
    // Root reads the user's bucket.
    let got = root.get_object().bucket(&ab).key("hello").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"from alice");
    let list = root.list_objects_v2().bucket(&ab).send().await.unwrap();
    assert_eq!(list.key_count(), Some(1));
}

#[tokio::test]
async fn user_add_with_given_keys() {
    let s = Server::start();
    let (key, secret) = ("CKGIVENKEY0000000001", "given-secret-0123456789abcdefghijklmnopq");
    let v = json_of(&coffer_user(
        &s,
        &["add", "gina", "--access-key-id", key, "--secret-access-key", secret],
    ));
    assert_eq!(str_field(&v, "name"), "gina");
    assert_eq!(str_field(&v, "access_key_id"), key);
    assert_eq!(str_field(&v, "secret_access_key"), secret);
    let gina = s.client_as(key, secret);
    gina.create_bucket().bucket("bkt-gina").send().await.unwrap();
    // A wrong secret for that key does not sign.
    check_sdk_error(
        s.client_as(key, "not-her-secret").list_buckets().send().await,
        403,
        "SignatureDoesNotMatch",
        "/",
    );
}

#[tokio::test]
async fn user_list_shows_users_without_secrets() {
    let s = Server::start();
    let a = add(&s, "alice");
    let b = add(&s, "bob");
    let out = coffer_user(&s, &["list"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let users = listed(&s);
    for added in [&a, &b] {
        let name = str_field(added, "name");
        let u = users
            .iter()
            .find(|u| u["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {users:?}"));
        assert_eq!(u["access_key_id"], added["access_key_id"]);
        assert_eq!(u["canonical_user_id"], added["canonical_user_id"]);
        assert!(u.get("secret_access_key").is_none(), "no secret in {u}");
        assert!(!stdout.contains(str_field(added, "secret_access_key")), "{stdout}");
    }
    assert!(!stdout.contains(ROOT_SECRET));
}

#[tokio::test]
async fn user_remove_revokes_the_key() {
    let s = Server::start();
    let v = add(&s, "carol");
    let keep = add(&s, "dave");
    let carol = s.client_as(str_field(&v, "access_key_id"), str_field(&v, "secret_access_key"));
    carol.list_buckets().send().await.unwrap();

    let out = coffer_user(&s, &["remove", "carol"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    check_sdk_error(carol.list_buckets().send().await, 403, "InvalidAccessKeyId", "/");
    check_sdk_error(
        carol.create_bucket().bucket("bkt-carol").send().await,
        403,
        "InvalidAccessKeyId",
        "/bkt-carol",
    );
    let names: Vec<String> = listed(&s).iter().map(|u| str_field(u, "name").to_owned()).collect();
    assert!(!names.contains(&"carol".to_owned()), "{names:?}");
    assert!(names.contains(&"dave".to_owned()), "{names:?}");
    // The other user is unaffected.
    let dave = s.client_as(str_field(&keep, "access_key_id"), str_field(&keep, "secret_access_key"));
    dave.list_buckets().send().await.unwrap();
    // Removing a user that does not exist fails.
    let again = coffer_user(&s, &["remove", "carol"]);
    assert!(!again.status.success(), "removing a missing user succeeded");
}

#[tokio::test]
async fn admin_api_is_root_only() {
    let s = Server::start();
    let v = add(&s, "mallory");
    let (key, secret) = (str_field(&v, "access_key_id"), str_field(&v, "secret_access_key"));
    let r = s
        .raw_as(key, secret, "GET", "/", &[("coffer-admin", "users")], &[], b"")
        .await;
    r.check_error(403, "AccessDenied", "/");
    assert!(!r.text().contains(secret));
    let r = s
        .raw_as(
            key,
            secret,
            "POST",
            "/",
            &[("coffer-admin", "users")],
            &[],
            br#"{"name":"mallory2"}"#,
        )
        .await;
    r.check_error(403, "AccessDenied", "/");
    let r = s
        .raw_as(
            key,
            secret,
            "DELETE",
            "/",
            &[("coffer-admin", "users"), ("name", "mallory")],
            &[],
            b"",
        )
        .await;
    r.check_error(403, "AccessDenied", "/");
    let names: Vec<String> = listed(&s).iter().map(|u| str_field(u, "name").to_owned()).collect();
    assert_eq!(names, ["mallory"]);
    // The CLI with a user's keys instead of root's fails too.
    let out = coffer_user_with(&s, key, secret, &["list"]);
    assert!(!out.status.success());
    // And with root's key but a wrong secret.
    let out = coffer_user_with(&s, ROOT_KEY, "wrong-secret", &["add", "eve"]);
    assert!(!out.status.success());
    assert_eq!(listed(&s).len(), 1);
}

#[tokio::test]
async fn adding_a_duplicate_fails() {
    let s = Server::start();
    let first = add(&s, "bob");
    let out = coffer_user(&s, &["add", "bob"]);
    assert!(!out.status.success(), "duplicate name accepted");
    assert!(out.stdout.is_empty() || !String::from_utf8_lossy(&out.stdout).contains("secret_access_key"));
    // The same access key under another name.
    let out = coffer_user(
        &s,
        &["add", "bobby", "--access-key-id", str_field(&first, "access_key_id")],
    );
    assert!(!out.status.success(), "duplicate access key accepted");
    // Root's own key and name are taken as well.
    assert!(
        !coffer_user(&s, &["add", "rooty", "--access-key-id", ROOT_KEY])
            .status
            .success()
    );
    assert!(!coffer_user(&s, &["add", "root"]).status.success());
    let users = listed(&s);
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["access_key_id"], first["access_key_id"]);
    // The original still works.
    let bob = s.client_as(
        str_field(&first, "access_key_id"),
        str_field(&first, "secret_access_key"),
    );
    bob.list_buckets().send().await.unwrap();
}

/// A client for the user `v` describes (the JSON `coffer user add` printed).
fn client_of(s: &Server, v: &serde_json::Value) -> aws_sdk_s3::Client {
    s.client_as(str_field(v, "access_key_id"), str_field(v, "secret_access_key"))
}

/// `coffer user policy attach|detach|list`: built-in and custom policies grant what they
/// say on every bucket, an explicit deny binds even an owner, detaching takes it back.
#[tokio::test]
async fn user_policies_grant_what_they_say() {
    let s = Server::start();
    let root = s.client();
    let b = bucket("shared");
    root.create_bucket().bucket(&b).send().await.unwrap();
    for k in ["docs/a", "docs/secret-plan", "other"] {
        put(&root, &b, k, k.as_bytes()).await;
    }
    let alice = client_of(&s, &add(&s, "alice"));
    let bob = client_of(&s, &add(&s, "bob"));
    let carol = client_of(&s, &add(&s, "carol"));
    let denied = |r: u16| assert_eq!(r, 403);
    denied(sdk_status(alice.get_object().bucket(&b).key("other").send().await));

    // readonly: list and read every bucket, write nothing.
    json_of(&coffer_user(&s, &["policy", "attach", "alice", "readonly"]));
    assert_eq!(get_body(&alice, &b, "other").await, b"other");
    let listed = alice.list_objects_v2().bucket(&b).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(3));
    let names = bucket_names(&alice).await;
    assert_eq!(names, std::slice::from_ref(&b));
    check_sdk_error(
        alice
            .put_object()
            .bucket(&b)
            .key("new")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        403,
        "AccessDenied",
        &format!("/{b}/new"),
    );

    // writeonly: write, but neither read nor delete.
    json_of(&coffer_user(&s, &["policy", "attach", "bob", "writeonly"]));
    put(&bob, &b, "backup/1", b"dump").await;
    denied(sdk_status(bob.get_object().bucket(&b).key("backup/1").send().await));
    denied(sdk_status(bob.delete_object().bucket(&b).key("backup/1").send().await));

    // A custom policy from a file, named by the file: an allow with a deny carved out.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("docs-reader.json");
    std::fs::write(
        &file,
        format!(
            r#"{{"Version":"2012-10-17","Statement":[
                {{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/docs/*"}},
                {{"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/docs/secret*"}}]}}"#
        ),
    )
    .unwrap();
    json_of(&coffer_user(&s, &["policy", "attach", "carol", file.to_str().unwrap()]));
    assert_eq!(get_body(&carol, &b, "docs/a").await, b"docs/a");
    denied(sdk_status(
        carol.get_object().bucket(&b).key("docs/secret-plan").send().await,
    ));
    denied(sdk_status(carol.get_object().bucket(&b).key("other").send().await));
    let listed = json_of(&coffer_user(&s, &["policy", "list", "carol"]));
    assert_eq!(listed[0]["policy"], "docs-reader");
    assert_eq!(listed[0]["document"]["Statement"][1]["Effect"], "Deny");

    // An explicit deny in a user's own policy binds it on its own bucket too.
    let cb = bucket("carols");
    carol.create_bucket().bucket(&cb).send().await.unwrap();
    put(&carol, &cb, "k", b"v").await;
    let deny = dir.path().join("no-deletes.json");
    std::fs::write(
        &deny,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::*"}}"#,
    )
    .unwrap();
    json_of(&coffer_user(&s, &["policy", "attach", "carol", deny.to_str().unwrap()]));
    denied(sdk_status(carol.delete_object().bucket(&cb).key("k").send().await));

    // Detaching takes the grant back; what is not attached, or malformed, is refused.
    json_of(&coffer_user(&s, &["policy", "detach", "alice", "readonly"]));
    denied(sdk_status(alice.get_object().bucket(&b).key("other").send().await));
    let out = coffer_user(&s, &["policy", "detach", "alice", "readonly"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not attached"));
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"Statement":[{"Effect":"Allow","Action":"s3:Fly","Resource":"*"}]}"#,
    )
    .unwrap();
    let out = coffer_user(&s, &["policy", "attach", "alice", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("MalformedPolicy") && err.contains("Policy has invalid action"),
        "{err}"
    );
    let out = coffer_user(&s, &["policy", "attach", "nobody", "readonly"]);
    assert!(!out.status.success());
    // DeleteObjects takes each key as DeleteObject would: a user policy granting deletes
    // under one prefix deletes those keys in a batch and refuses the others.
    let dave_json = add(&s, "dave@example");
    let dave = client_of(&s, &dave_json);
    let tmp = dir.path().join("tmp-cleaner.json");
    std::fs::write(
        &tmp,
        format!(
            r#"{{"Statement":{{"Effect":"Allow","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::{b}/docs/*"}}}}"#
        ),
    )
    .unwrap();
    // A name with `@` reaches the admin API through the CLI's query encoding.
    json_of(&coffer_user(
        &s,
        &["policy", "attach", "dave@example", tmp.to_str().unwrap()],
    ));
    let ids = ["docs/a", "other"].map(|k| aws_sdk_s3::types::ObjectIdentifier::builder().key(k).build().unwrap());
    let out = dave
        .delete_objects()
        .bucket(&b)
        .delete(
            aws_sdk_s3::types::Delete::builder()
                .set_objects(Some(ids.to_vec()))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let refused: Vec<_> = out.errors().iter().filter_map(|e| e.key()).collect();
    assert_eq!(refused, ["other"]);
    assert_eq!(out.deleted().len(), 1);
    json_of(&coffer_user(&s, &["policy", "detach", "dave@example", "tmp-cleaner"]));

    // Listing every bucket is decided on the request too: from loopback, a grant for
    // callers outside 127.0.0.0/8 does not apply.
    let eve = client_of(&s, &add(&s, "eve"));
    let far = dir.path().join("far-lister.json");
    std::fs::write(
        &far,
        r#"{"Statement":{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}}"#,
    )
    .unwrap();
    json_of(&coffer_user(&s, &["policy", "attach", "eve", far.to_str().unwrap()]));
    assert!(eve.list_buckets().send().await.unwrap().buckets().is_empty());

    // Only root administers policies.
    let (k, sec) = s.add_user("mallory").await;
    let out = coffer_user_with(&s, &k, &sec, &["policy", "attach", "mallory", "readwrite"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("AccessDenied"));
}

/// `coffer user key add|list|remove`: a second key signs as the same user, sees the same
/// buckets, and stops at once when removed; removing the user stops every key.
#[tokio::test]
async fn user_keys_sign_as_the_same_user_until_removed() {
    let s = Server::start();
    let v = add(&s, "kim");
    let first = s.client_as(str_field(&v, "access_key_id"), str_field(&v, "secret_access_key"));
    first.create_bucket().bucket("bkt-kim").send().await.unwrap();
    put(&first, "bkt-kim", "a.txt", b"by the first key").await;

    let k = json_of(&coffer_user(&s, &["key", "add", "kim"]));
    let (id, secret) = (str_field(&k, "access_key_id"), str_field(&k, "secret_access_key"));
    assert_ne!(id, str_field(&v, "access_key_id"));
    let second = s.client_as(id, secret);
    let mine = second.list_buckets().send().await.unwrap();
    let names: Vec<_> = mine.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["bkt-kim"]);
    // The same owner, whichever key signs.
    let owner =
        |o: &aws_sdk_s3::operation::list_buckets::ListBucketsOutput| o.owner().and_then(|o| o.id()).map(str::to_owned);
    let by_first = first.list_buckets().send().await.unwrap();
    assert_eq!(owner(&mine), owner(&by_first));
    assert_eq!(owner(&mine).as_deref(), Some(str_field(&v, "canonical_user_id")));
    assert_eq!(get_body(&second, "bkt-kim", "a.txt").await, b"by the first key");
    put(&second, "bkt-kim", "b.txt", b"by the second").await;
    assert_eq!(get_body(&first, "bkt-kim", "b.txt").await, b"by the second");

    // Given keys, and the list (no secrets).
    let given = json_of(&coffer_user(
        &s,
        &[
            "key",
            "add",
            "kim",
            "--access-key-id",
            "KIMTHIRDKEY000000001",
            "--secret-access-key",
            "kim-third-secret",
        ],
    ));
    assert_eq!(str_field(&given, "access_key_id"), "KIMTHIRDKEY000000001");
    let third = s.client_as("KIMTHIRDKEY000000001", "kim-third-secret");
    third.list_buckets().send().await.unwrap();
    let list = json_of(&coffer_user(&s, &["key", "list", "kim"]));
    let ids: Vec<&str> = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["access_key_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [str_field(&v, "access_key_id"), id, "KIMTHIRDKEY000000001"]);
    assert!(list["keys"][0]["created"].as_i64().unwrap() > 0);
    assert!(!String::from_utf8_lossy(&coffer_user(&s, &["key", "list", "kim"]).stdout).contains(secret));
    // A taken id is refused.
    let taken = coffer_user(&s, &["key", "add", "kim", "--access-key-id", ROOT_KEY]);
    assert!(!taken.status.success(), "root's key id was given to kim");

    // Removing the second key: it fails at once, the others go on.
    let out = coffer_user(&s, &["key", "remove", "kim", id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    check_sdk_error(second.list_buckets().send().await, 403, "InvalidAccessKeyId", "/");
    first.list_buckets().send().await.unwrap();
    assert!(!coffer_user(&s, &["key", "remove", "kim", id]).status.success());

    // Removing the user stops every key it held.
    let out = coffer_user(&s, &["remove", "kim"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    check_sdk_error(first.list_buckets().send().await, 403, "InvalidAccessKeyId", "/");
    check_sdk_error(third.list_buckets().send().await, 403, "InvalidAccessKeyId", "/");
}
