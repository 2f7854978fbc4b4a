//! The one place store errors become S3 errors, and the messages clients see.

use coffer_store::StoreError;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

/// Store results as S3 results, through the one mapping: `store.get(..).s3()?`.
pub trait IntoS3<T> {
    fn s3(self) -> S3Result<T>;
}

impl<T> IntoS3<T> for coffer_store::StoreResult<T> {
    fn s3(self) -> S3Result<T> {
        self.map_err(store_error)
    }
}

/// Maps a store error to the S3 error a client expects. Internal detail is logged here
/// and never sent.
pub fn store_error(e: StoreError) -> S3Error {
    match e {
        StoreError::NoSuchBucket => s3_error!(NoSuchBucket),
        StoreError::BucketAlreadyExists => s3_error!(BucketAlreadyExists),
        StoreError::BucketAlreadyOwnedByYou => s3_error!(BucketAlreadyOwnedByYou),
        StoreError::BucketNotEmpty => s3_error!(BucketNotEmpty),
        StoreError::NoSuchKey => s3_error!(NoSuchKey),
        StoreError::PreconditionFailed => s3_error!(PreconditionFailed),
        StoreError::ConditionalConflict => s3_error!(ConditionalRequestConflict),
        StoreError::BadDigest => s3_error!(BadDigest),
        StoreError::IncompleteBody => s3_error!(IncompleteBody),
        StoreError::NoSuchUpload => s3_error!(NoSuchUpload),
        StoreError::NoSuchVersion => s3_error!(NoSuchVersion, "The specified version does not exist."),
        StoreError::InvalidVersion => s3_error!(InvalidArgument, "Invalid version id specified"),
        StoreError::DeleteMarker(rec) => {
            let mut e = s3_error!(NoSuchKey);
            e.set_headers(marker_headers(&rec));
            e
        }
        StoreError::MarkerVersion(rec) => {
            let mut e = s3_error!(
                MethodNotAllowed,
                "The specified method is not allowed against this resource."
            );
            e.set_headers(marker_headers(&rec));
            e
        }
        StoreError::ObjectLocked => s3_error!(AccessDenied, "Access Denied because object protected by object lock."),
        StoreError::InvalidBucketState => s3_error!(InvalidBucketState),
        StoreError::InvalidPart => s3_error!(
            InvalidPart,
            "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
        ),
        StoreError::EntityTooSmall => s3_error!(
            EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed object size."
        ),
        StoreError::UserExists => s3_error!(InvalidArgument, "A user with this name or access key already exists."),
        StoreError::NoSuchUser => s3_error!(InvalidArgument, "No user with this name exists."),
        StoreError::AccessKeyExists => s3_error!(InvalidArgument, "An access key with this id already exists."),
        StoreError::NoSuchAccessKey => s3_error!(InvalidArgument, "The user has no access key with this id."),
        StoreError::TooManyAccessKeys => s3_error!(
            InvalidArgument,
            "The user holds as many access keys as allowed ({}).",
            coffer_store::MAX_ACCESS_KEYS
        ),
        StoreError::ShuttingDown => s3_error!(ServiceUnavailable),
        StoreError::SseKeyMissing => s3_error!(
            InvalidRequest,
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object."
        ),
        StoreError::SseWrongKey => s3_error!(
            AccessDenied,
            "Requests specifying Server Side Encryption with Customer provided keys must provide the correct secret key."
        ),
        StoreError::SseNotCustomer => s3_error!(
            InvalidRequest,
            "The encryption parameters are not applicable to this object."
        ),
        StoreError::KmsKeyNotFound(id) => custom_with(
            "KMS.NotFoundException",
            http::StatusCode::BAD_REQUEST,
            format!("Invalid keyId '{id}'"),
        ),
        StoreError::KmsKeyDisabled(id) => custom_with(
            "KMS.DisabledException",
            http::StatusCode::BAD_REQUEST,
            format!("{id} is disabled."),
        ),
        StoreError::KmsKeyExists(id) => s3_error!(InvalidArgument, "The KMS key {id} already exists."),
        // Ceph RGW's code and status; MinIO answers 400 XMinioAdminBucketQuotaExceeded.
        StoreError::QuotaExceeded => custom("QuotaExceeded", http::StatusCode::FORBIDDEN),
        StoreError::NoSpace => {
            tracing::error!("data device is full");
            custom("InsufficientStorage", http::StatusCode::INSUFFICIENT_STORAGE)
        }
        StoreError::Body(src) => body_error(src),
        // A storage engine that did not answer in time (RADOS's op timeout): clients retry.
        StoreError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            tracing::error!(error = %e, "storage timed out");
            s3_error!(ServiceUnavailable)
        }
        e @ (StoreError::Corrupt(_) | StoreError::Meta(_) | StoreError::Io(_) | StoreError::WrongMasterKey { .. }) => {
            tracing::error!(error = %e, "internal error");
            S3Error::new(S3ErrorCode::InternalError)
        }
    }
}

/// What S3 says about a delete marker met by a read.
fn marker_headers(rec: &coffer_store::ObjectRecord) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert("x-amz-delete-marker", http::HeaderValue::from_static("true"));
    if let Ok(v) = http::HeaderValue::from_str(rec.version_id_str()) {
        h.insert("x-amz-version-id", v);
    }
    if let Ok(v) = http::HeaderValue::from_str(&crate::convert::http_date(&crate::convert::timestamp(
        rec.last_modified_ms,
    ))) {
        h.insert(http::header::LAST_MODIFIED, v);
    }
    h
}

/// A code s3s has no variant for.
pub fn custom(code: &'static str, status: http::StatusCode) -> S3Error {
    let mut err = S3Error::new(S3ErrorCode::Custom(code.into()));
    err.set_status_code(status);
    err
}

/// A code s3s has no variant for, with its message.
pub fn custom_with(
    code: &'static str,
    status: http::StatusCode,
    message: impl Into<std::borrow::Cow<'static, str>>,
) -> S3Error {
    let mut err = S3Error::with_message(S3ErrorCode::Custom(code.into()), message);
    err.set_status_code(status);
    err
}

/// A request body failed mid-stream. s3s keeps its stream error types private, so the
/// verification failures it raises are told apart by their names.
fn body_error(src: coffer_store::BoxError) -> S3Error {
    let src = match src.downcast::<S3Error>() {
        Ok(e) => return *e,
        Err(src) => src,
    };
    let mut text = src.to_string();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = src.source();
    while let Some(e) = cur {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cur = e.source();
    }
    if text.contains("failed its checksum") {
        // Our own stored data, read for a copy: not the client's fault.
        tracing::error!(error = %text, "stored data is corrupt");
        S3Error::new(S3ErrorCode::InternalError)
    } else if text.contains("Sha256Mismatch") {
        custom("XAmzContentSHA256Mismatch", http::StatusCode::BAD_REQUEST)
    } else if text.contains("SignatureMismatch") {
        s3_error!(SignatureDoesNotMatch)
    } else if text.contains("TooLarge") || text.contains("TooMany") || text.contains("FormatError") {
        s3_error!(InvalidRequest, "The aws-chunked body is malformed.")
    } else {
        tracing::debug!(error = %text, "request body ended early");
        s3_error!(IncompleteBody)
    }
}

/// The message AWS gives for a code, for errors raised without one.
pub fn default_message(code: &str) -> &'static str {
    match code {
        "AccessDenied" => "Access Denied",
        "BadDigest" => "The Content-MD5 or checksum you specified did not match what we received.",
        "BucketAlreadyExists" => {
            "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."
        }
        "BucketAlreadyOwnedByYou" => {
            "Your previous request to create the named bucket succeeded and you already own it."
        }
        "BucketNotEmpty" => "The bucket you tried to delete is not empty",
        "ConditionalRequestConflict" => {
            "A conflicting operation occurred. If using PutObject you can retry the request."
        }
        "InvalidPartOrder" => {
            "The list of parts was not in ascending order. The parts list must be specified in order by part number."
        }
        "EntityTooLarge" => "Your proposed upload exceeds the maximum allowed size",
        "IncompleteBody" => "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        "InternalError" => "We encountered an internal error. Please try again.",
        "InvalidAccessKeyId" => "The AWS Access Key Id you provided does not exist in our records.",
        "InvalidArgument" => "Invalid Argument",
        "InvalidBucketName" => "The specified bucket is not valid.",
        "InvalidDigest" => "The Content-MD5 you specified is not valid.",
        "InsufficientStorage" => "The server has no space left to store this object.",
        "QuotaExceeded" => "The bucket's quota does not allow this write.",
        "InvalidPartNumber" => "The requested partnumber is not satisfiable",
        "InvalidRange" => "The requested range is not satisfiable",
        "InvalidRequest" => "Invalid Request",
        "InvalidURI" => "Couldn't parse the specified URI.",
        "KeyTooLongError" => "Your key is too long",
        "MaxMessageLengthExceeded" => "Your request was too big.",
        "MalformedXML" => "The XML you provided was not well-formed or did not validate against our published schema.",
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        "NoSuchVersion" => "The specified version does not exist.",
        "InvalidBucketState" => "The request is not valid with the current state of the bucket.",
        "MissingContentLength" => "You must provide the Content-Length HTTP header.",
        "NoSuchBucket" => "The specified bucket does not exist",
        "NoSuchKey" => "The specified key does not exist.",
        "NoSuchUpload" => {
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
        }
        "NotImplemented" => "A header you provided implies functionality that is not implemented.",
        "PreconditionFailed" => "At least one of the pre-conditions you specified did not hold",
        "RequestHeaderSectionTooLarge" => "Your request header section exceeds the maximum allowed size.",
        "RequestTimeout" => {
            "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed."
        }
        "RequestTimeTooSkewed" => "The difference between the request time and the current time is too large.",
        "ServiceUnavailable" => "The server is shutting down or overloaded; please retry.",
        "SignatureDoesNotMatch" => {
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        }
        "XAmzContentSHA256Mismatch" => "The provided 'x-amz-content-sha256' header does not match what was computed.",
        _ => "The request could not be completed.",
    }
}
