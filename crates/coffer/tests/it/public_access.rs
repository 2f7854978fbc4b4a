//! Block Public Access: the configuration round trip, BlockPublicPolicy refusing a public
//! policy, and RestrictPublicBuckets keeping a public policy's grants from anonymous callers.

use aws_sdk_s3::types::PublicAccessBlockConfiguration;

use crate::common::*;

fn public_read(b: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*"}}]}}"#
    )
}

fn config(policy: bool, restrict: bool) -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(false)
        .block_public_policy(policy)
        .restrict_public_buckets(restrict)
        .build()
}

#[tokio::test]
async fn configuration_round_trip() {
    let (_s, c, b) = with_bucket("pab").await;
    check_sdk_error(
        c.get_public_access_block().bucket(&b).send().await,
        404,
        "NoSuchPublicAccessBlockConfiguration",
        &format!("/{b}"),
    );
    c.put_public_access_block()
        .bucket(&b)
        .public_access_block_configuration(config(true, false))
        .send()
        .await
        .unwrap();
    let got = c.get_public_access_block().bucket(&b).send().await.unwrap();
    assert_eq!(got.public_access_block_configuration(), Some(&config(true, false)));
    c.delete_public_access_block().bucket(&b).send().await.unwrap();
    check_sdk_error(
        c.get_public_access_block().bucket(&b).send().await,
        404,
        "NoSuchPublicAccessBlockConfiguration",
        &format!("/{b}"),
    );
}

#[tokio::test]
async fn public_policies_are_blocked_or_restricted() {
    let (s, c, b) = with_bucket("pab-enf").await;
    put(&c, &b, "k", b"v").await;
    c.put_public_access_block()
        .bucket(&b)
        .public_access_block_configuration(config(true, false))
        .send()
        .await
        .unwrap();
    check_sdk_error(
        c.put_bucket_policy().bucket(&b).policy(public_read(&b)).send().await,
        403,
        "AccessDenied",
        &format!("/{b}"),
    );
    // A policy that is not public is allowed.
    let private = public_read(&b).replace(
        r#""Principal":"*""#,
        r#""Principal":{"AWS":"arn:aws:iam::000000000000:user/bob"}"#,
    );
    c.put_bucket_policy().bucket(&b).policy(private).send().await.unwrap();
    // Restrict instead of block: the public policy is stored, and anonymous callers get
    // nothing from it; lifting the restriction lets them in.
    c.put_public_access_block()
        .bucket(&b)
        .public_access_block_configuration(config(false, true))
        .send()
        .await
        .unwrap();
    c.put_bucket_policy()
        .bucket(&b)
        .policy(public_read(&b))
        .send()
        .await
        .unwrap();
    let key = format!("/{b}/k");
    let host = s.addr();
    let headers = [("host".to_owned(), host.clone())];
    let anon = || raw_send(&host, "GET", &key, &headers, Some(b""));
    anon().await.check_error(403, "AccessDenied", &key);
    c.delete_public_access_block().bucket(&b).send().await.unwrap();
    assert_eq!(anon().await.status, 200);
}
