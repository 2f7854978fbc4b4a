//! coffer's access policy engine: policy documents (bucket policies and user policies),
//! their conditions, and how they decide a request. Pure: no store, no HTTP, so every rule
//! is tested here and the parser is fuzzed on its own (`fuzz/fuzz_targets/policy.rs`).
//!
//! Evaluation follows AWS's order: an explicit deny in any policy wins; otherwise an allow
//! from any source (the caller's own policies, the bucket's policy, ownership) allows;
//! otherwise the request is denied. [`combine`] is that rule over several policies'
//! decisions.

pub mod action;
pub mod arn;
pub mod builtin;
pub mod condition;
pub mod policy;

pub use condition::{Context, Keys};
pub use policy::{Attached, Decision, Effect, Policy, PolicyError, Request, Who};

/// AWS's order over several sources' decisions: any Deny, else any Allow, else Silent.
pub fn combine(decisions: impl IntoIterator<Item = Decision>) -> Decision {
    let mut out = Decision::Silent;
    for d in decisions {
        match d {
            Decision::Deny => return Decision::Deny,
            Decision::Allow => out = Decision::Allow,
            Decision::Silent => {}
        }
    }
    out
}
