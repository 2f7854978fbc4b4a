//! One error enum for the store; `coffer-s3` maps it to S3 codes in one place.

use std::io;

pub type StoreResult<T> = Result<T, StoreError>;
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such bucket")]
    NoSuchBucket,
    #[error("bucket already exists")]
    BucketAlreadyExists,
    #[error("bucket already owned by you")]
    BucketAlreadyOwnedByYou,
    #[error("bucket not empty")]
    BucketNotEmpty,
    #[error("no such key")]
    NoSuchKey,
    #[error("precondition failed")]
    PreconditionFailed,
    /// A write raced another on the same key and lost (If-Match / If-None-Match).
    #[error("conditional request conflict")]
    ConditionalConflict,
    #[error("the content MD5 did not match")]
    BadDigest,
    #[error("body shorter or longer than its declared length")]
    IncompleteBody,
    #[error("no such version")]
    NoSuchVersion,
    #[error("not a version id")]
    InvalidVersion,
    /// The latest version of the key is this delete marker (a read without a version id).
    #[error("the latest version is a delete marker")]
    DeleteMarker(Box<crate::model::ObjectRecord>),
    /// The version asked for is a delete marker.
    #[error("the version is a delete marker")]
    MarkerVersion(Box<crate::model::ObjectRecord>),
    #[error("the object is locked")]
    ObjectLocked,
    #[error("the bucket's state does not allow this")]
    InvalidBucketState,
    #[error("no such upload")]
    NoSuchUpload,
    #[error("a part is missing or its ETag does not match")]
    InvalidPart,
    #[error("a part other than the last is smaller than the minimum")]
    EntityTooSmall,
    #[error("user already exists")]
    UserExists,
    #[error("no such user")]
    NoSuchUser,
    /// Another user (or this one) already holds an access key with this id.
    #[error("access key already exists")]
    AccessKeyExists,
    #[error("no such access key")]
    NoSuchAccessKey,
    /// The user already holds `users::MAX_ACCESS_KEYS` access keys.
    #[error("the user holds as many access keys as allowed")]
    TooManyAccessKeys,
    /// The object is SSE-C encrypted and the read brought no key.
    #[error("the object is encrypted with a customer key and none was given")]
    SseKeyMissing,
    /// The SSE-C key given is not the one the object was encrypted with.
    #[error("the encryption key given is not the object's")]
    SseWrongKey,
    /// An SSE-C key was given for an object not encrypted with one.
    #[error("the object is not encrypted with a customer key")]
    SseNotCustomer,
    #[error("no such KMS key: {0}")]
    KmsKeyNotFound(String),
    #[error("the KMS key {0} is disabled")]
    KmsKeyDisabled(String),
    #[error("the KMS key {0} already exists")]
    KmsKeyExists(String),
    /// The master key given is not the one the data directory's keys are sealed under.
    #[error("the master key given is not this data directory's (its id is {stored}, the key given has {given})")]
    WrongMasterKey { stored: String, given: String },
    /// The write would take the bucket past its quota (objects or bytes).
    #[error("the bucket's quota does not allow this write")]
    QuotaExceeded,
    #[error("no space left on the data device")]
    NoSpace,
    #[error("shutting down")]
    ShuttingDown,
    /// The request body failed while being read; the source is the client side's error.
    #[error("request body: {0}")]
    Body(BoxError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("metadata: {0}")]
    Meta(String),
    #[error("io: {0}")]
    Io(io::Error),
}

impl StoreError {
    pub(crate) fn meta(e: impl Into<redb::Error>) -> Self {
        match e.into() {
            redb::Error::Io(io) => io.into(),
            other => StoreError::Meta(other.to_string()),
        }
    }

    /// A copy for every waiter of a failed group commit.
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            StoreError::NoSpace => StoreError::NoSpace,
            StoreError::Io(e) => StoreError::Io(io::Error::new(e.kind(), e.to_string())),
            other => StoreError::Meta(other.to_string()),
        }
    }
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        // ENOSPC; EDQUOT from a RADOS pool over its quota.
        if matches!(e.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded) || e.raw_os_error() == Some(28)
        {
            StoreError::NoSpace
        } else {
            StoreError::Io(e)
        }
    }
}
