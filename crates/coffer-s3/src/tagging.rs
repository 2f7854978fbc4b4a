//! Object and bucket tagging: Put/Get/DeleteObjectTagging (by version too),
//! Put/Get/DeleteBucketTagging, and the tag set a write carries in `x-amz-tagging` (or a
//! form's `tagging` field). Tags are checked against AWS's limits with AWS's errors: at
//! most 10 per object (BadRequest) and 50 per bucket, keys of 1 to 128 and values of up to
//! 256 Unicode characters, no `aws:` keys and no key twice (InvalidTag).

use coffer_store::SettingKind;
use s3s::dto::*;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use crate::Coffer;
use crate::error::{IntoS3, custom_with};

/// Tags as stored: (key, value), sorted by key, the order they are shown in (Ceph RGW's
/// and MinIO's; AWS documents none).
pub type Tags = Vec<(String, String)>;

fn sorted(mut tags: Tags) -> Tags {
    tags.sort_by(|a, b| a.0.cmp(&b.0));
    tags
}

pub const MAX_OBJECT_TAGS: usize = 10;
pub const MAX_BUCKET_TAGS: usize = 50;
const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;

fn invalid_tag(message: &'static str) -> S3Error {
    custom_with("InvalidTag", http::StatusCode::BAD_REQUEST, message)
}

/// The characters AWS allows in tag keys and values: letters, digits and spaces in any
/// script, and `+ - = . _ : / @`.
fn allowed(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "+-=._:/@".contains(c)
}

/// Checks a tag set against AWS's rules; `max` is 10 for objects, 50 for buckets.
pub fn validate(tags: &[(String, String)], max: usize) -> S3Result<()> {
    if tags.len() > max {
        return Err(if max == MAX_OBJECT_TAGS {
            custom_with(
                "BadRequest",
                http::StatusCode::BAD_REQUEST,
                "Object tags cannot be greater than 10",
            )
        } else {
            invalid_tag("Bucket tag count cannot be greater than 50")
        });
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > MAX_KEY_CHARS {
            return Err(invalid_tag("The TagKey you have provided is invalid"));
        }
        if v.chars().count() > MAX_VALUE_CHARS {
            return Err(invalid_tag("The TagValue you have provided is invalid"));
        }
        if !k.chars().all(allowed) || !v.chars().all(allowed) {
            return Err(invalid_tag("The TagKey or TagValue you have provided is invalid"));
        }
        if k.starts_with("aws:") {
            return Err(invalid_tag("Your TagKey cannot be prefixed with aws:"));
        }
        if tags[..i].iter().any(|(other, _)| other == k) {
            return Err(invalid_tag("Cannot provide multiple Tags with the same key"));
        }
    }
    Ok(())
}

/// A `Tagging` document's tag set, checked.
pub fn from_tagging(t: &Tagging, max: usize) -> S3Result<Tags> {
    let tags = t
        .tag_set
        .iter()
        .map(|tag| match (&tag.key, &tag.value) {
            (Some(k), Some(v)) => Ok((k.clone(), v.clone())),
            _ => Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema."
            )),
        })
        .collect::<S3Result<Tags>>()?;
    validate(&tags, max)?;
    Ok(sorted(tags))
}

/// The tag set of an XML `Tagging` document (a form's `tagging` field).
pub fn from_xml(xml: &[u8]) -> S3Result<Tags> {
    use s3s::xml::Deserialize as _;
    let malformed = |_| {
        s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema."
        )
    };
    let mut d = s3s::xml::Deserializer::new(xml);
    let t = Tagging::deserialize(&mut d).map_err(malformed)?;
    d.expect_eof().map_err(malformed)?;
    from_tagging(&t, MAX_OBJECT_TAGS)
}

/// The tag set of an `x-amz-tagging` header: URL-encoded query parameters.
pub fn from_header(value: &str) -> S3Result<Tags> {
    let tags: Tags = form_urlencoded::parse(value.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if tags
        .iter()
        .enumerate()
        .any(|(i, (k, _))| tags[..i].iter().any(|(o, _)| o == k))
    {
        return Err(s3_error!(
            InvalidArgument,
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."
        ));
    }
    validate(&tags, MAX_OBJECT_TAGS)?;
    Ok(sorted(tags))
}

/// The tag set a write asks for in `x-amz-tagging`, if any.
pub fn from_headers(headers: &http::HeaderMap) -> S3Result<Tags> {
    match headers.get("x-amz-tagging") {
        None => Ok(Vec::new()),
        Some(v) => from_header(v.to_str().map_err(|_| {
            s3_error!(
                InvalidArgument,
                "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."
            )
        })?),
    }
}

fn tag_set(tags: &[(String, String)]) -> TagSet {
    tags.iter()
        .map(|(k, v)| Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

/// `x-amz-tagging-count` of a read: only when the version has tags.
pub fn count(tags: &[(String, String)]) -> Option<i32> {
    (!tags.is_empty()).then_some(tags.len() as i32)
}

pub async fn put_object_tagging(
    c: &Coffer,
    req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    let input = &req.input;
    let tags = from_tagging(&input.tagging, MAX_OBJECT_TAGS)?;
    let found = c
        .store
        .update_version(&input.bucket, &input.key, input.version_id.as_deref(), move |v| {
            v.tags = tags.clone();
            Ok(())
        })
        .await
        .s3();
    let rec = crate::ctx::hide_missing(&req, &input.bucket, &input.key, found)?;
    Ok(S3Response::new(PutObjectTaggingOutput {
        version_id: rec.version_id.clone(),
    }))
}

pub async fn get_object_tagging(
    c: &Coffer,
    req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    let input = &req.input;
    let rec = crate::ctx::read_version(&c.store, &req, &input.bucket, &input.key, input.version_id.as_deref())?;
    Ok(S3Response::new(GetObjectTaggingOutput {
        tag_set: tag_set(&rec.tags),
        version_id: rec.version_id.clone(),
    }))
}

pub async fn delete_object_tagging(
    c: &Coffer,
    req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    let input = &req.input;
    let found = c
        .store
        .update_version(&input.bucket, &input.key, input.version_id.as_deref(), |v| {
            v.tags.clear();
            Ok(())
        })
        .await
        .s3();
    let rec = crate::ctx::hide_missing(&req, &input.bucket, &input.key, found)?;
    Ok(S3Response::with_status(
        DeleteObjectTaggingOutput {
            version_id: rec.version_id.clone(),
        },
        http::StatusCode::NO_CONTENT,
    ))
}

pub async fn put_bucket_tagging(
    c: &Coffer,
    req: S3Request<PutBucketTaggingInput>,
) -> S3Result<S3Response<PutBucketTaggingOutput>> {
    let input = req.input;
    let tags = from_tagging(&input.tagging, MAX_BUCKET_TAGS)?;
    c.store
        .put_bucket_setting(&input.bucket, SettingKind::Tagging, &tags)
        .await
        .s3()?;
    Ok(S3Response::with_status(
        PutBucketTaggingOutput {},
        http::StatusCode::NO_CONTENT,
    ))
}

pub async fn get_bucket_tagging(
    c: &Coffer,
    req: S3Request<GetBucketTaggingInput>,
) -> S3Result<S3Response<GetBucketTaggingOutput>> {
    let tags: Tags = c
        .store
        .bucket_setting(&req.input.bucket, SettingKind::Tagging)
        .s3()?
        .ok_or_else(|| custom_with("NoSuchTagSet", http::StatusCode::NOT_FOUND, "The TagSet does not exist"))?;
    Ok(S3Response::new(GetBucketTaggingOutput {
        tag_set: tag_set(&tags),
    }))
}

pub async fn delete_bucket_tagging(
    c: &Coffer,
    req: S3Request<DeleteBucketTaggingInput>,
) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
    c.store
        .delete_bucket_setting(&req.input.bucket, SettingKind::Tagging)
        .await
        .s3()?;
    Ok(S3Response::with_status(
        DeleteBucketTaggingOutput {},
        http::StatusCode::NO_CONTENT,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(n: usize) -> Tags {
        (0..n).map(|i| (format!("k{i}"), format!("v{i}"))).collect()
    }

    fn code(r: S3Result<()>) -> Option<String> {
        r.err().map(|e| e.code().as_str().to_owned())
    }

    #[test]
    fn limits_are_aws_limits_with_aws_errors() {
        assert_eq!(code(validate(&tags(10), MAX_OBJECT_TAGS)), None);
        assert_eq!(
            code(validate(&tags(11), MAX_OBJECT_TAGS)).as_deref(),
            Some("BadRequest")
        );
        assert_eq!(code(validate(&tags(50), MAX_BUCKET_TAGS)), None);
        assert_eq!(
            code(validate(&tags(51), MAX_BUCKET_TAGS)).as_deref(),
            Some("InvalidTag")
        );
        let one = |k: &str, v: &str| validate(&[(k.to_owned(), v.to_owned())], MAX_OBJECT_TAGS);
        // Characters, not bytes: 128 'é' are 256 bytes.
        assert_eq!(code(one(&"é".repeat(128), &"ü".repeat(256))), None);
        for (k, v) in [
            ("", "v"),
            (&*"k".repeat(129), "v"),
            ("k", &*"v".repeat(257)),
            ("aws:owner", "v"),
            ("k", "a;b"),
            ("k\u{0}", "v"),
        ] {
            assert_eq!(code(one(k, v)).as_deref(), Some("InvalidTag"), "{k:?}={v:?}");
        }
        assert_eq!(code(one("a b+c-d=e.f_g:h/i@j", "")), None);
        let twice = [("k".to_owned(), "1".to_owned()), ("k".to_owned(), "2".to_owned())];
        assert_eq!(code(validate(&twice, MAX_OBJECT_TAGS)).as_deref(), Some("InvalidTag"));
    }

    #[test]
    fn header_tags_are_url_encoded_query_parameters() {
        assert_eq!(
            from_header("team=data%20eng&env=prod&empty=").unwrap(),
            [
                ("empty".to_owned(), String::new()),
                ("env".to_owned(), "prod".to_owned()),
                ("team".to_owned(), "data eng".to_owned()),
            ]
        );
        assert_eq!(from_header("").unwrap(), []);
        let e = from_header("a=1&a=2").unwrap_err();
        assert_eq!(e.code().as_str(), "InvalidArgument");
    }
}
