//! Static websites: the configuration and its validation, objects' own redirects, and the
//! website endpoint (`bucket.<website domain>`) as `curl` sees it: index documents per
//! folder, the error document with its status, redirects, routing rules, HTML errors.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    Condition, ErrorDocument, IndexDocument, Protocol, Redirect, RedirectAllRequestsTo, RoutingRule,
    WebsiteConfiguration,
};

use crate::common::*;

const DOMAIN: &str = "web.test";

fn start() -> (tempfile::TempDir, Server) {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_with(&tmp.path().join("data"), &["--website-domain", DOMAIN]);
    (tmp, s)
}

/// A request to `bucket`'s website, as a browser or curl sends it.
async fn visit(s: &Server, method: &str, bucket: &str, path: &str) -> Raw {
    let host = format!("{bucket}.{DOMAIN}:{}", s.port);
    raw_send(&s.addr(), method, path, &[("host".to_owned(), host)], Some(b"")).await
}

async fn put_page(c: &aws_sdk_s3::Client, b: &str, k: &str, html: &str) {
    c.put_object()
        .bucket(b)
        .key(k)
        .content_type("text/html")
        .body(ByteStream::from(html.as_bytes().to_vec()))
        .send()
        .await
        .unwrap();
}

fn site(routing: Vec<RoutingRule>) -> WebsiteConfiguration {
    WebsiteConfiguration::builder()
        .index_document(IndexDocument::builder().suffix("index.html").build().unwrap())
        .error_document(ErrorDocument::builder().key("404.html").build().unwrap())
        .set_routing_rules((!routing.is_empty()).then_some(routing))
        .build()
}

#[tokio::test]
async fn configuration_round_trip_and_validation() {
    let (_s, c, b) = with_bucket("web-cfg").await;
    check_sdk_error(
        c.get_bucket_website().bucket(&b).send().await,
        404,
        "NoSuchWebsiteConfiguration",
        &format!("/{b}"),
    );
    let rule = RoutingRule::builder()
        .condition(Condition::builder().key_prefix_equals("blog/").build())
        .redirect(Redirect::builder().replace_key_prefix_with("posts/").build())
        .build();
    c.put_bucket_website()
        .bucket(&b)
        .website_configuration(site(vec![rule.clone()]))
        .send()
        .await
        .unwrap();
    let got = c.get_bucket_website().bucket(&b).send().await.unwrap();
    assert_eq!(got.index_document().map(|i| i.suffix()), Some("index.html"));
    assert_eq!(got.error_document().map(|e| e.key()), Some("404.html"));
    assert_eq!(got.routing_rules(), [rule]);
    for bad in [
        WebsiteConfiguration::builder().build(),
        WebsiteConfiguration::builder()
            .index_document(IndexDocument::builder().suffix("a/index.html").build().unwrap())
            .build(),
    ] {
        check_sdk_error(
            c.put_bucket_website()
                .bucket(&b)
                .website_configuration(bad)
                .send()
                .await,
            400,
            "InvalidArgument",
            &format!("/{b}"),
        );
    }
    let both = RoutingRule::builder()
        .redirect(
            Redirect::builder()
                .replace_key_with("a")
                .replace_key_prefix_with("b")
                .build(),
        )
        .build();
    check_sdk_error(
        c.put_bucket_website()
            .bucket(&b)
            .website_configuration(site(vec![both]))
            .send()
            .await,
        400,
        "InvalidRequest",
        &format!("/{b}"),
    );
    c.delete_bucket_website().bucket(&b).send().await.unwrap();
    check_sdk_error(
        c.get_bucket_website().bucket(&b).send().await,
        404,
        "NoSuchWebsiteConfiguration",
        &format!("/{b}"),
    );
    // An object's own redirect must look like one.
    check_sdk_error(
        c.put_object()
            .bucket(&b)
            .key("r")
            .website_redirect_location("elsewhere")
            .body(ByteStream::from_static(b""))
            .send()
            .await,
        400,
        "InvalidRedirectLocation",
        &format!("/{b}/r"),
    );
    c.put_object()
        .bucket(&b)
        .key("r")
        .website_redirect_location("/about.html")
        .body(ByteStream::from_static(b""))
        .send()
        .await
        .unwrap();
    let head = c.head_object().bucket(&b).key("r").send().await.unwrap();
    assert_eq!(head.website_redirect_location(), Some("/about.html"));
}

#[tokio::test]
async fn a_site_is_served_as_a_web_server_would() {
    let (_tmp, s) = start();
    let c = s.client();
    let b = bucket("site");
    c.create_bucket().bucket(&b).send().await.unwrap();
    // Public, except private/: decided by the bucket's policy, as for any anonymous read.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*"}},
            {{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/private/*"}}]}}"#
    );
    c.put_bucket_policy().bucket(&b).policy(policy).send().await.unwrap();
    put_page(&c, &b, "index.html", "<h1>home</h1>").await;
    put_page(&c, &b, "docs/index.html", "<h1>docs</h1>").await;
    put_page(&c, &b, "404.html", "<h1>lost</h1>").await;
    put_page(&c, &b, "about.html", "<h1>about</h1>").await;
    put_page(&c, &b, "private/secret.html", "<h1>secret</h1>").await;
    c.put_object()
        .bucket(&b)
        .key("old.html")
        .website_redirect_location("/about.html")
        .body(ByteStream::from_static(b""))
        .send()
        .await
        .unwrap();
    let rules = vec![
        RoutingRule::builder()
            .condition(Condition::builder().key_prefix_equals("blog/").build())
            .redirect(Redirect::builder().replace_key_prefix_with("posts/").build())
            .build(),
        RoutingRule::builder()
            .condition(
                Condition::builder()
                    .key_prefix_equals("images/")
                    .http_error_code_returned_equals("404")
                    .build(),
            )
            .redirect(
                Redirect::builder()
                    .host_name("img.example")
                    .protocol(Protocol::Https)
                    .http_redirect_code("302")
                    .build(),
            )
            .build(),
    ];
    c.put_bucket_website()
        .bucket(&b)
        .website_configuration(site(rules))
        .send()
        .await
        .unwrap();

    let r = visit(&s, "GET", &b, "/").await;
    assert_eq!((r.status, r.text().as_str()), (200, "<h1>home</h1>"));
    assert_eq!(r.header("content-type"), Some("text/html"));
    let r = visit(&s, "GET", &b, "/docs/").await;
    assert_eq!((r.status, r.text().as_str()), (200, "<h1>docs</h1>"));
    let r = visit(&s, "GET", &b, "/docs").await;
    assert_eq!((r.status, r.header("location")), (302, Some("/docs/")));
    let r = visit(&s, "GET", &b, "/about.html").await;
    assert_eq!((r.status, r.text().as_str()), (200, "<h1>about</h1>"));
    let r = visit(&s, "HEAD", &b, "/about.html").await;
    assert_eq!((r.status, r.body.len()), (200, 0));
    // Missing and refused: the error document, with the error's status.
    let r = visit(&s, "GET", &b, "/nothing.html").await;
    assert_eq!((r.status, r.text().as_str()), (404, "<h1>lost</h1>"));
    let r = visit(&s, "GET", &b, "/private/secret.html").await;
    assert_eq!((r.status, r.text().as_str()), (403, "<h1>lost</h1>"));
    // Redirects: an object's own, a key-prefix rule, an error-code rule.
    let r = visit(&s, "GET", &b, "/old.html").await;
    assert_eq!((r.status, r.header("location")), (301, Some("/about.html")));
    let r = visit(&s, "GET", &b, "/blog/first.html").await;
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some(format!("http://{b}.{DOMAIN}:{}/posts/first.html", s.port).as_str())
    );
    let r = visit(&s, "GET", &b, "/images/cat.png").await;
    assert_eq!(
        (r.status, r.header("location")),
        (302, Some("https://img.example/images/cat.png"))
    );
    // Only reads.
    let r = visit(&s, "PUT", &b, "/index.html").await;
    assert_eq!(r.status, 405);
    assert!(r.text().contains("<li>Code: MethodNotAllowed</li>"), "{}", r.text());
    // The REST endpoint is unchanged: the object, not the page.
    assert_eq!(get_body(&c, &b, "old.html").await, b"");

    // Without an error document: AWS's HTML error page.
    c.put_bucket_website()
        .bucket(&b)
        .website_configuration(
            WebsiteConfiguration::builder()
                .index_document(IndexDocument::builder().suffix("index.html").build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let r = visit(&s, "GET", &b, "/nothing.html").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let page = r.text();
    assert!(page.contains("<li>Code: NoSuchKey</li>"), "{page}");
    assert!(page.contains("<li>Key: nothing.html</li>"), "{page}");
    assert!(
        page.contains(&format!(
            "<li>RequestId: {}</li>",
            r.header("x-amz-request-id").unwrap()
        )),
        "{page}"
    );

    // A bucket without a website, a bucket that does not exist, and one that redirects.
    let plain = bucket("plain");
    c.create_bucket().bucket(&plain).send().await.unwrap();
    let r = visit(&s, "GET", &plain, "/").await;
    assert_eq!(r.status, 404);
    assert!(r.text().contains("NoSuchWebsiteConfiguration"), "{}", r.text());
    let r = visit(&s, "GET", "no-such-site", "/").await;
    assert_eq!(r.status, 404);
    assert!(r.text().contains("NoSuchBucket"), "{}", r.text());
    let moved = bucket("moved");
    c.create_bucket().bucket(&moved).send().await.unwrap();
    c.put_bucket_website()
        .bucket(&moved)
        .website_configuration(
            WebsiteConfiguration::builder()
                .redirect_all_requests_to(
                    RedirectAllRequestsTo::builder()
                        .host_name("www.example")
                        .protocol(Protocol::Https)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let r = visit(&s, "GET", &moved, "/a/b.html").await;
    assert_eq!(
        (r.status, r.header("location")),
        (301, Some("https://www.example/a/b.html"))
    );
}

/// A website domain that is also an S3 domain would make `bucket.<domain>` both: refused.
#[test]
fn a_website_domain_cannot_also_be_an_s3_domain() {
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--domain",
            "localhost",
            "--website-domain",
            "localhost",
            "--data",
        ])
        .arg(tmp.path().join("data"))
        .env("COFFER_ACCESS_KEY_ID", ROOT_KEY)
        .env("COFFER_SECRET_ACCESS_KEY", ROOT_SECRET)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--website-domain localhost is also an S3 --domain"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A site serves SSE-S3 pages; SSE-KMS and SSE-C ones are refused, as on AWS (no browser
/// brings a customer key, and AWS's website endpoints do not decrypt with KMS).
#[tokio::test]
async fn encrypted_pages_are_served_only_under_sse_s3() {
    let (_tmp, s) = start();
    let c = s.client();
    let b = bucket("site-sse");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*"}}]}}"#
    );
    c.put_bucket_policy().bucket(&b).policy(policy).send().await.unwrap();
    c.put_bucket_website()
        .bucket(&b)
        .website_configuration(site(vec![]))
        .send()
        .await
        .unwrap();
    for (k, sse) in [
        ("s3.html", aws_sdk_s3::types::ServerSideEncryption::Aes256),
        ("kms.html", aws_sdk_s3::types::ServerSideEncryption::AwsKms),
    ] {
        c.put_object()
            .bucket(&b)
            .key(k)
            .content_type("text/html")
            .server_side_encryption(sse)
            .body(ByteStream::from_static(b"<h1>page</h1>"))
            .send()
            .await
            .unwrap();
    }
    let r = visit(&s, "GET", &b, "/s3.html").await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"<h1>page</h1>"[..]));
    assert_eq!(visit(&s, "GET", &b, "/kms.html").await.status, 403);
}
