//! `coffer server --config FILE`: flag over environment over file, `--print-config`, and
//! refusals that name the key and the line.

use std::process::Command;

use crate::common::{Server, anonymous, raw_send};

fn coffer() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_coffer"));
    // The test's own environment must not leak settings in.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("COFFER_") {
            c.env_remove(k);
        }
    }
    c
}

/// `coffer server --config FILE --print-config`, for more arguments and variables.
fn print_config(file: &std::path::Path) -> Command {
    let mut c = coffer();
    c.args(["server", "--print-config", "--config"]).arg(file);
    c
}

/// `--print-config`'s line for `key`: its value and source.
fn printed(out: &str, key: &str) -> (String, String) {
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in\n{out}"));
    let (value, source) = line[key.len() + 3..].rsplit_once("  # ").unwrap();
    (value.to_owned(), source.to_owned())
}

#[test]
fn flags_win_over_the_environment_which_wins_over_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("coffer.toml");
    std::fs::write(
        &file,
        "# settings\nregion = \"file-region\"\nmax_connections = 77\nupload_expiry_secs = 3600\n\
         domain = [\"s3.file.test\", \"s3.other.test\"]\nmetrics_token = \"tok-from-file\"\n\
         secret_access_key = \"file-secret\"\naccess_key_id = \"FILEKEY\"\naccess_log = false\n",
    )
    .unwrap();
    let out = print_config(&file)
        .args(["--region", "flag-region"])
        .env("COFFER_REGION", "env-region")
        .env("COFFER_MAX_CONNECTIONS", "88")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = String::from_utf8(out.stdout).unwrap();
    assert_eq!(printed(&out, "region"), ("\"flag-region\"".into(), "flag".into()));
    assert_eq!(printed(&out, "max_connections"), ("88".into(), "environment".into()));
    assert_eq!(printed(&out, "upload_expiry_secs"), ("3600".into(), "file".into()));
    assert_eq!(
        printed(&out, "domain"),
        ("[\"s3.file.test\", \"s3.other.test\"]".into(), "file".into())
    );
    assert_eq!(printed(&out, "access_log"), ("false".into(), "file".into()));
    assert_eq!(printed(&out, "listen"), ("\"127.0.0.1:9000\"".into(), "default".into()));
    assert_eq!(printed(&out, "access_key_id"), ("\"FILEKEY\"".into(), "file".into()));
    // Secrets are masked, wherever they came from.
    assert_eq!(printed(&out, "metrics_token").0, "\"********\"");
    assert_eq!(printed(&out, "secret_access_key").0, "\"********\"");
    assert!(!out.contains("tok-from-file") && !out.contains("file-secret"), "{out}");
    // What it prints is itself a configuration file the server accepts.
    let again = dir.path().join("printed.toml");
    std::fs::write(&again, &out).unwrap();
    let out2 = print_config(&again).output().unwrap();
    assert!(out2.status.success(), "{}", String::from_utf8_lossy(&out2.stderr));
    assert_eq!(
        printed(&String::from_utf8(out2.stdout).unwrap(), "region").0,
        "\"flag-region\""
    );
}

#[tokio::test]
async fn a_server_runs_on_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("coffer.toml");
    std::fs::write(
        &file,
        "metrics_token = \"from-the-file\"\ndomain = \"s3.example.test\"\n",
    )
    .unwrap();
    let s = Server::start_with(&dir.path().join("data"), &["--config", file.to_str().unwrap()]);
    let host = s.addr();
    let scrape = |auth: &'static str| {
        let h = vec![
            ("host".to_owned(), host.clone()),
            ("authorization".to_owned(), auth.to_owned()),
        ];
        let host = host.clone();
        async move { raw_send(&host, "GET", "/_coffer/metrics", &h, Some(b"")).await.status }
    };
    assert_eq!(scrape("Bearer nope").await, 401);
    assert_eq!(scrape("Bearer from-the-file").await, 200);
    // The file's domain serves virtual-hosted buckets.
    let c = s.client();
    c.create_bucket().bucket("vhosted").send().await.unwrap();
    let r = s
        .raw(
            "GET",
            "/",
            &[("list-type", "2")],
            &[("host", "vhosted.s3.example.test")],
            b"",
        )
        .await;
    assert!(r.status == 200 || r.status == 403, "{} {}", r.status, r.text());
    assert_eq!(anonymous(&s, "GET", "/_coffer/health/ready", b"").await.status, 200);
}

#[test]
fn unknown_keys_and_bad_values_are_refused_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("coffer.toml");
    std::fs::write(&file, "region = \"x\"\n\nmax_conections = 5\n").unwrap();
    let out = print_config(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:3: unknown key `max_conections`", file.display())),
        "{err}"
    );
    assert!(err.contains("did you mean `max_connections`"), "{err}");

    // A value of the wrong kind is refused by the same checks as the flag's.
    std::fs::write(&file, "max_connections = \"lots\"\n").unwrap();
    let out = print_config(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lots") && err.contains("max-connections"), "{err}");

    let out = print_config(&dir.path().join("missing.toml")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}
