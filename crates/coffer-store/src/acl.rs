//! Access control lists as stored: who is granted what on a bucket or an object version.
//! What each permission allows is the S3 front's business; the store only keeps grants.

use serde::{Deserialize, Serialize};

use crate::model::CanonicalId;

/// One ACL grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub grantee: Grantee,
    pub permission: Permission,
}

/// Whom a grant names. Grants by e-mail address are stored as the user they resolved to,
/// as S3 shows them afterwards. The variant order is part of the record format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grantee {
    User(CanonicalId),
    /// `http://acs.amazonaws.com/groups/global/AllUsers`: anyone, signed or not.
    AllUsers,
    /// `http://acs.amazonaws.com/groups/global/AuthenticatedUsers`: any signed request.
    AuthenticatedUsers,
    /// `http://acs.amazonaws.com/groups/s3/LogDelivery`: kept and shown; nobody in coffer
    /// acts as it.
    LogDelivery,
}

/// An ACL permission. The variant order is part of the record format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Permission {
    FullControl,
    Read,
    Write,
    ReadAcp,
    WriteAcp,
}

impl Permission {
    pub const ALL: [Permission; 5] = [
        Permission::FullControl,
        Permission::Read,
        Permission::Write,
        Permission::ReadAcp,
        Permission::WriteAcp,
    ];

    /// S3's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::FullControl => "FULL_CONTROL",
            Permission::Read => "READ",
            Permission::Write => "WRITE",
            Permission::ReadAcp => "READ_ACP",
            Permission::WriteAcp => "WRITE_ACP",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl Grantee {
    pub const ALL_USERS: &'static str = "http://acs.amazonaws.com/groups/global/AllUsers";
    pub const AUTHENTICATED_USERS: &'static str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
    pub const LOG_DELIVERY: &'static str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

    /// The group a URI names.
    pub fn group(uri: &str) -> Option<Self> {
        match uri {
            Self::ALL_USERS => Some(Grantee::AllUsers),
            Self::AUTHENTICATED_USERS => Some(Grantee::AuthenticatedUsers),
            Self::LOG_DELIVERY => Some(Grantee::LogDelivery),
            _ => None,
        }
    }

    /// A group's URI; `None` for a user.
    pub fn uri(self) -> Option<&'static str> {
        match self {
            Grantee::User(_) => None,
            Grantee::AllUsers => Some(Self::ALL_USERS),
            Grantee::AuthenticatedUsers => Some(Self::AUTHENTICATED_USERS),
            Grantee::LogDelivery => Some(Self::LOG_DELIVERY),
        }
    }
}
