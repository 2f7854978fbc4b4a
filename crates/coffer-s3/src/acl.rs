//! ACLs and object ownership.
//!
//! A bucket's object ownership decides whether ACLs count. BucketOwnerEnforced, S3's
//! default for new buckets and every coffer bucket's until changed: ACLs are disabled, the
//! bucket owner owns every object, ACLs read as the owner's FULL_CONTROL, and a write or
//! Put*Acl may carry only `bucket-owner-full-control` or that grant spelled out (a new
//! bucket `private` too); any other, `private` included, is refused with
//! AccessControlListNotSupported, as on AWS.
//! BucketOwnerPreferred and ObjectWriter (and a bucket whose controls were deleted, which
//! S3 treats as ObjectWriter) enable ACLs: canned ACLs and grants, in headers or XML, are
//! stored on the bucket (a setting) and on each object version (its record), and take part
//! in authorization beside policies (`bucket_allows` here, `ctx::check_object`). A writer
//! who is not the bucket's owner owns what it writes, except under BucketOwnerPreferred
//! with `bucket-owner-full-control`. Block Public Access's BlockPublicAcls refuses a
//! public ACL (403); IgnorePublicAcls makes public grants count for nobody.

use coffer_store::{CanonicalId, Grant, Grantee, Permission, SettingKind};
use http::HeaderMap;
use s3s::dto::{self, AccessControlPolicy, ObjectOwnership};
use s3s::{S3Request, S3Response, S3Result, s3_error};
use serde::{Deserialize, Serialize};

use crate::Coffer;
use crate::auth::Identity;
use crate::ctx::{Principal, RequestContext};
use crate::error::{IntoS3, custom_with};

/// A bucket's object ownership, as stored (settings kind `ownership`; no row:
/// BucketOwnerEnforced). Never reorder: it is the setting's encoding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ownership {
    #[default]
    BucketOwnerEnforced,
    BucketOwnerPreferred,
    ObjectWriter,
    /// DeleteBucketOwnershipControls: no controls, which S3 treats as ObjectWriter.
    Unset,
}

impl Ownership {
    pub fn acls_enabled(self) -> bool {
        self != Ownership::BucketOwnerEnforced
    }

    /// From S3's name for it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            ObjectOwnership::BUCKET_OWNER_ENFORCED => Some(Ownership::BucketOwnerEnforced),
            ObjectOwnership::BUCKET_OWNER_PREFERRED => Some(Ownership::BucketOwnerPreferred),
            ObjectOwnership::OBJECT_WRITER => Some(Ownership::ObjectWriter),
            _ => None,
        }
    }

    fn parse(o: &ObjectOwnership) -> S3Result<Self> {
        Self::from_name(o.as_str()).ok_or_else(malformed)
    }

    fn as_str(self) -> Option<&'static str> {
        match self {
            Ownership::BucketOwnerEnforced => Some(ObjectOwnership::BUCKET_OWNER_ENFORCED),
            Ownership::BucketOwnerPreferred => Some(ObjectOwnership::BUCKET_OWNER_PREFERRED),
            Ownership::ObjectWriter => Some(ObjectOwnership::OBJECT_WRITER),
            Ownership::Unset => None,
        }
    }
}

/// The canned ACLs. `aws-exec-read` (EC2's bundle reads) has no meaning here and is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Canned {
    Private,
    PublicRead,
    PublicReadWrite,
    AuthenticatedRead,
    BucketOwnerRead,
    BucketOwnerFullControl,
    LogDeliveryWrite,
}

impl Canned {
    fn parse(s: &str) -> S3Result<Self> {
        Ok(match s {
            "private" => Canned::Private,
            "public-read" => Canned::PublicRead,
            "public-read-write" => Canned::PublicReadWrite,
            "authenticated-read" => Canned::AuthenticatedRead,
            "bucket-owner-read" => Canned::BucketOwnerRead,
            "bucket-owner-full-control" => Canned::BucketOwnerFullControl,
            "log-delivery-write" => Canned::LogDeliveryWrite,
            "aws-exec-read" => {
                return Err(s3_error!(
                    NotImplemented,
                    "The aws-exec-read canned ACL is not implemented."
                ));
            }
            _ => return Err(s3_error!(InvalidArgument, "The canned ACL {s} is not valid")),
        })
    }
}

/// The ACL a request asks for, before it is laid on a resource (canned ACLs name owners).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    Canned(CannedAcl),
    Grants(Vec<Grant>),
}

/// A canned ACL, opaque outside this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CannedAcl(Canned);

fn grant(grantee: Grantee, permission: Permission) -> Grant {
    Grant { grantee, permission }
}

impl Requested {
    /// The grants on a resource owned by `owner` in a bucket owned by `bucket_owner`.
    pub fn grants(&self, owner: CanonicalId, bucket_owner: CanonicalId) -> Vec<Grant> {
        let c = match self {
            Requested::Grants(g) => return g.clone(),
            Requested::Canned(CannedAcl(c)) => c,
        };
        let mut g = vec![grant(Grantee::User(owner), Permission::FullControl)];
        match c {
            Canned::Private => {}
            Canned::PublicRead => g.push(grant(Grantee::AllUsers, Permission::Read)),
            Canned::PublicReadWrite => {
                g.push(grant(Grantee::AllUsers, Permission::Read));
                g.push(grant(Grantee::AllUsers, Permission::Write));
            }
            Canned::AuthenticatedRead => g.push(grant(Grantee::AuthenticatedUsers, Permission::Read)),
            Canned::BucketOwnerRead if bucket_owner != owner => {
                g.push(grant(Grantee::User(bucket_owner), Permission::Read));
            }
            Canned::BucketOwnerFullControl if bucket_owner != owner => {
                g.push(grant(Grantee::User(bucket_owner), Permission::FullControl));
            }
            Canned::BucketOwnerRead | Canned::BucketOwnerFullControl => {}
            Canned::LogDeliveryWrite => {
                g.push(grant(Grantee::LogDelivery, Permission::Write));
                g.push(grant(Grantee::LogDelivery, Permission::ReadAcp));
            }
        }
        g
    }

    /// Whether it grants anything to everyone or to every signed caller (S3's meaning of a
    /// public ACL).
    pub fn is_public(&self) -> bool {
        match self {
            Requested::Canned(CannedAcl(c)) => matches!(
                c,
                Canned::PublicRead | Canned::PublicReadWrite | Canned::AuthenticatedRead
            ),
            Requested::Grants(g) => g.iter().any(is_public_grant),
        }
    }

    /// Whether it grants only `owner` full control: what a new bucket may have with ACLs
    /// disabled.
    fn owner_only(&self, owner: CanonicalId) -> bool {
        match self {
            Requested::Canned(CannedAcl(c)) => matches!(c, Canned::Private | Canned::BucketOwnerFullControl),
            Requested::Grants(_) => self.bucket_owner_full_control(owner),
        }
    }

    /// Whether it is `bucket-owner-full-control` or its equivalent in grants: the only ACL a
    /// PUT may carry where ACLs are disabled, but for the owner's own `private`.
    fn bucket_owner_full_control(&self, bucket_owner: CanonicalId) -> bool {
        match self {
            Requested::Canned(CannedAcl(c)) => *c == Canned::BucketOwnerFullControl,
            Requested::Grants(g) => {
                !g.is_empty()
                    && g.iter()
                        .all(|g| *g == grant(Grantee::User(bucket_owner), Permission::FullControl))
            }
        }
    }

    fn is_bucket_owner_full_control(&self) -> bool {
        *self == Requested::Canned(CannedAcl(Canned::BucketOwnerFullControl))
    }
}

fn is_public_grant(g: &Grant) -> bool {
    matches!(g.grantee, Grantee::AllUsers | Grantee::AuthenticatedUsers)
}

/// Grants as stored: `None` for the owner's FULL_CONTROL alone, every record's default.
fn stored_form(grants: Vec<Grant>, owner: CanonicalId) -> Option<Vec<Grant>> {
    (grants != [grant(Grantee::User(owner), Permission::FullControl)]).then_some(grants)
}

fn malformed() -> s3s::S3Error {
    s3_error!(
        MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema."
    )
}

fn malformed_acl() -> s3s::S3Error {
    custom_with(
        "MalformedACLError",
        http::StatusCode::BAD_REQUEST,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

fn not_supported() -> s3s::S3Error {
    custom_with(
        "AccessControlListNotSupported",
        http::StatusCode::BAD_REQUEST,
        "The bucket does not allow ACLs",
    )
}

/// A grantee named by canonical id must be a user of this server.
fn known_id(ident: &Identity, id: &str) -> S3Result<CanonicalId> {
    let invalid = || s3_error!(InvalidArgument, "Invalid id");
    let id = CanonicalId::parse(id).ok_or_else(invalid)?;
    if ident.user_exists(&id)? {
        Ok(id)
    } else {
        Err(invalid())
    }
}

/// An e-mail grantee is the user whose name is that address; AWS resolves addresses to
/// accounts the same way, and stores the account.
fn by_email(ident: &Identity, email: &str) -> S3Result<CanonicalId> {
    ident.user_id_by_name(email)?.ok_or_else(|| {
        custom_with(
            "UnresolvableGrantByEmailAddress",
            http::StatusCode::BAD_REQUEST,
            "The e-mail address you provided does not match any account on record.",
        )
    })
}

/// In the order their grants are shown (Ceph RGW's; AWS documents none).
const GRANT_HEADERS: [(&str, Permission); 5] = [
    ("x-amz-grant-read", Permission::Read),
    ("x-amz-grant-write", Permission::Write),
    ("x-amz-grant-read-acp", Permission::ReadAcp),
    ("x-amz-grant-write-acp", Permission::WriteAcp),
    ("x-amz-grant-full-control", Permission::FullControl),
];

/// The grantees of one `x-amz-grant-*` value: `id="…", uri="…", emailAddress="…"`.
fn parse_grantees(ident: &Identity, value: &str) -> S3Result<Vec<Grantee>> {
    let bad = || s3_error!(InvalidArgument, "Invalid grant header value");
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        // Checked before each lookup: a long header costs no more than 100 of them.
        if out.len() == MAX_GRANTS {
            return Err(too_many_grants());
        }
        let (k, v) = item.split_once('=').ok_or_else(bad)?;
        let v = v.trim().trim_matches('"');
        out.push(match k.trim().to_ascii_lowercase().as_str() {
            "id" => Grantee::User(known_id(ident, v)?),
            "uri" => Grantee::group(v).ok_or_else(|| s3_error!(InvalidArgument, "Invalid group uri"))?,
            "emailaddress" => Grantee::User(by_email(ident, v)?),
            _ => return Err(bad()),
        });
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

/// AWS's limit on the grants of one ACL.
const MAX_GRANTS: usize = 100;

fn too_many_grants() -> s3s::S3Error {
    custom_with(
        "MalformedACLError",
        http::StatusCode::BAD_REQUEST,
        "An ACL may have at most 100 grants",
    )
}

/// The ACL a request's headers ask for (`x-amz-acl` or `x-amz-grant-*`), if any.
pub fn from_headers(ident: &Identity, headers: &HeaderMap) -> S3Result<Option<Requested>> {
    let canned = headers.get("x-amz-acl");
    let mut grants = Vec::new();
    for (name, permission) in GRANT_HEADERS {
        for v in headers.get_all(name) {
            let v = v
                .to_str()
                .map_err(|_| s3_error!(InvalidArgument, "Invalid grant header value"))?;
            for g in parse_grantees(ident, v)? {
                if grants.len() == MAX_GRANTS {
                    return Err(too_many_grants());
                }
                grants.push(grant(g, permission));
            }
        }
    }
    match canned {
        Some(_) if !grants.is_empty() => Err(s3_error!(
            InvalidRequest,
            "Specifying both Canned ACLs and Header Grants is not allowed"
        )),
        Some(c) => {
            let c = c
                .to_str()
                .map_err(|_| s3_error!(InvalidArgument, "The canned ACL is not valid"))?;
            Ok(Some(Requested::Canned(CannedAcl(Canned::parse(c)?))))
        }
        None if grants.is_empty() => Ok(None),
        None => Ok(Some(Requested::Grants(grants))),
    }
}

/// The ACL of a form upload's `acl` field, as `x-amz-acl` is to PutObject.
pub fn from_form(canned: &str) -> S3Result<Requested> {
    Ok(Requested::Canned(CannedAcl(Canned::parse(canned)?)))
}

/// The ACL of an AccessControlPolicy body on a resource owned by `owner`.
fn from_body(ident: &Identity, p: &AccessControlPolicy, owner: CanonicalId) -> S3Result<Requested> {
    let named = p
        .owner
        .as_ref()
        .and_then(|o| o.id.as_deref())
        .ok_or_else(malformed_acl)?;
    if CanonicalId::parse(named) != Some(owner) {
        return Err(s3_error!(
            AccessDenied,
            "The owner in the ACL is not the resource's owner."
        ));
    }
    if p.grants.as_ref().is_some_and(|g| g.len() > MAX_GRANTS) {
        return Err(too_many_grants());
    }
    let mut out = Vec::new();
    for g in p.grants.iter().flatten() {
        let permission = g
            .permission
            .as_ref()
            .and_then(|p| Permission::parse(p.as_str()))
            .ok_or_else(malformed_acl)?;
        let e = g.grantee.as_ref().ok_or_else(malformed_acl)?;
        let grantee = match e.type_.as_str() {
            dto::Type::CANONICAL_USER => Grantee::User(known_id(ident, e.id.as_deref().ok_or_else(malformed_acl)?)?),
            dto::Type::GROUP => Grantee::group(e.uri.as_deref().ok_or_else(malformed_acl)?)
                .ok_or_else(|| s3_error!(InvalidArgument, "Invalid group uri"))?,
            dto::Type::AMAZON_CUSTOMER_BY_EMAIL => {
                Grantee::User(by_email(ident, e.email_address.as_deref().ok_or_else(malformed_acl)?)?)
            }
            _ => return Err(malformed_acl()),
        };
        out.push(grant(grantee, permission));
    }
    Ok(Requested::Grants(out))
}

/// The ACL a Put*Acl request asks for: headers or a body, not both, and one of them.
fn requested(
    ident: &Identity,
    headers: &HeaderMap,
    body: Option<&AccessControlPolicy>,
    owner: CanonicalId,
) -> S3Result<Requested> {
    match (from_headers(ident, headers)?, body) {
        (Some(_), Some(_)) => Err(s3_error!(UnexpectedContent, "This request does not support content")),
        (Some(r), None) => Ok(r),
        (None, Some(p)) => from_body(ident, p, owner),
        (None, None) => Err(s3_error!(
            MissingSecurityHeader,
            "Your request was missing a required header"
        )),
    }
}

/// What a bucket's settings say about ACLs: its ownership, its ACL, and Block Public
/// Access's two ACL flags. Part of the rules `auth` caches by settings stamp.
#[derive(Debug, Clone, Default)]
pub struct AclRules {
    pub ownership: Ownership,
    /// The bucket's grants; `None`: its owner's FULL_CONTROL alone.
    pub grants: Option<std::sync::Arc<[Grant]>>,
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
}

/// The ACL permission an action needs on a bucket, if an ACL can grant it.
fn bucket_permission(action: &str) -> Option<Permission> {
    Some(match action {
        "s3:ListBucket" | "s3:ListBucketVersions" | "s3:ListBucketMultipartUploads" => Permission::Read,
        "s3:PutObject" | "s3:DeleteObject" => Permission::Write,
        "s3:GetBucketAcl" => Permission::ReadAcp,
        "s3:PutBucketAcl" => Permission::WriteAcp,
        _ => return None,
    })
}

/// The ACL permission an action needs on an object version, if an ACL can grant it.
pub fn object_permission(action: &str) -> Option<Permission> {
    Some(match action {
        "s3:GetObject" | "s3:GetObjectVersion" => Permission::Read,
        "s3:GetObjectAcl" | "s3:GetObjectVersionAcl" => Permission::ReadAcp,
        "s3:PutObjectAcl" | "s3:PutObjectVersionAcl" => Permission::WriteAcp,
        _ => return None,
    })
}

/// Whether `grants` give `who` (`None`: anonymous) `needed`. Public grants count for
/// nobody under IgnorePublicAcls.
pub fn grants_allow(grants: &[Grant], who: Option<&CanonicalId>, needed: Permission, ignore_public: bool) -> bool {
    grants.iter().any(|g| {
        (g.permission == needed || g.permission == Permission::FullControl)
            && match g.grantee {
                Grantee::User(id) => who == Some(&id),
                Grantee::AllUsers => !ignore_public,
                Grantee::AuthenticatedUsers => !ignore_public && who.is_some(),
                Grantee::LogDelivery => false,
            }
    })
}

/// Whether the bucket's ACL grants `action` to the context's principal.
pub fn bucket_allows(ctx: &RequestContext, action: &str) -> bool {
    let rules = &ctx.rules.acl;
    if !rules.ownership.acls_enabled() {
        return false;
    }
    let (Some(needed), Some(grants)) = (bucket_permission(action), &rules.grants) else {
        return false;
    };
    let who = match &ctx.principal {
        Principal::User(c) => Some(&c.canonical_user_id),
        Principal::Anonymous => None,
    };
    grants_allow(grants, who, needed, rules.ignore_public_acls)
}

/// The owner and ACL of a version a request writes: under BucketOwnerEnforced the bucket's
/// owner and no ACL beyond it (an ACL that grants more is refused); with ACLs enabled the
/// writer owns it (unless BucketOwnerPreferred and `bucket-owner-full-control`, or an
/// anonymous writer: the bucket's owner), and the ACL asked for is laid on it.
pub fn for_write(
    ctx: &RequestContext,
    asked: Option<&Requested>,
) -> S3Result<(Option<CanonicalId>, Option<Vec<Grant>>)> {
    let rules = &ctx.rules.acl;
    let Some(bucket) = &ctx.bucket else {
        return Err(s3_error!(NoSuchBucket));
    };
    if !rules.ownership.acls_enabled() {
        // The bucket owner writing `private` asks for what it gets anyway: its own FULL_CONTROL
        // alone. AWS takes that from the owning account (rclone sends it on every upload);
        // from anyone else only `bucket-owner-full-control`.
        let owner_writes_private = |r: &Requested| {
            matches!(&ctx.principal, Principal::User(c) if c.canonical_user_id == bucket.owner)
                && r.grants(bucket.owner, bucket.owner) == [grant(Grantee::User(bucket.owner), Permission::FullControl)]
        };
        return match asked {
            Some(r) if !r.bucket_owner_full_control(bucket.owner) && !owner_writes_private(r) => Err(not_supported()),
            _ => Ok((None, None)),
        };
    }
    if rules.block_public_acls && asked.is_some_and(Requested::is_public) {
        return Err(s3_error!(AccessDenied, "Public ACLs are blocked for this bucket."));
    }
    let writer = match &ctx.principal {
        Principal::User(c) => c.canonical_user_id,
        Principal::Anonymous => bucket.owner,
    };
    let preferred = rules.ownership == Ownership::BucketOwnerPreferred
        && asked.is_some_and(Requested::is_bucket_owner_full_control);
    let owner = if preferred { bucket.owner } else { writer };
    let acl = asked.and_then(|r| stored_form(r.grants(owner, bucket.owner), owner));
    Ok(((owner != bucket.owner).then_some(owner), acl))
}

/// The owner, ACL, tags (`x-amz-tagging`) and website redirect that PutObject, CopyObject and
/// CreateMultipartUpload lay on the version they write: checked before the body is read,
/// kept for the operation.
#[derive(Debug, Clone, Default)]
pub struct WriteAccess {
    pub owner: Option<CanonicalId>,
    pub acl: Option<Vec<Grant>>,
    pub tags: crate::tagging::Tags,
    /// `x-amz-website-redirect-location`, checked.
    pub website_redirect: Option<String>,
}

/// What `S3Access` decided for the version a request writes.
pub fn write_access<T>(req: &S3Request<T>) -> WriteAccess {
    req.extensions.get::<WriteAccess>().cloned().unwrap_or_default()
}

/// The settings a CreateBucket asks for: its object ownership (`x-amz-object-ownership`)
/// and ACL. An ACL beyond the owner's needs ACLs enabled, as on AWS.
pub fn for_new_bucket(
    c: &Coffer,
    headers: &HeaderMap,
    ownership: Option<&ObjectOwnership>,
    owner: CanonicalId,
) -> S3Result<Vec<coffer_store::settings::SettingRow>> {
    let ownership = ownership
        .map(Ownership::parse)
        .transpose()?
        .unwrap_or(c.config.default_ownership);
    let asked = from_headers(&c.identity, headers)?;
    let mut rows = Vec::new();
    if ownership.acls_enabled() {
        rows.push((SettingKind::Ownership, coffer_store::settings::encode(&ownership)));
        if let Some(acl) = asked.and_then(|r| stored_form(r.grants(owner, owner), owner)) {
            rows.push((SettingKind::Acl, coffer_store::settings::encode(&acl)));
        }
    } else if asked.is_some_and(|r| !r.owner_only(owner)) {
        return Err(custom_with(
            "InvalidBucketAclWithObjectOwnership",
            http::StatusCode::BAD_REQUEST,
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
        ));
    }
    Ok(rows)
}

/// The owner of the bucket a request addresses, from its context (or the store, for
/// requests that have none).
pub fn bucket_owner<T>(c: &Coffer, req: &S3Request<T>, bucket: &str) -> S3Result<CanonicalId> {
    if let Some(b) = crate::ctx::known_bucket(req) {
        return Ok(b.owner);
    }
    Ok(c.store
        .bucket(bucket)
        .s3()?
        .ok_or_else(|| s3_error!(NoSuchBucket))?
        .owner)
}

/// Whether the bucket a request addresses has ACLs enabled.
pub fn acls_enabled<T>(req: &S3Request<T>) -> bool {
    RequestContext::of(req).is_some_and(|c| c.rules.acl.ownership.acls_enabled())
}

/// Owners of listed versions as S3 shows them: the bucket's, or the writer's where ACLs
/// let a writer own what it wrote (with ACLs disabled the bucket's owner owns everything,
/// whoever wrote it before); each looked up once per listing.
pub struct Owners<'a> {
    c: &'a Coffer,
    bucket_owner: CanonicalId,
    acls: bool,
    shown: std::collections::HashMap<CanonicalId, dto::Owner>,
}

impl<'a> Owners<'a> {
    pub fn new(c: &'a Coffer, bucket_owner: CanonicalId, acls: bool) -> Self {
        Owners {
            c,
            bucket_owner,
            acls,
            shown: std::collections::HashMap::new(),
        }
    }

    pub fn of(&mut self, owner: Option<CanonicalId>) -> dto::Owner {
        let id = owner.filter(|_| self.acls).unwrap_or(self.bucket_owner);
        let c = self.c;
        self.shown.entry(id).or_insert_with(|| c.identity.owner_of(&id)).clone()
    }
}

/// An ACL as S3 shows it.
fn show(c: &Coffer, owner: &CanonicalId, grants: Option<&[Grant]>) -> (dto::Owner, dto::Grants) {
    let default = [grant(Grantee::User(*owner), Permission::FullControl)];
    let grants = grants.unwrap_or(&default);
    let shown = grants
        .iter()
        .map(|g| dto::Grant {
            grantee: Some(match g.grantee {
                Grantee::User(id) => {
                    let o = c.identity.owner_of(&id);
                    dto::Grantee {
                        display_name: o.display_name,
                        email_address: None,
                        id: o.id,
                        type_: dto::Type::from_static(dto::Type::CANONICAL_USER),
                        uri: None,
                    }
                }
                group => dto::Grantee {
                    display_name: None,
                    email_address: None,
                    id: None,
                    type_: dto::Type::from_static(dto::Type::GROUP),
                    uri: group.uri().map(str::to_owned),
                },
            }),
            permission: Some(dto::Permission::from(g.permission.as_str().to_owned())),
        })
        .collect();
    (c.identity.owner_of(owner), shown)
}

fn rules<T>(req: &S3Request<T>) -> S3Result<(&coffer_store::BucketRecord, &AclRules)> {
    let ctx = RequestContext::of(req).ok_or_else(|| s3_error!(AccessDenied))?;
    let b = ctx.bucket.as_ref().ok_or_else(|| s3_error!(NoSuchBucket))?;
    Ok((b, &ctx.rules.acl))
}

pub async fn get_bucket_acl(
    c: &Coffer,
    req: S3Request<dto::GetBucketAclInput>,
) -> S3Result<S3Response<dto::GetBucketAclOutput>> {
    let (b, rules) = rules(&req)?;
    let grants = rules.grants.as_deref().filter(|_| rules.ownership.acls_enabled());
    let (owner, grants) = show(c, &b.owner, grants);
    Ok(S3Response::new(dto::GetBucketAclOutput {
        owner: Some(owner),
        grants: Some(grants),
    }))
}

pub async fn put_bucket_acl(
    c: &Coffer,
    req: S3Request<dto::PutBucketAclInput>,
) -> S3Result<S3Response<dto::PutBucketAclOutput>> {
    let (b, rules) = rules(&req)?;
    let asked = requested(
        &c.identity,
        &req.headers,
        req.input.access_control_policy.as_ref(),
        b.owner,
    );
    if !rules.ownership.acls_enabled() {
        // Whatever else is wrong with it, an ACL here is refused for the one reason.
        return match asked {
            Ok(r) if r.bucket_owner_full_control(b.owner) => Ok(S3Response::new(dto::PutBucketAclOutput {})),
            _ => Err(not_supported()),
        };
    }
    let asked = asked?;
    if rules.block_public_acls && asked.is_public() {
        return Err(s3_error!(AccessDenied, "Public ACLs are blocked for this bucket."));
    }
    let bucket = &req.input.bucket;
    match stored_form(asked.grants(b.owner, b.owner), b.owner) {
        Some(g) => c.store.put_bucket_setting(bucket, SettingKind::Acl, &g).await.s3()?,
        None => c.store.delete_bucket_setting(bucket, SettingKind::Acl).await.s3()?,
    }
    Ok(S3Response::new(dto::PutBucketAclOutput {}))
}

pub async fn get_object_acl(
    c: &Coffer,
    req: S3Request<dto::GetObjectAclInput>,
) -> S3Result<S3Response<dto::GetObjectAclOutput>> {
    let (b, rules) = rules(&req)?;
    let input = &req.input;
    let rec = crate::ctx::read_version(&c.store, &req, &input.bucket, &input.key, input.version_id.as_deref())?;
    // With ACLs disabled the bucket's owner owns every object, and the stored ACL is dormant.
    let (owner, grants) = match rules.ownership.acls_enabled() {
        true => (rec.owner.unwrap_or(b.owner), rec.acl.as_deref()),
        false => (b.owner, None),
    };
    let (owner, grants) = show(c, &owner, grants);
    Ok(S3Response::new(dto::GetObjectAclOutput {
        owner: Some(owner),
        grants: Some(grants),
        request_charged: None,
    }))
}

pub async fn put_object_acl(
    c: &Coffer,
    req: S3Request<dto::PutObjectAclInput>,
) -> S3Result<S3Response<dto::PutObjectAclOutput>> {
    let (b, rules) = rules(&req)?;
    let (bucket_owner, rules) = (b.owner, rules.clone());
    let input = &req.input;
    let rec = crate::ctx::read_version(&c.store, &req, &input.bucket, &input.key, input.version_id.as_deref())?;
    if !rules.ownership.acls_enabled() {
        let asked = requested(
            &c.identity,
            &req.headers,
            input.access_control_policy.as_ref(),
            bucket_owner,
        );
        return match asked {
            Ok(r) if r.bucket_owner_full_control(bucket_owner) => {
                Ok(S3Response::new(dto::PutObjectAclOutput { request_charged: None }))
            }
            _ => Err(not_supported()),
        };
    }
    let owner = rec.owner.unwrap_or(bucket_owner);
    let asked = requested(&c.identity, &req.headers, input.access_control_policy.as_ref(), owner)?;
    if rules.block_public_acls && asked.is_public() {
        return Err(s3_error!(AccessDenied, "Public ACLs are blocked for this bucket."));
    }
    // The ACL lands on the version that was checked, or nowhere: an overwrite since (by
    // someone else, with other owners and grants) makes it a conflict to retry.
    let checked = rec.sort;
    c.store
        .update_version(&input.bucket, &input.key, input.version_id.as_deref(), move |v| {
            if v.sort != checked {
                return Err(coffer_store::StoreError::ConditionalConflict);
            }
            let owner = v.owner.unwrap_or(bucket_owner);
            v.acl = stored_form(asked.grants(owner, bucket_owner), owner);
            Ok(())
        })
        .await
        .s3()?;
    Ok(S3Response::new(dto::PutObjectAclOutput { request_charged: None }))
}

pub async fn get_bucket_ownership_controls(
    _c: &Coffer,
    req: S3Request<dto::GetBucketOwnershipControlsInput>,
) -> S3Result<S3Response<dto::GetBucketOwnershipControlsOutput>> {
    let (_, rules) = rules(&req)?;
    let o = rules.ownership.as_str().ok_or_else(|| {
        custom_with(
            "OwnershipControlsNotFoundError",
            http::StatusCode::NOT_FOUND,
            "The bucket ownership controls were not found",
        )
    })?;
    Ok(S3Response::new(dto::GetBucketOwnershipControlsOutput {
        ownership_controls: Some(dto::OwnershipControls {
            rules: vec![dto::OwnershipControlsRule {
                object_ownership: ObjectOwnership::from_static(o),
            }],
        }),
    }))
}

pub async fn put_bucket_ownership_controls(
    c: &Coffer,
    req: S3Request<dto::PutBucketOwnershipControlsInput>,
) -> S3Result<S3Response<dto::PutBucketOwnershipControlsOutput>> {
    let (_, rules) = rules(&req)?;
    let [rule] = req.input.ownership_controls.rules.as_slice() else {
        return Err(malformed());
    };
    let o = Ownership::parse(&rule.object_ownership)?;
    // As on AWS: ACLs cannot be disabled while a bucket ACL grants anyone but the owner
    // (a stored ACL is one that does: the owner's alone is stored as none).
    if o == Ownership::BucketOwnerEnforced && rules.grants.is_some() {
        return Err(custom_with(
            "InvalidBucketAclWithObjectOwnership",
            http::StatusCode::BAD_REQUEST,
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
        ));
    }
    let bucket = &req.input.bucket;
    if o == Ownership::BucketOwnerEnforced {
        c.store
            .delete_bucket_setting(bucket, SettingKind::Ownership)
            .await
            .s3()?;
    } else {
        c.store
            .put_bucket_setting(bucket, SettingKind::Ownership, &o)
            .await
            .s3()?;
    }
    Ok(S3Response::new(dto::PutBucketOwnershipControlsOutput {}))
}

pub async fn delete_bucket_ownership_controls(
    c: &Coffer,
    req: S3Request<dto::DeleteBucketOwnershipControlsInput>,
) -> S3Result<S3Response<dto::DeleteBucketOwnershipControlsOutput>> {
    rules(&req)?;
    c.store
        .put_bucket_setting(&req.input.bucket, SettingKind::Ownership, &Ownership::Unset)
        .await
        .s3()?;
    Ok(S3Response::with_status(
        dto::DeleteBucketOwnershipControlsOutput {},
        http::StatusCode::NO_CONTENT,
    ))
}
