//! Server-side encryption as S3 speaks it: the SSE-S3, SSE-KMS and SSE-C request headers
//! (checked by `S3Access`, before any body), a bucket's default encryption
//! (Put/Get/DeleteBucketEncryption, settings kind `encryption`), and the headers every
//! encrypted read and write answers with. The cryptography is the store's (`sse`).

use coffer_store::sse::{DEFAULT_KMS_KEY, kms_key_name, valid_kms_name};
use coffer_store::{CustomerKey, Encrypt, Sealing, SettingKind, SseMode};
use http::{HeaderMap, StatusCode};
use md5::{Digest, Md5};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};
use serde::{Deserialize, Serialize};

use crate::Coffer;
use crate::error::{IntoS3, custom_with};

const AES256: &str = "AES256";
const KMS: &str = "aws:kms";
const KMS_DSSE: &str = "aws:kms:dsse";

/// The SSE-C key a request brought, and the key MD5 it sent (echoed back).
#[derive(Debug, Clone)]
pub struct Keyed {
    pub key: CustomerKey,
    pub md5: String,
}

/// What a request asks of encryption, as `S3Access` parsed and checked it.
#[derive(Debug, Clone, Default)]
pub struct Asked {
    /// The encryption a write asked for its object (none: the bucket's default).
    pub write: Option<Encrypt>,
    /// The SSE-C key for the object the request reads or writes.
    pub customer: Option<Keyed>,
    /// The SSE-C key of a copy's source.
    pub source: Option<Keyed>,
}

/// What `S3Access` parsed of a request's encryption headers.
pub fn asked<T>(req: &S3Request<T>) -> Asked {
    req.extensions.get::<Asked>().cloned().unwrap_or_default()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap_or("\u{fffd}"))
}

fn invalid(message: &'static str) -> s3s::S3Error {
    s3_error!(InvalidArgument, "{message}")
}

/// What the key service answers for a key it does not have, through the one mapping.
fn kms_not_found(id: &str) -> s3s::S3Error {
    crate::error::store_error(coffer_store::StoreError::KmsKeyNotFound(id.to_owned()))
}

/// Whether SSE-C keys may come on the connection of a request with these extensions: it
/// arrived over TLS (`ctx::Secure`), or `over_http` (`Config::sse_c_over_http`) allows
/// plain HTTP. Otherwise only a proxy's `X-Forwarded-Proto: https` lets them through.
pub(crate) fn sse_c_allowed(over_http: bool, extensions: &http::Extensions) -> bool {
    over_http || extensions.get::<crate::ctx::Secure>().is_some()
}

/// Checks the encryption headers of `operation` and returns what they ask for; operations
/// that neither read nor write object bytes ignore them, as S3 does. `plain_http`: SSE-C
/// keys may come over this connection even if it is not TLS: it is (the request carries
/// `ctx::Secure`), or `Config::sse_c_over_http` allows plain HTTP.
pub(crate) fn check_request(plain_http: bool, operation: &str, h: &HeaderMap) -> S3Result<Option<Asked>> {
    let writes = matches!(operation, "PutObject" | "CopyObject" | "CreateMultipartUpload");
    let reads_or_parts = matches!(
        operation,
        "GetObject"
            | "HeadObject"
            | "GetObjectAttributes"
            | "UploadPart"
            | "UploadPartCopy"
            | "CompleteMultipartUpload"
            | "ListParts"
    );
    // Most requests carry no encryption header: one pass over the names, no lookups.
    let any = h.keys().any(|k| {
        let k = k.as_str();
        k.starts_with("x-amz-server-side-encryption") || k.starts_with("x-amz-copy-source-server-side-encryption")
    });
    if !any || (!writes && !reads_or_parts) {
        return Ok(None);
    }
    let sse = header(h, "x-amz-server-side-encryption");
    let customer_sent = h.contains_key("x-amz-server-side-encryption-customer-algorithm")
        || h.contains_key("x-amz-server-side-encryption-customer-key")
        || h.contains_key("x-amz-server-side-encryption-customer-key-md5");
    if sse.is_some() && customer_sent {
        return Err(invalid(
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
        ));
    }
    let customer = customer_key(plain_http, h, "x-amz-server-side-encryption-customer-")?;
    let source = if matches!(operation, "CopyObject" | "UploadPartCopy") {
        customer_key(plain_http, h, "x-amz-copy-source-server-side-encryption-customer-")?
    } else {
        None
    };
    let kms_id = header(h, "x-amz-server-side-encryption-aws-kms-key-id");
    let context = header(h, "x-amz-server-side-encryption-context");
    let bucket_key = header(h, "x-amz-server-side-encryption-bucket-key-enabled");
    if !writes {
        if sse.is_some() || kms_id.is_some() || context.is_some() {
            return Err(invalid(
                "x-amz-server-side-encryption header is not supported for this operation.",
            ));
        }
        return Ok(Some(Asked {
            write: None,
            customer,
            source,
        }));
    }
    let bucket_key = match bucket_key.map(|v| v.to_ascii_lowercase()) {
        None => false,
        Some(v) if v == "true" => true,
        Some(v) if v == "false" => false,
        Some(_) => return Err(invalid("The bucket key enabled header must be true or false.")),
    };
    if sse != Some(KMS) && (kms_id.is_some() || context.is_some()) {
        return Err(invalid(
            "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
        ));
    }
    let write = match sse {
        None => customer.as_ref().map(|k| Encrypt::Customer(k.key.clone())),
        Some(AES256) => Some(Encrypt::S3),
        Some(KMS) => Some(Encrypt::Kms {
            key_id: kms_key(kms_id)?,
            context: context.map(check_context).transpose()?.unwrap_or_default(),
            bucket_key,
        }),
        Some(KMS_DSSE) => {
            return Err(s3_error!(
                NotImplemented,
                "Dual-layer server-side encryption (aws:kms:dsse) is not implemented."
            ));
        }
        Some(_) => return Err(invalid("The encryption method specified is not supported")),
    };
    Ok(Some(Asked {
        write,
        customer,
        source,
    }))
}

/// The key service's name for a key id a request (or a bucket's default) gives; none is
/// the default key, as AWS's `aws/s3`.
fn kms_key(id: Option<&str>) -> S3Result<String> {
    let Some(id) = id.filter(|s| !s.is_empty()) else {
        return Ok(DEFAULT_KMS_KEY.to_owned());
    };
    let name = kms_key_name(id);
    if !valid_kms_name(name) {
        return Err(kms_not_found(id));
    }
    Ok(name.to_owned())
}

/// An encryption context must be base64 of a JSON object of strings.
fn check_context(b64: &str) -> S3Result<String> {
    let bad = || {
        invalid(
            "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map",
        )
    };
    let json = base64_simd::STANDARD.decode_to_vec(b64.trim()).map_err(|_| bad())?;
    serde_json::from_slice::<std::collections::BTreeMap<String, String>>(&json).map_err(|_| bad())?;
    Ok(b64.trim().to_owned())
}

/// The SSE-C key under `prefix` (`x-amz-server-side-encryption-customer-` or its copy-source
/// twin), checked in AWS's order: all three headers, the algorithm, the connection, the
/// key's MD5, the key's length.
fn customer_key(plain_http: bool, h: &HeaderMap, prefix: &str) -> S3Result<Option<Keyed>> {
    let get = |suffix: &str| header(h, &format!("{prefix}{suffix}"));
    let (alg, key, md5) = (get("algorithm"), get("key"), get("key-md5"));
    if alg.is_none() && key.is_none() && md5.is_none() {
        return Ok(None);
    }
    let alg = alg.ok_or_else(|| {
        invalid("Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.")
    })?;
    let key = key.ok_or_else(|| {
        invalid("Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.")
    })?;
    let md5 = md5.ok_or_else(|| {
        invalid("Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.")
    })?;
    if alg != AES256 {
        return Err(custom_with(
            "InvalidEncryptionAlgorithmError",
            StatusCode::BAD_REQUEST,
            "The Encryption request you specified is not valid. Supported value: AES256.",
        ));
    }
    if !plain_http && !forwarded_https(h) {
        return Err(invalid(
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
        ));
    }
    let wrong_key = || invalid("The secret key was invalid for the specified algorithm.");
    let bytes = base64_simd::STANDARD
        .decode_to_vec(key.trim())
        .map_err(|_| wrong_key())?;
    let sent_md5 = base64_simd::STANDARD.decode_to_vec(md5.trim()).unwrap_or_default();
    if Md5::digest(&bytes).as_slice() != sent_md5.as_slice() {
        return Err(invalid(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
        ));
    }
    let key: [u8; 32] = bytes.try_into().map_err(|_| wrong_key())?;
    Ok(Some(Keyed {
        key: CustomerKey::new(key),
        md5: md5.trim().to_owned(),
    }))
}

/// Whether a TLS proxy says the client reached it over HTTPS: the last (nearest) value of
/// `X-Forwarded-Proto`. Advisory: a client can send it itself, and so only risks its own key.
fn forwarded_https(h: &HeaderMap) -> bool {
    h.get_all("x-forwarded-proto")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// A bucket's default encryption, as stored (settings kind `encryption`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DefaultEncryption {
    S3 {
        bucket_key: bool,
    },
    Kms {
        /// As configured (id, alias or ARN), shown back as it was given.
        key_id: Option<String>,
        bucket_key: bool,
    },
}

impl DefaultEncryption {
    fn encrypt(&self) -> S3Result<Encrypt> {
        Ok(match self {
            DefaultEncryption::S3 { .. } => Encrypt::S3,
            DefaultEncryption::Kms { key_id, bucket_key } => Encrypt::Kms {
                key_id: kms_key(key_id.as_deref())?,
                context: String::new(),
                bucket_key: *bucket_key,
            },
        })
    }
}

/// What a write's bytes are sealed with: what it asked for, else its bucket's default
/// encryption, else nothing. Resolved before the body is read, so a missing or disabled
/// KMS key fails the request first.
pub async fn sealing_for<T>(c: &Coffer, req: &S3Request<T>) -> S3Result<Option<Sealing>> {
    let default = crate::ctx::RequestContext::of(req).and_then(|ctx| ctx.rules.encryption.as_deref());
    sealing(c, asked(req).write.as_ref(), default).await
}

/// [`sealing_for`] from its parts: the encryption asked for, and the bucket's default.
pub async fn sealing(
    c: &Coffer,
    asked: Option<&Encrypt>,
    default: Option<&DefaultEncryption>,
) -> S3Result<Option<Sealing>> {
    let enc = match (asked, default) {
        (Some(e), _) => e.clone(),
        (None, Some(d)) => d.encrypt()?,
        (None, None) => return Ok(None),
    };
    c.store.sealing(&enc).await.s3().map(Some)
}

fn bucket_default(c: &Coffer, bucket: &str) -> S3Result<Option<DefaultEncryption>> {
    c.store.bucket_setting(bucket, SettingKind::Encryption).s3()
}

/// The headers S3 answers an encrypted read or write with.
#[derive(Debug, Default)]
pub struct Echo {
    pub sse: Option<ServerSideEncryption>,
    pub kms_key_id: Option<String>,
    pub customer_algorithm: Option<String>,
    pub customer_key_md5: Option<String>,
    pub bucket_key: Option<bool>,
    pub context: Option<String>,
}

/// What to echo for data encrypted in `mode`; `keyed` is the request's SSE-C key.
pub fn echo(c: &Coffer, mode: Option<&SseMode>, keyed: Option<&Keyed>) -> Echo {
    match mode {
        None => Echo::default(),
        Some(SseMode::S3) => Echo {
            sse: Some(ServerSideEncryption::from_static(ServerSideEncryption::AES256)),
            ..Echo::default()
        },
        Some(SseMode::Kms {
            key_id,
            context,
            bucket_key,
        }) => Echo {
            sse: Some(ServerSideEncryption::from_static(ServerSideEncryption::AWS_KMS)),
            kms_key_id: Some(kms_arn(c, key_id)),
            bucket_key: bucket_key.then_some(true),
            context: (!context.is_empty()).then(|| context.clone()),
            ..Echo::default()
        },
        Some(SseMode::Customer { .. }) => Echo {
            customer_algorithm: Some(AES256.to_owned()),
            customer_key_md5: keyed.map(|k| k.md5.clone()),
            ..Echo::default()
        },
    }
}

impl Echo {
    /// The echo as response headers, for answers s3s does not build (POST Object).
    pub fn insert_into(&self, h: &mut HeaderMap) {
        let mut set = |name: &'static str, v: Option<&str>| {
            if let Some(v) = v.and_then(|v| http::HeaderValue::from_str(v).ok()) {
                h.insert(name, v);
            }
        };
        set(
            "x-amz-server-side-encryption",
            self.sse.as_ref().map(ServerSideEncryption::as_str),
        );
        set(
            "x-amz-server-side-encryption-aws-kms-key-id",
            self.kms_key_id.as_deref(),
        );
        set(
            "x-amz-server-side-encryption-customer-algorithm",
            self.customer_algorithm.as_deref(),
        );
        set(
            "x-amz-server-side-encryption-customer-key-md5",
            self.customer_key_md5.as_deref(),
        );
        set(
            "x-amz-server-side-encryption-bucket-key-enabled",
            self.bucket_key.map(|_| "true"),
        );
        set("x-amz-server-side-encryption-context", self.context.as_deref());
    }
}

/// A key of the key service as AWS names KMS keys in responses: an ARN. coffer has no
/// accounts; the account field is twelve zeros.
pub fn kms_arn(c: &Coffer, name: &str) -> String {
    format!("arn:aws:kms:{}:000000000000:key/{name}", c.config.region)
}

/// Sets an output's encryption headers from an [`Echo`].
macro_rules! set_sse {
    ($out:expr, $echo:expr) => {{
        let e: $crate::encryption::Echo = $echo;
        $out.server_side_encryption = e.sse;
        $out.ssekms_key_id = e.kms_key_id;
        $out.sse_customer_algorithm = e.customer_algorithm;
        $out.sse_customer_key_md5 = e.customer_key_md5;
        $out.bucket_key_enabled = e.bucket_key;
        e.context
    }};
}
pub(crate) use set_sse;

fn malformed() -> s3s::S3Error {
    s3_error!(MalformedXML)
}

pub async fn put_bucket_encryption(
    c: &Coffer,
    req: S3Request<PutBucketEncryptionInput>,
) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
    let input = req.input;
    let rules = input.server_side_encryption_configuration.rules;
    let [rule] = rules.as_slice() else {
        return Err(malformed());
    };
    let by_default = rule
        .apply_server_side_encryption_by_default
        .as_ref()
        .ok_or_else(malformed)?;
    let bucket_key = rule.bucket_key_enabled.unwrap_or(false);
    let key_id = by_default.kms_master_key_id.clone().filter(|k| !k.is_empty());
    let setting = match by_default.sse_algorithm.as_str() {
        AES256 if key_id.is_some() => {
            return Err(invalid(
                "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
            ));
        }
        AES256 => DefaultEncryption::S3 { bucket_key },
        KMS => {
            let name = kms_key(key_id.as_deref())?;
            if name != DEFAULT_KMS_KEY && !c.store.list_kms_keys().s3()?.iter().any(|k| k.name == name) {
                return Err(kms_not_found(key_id.as_deref().unwrap_or_default()));
            }
            DefaultEncryption::Kms { key_id, bucket_key }
        }
        KMS_DSSE => {
            return Err(s3_error!(
                NotImplemented,
                "Dual-layer server-side encryption (aws:kms:dsse) is not implemented."
            ));
        }
        _ => return Err(malformed()),
    };
    c.store
        .put_bucket_setting(&input.bucket, SettingKind::Encryption, &setting)
        .await
        .s3()?;
    Ok(S3Response::new(PutBucketEncryptionOutput::default()))
}

pub async fn get_bucket_encryption(
    c: &Coffer,
    req: S3Request<GetBucketEncryptionInput>,
) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
    let Some(setting) = bucket_default(c, &req.input.bucket)? else {
        return Err(custom_with(
            "ServerSideEncryptionConfigurationNotFoundError",
            StatusCode::NOT_FOUND,
            "The server side encryption configuration was not found",
        ));
    };
    let (alg, key_id, bucket_key) = match setting {
        DefaultEncryption::S3 { bucket_key } => (ServerSideEncryption::AES256, None, bucket_key),
        DefaultEncryption::Kms { key_id, bucket_key } => (ServerSideEncryption::AWS_KMS, key_id, bucket_key),
    };
    Ok(S3Response::new(GetBucketEncryptionOutput {
        server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration {
            rules: vec![ServerSideEncryptionRule {
                apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                    sse_algorithm: ServerSideEncryption::from_static(alg),
                    kms_master_key_id: key_id,
                }),
                bucket_key_enabled: Some(bucket_key),
            }],
        }),
    }))
}

pub async fn delete_bucket_encryption(
    c: &Coffer,
    req: S3Request<DeleteBucketEncryptionInput>,
) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
    c.store
        .delete_bucket_setting(&req.input.bucket, SettingKind::Encryption)
        .await
        .s3()?;
    Ok(S3Response::with_status(
        DeleteBucketEncryptionOutput::default(),
        StatusCode::NO_CONTENT,
    ))
}

/// What a part of an upload is sealed with: the upload's encryption, with the SSE-C key
/// the part request brought checked against the one the upload was started with.
pub async fn part_sealing(c: &Coffer, upload: Option<&SseMode>, customer: Option<&Keyed>) -> S3Result<Option<Sealing>> {
    let enc = match (upload, customer) {
        (None, None) => return Ok(None),
        (Some(SseMode::Customer { salt, key_mac }), Some(k)) => {
            if !k.key.matches(salt, key_mac) {
                return Err(s3_error!(
                    InvalidRequest,
                    "The provided encryption parameters did not match the ones used originally."
                ));
            }
            Encrypt::Customer(k.key.clone())
        }
        (Some(SseMode::Customer { .. }), None) | (None | Some(_), Some(_)) => {
            return Err(s3_error!(
                InvalidRequest,
                "The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters."
            ));
        }
        (Some(SseMode::S3), None) => Encrypt::S3,
        (
            Some(SseMode::Kms {
                key_id,
                context,
                bucket_key,
            }),
            None,
        ) => Encrypt::Kms {
            key_id: key_id.clone(),
            context: context.clone(),
            bucket_key: *bucket_key,
        },
    };
    c.store.sealing(&enc).await.s3().map(Some)
}
