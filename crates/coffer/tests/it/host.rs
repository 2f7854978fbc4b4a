//! Virtual-hosted-style addressing.

use crate::common::*;

// ---------------------------------------------------------------------------------------
// Virtual-hosted-style addressing

#[tokio::test]
async fn virtual_hosted_style_reaches_the_bucket() {
    let (s, c, b) = with_bucket("vhost").await;
    put(&c, &b, "dir/obj", FOX).await;
    let host = format!("{b}.localhost:{}", s.port);
    let r = raw_with_host(&s, &host, "GET", "/dir/obj", &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, FOX);
    // A write through the virtual host lands in the bucket.
    let r = raw_with_host(&s, &host, "PUT", "/via-vhost", &[], b"hosted").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(get_body(&c, &b, "via-vhost").await, b"hosted");
    // The bucket's root lists it.
    let r = raw_with_host(&s, &host, "GET", "/", &[("list-type", "2")], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert_eq!(xml_field(&text, "Name").as_deref(), Some(b.as_str()), "{text}");
    assert!(
        text.contains("<Key>dir/obj</Key>") && text.contains("<Key>via-vhost</Key>"),
        "{text}"
    );
    // A missing key under the virtual host is NoSuchKey.
    let r = raw_with_host(&s, &host, "GET", "/absent", &[], b"").await;
    assert_eq!(r.status, 404);
    assert_eq!(xml_field(&r.text(), "Code").as_deref(), Some("NoSuchKey"));
}
