//! The evaluator, table-driven. Each case cites the AWS rule it checks:
//! [eval] IAM User Guide, "Policy evaluation logic" (explicit deny wins; an allow is
//!        needed; otherwise implicit deny).
//! [ops]  IAM User Guide, "Condition operators" (missing keys, negated operators,
//!        ...IfExists, Null).
//! [sets] IAM User Guide, "Set operators for multivalued context keys" (ForAnyValue,
//!        ForAllValues).
//! [vars] IAM User Guide, "Policy variables" (`${aws:username}`, version 2012-10-17 only).
//! [elem] IAM User Guide, "JSON element reference" (Principal, NotPrincipal, NotAction,
//!        NotResource, wildcards; actions ignore case, resources do not).
//! [s3]   S3 User Guide, "Bucket policy examples" and PutBucketPolicy (MalformedPolicy).

use coffer_iam::{Attached, Context, Decision, Policy, Request, Who, combine};

const ALICE_ID: [u8; 32] = [0xaa; 32];

fn alice() -> Who<'static> {
    Who::User {
        name: "alice",
        canonical_id: &ALICE_ID,
        root: false,
    }
}

fn bucket_policy(statements: &str) -> Policy {
    let text = format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#);
    Policy::parse(text.as_bytes(), Attached::Bucket("b")).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn decide(p: &Policy, who: Who<'_>, action: &str, resource: &str, ctx: &[(&str, &[&str])]) -> Decision {
    let mut c = Context::default();
    for (k, v) in ctx {
        c.set_all(k, v.iter().map(|s| (*s).to_owned()).collect());
    }
    if let Who::User { name, .. } = who {
        c.set("aws:username", name);
    }
    p.evaluate(&Request {
        who,
        action,
        resource,
        context: &c,
    })
}

const PUBLIC_READ: &str = r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#;

use Decision::{Allow, Deny, Silent};

#[test]
fn statements_principals_actions_resources() {
    type Case = (
        &'static str,
        &'static str,
        Who<'static>,
        &'static str,
        &'static str,
        Decision,
    );
    let cases: &[Case] = &[
        ("[s3] public read lets anonymous GET", PUBLIC_READ, Who::Anonymous, "s3:GetObject", "arn:aws:s3:::b/k", Allow),
        ("[eval] no statement for PUT: silent (implicit deny)", PUBLIC_READ, Who::Anonymous, "s3:PutObject", "arn:aws:s3:::b/k", Silent),
        ("[elem] the bucket itself is not b/*", PUBLIC_READ, Who::Anonymous, "s3:GetObject", "arn:aws:s3:::b", Silent),
        ("[elem] actions ignore case", r#"{"Effect":"Allow","Principal":"*","Action":"S3:getobject","Resource":"arn:aws:s3:::b/*"}"#, Who::Anonymous, "s3:GetObject", "arn:aws:s3:::b/k", Allow),
        ("[elem] action wildcard", r#"{"Effect":"Allow","Principal":"*","Action":"s3:Get*","Resource":"arn:aws:s3:::b/*"}"#, alice(), "s3:GetObjectVersion", "arn:aws:s3:::b/k", Allow),
        ("[elem] resources keep case", r#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":"arn:aws:s3:::b/Docs/*"}"#, alice(), "s3:GetObject", "arn:aws:s3:::b/docs/x", Silent),
        ("[elem] NotAction: everything but deletes", r#"{"Effect":"Allow","Principal":"*","NotAction":"s3:Delete*","Resource":"arn:aws:s3:::b/*"}"#, alice(), "s3:DeleteObject", "arn:aws:s3:::b/k", Silent),
        ("[elem] NotAction allows the rest", r#"{"Effect":"Allow","Principal":"*","NotAction":"s3:Delete*","Resource":"arn:aws:s3:::b/*"}"#, alice(), "s3:PutObject", "arn:aws:s3:::b/k", Allow),
        ("[elem] NotResource", r#"{"Effect":"Deny","Principal":"*","Action":"*","NotResource":"arn:aws:s3:::b/public/*"}"#, alice(), "s3:GetObject", "arn:aws:s3:::b/private/k", Deny),
        ("[elem] user by ARN", r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}"#, alice(), "s3:PutObject", "arn:aws:s3:::b/k", Allow),
        ("[elem] another user's ARN", r#"{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:user/bob"]},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}"#, alice(), "s3:PutObject", "arn:aws:s3:::b/k", Silent),
        ("[elem] canonical user", r#"{"Effect":"Allow","Principal":{"CanonicalUser":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#, alice(), "s3:GetObject", "arn:aws:s3:::b/k", Allow),
        ("[elem] a named principal is never anonymous", r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#, Who::Anonymous, "s3:GetObject", "arn:aws:s3:::b/k", Silent),
        ("[elem] NotPrincipal: deny everyone but alice", r#"{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"*","Resource":"arn:aws:s3:::b/*"}"#, Who::Anonymous, "s3:GetObject", "arn:aws:s3:::b/k", Deny),
        ("[elem] NotPrincipal spares alice", r#"{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"*","Resource":"arn:aws:s3:::b/*"}"#, alice(), "s3:GetObject", "arn:aws:s3:::b/k", Silent),
        ("[eval] explicit deny beats allow in the same policy", &*Box::leak(format!(r#"{PUBLIC_READ},{{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/secret/*"}}"#).into_boxed_str()), Who::Anonymous, "s3:GetObject", "arn:aws:s3:::b/secret/k", Deny),
        ("[vars] home folder per user", r#"{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/home/${aws:username}/*"}"#, alice(), "s3:PutObject", "arn:aws:s3:::b/home/alice/f", Allow),
        ("[vars] not someone else's", r#"{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/home/${aws:username}/*"}"#, alice(), "s3:PutObject", "arn:aws:s3:::b/home/bob/f", Silent),
        ("[vars] anonymous has no username: no match", r#"{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/home/${aws:username}/*"}"#, Who::Anonymous, "s3:PutObject", "arn:aws:s3:::b/home//f", Silent),
    ];
    for (why, statements, who, action, resource, want) in cases {
        let p = bucket_policy(statements);
        assert_eq!(decide(&p, *who, action, resource, &[]), *want, "{why}");
    }
}

#[test]
fn conditions() {
    type Case = (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static [&'static str])],
        bool,
    );
    let cases: &[Case] = &[
        (
            "[ops] IpAddress in range",
            r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            &[("aws:SourceIp", &["10.1.2.3"])],
            true,
        ),
        (
            "[ops] IpAddress out of range",
            r#"{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}"#,
            &[("aws:SourceIp", &["11.0.0.1"])],
            false,
        ),
        (
            "[ops] IPv6 range",
            r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}"#,
            &[("aws:SourceIp", &["2001:db8::1"])],
            true,
        ),
        (
            "[ops] NotIpAddress with the key missing is true",
            r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            &[],
            true,
        ),
        (
            "[ops] StringEquals with the key missing is false",
            r#"{"StringEquals":{"s3:x-amz-acl":"public-read"}}"#,
            &[],
            false,
        ),
        (
            "[ops] StringNotEquals with the key missing is true",
            r#"{"StringNotEquals":{"s3:x-amz-acl":"public-read"}}"#,
            &[],
            true,
        ),
        (
            "[ops] several values: any matches",
            r#"{"StringEquals":{"s3:prefix":["a/","b/"]}}"#,
            &[("s3:prefix", &["b/"])],
            true,
        ),
        (
            "[ops] negated, several values: none may match",
            r#"{"StringNotEquals":{"s3:prefix":["a/","b/"]}}"#,
            &[("s3:prefix", &["b/"])],
            false,
        ),
        (
            "[ops] StringLike",
            r#"{"StringLike":{"s3:prefix":"home/*"}}"#,
            &[("s3:prefix", &["home/alice/"])],
            true,
        ),
        (
            "[ops] StringEqualsIgnoreCase",
            r#"{"StringEqualsIgnoreCase":{"aws:UserAgent":"CURL"}}"#,
            &[("aws:UserAgent", &["curl"])],
            true,
        ),
        (
            "[ops] StringEquals keeps case",
            r#"{"StringEquals":{"aws:UserAgent":"CURL"}}"#,
            &[("aws:UserAgent", &["curl"])],
            false,
        ),
        (
            "[ops] ...IfExists with the key missing is true",
            r#"{"StringEqualsIfExists":{"s3:x-amz-server-side-encryption":"AES256"}}"#,
            &[],
            true,
        ),
        (
            "[ops] ...IfExists with the key present is checked",
            r#"{"StringEqualsIfExists":{"s3:x-amz-server-side-encryption":"AES256"}}"#,
            &[("s3:x-amz-server-side-encryption", &["aws:kms"])],
            false,
        ),
        (
            "[ops] Null true: the key is absent",
            r#"{"Null":{"s3:x-amz-server-side-encryption":"true"}}"#,
            &[],
            true,
        ),
        (
            "[ops] Null false: the key is present",
            r#"{"Null":{"s3:x-amz-server-side-encryption":"false"}}"#,
            &[],
            false,
        ),
        (
            "[ops] Bool",
            r#"{"Bool":{"aws:SecureTransport":"false"}}"#,
            &[("aws:SecureTransport", &["false"])],
            true,
        ),
        (
            "[ops] Bool written bare",
            r#"{"Bool":{"aws:SecureTransport":true}}"#,
            &[("aws:SecureTransport", &["false"])],
            false,
        ),
        (
            "[ops] NumericLessThanEquals",
            r#"{"NumericLessThanEquals":{"s3:max-keys":"10"}}"#,
            &[("s3:max-keys", &["10"])],
            true,
        ),
        (
            "[ops] NumericLessThan",
            r#"{"NumericLessThan":{"s3:max-keys":10}}"#,
            &[("s3:max-keys", &["10"])],
            false,
        ),
        (
            "[ops] DateLessThan, ISO 8601",
            r#"{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", &["2026-11-30T00:00:00Z"])],
            true,
        ),
        (
            "[ops] DateGreaterThan, epoch seconds",
            r#"{"DateGreaterThan":{"aws:EpochTime":"1900000000"}}"#,
            &[("aws:EpochTime", &["1800000000"])],
            false,
        ),
        (
            "[ops] ArnLike",
            r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/a*"}}"#,
            &[("aws:PrincipalArn", &["arn:aws:iam::000000000000:user/alice"])],
            true,
        ),
        (
            "[ops] several keys must all hold",
            r#"{"StringEquals":{"s3:prefix":"a/","s3:delimiter":"/"}}"#,
            &[("s3:prefix", &["a/"]), ("s3:delimiter", &["|"])],
            false,
        ),
        (
            "[ops] several operators must all hold",
            r#"{"StringEquals":{"s3:prefix":"a/"},"Bool":{"aws:SecureTransport":"true"}}"#,
            &[("s3:prefix", &["a/"]), ("aws:SecureTransport", &["false"])],
            false,
        ),
        (
            "[ops] condition keys ignore case",
            r#"{"StringEquals":{"S3:Prefix":"a/"}}"#,
            &[("s3:prefix", &["a/"])],
            true,
        ),
        (
            "[sets] ForAnyValue: one value suffices",
            r#"{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":["env","team"]}}"#,
            &[("s3:RequestObjectTagKeys", &["team", "x"])],
            true,
        ),
        (
            "[sets] ForAnyValue with the key missing is false",
            r#"{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":"env"}}"#,
            &[],
            false,
        ),
        (
            "[sets] ForAllValues: every value must be listed",
            r#"{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["env","team"]}}"#,
            &[("s3:RequestObjectTagKeys", &["team", "x"])],
            false,
        ),
        (
            "[sets] ForAllValues with the key missing is true",
            r#"{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":"env"}}"#,
            &[],
            true,
        ),
        (
            "[vars] variables in condition values",
            r#"{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}"#,
            &[("s3:prefix", &["home/alice/x"])],
            true,
        ),
    ];
    for (why, condition, ctx, want) in cases {
        let p = bucket_policy(&format!(
            r#"{{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{condition}}}"#
        ));
        let got = decide(&p, alice(), "s3:ListBucket", "arn:aws:s3:::b", ctx);
        assert_eq!(got == Allow, *want, "{why}");
    }
}

#[test]
fn version_2008_has_no_variables() {
    // [vars] Variables are only replaced in version 2012-10-17.
    let text = r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"arn:aws:s3:::b/${aws:username}"}}"#;
    let p = Policy::parse(text.as_bytes(), Attached::Bucket("b")).unwrap();
    assert_eq!(decide(&p, alice(), "s3:GetObject", "arn:aws:s3:::b/alice", &[]), Silent);
    assert_eq!(
        decide(&p, alice(), "s3:GetObject", "arn:aws:s3:::b/${aws:username}", &[]),
        Allow
    );
}

#[test]
fn decisions_combine_deny_first() {
    // [eval] An explicit deny in any policy wins; any allow beats silence.
    assert_eq!(combine([Allow, Deny, Silent]), Deny);
    assert_eq!(combine([Silent, Allow]), Allow);
    assert_eq!(combine([Silent, Silent]), Silent);
    assert_eq!(combine([]), Silent);
}

#[test]
fn malformed_policies_are_refused_with_a_reason() {
    let b = Attached::Bucket("b");
    let st = |s: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{s}]}}"#);
    let cases: Vec<(String, Attached, &str)> = vec![
        ("{not json".into(), b, "This policy contains invalid Json"),
        (
            "[]".into(),
            b,
            "Policies must be valid JSON and the first byte must be '{'",
        ),
        (
            r#"{"Version":"2012-10-17"}"#.into(),
            b,
            "Missing required field Statement",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
            b,
            "Missing required field Statement",
        ),
        (
            r#"{"Version":"2013-01-01","Statement":[]}"#.into(),
            b,
            "The policy must contain a valid version string",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[],"Extra":1}"#.into(),
            b,
            "Unknown field Extra",
        ),
        (
            st(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#),
            b,
            "Missing required field Principal",
        ),
        (
            st(r#"{"Effect":"Permit","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#),
            b,
            "Invalid effect: \"Permit\"",
        ),
        (
            st(r#"{"Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#),
            b,
            "Missing required field Effect",
        ),
        (
            st(r#"{"Effect":"Allow","Principal":"*","Resource":"arn:aws:s3:::b/*"}"#),
            b,
            "Missing required field Action",
        ),
        (
            st(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}"#),
            b,
            "Missing required field Resource",
        ),
        (
            st(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObjekt","Resource":"arn:aws:s3:::b/*"}"#),
            b,
            "Policy has invalid action",
        ),
        (
            st(r#"{"Effect":"Allow","Principal":"*","Action":"ec2:*","Resource":"arn:aws:s3:::b/*"}"#),
            b,
            "Policy has invalid action",
        ),
        (
            st(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}"#),
            b,
            "Policy has invalid resource",
        ),
        (
            st(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"b/*"}"#),
            b,
            "Policy has invalid resource",
        ),
        (
            st(
                r#"{"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
            ),
            b,
            "Invalid principal in policy",
        ),
        (
            st(
                r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","NotAction":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}"#,
            ),
            b,
            "A statement may have Action or NotAction, not both",
        ),
        (
            st(
                r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEqualz":{"s3:prefix":"a"}}}"#,
            ),
            b,
            "Policy has an invalid condition operator: StringEqualz",
        ),
        (
            st(
                r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}"#,
            ),
            b,
            "Invalid Condition value for IpAddress on aws:SourceIp",
        ),
        (
            st(
                r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"prefix":"a"}}}"#,
            ),
            b,
            "Policy has an invalid condition key: prefix",
        ),
        (
            st(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}"#),
            Attached::User,
            "Policy document should not specify a principal.",
        ),
        (
            format!(r#"{{"Id":"{}","Statement":[]}}"#, "x".repeat(21 * 1024)),
            b,
            "Policy exceeds the maximum allowed document size.",
        ),
    ];
    for (text, attached, want) in cases {
        let got = Policy::parse(text.as_bytes(), attached).map(|_| ()).unwrap_err();
        assert_eq!(got.0, want, "{}", &text[..text.len().min(200)]);
    }
}

#[test]
fn public_means_allow_to_everyone_without_conditions() {
    assert!(bucket_policy(PUBLIC_READ).is_public());
    let conditioned = bucket_policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#,
    );
    assert!(!conditioned.is_public());
    let named = bucket_policy(
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
    );
    assert!(!named.is_public());
    // Everyone but one principal is everyone.
    let not_principal = bucket_policy(
        r#"{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
    );
    assert!(not_principal.is_public());
    // A condition that pins nothing about the caller keeps it public.
    for c in [
        r#"{"StringLike":{"aws:UserAgent":"*"}}"#,
        r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#,
        r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
        r#"{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#,
        r#"{"StringLike":{"aws:username":"a*"}}"#,
    ] {
        let p = bucket_policy(&format!(
            r#"{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{c}}}"#
        ));
        assert!(p.is_public(), "{c}");
    }
}
