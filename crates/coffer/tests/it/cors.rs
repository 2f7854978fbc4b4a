//! CORS: the configuration round trip and its validation, preflights answered from the
//! rules without authentication, and `Access-Control-*` on cross-origin responses
//! (errors and presigned requests included). The matrix follows Ceph's s3-tests.

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};

use crate::common::*;

fn rule(origins: &[&str], methods: &[&str]) -> aws_sdk_s3::types::builders::CorsRuleBuilder {
    let mut r = CorsRule::builder();
    for o in origins {
        r = r.allowed_origins(*o);
    }
    for m in methods {
        r = r.allowed_methods(*m);
    }
    r
}

fn config(rules: Vec<CorsRule>) -> CorsConfiguration {
    CorsConfiguration::builder()
        .set_cors_rules(Some(rules))
        .build()
        .unwrap()
}

async fn send(s: &Server, method: &str, target: &str, headers: &[(&str, &str)]) -> Raw {
    let host = s.addr();
    let mut h = vec![("host".to_owned(), host.clone())];
    h.extend(headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    raw_send(&host, method, target, &h, Some(b"")).await
}

/// Status, Access-Control-Allow-Origin and -Methods of a response.
fn cors_of(r: &Raw) -> (u16, Option<&str>, Option<&str>) {
    (
        r.status,
        r.header("access-control-allow-origin"),
        r.header("access-control-allow-methods"),
    )
}

#[tokio::test]
async fn configuration_round_trip_and_validation() {
    let (_s, c, b) = with_bucket("cors-cfg").await;
    check_sdk_error(
        c.get_bucket_cors().bucket(&b).send().await,
        404,
        "NoSuchCORSConfiguration",
        &format!("/{b}"),
    );
    let r = rule(&["https://app.example"], &["GET", "PUT"])
        .allowed_headers("x-amz-*")
        .expose_headers("ETag")
        .max_age_seconds(600)
        .id("app")
        .build()
        .unwrap();
    c.put_bucket_cors()
        .bucket(&b)
        .cors_configuration(config(vec![r.clone()]))
        .send()
        .await
        .unwrap();
    let got = c.get_bucket_cors().bucket(&b).send().await.unwrap();
    assert_eq!(got.cors_rules(), [r]);
    for (bad, code) in [
        (rule(&["*"], &["PATCH"]).build().unwrap(), "InvalidRequest"),
        (rule(&["*.a.*"], &["GET"]).build().unwrap(), "InvalidRequest"),
        (
            rule(&["*"], &["GET"]).allowed_headers("*-*-*").build().unwrap(),
            "InvalidRequest",
        ),
    ] {
        check_sdk_error(
            c.put_bucket_cors()
                .bucket(&b)
                .cors_configuration(config(vec![bad]))
                .send()
                .await,
            400,
            code,
            &format!("/{b}"),
        );
    }
    // The refusals left the configuration as it was.
    assert_eq!(
        c.get_bucket_cors().bucket(&b).send().await.unwrap().cors_rules().len(),
        1
    );
    c.delete_bucket_cors().bucket(&b).send().await.unwrap();
    check_sdk_error(
        c.get_bucket_cors().bucket(&b).send().await,
        404,
        "NoSuchCORSConfiguration",
        &format!("/{b}"),
    );
}

#[tokio::test]
async fn preflights_and_responses_follow_the_rules() {
    let (s, c, b) = with_bucket("cors-match").await;
    put(&c, &b, "bar", b"data").await;
    let bucket = format!("/{b}");
    let obj = format!("/{b}/bar");
    // Without rules a preflight is refused, and responses carry nothing.
    let r = send(
        &s,
        "OPTIONS",
        &obj,
        &[("origin", "foo.suffix"), ("access-control-request-method", "GET")],
    )
    .await;
    r.check_error(403, "AccessForbidden", &obj);
    let r = send(&s, "GET", &obj, &[("origin", "foo.suffix")]).await;
    assert_eq!(cors_of(&r), (403, None, None));

    let rules = vec![
        rule(&["*suffix"], &["GET"]).build().unwrap(),
        rule(&["start*end"], &["GET"]).build().unwrap(),
        rule(&["prefix*"], &["GET"]).build().unwrap(),
        rule(&["*.put"], &["PUT"])
            .allowed_headers("x-amz-meta-*")
            .expose_headers("ETag")
            .max_age_seconds(120)
            .build()
            .unwrap(),
    ];
    c.put_bucket_cors()
        .bucket(&b)
        .cors_configuration(config(rules))
        .send()
        .await
        .unwrap();

    // Actual requests (anonymous, so the GETs are refused: errors carry the headers too).
    for (origin, want) in [
        ("foo.suffix", Some("foo.suffix")),
        ("foo.bar", None),
        ("foo.suffix.get", None),
        ("startend", Some("startend")),
        ("start12end", Some("start12end")),
        ("0start12end", None),
        ("prefix.suffix", Some("prefix.suffix")),
        ("bla.prefix", None),
    ] {
        let r = send(&s, "GET", &obj, &[("origin", origin)]).await;
        assert_eq!(cors_of(&r), (403, want, want.map(|_| "GET")), "{origin}");
    }
    let r = send(&s, "GET", &obj, &[]).await;
    assert_eq!(cors_of(&r), (403, None, None));
    // The method checked is Access-Control-Request-Method when sent, else the request's.
    let r = send(
        &s,
        "PUT",
        &obj,
        &[("origin", "foo.suffix"), ("access-control-request-method", "GET")],
    )
    .await;
    assert_eq!(cors_of(&r), (403, Some("foo.suffix"), Some("GET")));
    let r = send(&s, "PUT", &obj, &[("origin", "foo.suffix")]).await;
    assert_eq!(cors_of(&r), (403, None, None));
    let r = send(&s, "PUT", &obj, &[("origin", "foo.put")]).await;
    assert_eq!(cors_of(&r), (403, Some("foo.put"), Some("PUT")));
    assert_eq!(r.header("access-control-expose-headers"), Some("ETag"));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));

    // Preflights.
    send(&s, "OPTIONS", &bucket, &[])
        .await
        .check_error(400, "BadRequest", &bucket);
    send(&s, "OPTIONS", &bucket, &[("origin", "foo.suffix")])
        .await
        .check_error(400, "BadRequest", &bucket);
    for (origin, method, status, want) in [
        ("foo.suffix", "GET", 200, Some("foo.suffix")),
        ("foo.bar", "GET", 403, None),
        ("startend", "GET", 200, Some("startend")),
        ("0start12end", "GET", 403, None),
        ("foo.put", "GET", 403, None),
        ("foo.put", "PUT", 200, Some("foo.put")),
    ] {
        let r = send(
            &s,
            "OPTIONS",
            &obj,
            &[("origin", origin), ("access-control-request-method", method)],
        )
        .await;
        assert_eq!(
            cors_of(&r),
            (status, want, want.map(|_| method)),
            "{origin} {method}: {}",
            r.text()
        );
    }
    // Requested headers must each match the rule's.
    let r = send(
        &s,
        "OPTIONS",
        &obj,
        &[
            ("origin", "foo.put"),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "x-amz-meta-colour, X-Amz-Meta-Size"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("x-amz-meta-colour, X-Amz-Meta-Size")
    );
    assert_eq!(r.header("access-control-max-age"), Some("120"));
    let r = send(
        &s,
        "OPTIONS",
        &obj,
        &[
            ("origin", "foo.put"),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "content-type"),
        ],
    )
    .await;
    r.check_error(403, "AccessForbidden", &obj);
}

/// A `*` origin answers `*`; a presigned URL's preflight and its GET carry the headers.
#[tokio::test]
async fn wildcard_origins_and_presigned_requests() {
    let (s, c, b) = with_bucket("cors-presign").await;
    put(&c, &b, "foo", b"shared").await;
    c.put_bucket_cors()
        .bucket(&b)
        .cors_configuration(config(vec![rule(&["*"], &["GET"]).build().unwrap()]))
        .send()
        .await
        .unwrap();
    let url = c
        .get_object()
        .bucket(&b)
        .key("foo")
        .presigned(PresigningConfig::expires_in(std::time::Duration::from_secs(600)).unwrap())
        .await
        .unwrap();
    let target = url
        .uri()
        .strip_prefix(&format!("http://{}", s.addr()))
        .unwrap()
        .to_owned();
    let r = send(
        &s,
        "OPTIONS",
        &target,
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "GET"),
        ],
    )
    .await;
    assert_eq!(cors_of(&r), (200, Some("*"), Some("GET")));
    assert_eq!(r.header("access-control-allow-credentials"), None);
    let r = send(&s, "GET", &target, &[("origin", "https://app.example")]).await;
    assert_eq!(cors_of(&r), (200, Some("*"), Some("GET")));
    assert_eq!(r.body, b"shared");
    assert!(r.header("vary").is_some_and(|v| v.contains("Origin")));
}
