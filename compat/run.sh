#!/usr/bin/env bash
# Client compatibility lanes: boto3, AWS CLI, @aws-sdk/client-s3, minio-py, s3cmd, s4cmd,
# a Chromium browser, the web console (in Chromium), rclone (with rclone mount), restic, pyarrow, DuckDB, AWS CLI v2 and
# s3fs against a real coffer server.
#
#   compat/run.sh [PATH_TO_COFFER]
#
# The binary is $1, else $COFFER_BIN, else target/release/coffer (falling back
# to target/debug/coffer when there is no release build).
#
# Setup is cached: a Python venv in compat/.venv (COMPAT_VENV overrides) and
# compat/js/node_modules, each reinstalled only when its pins change.
# Select lanes with COMPAT_LANES="boto3 awscli js minio s3cmd s4cmd browser console rclone restic pyarrow duckdb awscli2 s3fs"
# (default: all of them). The browser, console, rclone, restic, awscli2 and s3fs lanes drive
# Debian's chromium, rclone, restic, awscli (v2) and s3fs, each installed with apt-get
# when missing.
#
# Every check prints a `PASS lane: ...` or `FAIL lane: ... -- detail` line; the
# last line is `N passed, N failed` over all lanes. Exit status is 0 only if
# nothing failed. A check held back by a known, reported server bug prints
# `XFAIL lane: ... -- detail` instead, counted as neither (see README.md).
set -euo pipefail

COMPAT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$COMPAT_DIR/.." && pwd)"
PYTHON="${PYTHON:-python3}"
LANES="${COMPAT_LANES:-boto3 awscli js minio s3cmd s4cmd browser console rclone restic pyarrow duckdb awscli2 s3fs}"

log() { printf '[compat] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- binary
COFFER="${1:-${COFFER_BIN:-}}"
if [[ -z "$COFFER" ]]; then
  if [[ -x "$REPO_DIR/target/release/coffer" ]]; then
    COFFER="$REPO_DIR/target/release/coffer"
  elif [[ -x "$REPO_DIR/target/debug/coffer" ]]; then
    COFFER="$REPO_DIR/target/debug/coffer"
    log "no release build, using $COFFER"
  else
    COFFER="$REPO_DIR/target/release/coffer"
  fi
fi
case "$COFFER" in /*) ;; *) COFFER="$PWD/$COFFER" ;; esac
if [[ ! -x "$COFFER" ]]; then
  log "coffer binary not found or not executable: $COFFER"
  echo "0 passed, 1 failed"
  exit 1
fi

# ---------------------------------------------------------------- installs
hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

VENV="${COMPAT_VENV:-$COMPAT_DIR/.venv}"
want="$(hash_of "$COMPAT_DIR/requirements.txt")"
if [[ ! -x "$VENV/bin/python" || "$(cat "$VENV/.compat-stamp" 2>/dev/null || true)" != "$want" ]]; then
  log "installing Python packages into $VENV"
  [[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$COMPAT_DIR/requirements.txt"
  echo "$want" >"$VENV/.compat-stamp"
fi

# Debian packages a lane drives, installed when missing. The package lists are
# refreshed first when they don't know the package, and once more if the install
# fails (stale lists). A failed install is not fatal here: the lane then reports
# its client missing as a failed check.
SUDO=""; [[ "$(id -u)" == 0 ]] || SUDO="sudo"
APT_UPDATED=""
apt_update() {
  [[ -n "$APT_UPDATED" ]] && return 0
  APT_UPDATED=1
  $SUDO apt-get update -qq >/dev/null || log "apt-get update failed"
}
apt_install() { # package, lane
  log "installing Debian's $1 for the $2 lane"
  apt-cache show "$1" >/dev/null 2>&1 || apt_update
  local install=($SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1")
  "${install[@]}" >/dev/null && return 0
  if [[ -z "$APT_UPDATED" ]]; then
    apt_update
    "${install[@]}" >/dev/null && return 0
  fi
  log "apt-get install $1 failed"
}
if [[ " $LANES " == *" browser "* && ! -x "${CHROMIUM:-/usr/bin/chromium}" ]]; then
  apt_install chromium browser
fi
if [[ " $LANES " == *" console "* && ! -x "${CHROMIUM:-/usr/bin/chromium}" ]]; then
  apt_install chromium console
fi
if [[ " $LANES " == *" rclone "* ]] && ! command -v "${RCLONE:-rclone}" >/dev/null; then
  apt_install rclone rclone
fi
if [[ " $LANES " == *" rclone "* ]] && ! command -v fusermount >/dev/null && ! command -v fusermount3 >/dev/null; then
  apt_install fuse rclone   # fusermount, for `rclone mount` (s3fs pulls in the same package)
fi
if [[ " $LANES " == *" restic "* ]] && ! command -v "${RESTIC:-restic}" >/dev/null; then
  apt_install restic restic
fi
if [[ " $LANES " == *" awscli2 "* && ! -x "${AWSCLI2:-/usr/bin/aws}" ]]; then
  apt_install awscli awscli2   # AWS CLI v2 (bookworm: 2.9.19), not the venv's v1
fi
if [[ " $LANES " == *" s3fs "* ]] && ! command -v "${S3FS:-s3fs}" >/dev/null; then
  apt_install s3fs s3fs
fi

if [[ " $LANES " == *" js "* || " $LANES " == *" browser "* || " $LANES " == *" console "* ]]; then
  want="$(hash_of "$COMPAT_DIR/js/package.json" "$COMPAT_DIR/js/package-lock.json")"
  if [[ ! -d "$COMPAT_DIR/js/node_modules" || "$(cat "$COMPAT_DIR/js/node_modules/.compat-stamp" 2>/dev/null || true)" != "$want" ]]; then
    log "installing npm packages (npm ci)"
    (cd "$COMPAT_DIR/js" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$COMPAT_DIR/js/node_modules/.compat-stamp"
  fi
fi

# ---------------------------------------------------------------- server
# Keep stray AWS settings of the calling environment out of every lane.
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep -E '^(AWS_|COFFER_USER2_|COMPAT_KMS_|COFFER_REGION$|COFFER_MASTER_KEY_FILE$|COFFER_SSE_C_OVER_HTTP$|COFFER_DATA$|COFFER_LISTEN$|COFFER_DOMAIN)' || true)
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true

WORK="$(mktemp -d "${TMPDIR:-/tmp}/coffer-compat.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
ENDPOINT="http://127.0.0.1:$PORT"
RUN_ID="$("$PYTHON" -c 'import secrets; print(secrets.token_hex(3))')"
export COFFER_ACCESS_KEY_ID="COMPATROOT${RUN_ID^^}"
export COFFER_SECRET_ACCESS_KEY="$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(30))')"
export COFFER_ENDPOINT="$ENDPOINT" COFFER_COMPAT_RUN_ID="$RUN_ID"

PASSED=0
FAILED=0
harness_check() { # name, status(0=pass), detail
  if [[ "$2" == 0 ]]; then
    echo "PASS harness: $1"; PASSED=$((PASSED + 1))
  else
    echo "FAIL harness: $1 -- $3"; FAILED=$((FAILED + 1))
  fi
}
finish() {
  echo "$PASSED passed, $FAILED failed"
  [[ "$FAILED" == 0 ]]
}

mkdir -p "$WORK/data"
log "starting $COFFER server on $ENDPOINT"
# --sse-c-over-http: the lanes talk plain HTTP, and S3 refuses SSE-C keys without TLS.
"$COFFER" server --data "$WORK/data" --listen "127.0.0.1:$PORT" --website-domain web.localhost --sse-c-over-http \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

up=1
for _ in $(seq 300); do   # up to 30 s
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
  if "$PYTHON" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close()' "$PORT" 2>/dev/null; then
    up=0; break
  fi
  sleep 0.1
done
harness_check "server accepts connections on $ENDPOINT" "$up" "server did not come up; log tail: $(tail -c 600 "$WORK/server.log" | tr '\n' ' ')"
if [[ "$up" != 0 ]]; then
  finish || exit 1
fi

# second user, created through the CLI against the running server
user_ok=1
if "$COFFER" user add compat-user2 --endpoint "$ENDPOINT" >"$WORK/user2.json" 2>"$WORK/user2.err"; then
  if eval "$("$PYTHON" - "$WORK/user2.json" <<'PY'
import json, shlex, sys
d = json.load(open(sys.argv[1]))
for k in ("name", "access_key_id", "secret_access_key", "canonical_user_id"):
    if not d.get(k):
        sys.exit(1)
if d["name"] != "compat-user2":
    sys.exit(1)
print("export COFFER_USER2_ACCESS_KEY_ID=%s" % shlex.quote(d["access_key_id"]))
print("export COFFER_USER2_SECRET_ACCESS_KEY=%s" % shlex.quote(d["secret_access_key"]))
print("export COFFER_USER2_CANONICAL_ID=%s" % shlex.quote(d["canonical_user_id"]))
PY
)"; then
    [[ -n "${COFFER_USER2_ACCESS_KEY_ID:-}" ]] && user_ok=0
  fi
fi
harness_check "coffer user add prints name/access_key_id/secret_access_key/canonical_user_id" "$user_ok" \
  "stdout: $(head -c 300 "$WORK/user2.json" | tr '\n' ' ') stderr: $(tail -c 300 "$WORK/user2.err" | tr '\n' ' ')"

# KMS keys for the SSE-KMS checks, made through the CLI against the running server:
# COMPAT_KMS_KEY is enabled, COMPAT_KMS_DISABLED_KEY is disabled (the boto3 lane
# enables it for a moment to write an object under it, then disables it again).
export COMPAT_KMS_KEY=compat-key COMPAT_KMS_DISABLED_KEY=compat-key-off
kms_ok=1
if "$COFFER" kms create "$COMPAT_KMS_KEY" --endpoint "$ENDPOINT" >"$WORK/kms.out" 2>"$WORK/kms.err" \
  && "$COFFER" kms create "$COMPAT_KMS_DISABLED_KEY" --endpoint "$ENDPOINT" >>"$WORK/kms.out" 2>>"$WORK/kms.err" \
  && "$COFFER" kms disable "$COMPAT_KMS_DISABLED_KEY" --endpoint "$ENDPOINT" >>"$WORK/kms.out" 2>>"$WORK/kms.err" \
  && "$COFFER" kms list --endpoint "$ENDPOINT" >"$WORK/kms.json" 2>>"$WORK/kms.err"; then
  "$PYTHON" - "$WORK/kms.json" <<'PY' && kms_ok=0
import json, os, sys
keys = {k["name"]: k["enabled"] for k in json.load(open(sys.argv[1]))}
want = {os.environ["COMPAT_KMS_KEY"]: True, os.environ["COMPAT_KMS_DISABLED_KEY"]: False}
sys.exit(0 if all(keys.get(n) is e for n, e in want.items()) else 1)
PY
fi
harness_check "coffer kms create/disable/list: $COMPAT_KMS_KEY enabled, $COMPAT_KMS_DISABLED_KEY disabled" "$kms_ok" \
  "stdout: $(head -c 300 "$WORK/kms.out" | tr '\n' ' ') list: $(head -c 300 "$WORK/kms.json" 2>/dev/null | tr '\n' ' ') stderr: $(tail -c 300 "$WORK/kms.err" | tr '\n' ' ')"

# ---------------------------------------------------------------- lanes
run_lane() { # name, command...
  local name="$1"; shift
  local out="$WORK/lane-$name.log"
  log "lane $name"
  local rc=0
  timeout 300 "$@" >"$out" 2>&1 || rc=$?
  cat "$out"
  local p f
  p="$(grep -c '^PASS ' "$out" || true)"
  f="$(grep -c '^FAIL ' "$out" || true)"
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
  if [[ "$rc" != 0 && "$f" == 0 ]]; then
    echo "FAIL harness: lane $name exited $rc without reporting a failed check"
    FAILED=$((FAILED + 1))
  elif [[ "$rc" == 0 && "$f" != 0 ]]; then
    echo "FAIL harness: lane $name reported failures but exited 0"
    FAILED=$((FAILED + 1))
  fi
}

for lane in $LANES; do
  case "$lane" in
    boto3)  run_lane boto3 "$VENV/bin/python" "$COMPAT_DIR/boto3_lane.py" ;;
    awscli) run_lane awscli env AWS_CLI="$VENV/bin/aws" "$VENV/bin/python" "$COMPAT_DIR/aws_cli_lane.py" ;;
    js)     run_lane js env NODE_NO_WARNINGS=1 node "$COMPAT_DIR/js/lane.mjs" ;;
    minio)  run_lane minio "$VENV/bin/python" "$COMPAT_DIR/minio_lane.py" ;;
    s3cmd)  run_lane s3cmd env S3CMD="$VENV/bin/s3cmd" "$VENV/bin/python" "$COMPAT_DIR/s3cmd_lane.py" ;;
    s4cmd)  run_lane s4cmd env S4CMD="$VENV/bin/s4cmd" "$VENV/bin/python" "$COMPAT_DIR/s4cmd_lane.py" ;;
    browser) run_lane browser env NODE_NO_WARNINGS=1 COMPAT_ARTIFACTS="${COMPAT_ARTIFACTS:-$COMPAT_DIR/artifacts}" \
               node "$COMPAT_DIR/js/browser.mjs" ;;
    console) run_lane console env NODE_NO_WARNINGS=1 COMPAT_ARTIFACTS="${COMPAT_ARTIFACTS:-$COMPAT_DIR/artifacts}" \
               node "$COMPAT_DIR/js/console.mjs" ;;
    rclone) run_lane rclone env RCLONE="${RCLONE:-rclone}" "$VENV/bin/python" "$COMPAT_DIR/rclone_lane.py" ;;
    restic) run_lane restic env RESTIC="${RESTIC:-restic}" "$VENV/bin/python" "$COMPAT_DIR/restic_lane.py" ;;
    pyarrow) run_lane pyarrow "$VENV/bin/python" "$COMPAT_DIR/pyarrow_lane.py" ;;
    duckdb) run_lane duckdb "$VENV/bin/python" "$COMPAT_DIR/duckdb_lane.py" ;;
    awscli2) run_lane awscli2 env AWSCLI2="${AWSCLI2:-/usr/bin/aws}" "$VENV/bin/python" "$COMPAT_DIR/awscli2_lane.py" ;;
    s3fs)   run_lane s3fs env S3FS="${S3FS:-s3fs}" "$VENV/bin/python" "$COMPAT_DIR/s3fs_lane.py" ;;
    *)      echo "FAIL harness: unknown lane $lane"; FAILED=$((FAILED + 1)) ;;
  esac
done

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  harness_check "server still running after the lanes" 1 "log tail: $(tail -c 600 "$WORK/server.log" | tr '\n' ' ')"
fi
if [[ "$FAILED" != 0 ]]; then
  log "server log tail:"
  tail -n 40 "$WORK/server.log" >&2 || true
fi

finish
