//! The Condition element: operators, their `IfExists` and set (`ForAnyValue:`,
//! `ForAllValues:`) forms, and the request context their keys are looked up in.
//!
//! The rules, as the IAM reference states them: a key absent from the request makes a
//! condition false, except that a negated operator (`StringNotEquals`, `NotIpAddress`, ...)
//! is then true, `...IfExists` is true, `ForAllValues:` is true and `Null` tests exactly
//! that. Several values for one key match if any does (for a negated operator: if none
//! does); several keys, and several operators, must all hold.

use std::net::IpAddr;

use serde_json::Value;

use crate::arn::Pattern;
use crate::policy::PolicyError;

/// Where a condition finds the request's values of its keys. Key names compare without
/// case. A server answers only the keys a policy asks for, so a request pays for no key
/// its bucket's policy does not test.
pub trait Keys {
    fn get(&self, key: &str) -> Option<Vec<String>>;
}

/// Condition keys given up front, as a map.
#[derive(Debug, Clone, Default)]
pub struct Context {
    values: Vec<(String, Vec<String>)>,
}

impl Context {
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.set_all(key, vec![value.into()]);
    }

    pub fn set_all(&mut self, key: &str, values: Vec<String>) {
        let key = key.to_ascii_lowercase();
        match self.values.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = values,
            None => self.values.push((key, values)),
        }
    }
}

impl Keys for Context {
    fn get(&self, key: &str) -> Option<Vec<String>> {
        self.values
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    String { ignore_case: bool, like: bool },
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    AnyValue,
    AllValues,
}

/// A value from the policy, parsed for its operator.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Text(Pattern),
    Number(f64),
    /// Seconds since the epoch.
    Date(f64),
    Bool(bool),
    Net(IpAddr, u8),
}

/// One operator applied to one key.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    family: Family,
    negated: bool,
    if_exists: bool,
    set: Option<SetOp>,
    key: String,
    values: Vec<Operand>,
}

const OPERATORS: &[(&str, Family, bool)] = &[
    (
        "StringEquals",
        Family::String {
            ignore_case: false,
            like: false,
        },
        false,
    ),
    (
        "StringNotEquals",
        Family::String {
            ignore_case: false,
            like: false,
        },
        true,
    ),
    (
        "StringEqualsIgnoreCase",
        Family::String {
            ignore_case: true,
            like: false,
        },
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Family::String {
            ignore_case: true,
            like: false,
        },
        true,
    ),
    (
        "StringLike",
        Family::String {
            ignore_case: false,
            like: true,
        },
        false,
    ),
    (
        "StringNotLike",
        Family::String {
            ignore_case: false,
            like: true,
        },
        true,
    ),
    ("NumericEquals", Family::Numeric(Cmp::Eq), false),
    ("NumericNotEquals", Family::Numeric(Cmp::Eq), true),
    ("NumericLessThan", Family::Numeric(Cmp::Lt), false),
    ("NumericLessThanEquals", Family::Numeric(Cmp::Le), false),
    ("NumericGreaterThan", Family::Numeric(Cmp::Gt), false),
    ("NumericGreaterThanEquals", Family::Numeric(Cmp::Ge), false),
    ("DateEquals", Family::Date(Cmp::Eq), false),
    ("DateNotEquals", Family::Date(Cmp::Eq), true),
    ("DateLessThan", Family::Date(Cmp::Lt), false),
    ("DateLessThanEquals", Family::Date(Cmp::Le), false),
    ("DateGreaterThan", Family::Date(Cmp::Gt), false),
    ("DateGreaterThanEquals", Family::Date(Cmp::Ge), false),
    ("Bool", Family::Bool, false),
    ("BinaryEquals", Family::Binary, false),
    ("IpAddress", Family::Ip, false),
    ("NotIpAddress", Family::Ip, true),
    ("ArnEquals", Family::Arn, false),
    ("ArnLike", Family::Arn, false),
    ("ArnNotEquals", Family::Arn, true),
    ("ArnNotLike", Family::Arn, true),
    ("Null", Family::Null, false),
];

/// The condition keys a policy may test: those coffer answers from a request. A policy
/// naming another is refused rather than stored with a condition that can never hold (or,
/// negated, always holds).
pub const KEYS: &[&str] = &[
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:SecureTransport",
    "aws:SourceIp",
    "aws:PrincipalType",
    "aws:PrincipalArn",
    "aws:username",
    "aws:userid",
    "aws:UserAgent",
    "aws:Referer",
    "s3:signatureversion",
    "s3:authType",
    "s3:prefix",
    "s3:delimiter",
    "s3:max-keys",
    "s3:VersionId",
    "s3:x-amz-acl",
    "s3:x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:x-amz-server-side-encryption-customer-algorithm",
    "s3:x-amz-copy-source",
    "s3:x-amz-metadata-directive",
    "s3:x-amz-content-sha256",
    "s3:x-amz-storage-class",
    "s3:object-lock-mode",
    "s3:object-lock-retain-until-date",
    "s3:object-lock-legal-hold",
    "s3:x-amz-grant-read",
    "s3:x-amz-grant-write",
    "s3:x-amz-grant-read-acp",
    "s3:x-amz-grant-write-acp",
    "s3:x-amz-grant-full-control",
    "s3:RequestObjectTagKeys",
];

/// Keys named by a prefix and a name of the request's choosing.
pub const KEY_PREFIXES: &[&str] = &["s3:RequestObjectTag/", "s3:ExistingObjectTag/"];

fn known_key(key: &str) -> bool {
    KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
        || KEY_PREFIXES
            .iter()
            .any(|p| key.len() > p.len() && key.is_char_boundary(p.len()) && key[..p.len()].eq_ignore_ascii_case(p))
}

/// Keys that, pinned to fixed values, keep an allow-to-everyone statement from being
/// public (S3's "the meaning of public"); of those, coffer answers these.
const PINNING_KEYS: &[&str] = &["aws:SourceIp", "aws:userid", "aws:username"];

/// Parses a statement's `Condition` object: `{operator: {key: value or [values]}}`.
pub fn parse(v: &Value, variables: bool) -> Result<Vec<Condition>, PolicyError> {
    let ops = v
        .as_object()
        .ok_or_else(|| PolicyError::new("Condition must be an object"))?;
    let mut out = Vec::new();
    for (op_name, keys) in ops {
        let (set, rest) = match op_name.split_once(':') {
            Some(("ForAnyValue", r)) => (Some(SetOp::AnyValue), r),
            Some(("ForAllValues", r)) => (Some(SetOp::AllValues), r),
            Some(_) => return Err(invalid_operator(op_name)),
            None => (None, op_name.as_str()),
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) if b != "Null" => (b, true),
            _ => (rest, false),
        };
        let &(_, family, negated) = OPERATORS
            .iter()
            .find(|(n, ..)| *n == base)
            .ok_or_else(|| invalid_operator(op_name))?;
        let keys = keys
            .as_object()
            .ok_or_else(|| PolicyError::new(format!("Condition {op_name} must map keys to values")))?;
        for (key, vals) in keys {
            if !known_key(key) {
                return Err(PolicyError::new(format!("Policy has an invalid condition key: {key}")));
            }
            let vals: Vec<&Value> = match vals {
                Value::Array(a) if !a.is_empty() => a.iter().collect(),
                Value::Array(_) => return Err(PolicyError::new(format!("Condition {op_name} has no value for {key}"))),
                v => vec![v],
            };
            let values = vals
                .into_iter()
                .map(|v| operand(family, v, variables))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| PolicyError::new(format!("Invalid Condition value for {op_name} on {key}")))?;
            out.push(Condition {
                family,
                negated,
                if_exists,
                set,
                key: key.clone(),
                values,
            });
        }
    }
    Ok(out)
}

fn invalid_operator(name: &str) -> PolicyError {
    PolicyError::new(format!("Policy has an invalid condition operator: {name}"))
}

/// A JSON scalar as the string IAM compares (numbers and booleans may be written bare).
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn operand(family: Family, v: &Value, variables: bool) -> Option<Operand> {
    let s = scalar(v)?;
    Some(match family {
        Family::String { .. } | Family::Arn | Family::Binary => Operand::Text(Pattern::new(&s, variables)),
        Family::Numeric(_) => Operand::Number(s.trim().parse().ok()?),
        Family::Date(_) => Operand::Date(date(&s)?),
        Family::Bool | Family::Null => Operand::Bool(match s.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => return None,
        }),
        Family::Ip => {
            let (addr, len) = match s.split_once('/') {
                Some((a, l)) => (a.parse::<IpAddr>().ok()?, l.parse::<u8>().ok()?),
                None => {
                    let a = s.parse::<IpAddr>().ok()?;
                    (a, if a.is_ipv4() { 32 } else { 128 })
                }
            };
            if len > if addr.is_ipv4() { 32 } else { 128 } {
                return None;
            }
            Operand::Net(addr, len)
        }
    })
}

/// ISO 8601 (a date, or a date and time in UTC or with an offset) or epoch seconds.
pub fn date(s: &str) -> Option<f64> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        return Some(n);
    }
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos() as f64 / 1e9);
    }
    let d = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(d.midnight().assume_utc().unix_timestamp() as f64)
}

fn cmp(c: Cmp, a: f64, b: f64) -> bool {
    match c {
        Cmp::Eq => a == b,
        Cmp::Lt => a < b,
        Cmp::Le => a <= b,
        Cmp::Gt => a > b,
        Cmp::Ge => a >= b,
    }
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    // An IPv4-mapped IPv6 peer is its IPv4 address.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

impl Condition {
    /// Whether one value from the request matches any of the policy's values. The value
    /// is parsed once for its operator; one that does not parse matches nothing.
    fn matches_one(&self, v: &str, ctx: &dyn Keys) -> bool {
        let any = |f: &dyn Fn(&Operand) -> bool| self.values.iter().any(f);
        match self.family {
            Family::String {
                ignore_case,
                like: true,
            } => any(&|p| matches!(p, Operand::Text(p) if p.matches(v, ignore_case, ctx))),
            Family::String {
                ignore_case,
                like: false,
            } => any(&|p| matches!(p, Operand::Text(p) if p.literal(ctx).is_some_and(|p| exact(&p, v, ignore_case)))),
            Family::Arn => any(&|p| matches!(p, Operand::Text(p) if p.matches(v, false, ctx))),
            Family::Binary => any(&|p| matches!(p, Operand::Text(p) if p.as_str() == v)),
            Family::Numeric(c) => v
                .trim()
                .parse::<f64>()
                .is_ok_and(|x| any(&|p| matches!(p, Operand::Number(n) if cmp(c, x, *n)))),
            Family::Date(c) => date(v).is_some_and(|x| any(&|p| matches!(p, Operand::Date(d) if cmp(c, x, *d)))),
            Family::Bool => {
                let b = if v.eq_ignore_ascii_case("true") {
                    true
                } else if v.eq_ignore_ascii_case("false") {
                    false
                } else {
                    return false;
                };
                any(&|p| *p == Operand::Bool(b))
            }
            Family::Ip => v
                .parse::<IpAddr>()
                .is_ok_and(|ip| any(&|p| matches!(p, Operand::Net(net, len) if in_net(ip, *net, *len)))),
            Family::Null => false,
        }
    }

    /// Whether this condition limits a statement to callers from fixed addresses or fixed
    /// identities: a positive, exact test (no wildcards, no `/0` network, no IfExists) of a
    /// key in [`PINNING_KEYS`].
    pub fn pins_caller(&self) -> bool {
        let exact = match self.family {
            Family::String { like: false, .. } => self
                .values
                .iter()
                .all(|v| matches!(v, Operand::Text(p) if !p.as_str().contains(['*', '?', '$']))),
            Family::Ip => self
                .values
                .iter()
                .all(|v| matches!(v, Operand::Net(_, len) if *len > 0)),
            _ => false,
        };
        exact
            && !self.negated
            && !self.if_exists
            && self.set != Some(SetOp::AllValues)
            && PINNING_KEYS.iter().any(|k| k.eq_ignore_ascii_case(&self.key))
    }

    pub fn holds(&self, ctx: &dyn Keys) -> bool {
        let present = ctx.get(&self.key).filter(|v| !v.is_empty());
        if self.family == Family::Null {
            let absent = present.is_none();
            return self.values.contains(&Operand::Bool(absent));
        }
        let Some(vals) = &present else {
            return self.if_exists
                || match self.set {
                    Some(SetOp::AllValues) => true,
                    Some(SetOp::AnyValue) => false,
                    None => self.negated,
                };
        };
        let m = |v: &String| self.matches_one(v, ctx) != self.negated;
        match self.set {
            Some(SetOp::AllValues) => vals.iter().all(m),
            // A negated operator on a single-valued key: no value may match.
            None if self.negated => vals.iter().all(m),
            _ => vals.iter().any(m),
        }
    }
}

fn exact(p: &str, v: &str, ignore_case: bool) -> bool {
    if ignore_case { p.eq_ignore_ascii_case(v) } else { p == v }
}
