//! Policy documents: the JSON grammar AWS accepts for S3 bucket policies and identity
//! policies, checked when a policy is stored so that evaluation never meets a bad one.

use serde_json::{Map, Value};

use crate::action;
use crate::arn::Pattern;
use crate::condition::{self, Condition, Keys};

/// AWS's limit for a bucket policy.
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

/// Why a policy was refused: S3 answers `MalformedPolicy` with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl PolicyError {
    pub fn new(msg: impl Into<String>) -> Self {
        PolicyError(msg.into())
    }
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

/// Where a policy is attached, which decides whether it names principals.
#[derive(Debug, Clone, Copy)]
pub enum Attached<'a> {
    /// A bucket policy: every statement names its principals, and its resources lie in
    /// this bucket.
    Bucket(&'a str),
    /// A user's policy: it applies to its user and names no principal.
    User,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// A principal as a policy names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalId {
    /// `"*"`: everyone, anonymous included.
    Anyone,
    /// An account (`123456789012`, `arn:aws:iam::123456789012:root`): coffer is one
    /// account, whose root is the server's root user.
    Account,
    /// `arn:aws:iam::<account>:user/<name>`.
    User(String),
    /// `{"CanonicalUser": "<64 hex>"}`.
    Canonical([u8; 32]),
    /// A service or federated principal: valid, and never coffer's caller.
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    /// `None` in a user's policy; `Some((ids, true))` for `NotPrincipal`.
    principal: Option<(Vec<PrincipalId>, bool)>,
    actions: (Vec<Pattern>, bool),
    resources: (Vec<Pattern>, bool),
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

/// Who is asking, as a policy names principals.
#[derive(Debug, Clone, Copy)]
pub enum Who<'a> {
    Anonymous,
    User {
        name: &'a str,
        canonical_id: &'a [u8; 32],
        root: bool,
    },
}

/// What a statement is asked about.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    pub who: Who<'a>,
    /// `s3:GetObject`.
    pub action: &'a str,
    /// `arn:aws:s3:::bucket/key`, or `*` for the service.
    pub resource: &'a str,
    /// The request's condition keys (and policy variables).
    pub context: &'a dyn Keys,
}

/// What a policy says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A statement denies it: nothing else can allow it.
    Deny,
    Allow,
    /// No statement applies.
    Silent,
}

impl Policy {
    pub fn parse(text: &[u8], attached: Attached<'_>) -> Result<Policy, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::new("Policy exceeds the maximum allowed document size."));
        }
        let v: Value =
            serde_json::from_slice(text).map_err(|_| PolicyError::new("This policy contains invalid Json"))?;
        let top = v
            .as_object()
            .ok_or_else(|| PolicyError::new("Policies must be valid JSON and the first byte must be '{'"))?;
        only(top, &["Version", "Id", "Statement"])?;
        let variables = match top.get("Version") {
            None => false,
            Some(Value::String(v)) if v == "2012-10-17" => true,
            Some(Value::String(v)) if v == "2008-10-17" => false,
            Some(_) => return Err(PolicyError::new("The policy must contain a valid version string")),
        };
        let id = match top.get("Id") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(PolicyError::new("Id must be a string")),
        };
        let statements = match top.get("Statement") {
            Some(Value::Array(a)) if !a.is_empty() => a.iter().collect::<Vec<_>>(),
            Some(o @ Value::Object(_)) => vec![o],
            _ => return Err(PolicyError::new("Missing required field Statement")),
        };
        let statements = statements
            .into_iter()
            .map(|s| statement(s, attached, variables))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Policy { id, statements })
    }

    /// Deny if any statement that applies denies, else Allow if any allows.
    pub fn evaluate(&self, req: &Request<'_>) -> Decision {
        let mut buf = [0u8; 64];
        let action = match req.action.as_bytes() {
            b if b.len() <= buf.len() => {
                buf[..b.len()].copy_from_slice(b);
                buf[..b.len()].make_ascii_lowercase();
                std::str::from_utf8(&buf[..b.len()]).unwrap_or(req.action)
            }
            // No S3 action is this long; it matches only `*`-style patterns either way.
            _ => req.action,
        };
        let mut allowed = false;
        for s in &self.statements {
            if (s.effect == Effect::Allow && allowed) || !s.applies(req, action) {
                continue;
            }
            match s.effect {
                Effect::Deny => return Decision::Deny,
                Effect::Allow => allowed = true,
            }
        }
        if allowed { Decision::Allow } else { Decision::Silent }
    }

    /// Whether the policy is public as S3 means it (GetBucketPolicyStatus,
    /// BlockPublicPolicy, RestrictPublicBuckets): a statement allows everyone (`"*"`, or a
    /// `NotPrincipal`, which leaves everyone else) unless a condition pins a key that
    /// identifies the caller's network or organisation to fixed values.
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(|s| {
            let everyone = match &s.principal {
                Some((ids, false)) => ids.contains(&PrincipalId::Anyone),
                Some((_, true)) => true,
                None => false,
            };
            s.effect == Effect::Allow && everyone && !s.conditions.iter().any(Condition::pins_caller)
        })
    }
}

impl Statement {
    /// Whether the statement applies; `action` is the request's, lower-cased.
    fn applies(&self, req: &Request<'_>, action: &str) -> bool {
        let (actions, not_action) = &self.actions;
        if actions.iter().any(|p| p.matches(action, false, req.context)) == *not_action {
            return false;
        }
        let (resources, not_resource) = &self.resources;
        if resources.iter().any(|p| p.matches(req.resource, false, req.context)) == *not_resource {
            return false;
        }
        if let Some((ids, not)) = &self.principal
            && ids.iter().any(|id| names(id, req.who)) == *not
        {
            return false;
        }
        self.conditions.iter().all(|c| c.holds(req.context))
    }
}

fn names(id: &PrincipalId, who: Who<'_>) -> bool {
    match (id, who) {
        (PrincipalId::Anyone, _) => true,
        (_, Who::Anonymous) | (PrincipalId::Other, _) => false,
        (PrincipalId::Account, Who::User { root, .. }) => root,
        (PrincipalId::User(n), Who::User { name, .. }) => n == name,
        (PrincipalId::Canonical(c), Who::User { canonical_id, .. }) => c == canonical_id,
    }
}

fn only(obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), PolicyError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(PolicyError::new(format!("Unknown field {k}"))),
        None => Ok(()),
    }
}

/// A string or a non-empty list of strings.
fn strings<'v>(v: &'v Value, field: &str) -> Result<Vec<&'v str>, PolicyError> {
    let bad = || PolicyError::new(format!("{field} must be a string or a list of strings"));
    match v {
        Value::String(s) => Ok(vec![s]),
        Value::Array(a) if !a.is_empty() => a.iter().map(|v| v.as_str().ok_or_else(bad)).collect(),
        _ => Err(bad()),
    }
}

/// Exactly one of `field` and `Not<field>`.
fn either<'v>(obj: &'v Map<String, Value>, field: &str) -> Result<(&'v Value, bool), PolicyError> {
    match (obj.get(field), obj.get(&format!("Not{field}"))) {
        (Some(v), None) => Ok((v, false)),
        (None, Some(v)) => Ok((v, true)),
        (None, None) => Err(PolicyError::new(format!("Missing required field {field}"))),
        (Some(_), Some(_)) => Err(PolicyError::new(format!(
            "A statement may have {field} or Not{field}, not both"
        ))),
    }
}

fn statement(v: &Value, attached: Attached<'_>, variables: bool) -> Result<Statement, PolicyError> {
    let obj = v
        .as_object()
        .ok_or_else(|| PolicyError::new("Statement must be an object"))?;
    only(
        obj,
        &[
            "Sid",
            "Effect",
            "Principal",
            "NotPrincipal",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Condition",
        ],
    )?;
    let sid = match obj.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(PolicyError::new("Sid must be a string")),
    };
    let effect = match obj.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(e) => return Err(PolicyError::new(format!("Invalid effect: {e}"))),
        None => return Err(PolicyError::new("Missing required field Effect")),
    };
    let principal = match attached {
        Attached::User => {
            if obj.contains_key("Principal") || obj.contains_key("NotPrincipal") {
                return Err(PolicyError::new("Policy document should not specify a principal."));
            }
            None
        }
        Attached::Bucket(_) => {
            let (v, not) = either(obj, "Principal")?;
            Some((principals(v)?, not))
        }
    };
    let (v, not) = either(obj, "Action")?;
    let actions = strings(v, "Action")?
        .into_iter()
        .map(|a| {
            (action::valid(a) || (matches!(attached, Attached::User) && action::valid_admin(a)))
                // Actions compare without case: kept lower-cased, matched against the
                // request's action lower-cased once per evaluation.
                .then(|| Pattern::new(&a.to_ascii_lowercase(), false))
                .ok_or_else(|| PolicyError::new("Policy has invalid action"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let actions = (actions, not);
    let (v, not) = either(obj, "Resource")?;
    let resources = strings(v, "Resource")?
        .into_iter()
        .map(|r| {
            resource_ok(r, attached)
                .then(|| Pattern::new(r, variables))
                .ok_or_else(|| PolicyError::new("Policy has invalid resource"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let resources = (resources, not);
    let conditions = match obj.get("Condition") {
        Some(c) => condition::parse(c, variables)?,
        None => Vec::new(),
    };
    Ok(Statement {
        sid,
        effect,
        principal,
        actions,
        resources,
        conditions,
    })
}

fn principals(v: &Value) -> Result<Vec<PrincipalId>, PolicyError> {
    let invalid = || PolicyError::new("Invalid principal in policy");
    match v {
        Value::String(s) if s == "*" => Ok(vec![PrincipalId::Anyone]),
        Value::Object(m) if !m.is_empty() => {
            let mut out = Vec::new();
            for (kind, ids) in m {
                for id in strings(ids, "Principal").map_err(|_| invalid())? {
                    out.push(match kind.as_str() {
                        "AWS" => aws_principal(id).ok_or_else(invalid)?,
                        "CanonicalUser" => PrincipalId::Canonical(canonical(id).ok_or_else(invalid)?),
                        "Service" | "Federated" => PrincipalId::Other,
                        _ => return Err(invalid()),
                    });
                }
            }
            Ok(out)
        }
        _ => Err(invalid()),
    }
}

/// 64 hex digits.
fn canonical(id: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if id.len() != 64 {
        return None;
    }
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(id.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn aws_principal(id: &str) -> Option<PrincipalId> {
    let account = |a: &str| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit());
    if id == "*" {
        return Some(PrincipalId::Anyone);
    }
    if account(id) {
        return Some(PrincipalId::Account);
    }
    let rest = id.strip_prefix("arn:aws:iam::")?;
    let (acct, what) = rest.split_once(':')?;
    if !account(acct) {
        return None;
    }
    match what {
        "root" => Some(PrincipalId::Account),
        _ => {
            let name = what.strip_prefix("user/")?;
            // IAM user names may carry a path: the name is its last segment.
            let name = name.rsplit('/').next().filter(|n| !n.is_empty())?;
            Some(PrincipalId::User(name.to_owned()))
        }
    }
}

/// `*`, or an S3 ARN; in a bucket policy, one that can name this bucket or its objects.
fn resource_ok(r: &str, attached: Attached<'_>) -> bool {
    if r == "*" {
        return true;
    }
    let Some(path) = r.strip_prefix("arn:aws:s3:::") else {
        return false;
    };
    match attached {
        Attached::User => !path.is_empty(),
        Attached::Bucket(bucket) => {
            let b = path.split('/').next().unwrap_or_default();
            crate::arn::wild(b, bucket, false)
        }
    }
}
