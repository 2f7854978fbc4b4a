//! The built-in user policies, as MinIO users know them: `readwrite`, `readonly`,
//! `writeonly`, and `admin` (everything, the admin API included). Each applies to every bucket on the server.

/// Every S3 action on every bucket.
pub const READWRITE: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::*"]}]}"#;

/// Listing and reading, object versions included: a read-only backup or sharing key.
pub const READONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListAllMyBuckets","s3:GetBucketLocation","s3:ListBucket","s3:ListBucketVersions","s3:GetObject","s3:GetObjectVersion"],"Resource":["arn:aws:s3:::*"]}]}"#;

/// Writing objects (multipart included) and nothing else: a key for a backup tool that
/// must not read or delete what it wrote.
pub const WRITEONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject","s3:AbortMultipartUpload"],"Resource":["arn:aws:s3:::*"]}]}"#;

/// Everything: every S3 action and every action of the admin API (`admin:*`).
pub const ADMIN: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","admin:*"],"Resource":["*"]}]}"#;

/// The built-in policy of that name.
pub fn builtin(name: &str) -> Option<&'static str> {
    match name {
        "readwrite" => Some(READWRITE),
        "readonly" => Some(READONLY),
        "writeonly" => Some(WRITEONLY),
        "admin" => Some(ADMIN),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Attached, Context, Decision, Policy, Request, Who};

    fn decide(name: &str, action: &str, resource: &str) -> Decision {
        let p = Policy::parse(builtin(name).unwrap().as_bytes(), Attached::User).unwrap();
        p.evaluate(&Request {
            who: Who::User {
                name: "u",
                canonical_id: &[1; 32],
                root: false,
            },
            action,
            resource,
            context: &Context::default(),
        })
    }

    #[test]
    fn builtins_grant_what_their_names_say() {
        use Decision::{Allow, Silent};
        let obj = "arn:aws:s3:::any/key";
        assert_eq!(decide("readwrite", "s3:DeleteObject", obj), Allow);
        assert_eq!(decide("readonly", "s3:GetObject", obj), Allow);
        assert_eq!(decide("readonly", "s3:ListBucket", "arn:aws:s3:::any"), Allow);
        assert_eq!(decide("readonly", "s3:PutObject", obj), Silent);
        assert_eq!(decide("writeonly", "s3:PutObject", obj), Allow);
        assert_eq!(decide("writeonly", "s3:GetObject", obj), Silent);
        assert_eq!(decide("writeonly", "s3:DeleteObject", obj), Silent);
        assert_eq!(decide("admin", "admin:ListUsers", "*"), Allow);
        assert_eq!(decide("admin", "s3:DeleteObject", obj), Allow);
        assert_eq!(decide("readwrite", "admin:ListUsers", "*"), Silent);
        assert!(builtin("superuser").is_none());
        assert_eq!(decide("admin", "admin:CreateAccessKey", "*"), Allow);
    }

    /// A user policy may name each admin action, the access keys' included.
    #[test]
    fn user_policies_may_name_the_access_key_actions() {
        for a in ["ListAccessKeys", "CreateAccessKey", "DeleteAccessKey"] {
            let doc = format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["admin:{a}"],"Resource":"*"}}]}}"#
            );
            Policy::parse(doc.as_bytes(), Attached::User).unwrap_or_else(|e| panic!("{a}: {e}"));
        }
    }
}
