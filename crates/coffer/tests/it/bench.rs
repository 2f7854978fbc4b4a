//! `coffer bench` against a real server: a short put and get run must complete every
//! operation without errors and clean up after itself (what CI checks of the load tool).

use std::process::Command;

use crate::common::{ROOT_KEY, ROOT_SECRET, Server};

fn bench(server: &Server, args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .arg("bench")
        .args(args)
        .args(["--endpoint", &server.endpoint(), "--bucket", "bench-it", "--json"])
        .env("COFFER_ACCESS_KEY_ID", ROOT_KEY)
        .env("COFFER_SECRET_ACCESS_KEY", ROOT_SECRET)
        .output()
        .expect("run coffer bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "coffer bench {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[tokio::test]
async fn put_and_get_runs_count_ops_without_errors() {
    let server = Server::start();
    for scenario in ["put", "get"] {
        let r = bench(
            &server,
            &[scenario, "--count", "200", "--concurrency", "4", "--objects", "20"],
        );
        assert_eq!(r["ops"], 200, "{scenario}: {r:#}");
        assert_eq!(r["errors"], 0, "{scenario}: {r:#}");
        assert_eq!(r["by_op"][0]["op"], scenario.to_uppercase(), "{scenario}: {r:#}");
        assert_eq!(r["bytes"], 200 * 4096, "{scenario}: {r:#}");
        assert!(r["latency_ms"]["p50"].as_f64().unwrap() > 0.0, "{scenario}: {r:#}");
    }
    // The bucket was created by the first run and removed with its objects afterwards.
    let err = server.client().head_bucket().bucket("bench-it").send().await;
    assert!(err.is_err(), "bench left its bucket behind");
}
