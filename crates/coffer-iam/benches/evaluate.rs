//! What deciding one request against a 20-statement bucket policy costs, the policy from
//! `scripts/bench-policy-20.json` (as `coffer bench get --bucket-policy` uses it).

use coffer_iam::{Attached, Context, Policy, Request, Who};
use criterion::{Criterion, criterion_group, criterion_main};

fn evaluate(c: &mut Criterion) {
    let text = include_str!("../../../scripts/bench-policy-20.json").replace("{bucket}", "b");
    let policy = Policy::parse(text.as_bytes(), Attached::Bucket("b")).unwrap();
    let mut ctx = Context::default();
    ctx.set("aws:SourceIp", "127.0.0.1");
    let id = [7u8; 32];
    c.bench_function("evaluate 20 statements, owner GET", |bench| {
        bench.iter(|| {
            policy.evaluate(&Request {
                who: Who::User {
                    name: "owner",
                    canonical_id: &id,
                    root: false,
                },
                action: "s3:GetObject",
                resource: "arn:aws:s3:::b/bench-1234/00000042",
                context: &ctx,
            })
        })
    });
}

criterion_group!(benches, evaluate);
criterion_main!(benches);
