//! Object lock rules: what retention and legal hold forbid, in one place beside the data
//! they guard. The S3 front maps the errors; the rules need no server to be tested.

use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
use crate::model::{ObjectRecord, Retention};

/// A retention mode. The variant order is part of the record format: never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LockMode {
    /// Yields to `x-amz-bypass-governance-retention`.
    Governance,
    /// Yields to nothing until it expires; may only be lengthened.
    Compliance,
}

impl LockMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Governance => "GOVERNANCE",
            LockMode::Compliance => "COMPLIANCE",
        }
    }

    /// From S3's name for it.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "GOVERNANCE" => Some(LockMode::Governance),
            "COMPLIANCE" => Some(LockMode::Compliance),
            _ => None,
        }
    }
}

/// Whether `v` may be removed at `now_ms`: not under legal hold, and its retention expired
/// or GOVERNANCE with `bypass`.
pub fn check_delete(v: &ObjectRecord, bypass: bool, now_ms: i64) -> StoreResult<()> {
    if v.legal_hold {
        return Err(StoreError::ObjectLocked);
    }
    match &v.retention {
        Some(r) if r.until_ms > now_ms && !(bypass && r.mode == LockMode::Governance) => Err(StoreError::ObjectLocked),
        _ => Ok(()),
    }
}

/// Whether a version's retention may change from `old` to `new` at `now_ms`. An expired
/// retention may change freely. A live one may always be lengthened in its own mode;
/// shortened, removed or given another mode only when GOVERNANCE with `bypass` (COMPLIANCE
/// never yields, and GOVERNANCE turns COMPLIANCE only with the right to bypass it, as on
/// AWS).
pub fn check_retention_change(
    old: Option<&Retention>,
    new: Option<&Retention>,
    bypass: bool,
    now_ms: i64,
) -> StoreResult<()> {
    let Some(old) = old.filter(|r| r.until_ms > now_ms) else {
        return Ok(());
    };
    let weaker = match new {
        None => true,
        Some(n) => n.until_ms < old.until_ms || n.mode != old.mode,
    };
    if weaker && (old.mode == LockMode::Compliance || !bypass) {
        return Err(StoreError::ObjectLocked);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use LockMode::{Compliance, Governance};

    const NOW: i64 = 1_000;

    fn ret(mode: LockMode, until_ms: i64) -> Retention {
        Retention { mode, until_ms }
    }

    #[test]
    fn retention_changes_follow_the_mode() {
        // (old, new, bypass) -> allowed
        let cases = [
            (None, Some(ret(Compliance, 2_000)), false, true),
            (Some(ret(Governance, 2_000)), Some(ret(Governance, 3_000)), false, true),
            (Some(ret(Governance, 2_000)), Some(ret(Governance, 1_500)), false, false),
            (Some(ret(Governance, 2_000)), Some(ret(Governance, 1_500)), true, true),
            (Some(ret(Governance, 2_000)), None, false, false),
            (Some(ret(Governance, 2_000)), None, true, true),
            (Some(ret(Governance, 2_000)), Some(ret(Compliance, 2_000)), false, false),
            (Some(ret(Governance, 2_000)), Some(ret(Compliance, 3_000)), true, true),
            (Some(ret(Compliance, 2_000)), Some(ret(Compliance, 3_000)), false, true),
            (Some(ret(Compliance, 2_000)), Some(ret(Compliance, 1_500)), true, false),
            (Some(ret(Compliance, 2_000)), Some(ret(Governance, 3_000)), true, false),
            (Some(ret(Compliance, 2_000)), None, true, false),
            // Expired: anything goes.
            (Some(ret(Compliance, 500)), None, false, true),
        ];
        for (i, (old, new, bypass, ok)) in cases.into_iter().enumerate() {
            assert_eq!(
                check_retention_change(old.as_ref(), new.as_ref(), bypass, NOW).is_ok(),
                ok,
                "case {i}: {old:?} -> {new:?}, bypass {bypass}"
            );
        }
    }

    #[test]
    fn deletes_yield_only_to_expiry_or_governance_bypass() {
        let mut v = ObjectRecord {
            version_id: None,
            sort: 0,
            delete_marker: false,
            size: 0,
            etag: String::new(),
            md5: [0; 16],
            crc32c: None,
            last_modified_ms: 0,
            data: crate::DataRef::Empty,
            meta: crate::ObjectMeta::default(),
            retention: None,
            legal_hold: false,
            owner: None,
            acl: None,
            tags: Vec::new(),
            website_redirect: None,
            sse: None,
        };
        // (retention, legal hold, bypass) -> allowed
        let cases = [
            (None, false, false, true),
            (None, true, true, false),
            (Some(ret(Governance, 2_000)), false, false, false),
            (Some(ret(Governance, 2_000)), false, true, true),
            (Some(ret(Compliance, 2_000)), false, true, false),
            (Some(ret(Compliance, 500)), false, false, true),
            (Some(ret(Governance, 500)), true, true, false),
        ];
        for (i, (retention, hold, bypass, ok)) in cases.into_iter().enumerate() {
            v.retention = retention;
            v.legal_hold = hold;
            assert_eq!(check_delete(&v, bypass, NOW).is_ok(), ok, "case {i}");
        }
    }
}
