//! Policy documents from anywhere: parsing never panics, and a parsed policy decides any
//! request without panicking, with deny beating allow.

#![no_main]

use arbitrary::Arbitrary;
use coffer_iam::{Attached, Context, Decision, Policy, Request, Who};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    policy: &'a [u8],
    user: bool,
    action: &'a str,
    resource: &'a str,
    keys: Vec<(&'a str, Vec<&'a str>)>,
}

fuzz_target!(|input: Input<'_>| {
    for attached in [Attached::Bucket("b"), Attached::User] {
        let Ok(policy) = Policy::parse(input.policy, attached) else {
            continue;
        };
        let mut ctx = Context::default();
        for (k, v) in &input.keys {
            ctx.set_all(k, v.iter().map(|s| (*s).to_owned()).collect());
        }
        let who = if input.user {
            Who::User {
                name: "alice",
                canonical_id: &[0xaa; 32],
                root: false,
            }
        } else {
            Who::Anonymous
        };
        let d = policy.evaluate(&Request {
            who,
            action: input.action,
            resource: input.resource,
            context: &ctx,
        });
        // A policy whose every statement denies can never allow.
        if policy.statements.iter().all(|s| s.effect == coffer_iam::Effect::Deny) {
            assert_ne!(d, Decision::Allow);
        }
    }
});
