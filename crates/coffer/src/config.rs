//! `coffer server --config coffer.toml`: every flag `--foo-bar` is the key `foo_bar` in the
//! file and `COFFER_FOO_BAR` in the environment; a flag wins over the environment, which
//! wins over the file.
//!
//! The file is read before clap parses the command line, and each of its keys whose
//! variable is unset becomes that variable; clap's own order (flag, then environment, then
//! default) then puts the file where it belongs, with one parser and one set of checks for
//! all three sources.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;

/// The server's options that are not settings: they cannot come from the file.
const NOT_IN_FILE: &[&str] = &["config", "print_config", "help"];

/// Keys whose values `--print-config` masks.
fn is_secret(key: &str) -> bool {
    key.contains("secret") || key.contains("token") || key.contains("password")
}

/// The environment variable of a key.
pub fn env_name(key: &str) -> String {
    format!("COFFER_{}", key.to_ascii_uppercase())
}

/// The settings `coffer server` accepts, as file keys.
fn server_keys(server: &clap::Command) -> Vec<String> {
    server
        .get_arguments()
        .filter_map(|a| a.get_long())
        .map(|l| l.replace('-', "_"))
        .filter(|k| !NOT_IN_FILE.contains(&k.as_str()))
        .collect()
}

/// The file named by `--config FILE`, `--config=FILE` or `COFFER_CONFIG` for `coffer
/// server`, if any.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    if args.get(1).is_none_or(|a| a != "server") {
        return None;
    }
    let mut it = args.iter().skip(2);
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = a.to_str().and_then(|a| a.strip_prefix("--config=")) {
            return Some(PathBuf::from(v));
        }
    }
    std::env::var_os("COFFER_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The keys the file set, for `--print-config` to name their source.
#[derive(Default)]
pub struct FromFile {
    pub path: Option<PathBuf>,
    pub keys: BTreeSet<String>,
}

/// Reads the configuration file, if one is named, into the environment. Call before any
/// thread starts (it sets environment variables) and before clap parses.
pub fn load(args: &[OsString], server: &clap::Command) -> Result<FromFile, String> {
    let Some(path) = config_path(args) else {
        return Ok(FromFile::default());
    };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let settings = parse(&path, &text, &server_keys(server))?;
    let mut keys = BTreeSet::new();
    for (key, value) in settings {
        let var = env_name(&key);
        if std::env::var_os(&var).is_none() {
            // SAFETY: called from main before the runtime or any other thread starts.
            unsafe { std::env::set_var(&var, value) };
            keys.insert(key);
        }
    }
    Ok(FromFile { path: Some(path), keys })
}

/// The file's settings as the strings their variables would hold: lists joined by commas.
fn parse(path: &Path, text: &str, known: &[String]) -> Result<Vec<(String, String)>, String> {
    let at = |span: Option<std::ops::Range<usize>>| {
        let line = span.map_or(0, |s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        format!("{}:{line}", path.display())
    };
    let doc = toml_edit::Document::parse(text).map_err(|e| format!("{}: {}", at(e.span()), e.message()))?;
    let mut out = Vec::new();
    for (key, item) in doc.as_table().iter() {
        let span = doc.as_table().key(key).and_then(|k| k.span());
        if !known.iter().any(|k| k == key) {
            let hint = known
                .iter()
                .find(|k| k.as_str() == key.replace('-', "_") || edit_distance(k, key) <= 2)
                .map(|k| format!(" (did you mean `{k}`?)"))
                .unwrap_or_default();
            return Err(format!("{}: unknown key `{key}`{hint}", at(span)));
        }
        let value = item.as_value().and_then(scalar_or_list).ok_or_else(|| {
            format!(
                "{}: `{key}` must be a string, number, boolean or list of them",
                at(span)
            )
        })?;
        out.push((key.to_owned(), value));
    }
    Ok(out)
}

/// Levenshtein distance, for suggesting the key a typo meant.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn scalar(v: &toml_edit::Value) -> Option<String> {
    match v {
        toml_edit::Value::String(s) => Some(s.value().clone()),
        toml_edit::Value::Integer(i) => Some(i.value().to_string()),
        toml_edit::Value::Float(f) => Some(f.value().to_string()),
        toml_edit::Value::Boolean(b) => Some(b.value().to_string()),
        _ => None,
    }
}

fn scalar_or_list(v: &toml_edit::Value) -> Option<String> {
    match v {
        toml_edit::Value::Array(a) => a.iter().map(scalar).collect::<Option<Vec<_>>>().map(|v| v.join(",")),
        v => scalar(v),
    }
}

/// `coffer server --print-config`: the effective settings as a configuration file, each
/// with where it came from, secrets masked.
pub fn print(server: &clap::Command, matches: &clap::ArgMatches, file: &FromFile) -> String {
    let mut out = String::from("# coffer server: effective configuration\n");
    if let Some(p) = &file.path {
        out.push_str(&format!("# file: {}\n", p.display()));
    }
    for arg in server.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        let key = long.replace('-', "_");
        if NOT_IN_FILE.contains(&key.as_str()) {
            continue;
        }
        let id = arg.get_id().as_str();
        let source = match matches.value_source(id) {
            Some(ValueSource::CommandLine) => "flag",
            Some(ValueSource::EnvVariable) if file.keys.contains(&key) => "file",
            Some(ValueSource::EnvVariable) => "environment",
            Some(ValueSource::DefaultValue) => "default",
            _ => "unset",
        };
        let values: Vec<String> = matches
            .get_raw(id)
            .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let shown = if values.is_empty() {
            out.push_str(&format!("# {key} =  # {source}\n"));
            continue;
        } else if is_secret(&key) {
            "\"********\"".to_owned()
        } else if arg.get_num_args().is_some_and(|n| n.max_values() > 1) || arg.get_value_delimiter().is_some() {
            format!(
                "[{}]",
                values.iter().map(|v| toml_value(v)).collect::<Vec<_>>().join(", ")
            )
        } else {
            toml_value(&coffer_store::redacted(&values[0]))
        };
        out.push_str(&format!("{key} = {shown}  # {source}\n"));
    }
    out
}

/// A value as TOML: numbers and booleans bare, everything else a quoted string.
fn toml_value(v: &str) -> String {
    if v == "true" || v == "false" || (v.parse::<i64>().is_ok() && !v.starts_with('+')) {
        v.to_owned()
    } else {
        toml_edit::Value::from(v).to_string().trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<String> {
        ["listen", "domain", "max_connections", "sse_c_over_http"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn values_become_variable_strings() {
        let text = "listen = \"0.0.0.0:9000\"\n# a comment\ndomain = [\"a.test\", \"b.test\"]\nmax_connections = 64\nsse_c_over_http = true\n";
        let got = parse(Path::new("c.toml"), text, &known()).unwrap();
        assert_eq!(
            got,
            vec![
                ("listen".into(), "0.0.0.0:9000".into()),
                ("domain".into(), "a.test,b.test".into()),
                ("max_connections".into(), "64".into()),
                ("sse_c_over_http".into(), "true".into()),
            ]
        );
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let text = "listen = \"0.0.0.0:9000\"\n\nmax_conections = 5\n";
        let e = parse(Path::new("c.toml"), text, &known()).unwrap_err();
        assert_eq!(
            e,
            "c.toml:3: unknown key `max_conections` (did you mean `max_connections`?)"
        );
        let e = parse(Path::new("c.toml"), "colour = 1\n", &known()).unwrap_err();
        assert_eq!(e, "c.toml:1: unknown key `colour`");
        let e = parse(Path::new("c.toml"), "max-connections = 5\n", &known()).unwrap_err();
        assert_eq!(
            e,
            "c.toml:1: unknown key `max-connections` (did you mean `max_connections`?)"
        );
        let e = parse(Path::new("c.toml"), "listen = 1\n[tls]\ncert = \"x\"\n", &known()).unwrap_err();
        assert_eq!(e, "c.toml:2: unknown key `tls`");
    }

    #[test]
    fn bad_syntax_and_tables_are_refused() {
        let e = parse(Path::new("c.toml"), "listen = \n", &known()).unwrap_err();
        assert!(e.starts_with("c.toml:1: "), "{e}");
        let e = parse(Path::new("c.toml"), "domain = { a = 1 }\n", &known()).unwrap_err();
        assert_eq!(
            e,
            "c.toml:1: `domain` must be a string, number, boolean or list of them"
        );
    }

    #[test]
    fn the_config_flag_is_found_only_for_the_server() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            config_path(&args(&["coffer", "server", "--config", "c.toml"])),
            Some("c.toml".into())
        );
        assert_eq!(
            config_path(&args(&["coffer", "server", "--listen", "x", "--config=d.toml"])),
            Some("d.toml".into())
        );
        assert_eq!(config_path(&args(&["coffer", "user", "--config", "c.toml"])), None);
    }

    #[test]
    fn toml_values_print_typed() {
        assert_eq!(toml_value("64"), "64");
        assert_eq!(toml_value("true"), "true");
        assert_eq!(toml_value("127.0.0.1:9000"), "\"127.0.0.1:9000\"");
        assert_eq!(toml_value("a\"b"), "'a\"b'");
    }
}
