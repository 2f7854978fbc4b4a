//! coffer: an S3-compatible object store.

mod admin;
mod bench;
mod config;
mod console;
mod keys;
mod metrics;
mod ops;
mod scrub;
mod server;
mod tls;
mod workers;
use coffer::sigv4;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "coffer", version, about = "An S3-compatible object store")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the server's variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Serve the S3 API.
    Server {
        /// A TOML file of settings: the key `foo_bar` sets what `--foo-bar` does; flags
        /// and COFFER_FOO_BAR variables win over it.
        #[arg(long, env = "COFFER_CONFIG")]
        config: Option<PathBuf>,
        /// Print the effective configuration (secrets masked), each setting with its
        /// source, and exit.
        #[arg(long)]
        print_config: bool,
        /// Root access key id; with --secret-access-key, else the data directory's stored
        /// or newly generated root credentials.
        #[arg(long, env = "COFFER_ACCESS_KEY_ID", hide_env_values = true)]
        access_key_id: Option<String>,
        /// Root secret key (prefer the environment or the config file: flags show in `ps`).
        #[arg(long, env = "COFFER_SECRET_ACCESS_KEY", hide_env_values = true)]
        secret_access_key: Option<String>,
        /// Data directory: metadata, object files, root credentials.
        #[arg(long, default_value = "./coffer-data", env = "COFFER_DATA")]
        data: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9000", env = "COFFER_LISTEN")]
        listen: SocketAddr,
        /// Region reported to clients (bucket locations, KMS key ARNs); requests may be signed for any region.
        #[arg(long, default_value = "us-east-1", env = "COFFER_REGION")]
        region: String,
        /// Domain for virtual-hosted-style requests (`bucket.DOMAIN`); repeatable.
        #[arg(
            long = "domain",
            default_value = "localhost",
            env = "COFFER_DOMAIN",
            value_delimiter = ','
        )]
        domains: Vec<String>,
        /// Domain whose `bucket.DOMAIN` serves the bucket as a static website (anonymous
        /// GET and HEAD, index and error documents, redirects); repeatable.
        #[arg(long = "website-domain", env = "COFFER_WEBSITE_DOMAIN", value_delimiter = ',')]
        website_domains: Vec<String>,
        /// Object ownership of a bucket created without `x-amz-object-ownership`:
        /// BucketOwnerEnforced (S3's default: ACLs disabled), BucketOwnerPreferred or
        /// ObjectWriter (ACLs enabled, for tools that still share with them).
        #[arg(long, default_value = "BucketOwnerEnforced", env = "COFFER_DEFAULT_OBJECT_OWNERSHIP",
              value_parser = ["BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"])]
        default_object_ownership: String,
        /// Length of a lifecycle rule's day in seconds, so tests can see rules run in
        /// seconds (RGW's rgw_lc_debug_interval).
        #[arg(long, default_value_t = 86_400, hide = true, env = "COFFER_LIFECYCLE_DAY_SECS",
              value_parser = clap::value_parser!(u64).range(1..))]
        lifecycle_day_secs: u64,
        /// Seconds after which an incomplete multipart upload is aborted (default 7 days).
        #[arg(long, default_value_t = 7 * 24 * 3600, env = "COFFER_UPLOAD_EXPIRY_SECS")]
        upload_expiry_secs: u64,
        /// Connections served at once; more wait to be accepted.
        #[arg(long, default_value_t = 1024, env = "COFFER_MAX_CONNECTIONS")]
        max_connections: usize,
        /// Seconds a client gets to send a complete header block (tests use a short one).
        #[arg(long, default_value_t = 10, hide = true, env = "COFFER_HEADER_TIMEOUT_SECS")]
        header_timeout_secs: u64,
        /// Seconds a request body may stall before the request gets 400 RequestTimeout.
        #[arg(long, default_value_t = 30, hide = true, env = "COFFER_BODY_TIMEOUT_SECS",
              value_parser = clap::value_parser!(u64).range(1..=86_400))]
        body_timeout_secs: u64,
        /// Bytes a second a request body must average, not counting the first
        /// body-timeout-secs of waiting (0: no minimum).
        #[arg(long, default_value_t = 1024, hide = true, env = "COFFER_BODY_MIN_RATE")]
        body_min_rate: u64,
        /// File holding the master key (64 hex digits) that seals SSE-S3 and KMS keys;
        /// without one, the data directory keeps its own in `master.key`, made on first
        /// start. Back it up apart from the data.
        #[arg(long, env = "COFFER_MASTER_KEY_FILE")]
        master_key_file: Option<PathBuf>,
        /// Accept SSE-C keys over plain HTTP (AWS refuses them without TLS); for local use
        /// and tests, or behind a TLS proxy that does not set X-Forwarded-Proto.
        #[arg(long, env = "COFFER_SSE_C_OVER_HTTP")]
        sse_c_over_http: bool,
        /// MiB of memory for the metadata engine's page cache: the fixed part of the
        /// server's memory (see README, "Memory"). Hot pages also stay in the OS page cache.
        #[arg(long, default_value_t = (coffer_store::meta::DEFAULT_CACHE_BYTES >> 20) as u64, env = "COFFER_META_CACHE_MB",
              value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
        meta_cache_mb: u64,
        /// What to log, as a tracing filter (`info`, `warn,coffer::access=off`, ...).
        #[arg(long, default_value = "info", env = "COFFER_LOG")]
        log: String,
        /// Log lines as text or as one JSON object each.
        #[arg(long, default_value = "text", env = "COFFER_LOG_FORMAT", value_parser = ["text", "json"])]
        log_format: String,
        /// A log line per request (target `coffer::access`, level info).
        #[arg(long, default_value_t = true, env = "COFFER_ACCESS_LOG", action = clap::ArgAction::Set)]
        access_log: bool,
        /// Count requests and serve Prometheus metrics at /_coffer/metrics.
        #[arg(long, default_value_t = true, env = "COFFER_METRICS", action = clap::ArgAction::Set)]
        metrics: bool,
        /// Require `Authorization: Bearer TOKEN` to read /_coffer/metrics.
        #[arg(long, env = "COFFER_METRICS_TOKEN", hide_env_values = true)]
        metrics_token: Option<String>,
        /// Seconds to keep serving after SIGTERM while /_coffer/health/ready answers 503,
        /// so a load balancer stops sending new requests before the listener closes.
        #[arg(long, default_value_t = 0, env = "COFFER_SHUTDOWN_DELAY_SECS")]
        shutdown_delay_secs: u64,
        /// Metadata in PostgreSQL (`postgres://USER[:PASSWORD]@HOST:PORT/DB[?schema=NAME]`)
        /// instead of redb in --data: any number of gateways given the same --meta and
        /// --blobs serve the same buckets. Needs a build with the `postgres` feature.
        #[arg(long, env = "COFFER_META", help_heading = "Scale out")]
        meta: Option<String>,
        /// Blobs in Ceph RADOS (`rados://POOL?conf=/etc/ceph/ceph.conf`) instead of files in
        /// --data. Needs a build with the `rados` feature.
        #[arg(long, env = "COFFER_BLOBS", help_heading = "Scale out")]
        blobs: Option<String>,
        /// With a shared --meta: a gateway silent this long counts as gone (its unfinished
        /// blobs are collected), and background workers are leased for this long.
        #[arg(long, default_value_t = 30, env = "COFFER_LEASE_SECS", help_heading = "Scale out",
              value_parser = clap::value_parser!(u64).range(1..))]
        lease_secs: u64,
        /// With a shared --meta: how long a deleted or overwritten blob stays readable, for
        /// GETs other gateways are streaming from it.
        #[arg(
            long,
            default_value_t = 3600,
            env = "COFFER_FREE_GRACE_SECS",
            help_heading = "Scale out"
        )]
        free_grace_secs: u64,
        /// PEM certificate chain (server certificate first) for HTTPS; with --tls-key.
        /// Reloaded on SIGHUP and when the file changes.
        #[arg(long, env = "COFFER_TLS_CERT", help_heading = "TLS")]
        tls_cert: Option<PathBuf>,
        /// PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert.
        #[arg(long, env = "COFFER_TLS_KEY", help_heading = "TLS")]
        tls_key: Option<PathBuf>,
        /// Serve HTTPS on this address and keep plain HTTP on --listen; without it, --listen
        /// itself serves HTTPS when --tls-cert is given.
        #[arg(long, env = "COFFER_TLS_LISTEN", help_heading = "TLS")]
        tls_listen: Option<SocketAddr>,
        /// Seconds between looks at whether the certificate or key file changed.
        #[arg(long, default_value_t = 2, hide = true, env = "COFFER_TLS_POLL_SECS",
              value_parser = clap::value_parser!(u64).range(1..))]
        tls_poll_secs: u64,
    },
    /// Load-test any S3 endpoint (warp-style): put, get, mixed, list, multipart, delete.
    Bench(bench::BenchArgs),
    /// Check every stored object against its recorded MD5 (offline: stop the server
    /// first); lists corrupted objects and exits non-zero if there are any.
    Scrub {
        #[arg(long, default_value = "./coffer-data", env = "COFFER_DATA")]
        data: PathBuf,
        #[arg(long, env = "COFFER_MASTER_KEY_FILE")]
        master_key_file: Option<PathBuf>,
    },
    /// Manage the master key (offline: stop the server first).
    Key {
        #[command(subcommand)]
        action: keys::KeyAction,
    },
    /// Manage the built-in key service's keys for SSE-KMS (on a running server, with the
    /// root credentials).
    Kms {
        #[command(subcommand)]
        action: KmsAction,
        #[command(flatten)]
        server: AdminServer,
    },
    /// The admin API of a running server: info, buckets' usage and quotas (authenticated
    /// with the root credentials).
    Admin {
        #[command(subcommand)]
        action: admin::cli::AdminAction,
        #[command(flatten)]
        server: AdminServer,
    },
    /// Manage users of a running server (authenticated with the root credentials).
    User {
        #[command(subcommand)]
        action: UserAction,
        #[command(flatten)]
        server: AdminServer,
    },
}

/// The running server an admin command talks to, and how it signs in.
#[derive(clap::Args)]
struct AdminServer {
    /// The server's URL.
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:9000",
        env = "COFFER_ENDPOINT"
    )]
    endpoint: String,
    /// Where to find root credentials when COFFER_ACCESS_KEY_ID is not set.
    #[arg(long, global = true, default_value = "./coffer-data", env = "COFFER_DATA")]
    data: PathBuf,
    #[arg(long, global = true, default_value = "us-east-1", env = "COFFER_REGION")]
    region: String,
}

#[derive(Subcommand)]
enum UserAction {
    /// Add a user; prints its name, keys and canonical user id as JSON.
    Add {
        name: String,
        #[arg(long)]
        access_key_id: Option<String>,
        #[arg(long)]
        secret_access_key: Option<String>,
    },
    /// List users as JSON (without secrets).
    List,
    /// Remove a user; its access keys stop working at once.
    Remove { name: String },
    /// Add, list or remove a user's access keys.
    Key {
        #[command(subcommand)]
        action: admin::cli::KeyAction,
    },
    /// Attach, detach or list a user's policies.
    Policy {
        #[command(subcommand)]
        action: PolicyAction,
    },
}

#[derive(Subcommand)]
enum KmsAction {
    /// Create a key; SSE-KMS requests name it by its name, `alias/NAME` or an ARN ending
    /// in `key/NAME`.
    Create { name: String },
    /// List keys as JSON.
    List,
    /// Disable a key: objects under it can be neither written nor read until it is enabled.
    Disable { name: String },
    /// Enable a disabled key.
    Enable { name: String },
}

#[derive(Subcommand)]
enum PolicyAction {
    /// Attach a built-in policy (readwrite, readonly, writeonly) or a JSON policy file,
    /// which is attached under its file name without `.json`.
    Attach { name: String, policy: String },
    /// Detach a policy by name.
    Detach { name: String, policy: String },
    /// List a user's policies as JSON.
    List { name: String },
}

/// Logs to stderr: `filter` as tracing directives, as text or JSON lines.
fn init_logging(filter: &str, json: bool) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .map_err(|e| format!("--log {filter}: {e}"))?
        // s3s logs whole requests at debug, SSE-C keys included: never that; and every
        // client error at error level: only when asked for.
        .add_directive(
            if filter.contains("s3s") { "s3s=warn" } else { "s3s=off" }
                .parse()
                .expect("a valid directive"),
        );
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        fmt.json().with_current_span(true).with_span_list(false).init();
    } else {
        fmt.init();
    }
    Ok(())
}

fn main() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let from_file = match config::load(
        &args,
        Cli::command().find_subcommand("server").expect("a server command"),
    ) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("coffer: {e}");
            return ExitCode::from(2);
        }
    };
    // Built after the file is loaded: clap reads each argument's variable as it is built.
    let mut command = Cli::command();
    let matches = command.try_get_matches_from_mut(&args).unwrap_or_else(|e| e.exit());
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let logging = match &cli.command {
        Command::Server { print_config: true, .. } => {
            let sub = matches.subcommand_matches("server").expect("the server command");
            let server = command.find_subcommand("server").expect("a server command");
            print!("{}", config::print(server, sub, &from_file));
            return ExitCode::SUCCESS;
        }
        Command::Server { log, log_format, .. } => init_logging(log, log_format == "json"),
        _ => init_logging(&std::env::var("COFFER_LOG").unwrap_or_else(|_| "warn".into()), false),
    };
    if let Err(e) = logging {
        eprintln!("coffer: {e}");
        return ExitCode::from(2);
    }
    if matches!(cli.command, Command::Server { .. }) {
        server::limit_malloc_arenas();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = rt.block_on(async {
        match cli.command {
            Command::Server {
                config: _,
                print_config: _,
                access_key_id,
                secret_access_key,
                log: _,
                log_format: _,
                access_log,
                metrics,
                metrics_token,
                shutdown_delay_secs,
                meta,
                blobs,
                lease_secs,
                free_grace_secs,
                tls_cert,
                tls_key,
                tls_listen,
                tls_poll_secs,
                data,
                listen,
                region,
                domains,
                website_domains,
                default_object_ownership,
                lifecycle_day_secs,
                upload_expiry_secs,
                max_connections,
                header_timeout_secs,
                body_timeout_secs,
                body_min_rate,
                master_key_file,
                sse_c_over_http,
                meta_cache_mb,
            } => {
                server::run(server::ServerArgs {
                    data,
                    listen,
                    region,
                    domains,
                    website_domains,
                    default_ownership: coffer_s3::Ownership::from_name(&default_object_ownership)
                        .expect("clap checked the value"),
                    lifecycle_day_secs,
                    upload_expiry: std::time::Duration::from_secs(upload_expiry_secs),
                    header_timeout: std::time::Duration::from_secs(header_timeout_secs),
                    body_pace: coffer_s3::service::BodyPace {
                        idle: std::time::Duration::from_secs(body_timeout_secs),
                        min_rate: body_min_rate,
                    },
                    max_connections,
                    master_key_file,
                    sse_c_over_http,
                    meta_cache_bytes: (meta_cache_mb << 20) as usize,
                    root_keys: (access_key_id, secret_access_key),
                    access_log,
                    metrics,
                    metrics_token: metrics_token.filter(|t| !t.is_empty()),
                    shutdown_delay: std::time::Duration::from_secs(shutdown_delay_secs),
                    meta,
                    blobs,
                    lease: std::time::Duration::from_secs(lease_secs),
                    free_grace: std::time::Duration::from_secs(free_grace_secs),
                    tls_cert,
                    tls_key,
                    tls_listen,
                    tls_poll: std::time::Duration::from_secs(tls_poll_secs),
                })
                .await
            }
            Command::Admin { action, server } => admin::cli::run(action, &server).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Key { action } => keys::run(action).await,
            Command::Kms { action, server } => kms_command(action, &server).await,
            Command::Scrub { data, master_key_file } => match scrub::run(&data, master_key_file.as_deref()).await {
                Ok(true) => Ok(()),
                Ok(false) => Err("corrupted objects found".into()),
                Err(e) => Err(e),
            },
            Command::User { action, server } => user_command(action, &server).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coffer: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn kms_command(action: KmsAction, server: &AdminServer) -> server::anyhow_like::Result<()> {
    let named = |name: &String| vec![("name".to_owned(), name.clone())];
    let (method, query, body) = match &action {
        KmsAction::Create { name } => ("POST", named(name), vec![]),
        KmsAction::List => ("GET", vec![], vec![]),
        KmsAction::Disable { name } => (
            "PUT",
            [named(name), vec![("enabled".into(), "false".into())]].concat(),
            vec![],
        ),
        KmsAction::Enable { name } => (
            "PUT",
            [named(name), vec![("enabled".into(), "true".into())]].concat(),
            vec![],
        ),
    };
    let body = admin_request(server, method, "kms-keys", query, body).await?;
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

/// Sends one request to the first admin resource (`/?coffer-admin=RESOURCE`), signed with
/// the root credentials; returns the body of a 2xx answer.
async fn admin_request(
    server: &AdminServer,
    method: &'static str,
    resource: &str,
    query: Vec<(String, String)>,
    body: Vec<u8>,
) -> server::anyhow_like::Result<Vec<u8>> {
    let mut q = vec![(admin::ADMIN_QUERY.to_owned(), resource.to_owned())];
    q.extend(query);
    admin::cli::signed(server, method, "/", q, body).await
}

async fn user_command(action: UserAction, server: &AdminServer) -> server::anyhow_like::Result<()> {
    if let UserAction::Key { action } = action {
        return admin::cli::key(action, server).await;
    }
    let mut resource = "users";
    let (method, query, body) = match &action {
        UserAction::Add {
            name,
            access_key_id,
            secret_access_key,
        } => {
            let body = serde_json::to_vec(&admin::AddUser {
                name: name.clone(),
                access_key_id: access_key_id.clone(),
                secret_access_key: secret_access_key.clone(),
            })?;
            ("POST", vec![], body)
        }
        UserAction::List => ("GET", vec![], vec![]),
        UserAction::Remove { name } => ("DELETE", vec![("name".to_owned(), name.clone())], vec![]),
        UserAction::Key { .. } => unreachable!("handled above"),
        UserAction::Policy { action } => {
            resource = "user-policies";
            match action {
                PolicyAction::Attach { name, policy } => {
                    let attach = if coffer_iam::builtin::builtin(policy).is_some() {
                        admin::AttachPolicy {
                            policy: policy.clone(),
                            document: None,
                        }
                    } else {
                        let path = std::path::Path::new(policy);
                        let document = std::fs::read_to_string(path)
                            .map_err(|e| format!("{policy}: not a built-in policy, and not a readable file: {e}"))?;
                        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or(policy);
                        admin::AttachPolicy {
                            policy: stem.to_owned(),
                            document: Some(document),
                        }
                    };
                    (
                        "PUT",
                        vec![("name".to_owned(), name.clone())],
                        serde_json::to_vec(&attach)?,
                    )
                }
                PolicyAction::Detach { name, policy } => (
                    "DELETE",
                    vec![("name".to_owned(), name.clone()), ("policy".to_owned(), policy.clone())],
                    vec![],
                ),
                PolicyAction::List { name } => ("GET", vec![("name".to_owned(), name.clone())], vec![]),
            }
        }
    };
    let body = admin_request(server, method, resource, query, body).await?;
    match action {
        UserAction::List | UserAction::Add { .. } | UserAction::Policy { .. } => {
            let v: serde_json::Value = serde_json::from_slice(&body)?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        UserAction::Remove { name } => println!("removed {name}"),
        UserAction::Key { .. } => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// The config file's contract: every setting of `coffer server` is also
    /// `COFFER_FOO_BAR`, so the file (which sets those variables) reaches all of them.
    #[test]
    fn every_server_flag_has_its_variable() {
        let cli = super::Cli::command();
        let server = cli.find_subcommand("server").unwrap();
        for arg in server.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if ["print-config", "help"].contains(&long) {
                continue;
            }
            let want = super::config::env_name(&long.replace('-', "_"));
            assert_eq!(arg.get_env().and_then(|e| e.to_str()), Some(want.as_str()), "--{long}");
        }
    }
}
