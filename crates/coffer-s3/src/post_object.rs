//! POST Object: browser-form uploads (`multipart/form-data` to a bucket).
//!
//! Handled before s3s, which reads the whole file into memory before authorization runs.
//! Here the fields before the file are read within fixed limits, the signature (SigV4 or
//! SigV2 over the policy) and the policy are checked, the caller is authorized for the
//! bucket, and only then is the file read, streaming into the store as a PutObject body.

mod form;

use bytes::Bytes;
use coffer_store::{NewVersion, ObjectMeta, PutCondition};
use futures::StreamExt;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use s3s::auth::S3Auth;
use s3s::config::S3Config;
use s3s::dto::Metadata;
use s3s::post_policy::{PostPolicy, PostPolicyCondition};
use s3s::{Body, S3Error, S3Result, s3_error};

use crate::Coffer;
use crate::checksum::ChecksumCheck;
use crate::error::{IntoS3, custom_with};
use crate::put::{MAX_PUT_SIZE, user_metadata};
use crate::service::escape;

/// The limits on a form's fields before its file, for `S3Config` (which s3s would apply
/// to forms it read itself). AWS keeps the fields before the file to about 20 KB.
pub fn configure(cfg: &mut S3Config) {
    cfg.form_max_field_size = 64 << 10;
    cfg.form_max_fields_size = 64 << 10;
    cfg.form_max_parts = 100;
    cfg.post_object_max_file_size = MAX_PUT_SIZE;
}

/// Fields that need no policy condition (AWS's list, with SigV2's own fields).
fn exempt(name: &str) -> bool {
    matches!(
        name,
        "x-amz-signature" | "signature" | "awsaccesskeyid" | "file" | "policy"
    ) || name.starts_with("x-ignore-")
}

pub async fn post_object(c: &Coffer, req: Request<Body>, vh_bucket: Option<&str>) -> S3Result<Response<Body>> {
    let bucket = form_bucket(req.uri().path(), vh_bucket)?;
    let ticket = req.extensions().get::<crate::service::Ticket>().cloned();
    let (parts, body) = req.into_parts();
    let boundary = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .and_then(|m| m.get_param(mime::BOUNDARY).map(|b| b.as_str().to_owned()))
        .ok_or_else(malformed)?;
    let cfg = &c.s3_config;
    let limits = form::Limits {
        max_field: cfg.form_max_field_size,
        max_fields: cfg.form_max_fields_size,
        max_parts: cfg.form_max_parts,
    };
    let form = form::read(body, &boundary, limits).await.map_err(|e| match e {
        form::FormError::TooLarge => custom_with(
            "MaxPostPreDataLengthExceededError",
            StatusCode::BAD_REQUEST,
            "Your POST request fields preceding the upload file were too large.",
        ),
        form::FormError::Malformed(_) => malformed(),
        form::FormError::Body(e) => S3Error::with_source(s3s::S3ErrorCode::IncompleteBody, e),
    })?;
    let mut file = form.file;
    let result = store_form(c, &bucket, &parts, &form.fields, &mut file, ticket.as_ref()).await;
    if result.is_err() {
        file.discard(64 << 10, std::time::Duration::from_millis(100)).await;
    }
    result
}

/// Checks and stores one form; reads the file only once the upload is allowed.
async fn store_form(
    c: &Coffer,
    bucket: &str,
    parts: &http::request::Parts,
    form: &form::Fields,
    file: &mut form::FileStream,
    ticket: Option<&crate::service::Ticket>,
) -> S3Result<Response<Body>> {
    let cfg = &c.s3_config;
    let bucket = bucket.to_owned();
    // Who is asking, and may they write here: all decided before a byte of the file.
    let (policy, ctx) = authenticate(c, parts, form, &bucket).await?;
    if let (Some(t), Some(_)) = (ticket, &policy) {
        t.proven();
    }
    refuse_unsupported(form)?;
    if ctx.bucket.is_none() {
        return Err(s3_error!(NoSuchBucket));
    }
    // An `acl` field is what an `x-amz-acl` header is to PutObject.
    let asked = form.field("acl").map(crate::acl::from_form).transpose()?;
    let (owner, acl) = crate::acl::for_write(&ctx, asked.as_ref())?;
    // A `tagging` field is the object's tag set as an XML Tagging document.
    let tags = match form.field("tagging").filter(|t| !t.is_empty()) {
        Some(xml) => crate::tagging::from_xml(xml.as_bytes())?,
        None => Vec::new(),
    };
    let website_redirect = crate::website::redirect_location(form.field("x-amz-website-redirect-location"))?;
    // Encryption fields are what their headers are to PutObject.
    let mut sse_fields = HeaderMap::new();
    for (k, v) in &form.fields {
        if k.starts_with("x-amz-server-side-encryption") {
            // A field that cannot be a header is refused, not dropped: dropping it could
            // store the file with other encryption than asked, or none.
            let (Ok(name), Ok(value)) = (http::HeaderName::try_from(k.as_str()), HeaderValue::from_str(v)) else {
                return Err(s3_error!(InvalidArgument, "The form field {k} is not valid."));
            };
            sse_fields.insert(name, value);
        }
    }
    if let Some(v) = parts.headers.get("x-forwarded-proto") {
        sse_fields.insert("x-forwarded-proto", v.clone());
    }
    let asked_sse = crate::encryption::check_request(
        crate::encryption::sse_c_allowed(c.config.sse_c_over_http, &parts.extensions),
        "PutObject",
        &sse_fields,
    )?
    .unwrap_or_default();
    let sealing = crate::encryption::sealing(c, asked_sse.write.as_ref(), ctx.rules.encryption.as_deref()).await?;
    let known = ctx.bucket;
    let key_field = form.field("key").ok_or_else(|| {
        s3_error!(
            InvalidArgument,
            "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields."
        )
    })?;
    let key = key_field.replace("${filename}", &form.filename);
    if key.is_empty() || key.len() > 1024 {
        return Err(s3_error!(KeyTooLongError));
    }
    let (min, max) = policy
        .as_ref()
        .and_then(PostPolicy::content_length_range)
        .map_or((0, cfg.post_object_max_file_size), |(lo, hi)| {
            (lo, hi.min(cfg.post_object_max_file_size))
        });

    let mut meta = ObjectMeta {
        content_type: form.field("content-type").map(str::to_owned),
        cache_control: form.field("cache-control").map(str::to_owned),
        content_disposition: form.field("content-disposition").map(str::to_owned),
        content_encoding: crate::put::stored_encoding(form.field("content-encoding").map(str::to_owned)),
        content_language: form.field("content-language").map(str::to_owned),
        expires: form.field("expires").map(str::to_owned),
        user: user_metadata(Some(
            form.fields
                .iter()
                .filter_map(|(k, v)| k.strip_prefix("x-amz-meta-").map(|n| (n.to_owned(), v.clone())))
                .collect::<Metadata>(),
        ))?,
        checksums: Vec::new(),
    };
    let mut sums = HeaderMap::new();
    for (k, v) in &form.fields {
        if k.starts_with("x-amz-checksum-")
            && let (Ok(name), Ok(value)) = (http::HeaderName::try_from(k.as_str()), HeaderValue::from_str(v))
        {
            sums.insert(name, value);
        }
    }
    let algorithm = form
        .field("x-amz-checksum-algorithm")
        .map(|a| s3s::dto::ChecksumAlgorithm::from(a.to_ascii_uppercase()));
    let mut check = ChecksumCheck::from_request(&sums, algorithm.as_ref())?;

    let redirect = form
        .field("success_action_redirect")
        .or_else(|| form.field("redirect"))
        .map(str::to_owned);
    let status = form.field("success_action_status").map(str::to_owned);
    let mut seen = 0u64;
    let file = file.map(move |chunk| {
        let chunk = chunk.map_err(|e| -> s3s::StdError {
            match e {
                form::FormError::Body(e) => e,
                other => Box::new(S3Error::with_source(
                    s3s::S3ErrorCode::MalformedPOSTRequest,
                    Box::new(other),
                )),
            }
        })?;
        seen += chunk.len() as u64;
        if seen > max {
            return Err(Box::new(s3_error!(
                EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed size"
            )) as s3s::StdError);
        }
        Ok::<Bytes, s3s::StdError>(chunk)
    });
    let mut staged = c
        .store
        .stage_sealed(file, None, &mut |b| check.update(b), sealing.as_ref())
        .await
        .s3()?;
    if staged.size < min {
        return Err(s3_error!(
            EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed size"
        ));
    }
    meta.checksums = check.finish(None)?;
    let rec = c
        .store
        .put_version(
            &bucket,
            &key,
            &mut staged,
            PutCondition::None,
            NewVersion {
                meta,
                owner,
                acl,
                tags,
                website_redirect,
                ..NewVersion::default()
            },
        )
        .await
        .s3()?;
    let version = crate::versioning::version_header(c, known.as_ref(), &bucket, &rec);
    let mut resp = success(&bucket, &key, &rec.etag, version, redirect, status.as_deref());
    crate::encryption::echo(c, rec.sse.as_ref().map(|s| &s.mode), asked_sse.customer.as_ref())
        .insert_into(resp.headers_mut());
    Ok(resp)
}

/// The bucket a form is posted to: `/bucket` path-style, or `/` on a virtual host.
fn form_bucket(path: &str, vh_bucket: Option<&str>) -> S3Result<String> {
    let rest = path.trim_start_matches('/');
    match vh_bucket {
        Some(b) if rest.is_empty() => Ok(b.to_owned()),
        None if !rest.is_empty() && !rest.trim_end_matches('/').contains('/') => {
            Ok(rest.trim_end_matches('/').to_owned())
        }
        _ => Err(s3_error!(
            MethodNotAllowed,
            "The specified method is not allowed against this resource."
        )),
    }
}

fn malformed() -> S3Error {
    s3_error!(
        MalformedPOSTRequest,
        "The body of your POST request is not well-formed multipart/form-data."
    )
}

/// Checks the form's signature and policy and that its signer may write to `bucket`;
/// returns the policy (none: an unsigned, anonymous form) and the request context (its
/// bucket none: no such bucket). An anonymous form needs a bucket policy that lets anyone write.
async fn authenticate(
    c: &Coffer,
    parts: &http::request::Parts,
    form: &form::Fields,
    bucket: &str,
) -> S3Result<(Option<PostPolicy>, crate::ctx::RequestContext)> {
    // Credentials without their signature are a malformed form, not an anonymous one.
    for (credential, signature) in [("x-amz-credential", "X-Amz-Signature"), ("awsaccesskeyid", "Signature")] {
        if form.field(credential).is_some() && form.field(&signature.to_ascii_lowercase()).is_none() {
            return Err(s3_error!(
                InvalidArgument,
                "Bucket POST must contain a field named '{signature}'.  If it is specified, please check the order of the fields."
            ));
        }
    }
    let signed = if let Some(sig) = form.field("x-amz-signature") {
        let algorithm = form.field("x-amz-algorithm").unwrap_or_default();
        if algorithm != "AWS4-HMAC-SHA256" {
            return Err(s3_error!(
                InvalidArgument,
                "POST requires X-Amz-Algorithm AWS4-HMAC-SHA256."
            ));
        }
        let credential = form
            .field("x-amz-credential")
            .ok_or_else(|| s3_error!(InvalidArgument, "POST requires X-Amz-Credential."))?;
        let date = form
            .field("x-amz-date")
            .ok_or_else(|| s3_error!(InvalidArgument, "POST requires X-Amz-Date."))?;
        let scope: Vec<&str> = credential.split('/').collect();
        let [akid, day, region, service, "aws4_request"] = scope[..] else {
            return Err(s3_error!(InvalidArgument, "X-Amz-Credential is malformed."));
        };
        if !date.starts_with(day) {
            return Err(s3_error!(
                SignatureDoesNotMatch,
                "The credential date does not match X-Amz-Date."
            ));
        }
        let policy = form.field("policy").ok_or_else(no_policy)?;
        let secret = c.identity.get_secret_key(akid).await?;
        let mut key = hmac256(format!("AWS4{}", secret.expose()).as_bytes(), day.as_bytes());
        for part in [region, service, "aws4_request"] {
            key = hmac256(&key, part.as_bytes());
        }
        if !same(hex::encode(hmac256(&key, policy.as_bytes())).as_bytes(), sig.as_bytes()) {
            return Err(s3_error!(SignatureDoesNotMatch));
        }
        Some((akid, secret))
    } else if let Some(sig) = form.field("signature") {
        let akid = form
            .field("awsaccesskeyid")
            .ok_or_else(|| s3_error!(InvalidArgument, "POST requires AWSAccessKeyId."))?;
        let policy = form.field("policy").ok_or_else(no_policy)?;
        let secret = c.identity.get_secret_key(akid).await?;
        let mut m = Hmac::<sha1::Sha1>::new_from_slice(secret.expose().as_bytes()).expect("any key");
        m.update(policy.as_bytes());
        let expected = base64_simd::STANDARD.encode_to_string(m.finalize().into_bytes());
        if !same(expected.as_bytes(), sig.as_bytes()) {
            return Err(s3_error!(SignatureDoesNotMatch));
        }
        Some((akid, secret))
    } else {
        None
    };
    // The secret is not needed past the signature.
    let access_key = signed.map(|(k, _)| k);
    let ctx = c.identity.resolve(access_key, Some(bucket))?;
    let keys = crate::ctx::RequestKeys {
        auth_type: "POST",
        ..crate::ctx::RequestKeys::new(&ctx.principal, &parts.headers, &parts.uri, &parts.extensions)
    };
    // The key the object will have: `${filename}` is the sender's to choose.
    let key = form
        .field("key")
        .unwrap_or_default()
        .replace("${filename}", &form.filename);
    let put = crate::action::of("PostObject", true);
    let resource = crate::action::Resource {
        bucket: Some(bucket),
        key: Some(&key),
    };
    if access_key.is_none() && ctx.bucket.is_none() {
        return Err(s3_error!(AccessDenied, "Anonymous users cannot write to this bucket."));
    }
    crate::ctx::authorize(&ctx, put, resource, &keys)?;
    // Tags set with the object need the right to tag it, as with `x-amz-tagging`.
    if form.field("tagging").is_some_and(|t| !t.is_empty()) {
        crate::ctx::authorize(&ctx, crate::action::of("PutObjectTagging", true), resource, &keys)?;
    }
    if access_key.is_none() {
        return Ok((None, ctx));
    }
    let policy = PostPolicy::from_base64(form.field("policy").unwrap_or_default())
        .map_err(|e| s3_error!(InvalidPolicyDocument, "Invalid Policy: {e}"))?;
    let expiry: time::OffsetDateTime = policy.expiration.clone().into();
    if time::OffsetDateTime::now_utc() >= expiry {
        return Err(s3_error!(AccessDenied, "Invalid according to Policy: Policy expired."));
    }
    check_conditions(&policy, form, bucket, &key)?;
    Ok((Some(policy), ctx))
}

fn no_policy() -> S3Error {
    s3_error!(InvalidArgument, "Bucket POST must contain a field named 'policy'.")
}

/// Every condition holds, and every field but the exempt ones has a condition.
/// `key` is the key the object will have: conditions on `$key` see `${filename}` replaced,
/// as Ceph RGW and MinIO check them.
fn check_conditions(policy: &PostPolicy, form: &form::Fields, bucket: &str, key: &str) -> S3Result<()> {
    let value = |field: &str| match field {
        "bucket" => Some(bucket),
        "key" => Some(key),
        _ => form.field(field),
    };
    for cond in &policy.conditions {
        let ok = match cond {
            PostPolicyCondition::Eq { field, value: want } => value(field) == Some(want.as_str()),
            PostPolicyCondition::StartsWith { field, prefix } => {
                // `content-type` may list several types, each of which must match.
                let v = value(field).unwrap_or_default();
                if field == "content-type" {
                    v.split(',').all(|t| t.trim().starts_with(prefix.as_str()))
                } else {
                    v.starts_with(prefix.as_str())
                }
            }
            PostPolicyCondition::ContentLengthRange { .. } => true,
        };
        if !ok {
            return Err(s3_error!(
                AccessDenied,
                "Invalid according to Policy: Policy Condition failed: {cond:?}"
            ));
        }
    }
    let covered = |name: &str| {
        policy.conditions.iter().any(|c| match c {
            PostPolicyCondition::Eq { field, .. } | PostPolicyCondition::StartsWith { field, .. } => field == name,
            PostPolicyCondition::ContentLengthRange { .. } => false,
        })
    };
    if let Some((name, _)) = form.fields.iter().find(|(k, _)| !exempt(k) && !covered(k)) {
        return Err(S3Error::with_message(
            s3s::S3ErrorCode::AccessDenied,
            format!("Invalid according to Policy: Extra input fields: {name}"),
        ));
    }
    Ok(())
}

/// Form fields for features coffer does not have yet: refused, never ignored.
fn refuse_unsupported(form: &form::Fields) -> S3Result<()> {
    for (k, v) in &form.fields {
        let unsupported = match k.as_str() {
            "acl" => false,
            "x-amz-storage-class" => v != "STANDARD",
            k => k.starts_with("x-amz-object-lock-"),
        };
        if unsupported {
            return Err(s3_error!(NotImplemented, "The form field {k} is not supported."));
        }
    }
    Ok(())
}

/// What AWS answers a successful POST: a redirect, or 200, 201 (with XML) or 204.
fn success(
    bucket: &str,
    key: &str,
    etag: &str,
    version: Option<String>,
    redirect: Option<String>,
    status: Option<&str>,
) -> Response<Body> {
    let etag = format!("\"{etag}\"");
    let location = format!("/{bucket}/{}", crate::convert::encode(key, true));
    let mut resp = Response::new(Body::empty());
    if let Some(url) =
        redirect.filter(|u| (u.starts_with("http://") || u.starts_with("https://")) && !u.chars().any(char::is_control))
    {
        let sep = if url.contains('?') { '&' } else { '?' };
        let q = |s: &str| crate::convert::encode(s, true).replace('/', "%2F");
        let to = format!("{url}{sep}bucket={}&key={}&etag={}", q(bucket), q(key), q(&etag));
        if let Ok(v) = HeaderValue::from_str(&to) {
            *resp.status_mut() = StatusCode::SEE_OTHER;
            resp.headers_mut().insert(http::header::LOCATION, v);
            return resp;
        }
    }
    match status {
        Some("200") => *resp.status_mut() = StatusCode::OK,
        Some("201") => {
            *resp.status_mut() = StatusCode::CREATED;
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
                escape(&location),
                escape(bucket),
                escape(key),
                escape(&etag)
            );
            resp.headers_mut()
                .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
            *resp.body_mut() = Body::from(xml);
        }
        _ => *resp.status_mut() = StatusCode::NO_CONTENT,
    }
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(http::header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(http::header::LOCATION, v);
    }
    if let Some(v) = version.and_then(|v| HeaderValue::from_str(&v).ok()) {
        h.insert("x-amz-version-id", v);
    }
    resp
}

fn hmac256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// Compares signatures in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
