#!/usr/bin/env bash
# Measures coffer beside a peer from crates.io (s3s-fs) and, for GETs, nginx serving files
# over loopback: each server alone on 127.0.0.1 with a fresh data dir, the same
# `coffer bench` scenarios against each one after the other, and each server's peak RSS.
# Then, on fresh servers again, one sequence driven by another client (the AWS SDK for
# Rust: crates/coffer/examples/sdk_load.rs) with the server's VmHWM after each phase.
# Writes docs/benchmarks.md. Not part of CI: it takes minutes and wants a quiet machine.
#
#   scripts/bench-peers.sh                 # 10 s per scenario
#   BENCH_DURATION=5s scripts/bench-peers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DUR=${BENCH_DURATION:-10s}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PEERS=${PEERS_DIR:-$TARGET_DIR/peers}
# Data dirs on the build disk, not a tmpfs: fsync must reach a real device.
WORK=${BENCH_WORK:-$TARGET_DIR/bench-peers}
OUT=${BENCH_OUT:-$ROOT/docs/benchmarks.md}
S3S_FS_VERSION=0.14.1
export COFFER_ACCESS_KEY_ID=benchaccesskey COFFER_SECRET_ACCESS_KEY=benchsecretkey0123456789

cargo build --release --locked -p coffer --bin coffer --example sdk_load
COFFER=$TARGET_DIR/release/coffer
SDK_LOAD=$TARGET_DIR/release/examples/sdk_load
if ! "$PEERS/bin/s3s-fs" --version 2>/dev/null | grep -q "$S3S_FS_VERSION"; then
    cargo install s3s-fs --version "$S3S_FS_VERSION" --features binary --locked --root "$PEERS"
fi
if ! command -v nginx >/dev/null && [ "$(id -u)" = 0 ] && [ -z "${BENCH_NO_NGINX:-}" ]; then
    (apt-get update && apt-get install -y nginx) >/dev/null 2>&1 || echo "nginx not installable; skipping it"
fi

rm -rf "$WORK"
mkdir -p "$WORK/results"
SERVER_PID=
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
trap stop_server EXIT

wait_port() {
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}

# bench NAME SERVER SCENARIO ARGS...: one `coffer bench` run, its JSON kept for the report.
bench() {
    local name=$1 server=$2 port=$3
    shift 3
    echo "== $server: $name ($*)"
    "$COFFER" bench "$@" --endpoint "http://127.0.0.1:$port" --duration "$DUR" --json \
        >"$WORK/results/$server-$name.json"
    jq -r '"   \(.ops) ops, \(.ops_per_sec|floor) ops/s, \(.mib_per_sec|floor) MiB/s, \(.keys_per_sec|floor) keys/s, p50 \(.latency_ms.p50) ms, \(.errors) errors, client CPU \(.client_cpu_percent|floor)%"' \
        "$WORK/results/$server-$name.json"
}

# The issue's table, in order.
run_scenarios() {
    local server=$1 port=$2
    bench put4k "$server" "$port" put --size 4KiB --concurrency 32
    bench get4k "$server" "$port" get --size 4KiB --concurrency 32 --objects 1000
    bench put64m "$server" "$port" put --size 64MiB --concurrency 4
    bench get64m "$server" "$port" get --size 64MiB --concurrency 4 --objects 4
    bench list "$server" "$port" list --size 1KiB --objects 10000 --concurrency 2
    bench multipart "$server" "$port" multipart --size 128MiB --part-size 8MiB --part-concurrency 4 --concurrency 1
}

peak_rss() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

# start SERVER PORT DIR: s3s-fs or coffer, alone, on a fresh data directory.
start() {
    rm -rf "$3"
    mkdir -p "$3"
    if [ "$1" = s3s-fs ]; then
        "$PEERS/bin/s3s-fs" --host 127.0.0.1 --port "$2" --access-key "$COFFER_ACCESS_KEY_ID" \
            --secret-key "$COFFER_SECRET_ACCESS_KEY" "$3" >"$3.log" 2>&1 &
    else
        "$COFFER" server --data "$3" --listen "127.0.0.1:$2" >"$3.log" 2>&1 &
    fi
    SERVER_PID=$!
    wait_port "$2"
}

port=19100
for server in s3s-fs coffer; do
    port=$((port + 1))
    start "$server" "$port" "$WORK/$server"
    run_scenarios "$server" "$port"
    peak_rss "$SERVER_PID" >"$WORK/results/$server-rss"
    stop_server
done

# The sequence of issue #18, by the AWS SDK: small PUT/GET at 32 connections, 64 MiB PUT/GET
# x4, a 10,000-key LIST x2, 128 MiB multipart, DELETE at 32 connections.
for server in s3s-fs coffer; do
    echo "== $server: the SDK sequence"
    port=$((port + 1))
    start "$server" "$port" "$WORK/$server-sdk"
    "$SDK_LOAD" --endpoint "http://127.0.0.1:$port" --server-pid "$SERVER_PID" --duration "$DUR" \
        | tee "$WORK/results/$server-sdk.jsonl"
    stop_server
done

# nginx: the reference for raw GETs of the same sizes (files written once, read unsigned).
if command -v nginx >/dev/null; then
    mkdir -p "$WORK/nginx/www/ref" "$WORK/nginx/logs"
    head -c 4096 /dev/urandom >"$WORK/nginx/www/ref/small00000000"
    for i in $(seq 1 999); do cp "$WORK/nginx/www/ref/small00000000" "$WORK/nginx/www/ref/small$(printf %08d "$i")"; done
    for i in 0 1 2 3; do head -c $((64 << 20)) /dev/urandom >"$WORK/nginx/www/ref/big$(printf %08d "$i")"; done
    user=""
    [ "$(id -u)" = 0 ] && user="user root;"
    cat >"$WORK/nginx/nginx.conf" <<EOF
$user
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/nginx/tmp;
    proxy_temp_path $WORK/nginx/tmp;
    fastcgi_temp_path $WORK/nginx/tmp;
    uwsgi_temp_path $WORK/nginx/tmp;
    scgi_temp_path $WORK/nginx/tmp;
    server { listen 127.0.0.1:19110; root $WORK/nginx/www; }
}
EOF
    nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
    SERVER_PID=$!
    wait_port 19110
    bench get4k nginx 19110 get --anonymous --no-prepare --bucket ref --prefix small --size 4KiB \
        --concurrency 32 --objects 1000
    bench get64m nginx 19110 get --anonymous --no-prepare --bucket ref --prefix big --size 64MiB \
        --concurrency 4 --objects 4
    stop_server
fi

python3 - "$WORK/results" "$OUT" "$DUR" "$S3S_FS_VERSION" <<'PY'
import json, os, subprocess, sys, datetime, platform
res, out, dur, s3s_version = sys.argv[1:]

def r(server, name):
    p = os.path.join(res, f"{server}-{name}.json")
    return json.load(open(p)) if os.path.exists(p) else None

def rss(server):
    p = os.path.join(res, f"{server}-rss")
    return int(open(p).read()) / 1024 if os.path.exists(p) else None

# Garage 2.5 figures as given in issue #5 (same machine type, not re-measured here).
GARAGE = {"put4k": 1500, "get4k": 730, "put64m": 255, "get64m": 1100, "list": 217000, "multipart": 257, "rss": 363}
rows = [
    ("PUT 4 KiB, 32 clients", "ops/s", "put4k", lambda j: j["ops_per_sec"], "2x best peer"),
    ("GET 4 KiB, 32 clients", "ops/s", "get4k", lambda j: j["ops_per_sec"], "3x best peer"),
    ("GET 4 KiB, 32 clients", "p50 ms", "get4k", lambda j: j["latency_ms"]["p50"], "under 5 ms"),
    ("PUT 64 MiB, 4 clients", "MiB/s", "put64m", lambda j: j["mib_per_sec"], "1.5x best peer"),
    ("GET 64 MiB, 4 clients", "MiB/s", "get64m", lambda j: j["mib_per_sec"], "80% of nginx"),
    ("LIST 10,000-key bucket, 2 listers", "keys/s", "list", lambda j: j["keys_per_sec"], "2x Garage"),
    ("multipart 128 MiB, 8 MiB parts, 4 in parallel", "MiB/s", "multipart", lambda j: j["mib_per_sec"], "1.5x best peer"),
]

def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "p50 ms":
        return f"{v:.2f}"
    return f"{v:,.0f}"

def verdict(name, unit, c, s, n):
    if c is None:
        return "-"
    g = GARAGE.get(name)
    best = max(x for x in (s, g) if x is not None) if unit != "p50 ms" else None
    if name == "put4k":
        return f"{'met' if c >= 2 * best else 'not met'} (need {2 * best:,.0f})"
    if name == "get4k" and unit == "ops/s":
        return f"{'met' if c >= 3 * best else 'not met'} (need {3 * best:,.0f})"
    if unit == "p50 ms":
        return "met" if c < 5 else "not met"
    if name in ("put64m", "multipart"):
        return f"{'met' if c >= 1.5 * best else 'not met'} (need {1.5 * best:,.0f})"
    if name == "get64m":
        return "no nginx figure" if n is None else f"{'met' if c >= 0.8 * n else 'not met'} (need {0.8 * n:,.0f})"
    if name == "list":
        return f"{'met' if c >= 2 * GARAGE['list'] else 'not met'} (need {2 * GARAGE['list']:,.0f})"
    return "-"

lines = []
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
lines += [
    "# Benchmarks",
    "",
    "coffer beside [s3s-fs](https://crates.io/crates/s3s-fs) " + s3s_version + " (installed from crates.io) and,",
    "for GETs, nginx serving the same sizes from files over loopback. Each server ran alone on",
    "127.0.0.1 with a fresh data directory on the same disk; every figure comes from `coffer bench`",
    "on the same host, one scenario after the other, in one run of `scripts/bench-peers.sh`.",
    "coffer fsyncs every acknowledged write (data, directory and metadata); s3s-fs fsyncs nothing.",
    "",
    f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
    f"- command: `BENCH_DURATION={dur} scripts/bench-peers.sh` ({dur} per scenario)",
    f"- coffer: commit {commit}{' plus uncommitted changes' if dirty else ''}, release build",
    f"- machine: {os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}",
    "",
    "Garage figures are those given in issue #5 for the same machine type (not re-measured here);",
    "\"best peer\" is the better of s3s-fs (measured) and Garage (issue).",
    "",
    "| scenario | unit | s3s-fs | coffer | coffer / s3s-fs | nginx | Garage (issue) | target | coffer vs target |",
    "|---|---|---:|---:|---:|---:|---:|---|---|",
]
for label, unit, name, f, target in rows:
    s, c, n = r("s3s-fs", name), r("coffer", name), r("nginx", name)
    sv, cv = (f(s) if s else None), (f(c) if c else None)
    nv = f(n) if n else None
    ratio = "-" if not sv or cv is None else f"{cv / sv:.2f}x"
    g = GARAGE.get(name) if unit != "p50 ms" else None
    lines.append(
        f"| {label} | {unit} | {fmt(sv, unit)} | {fmt(cv, unit)} | {ratio} | {fmt(nv, unit)} | {fmt(g, unit)} | {target} | {verdict(name, unit, cv, sv, nv)} |"
    )
sr, cr = rss("s3s-fs"), rss("coffer")
lines.append(
    f"| peak RSS under all of the above | MiB | {fmt(sr, '')} | {fmt(cr, '')} | "
    f"{'-' if not sr or cr is None else f'{cr / sr:.2f}x'} | - | {GARAGE['rss']} | at most 64 MiB | "
    f"{'-' if cr is None else ('met' if cr <= 64 else 'not met')} |"
)
lines += [
    "",
    "## Every run",
    "",
    "| server | scenario | ops | errors | ops/s | MiB/s | keys/s | p50 ms | p90 ms | p99 ms | client CPU % |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]
for server in ("s3s-fs", "coffer", "nginx"):
    for _, _, name, _, _ in rows[:2] + rows[3:]:
        j = r(server, name)
        if not j:
            continue
        l = j["latency_ms"]
        lines.append(
            f"| {server} | {name} | {j['ops']} | {j['errors']} | {j['ops_per_sec']:,.1f} | {j['mib_per_sec']:,.1f} | "
            f"{j['keys_per_sec']:,.0f} | {l['p50']:.2f} | {l['p90']:.2f} | {l['p99']:.2f} | {j['client_cpu_percent']:.0f} |"
        )
lines += [
    "",
    "Scenarios (each also given `--duration " + dur + "`):",
    "",
    "```sh",
    "coffer bench put --size 4KiB --concurrency 32",
    "coffer bench get --size 4KiB --concurrency 32 --objects 1000",
    "coffer bench put --size 64MiB --concurrency 4",
    "coffer bench get --size 64MiB --concurrency 4 --objects 4",
    "coffer bench list --size 1KiB --objects 10000 --concurrency 2",
    "coffer bench multipart --size 128MiB --part-size 8MiB --part-concurrency 4 --concurrency 1",
    "# nginx: get --anonymous --no-prepare over files ref/small00000000.. and ref/big00000000..",
    "```",
    "",
    "\"client CPU %\" is `coffer bench`'s own user+system time over the run, in percent of one core",
    "(the machine has " + str(os.cpu_count()) + "): the client shares the cores with the server.",
]

def sdk(server):
    p = os.path.join(res, f"{server}-sdk.jsonl")
    if not os.path.exists(p):
        return {}
    return {j["phase"]: j for j in map(json.loads, filter(str.strip, open(p)))}

SDK_ROWS = [
    ("put4k", "PUT 4 KiB, 32 connections", "ops/s", lambda j: j["ops_per_sec"]),
    ("get4k", "GET 4 KiB at random of all PUT, 32 connections", "ops/s", lambda j: j["ops_per_sec"]),
    ("put64m", "PUT 64 MiB, 4 connections", "MiB/s", lambda j: j["mib_per_sec"]),
    ("get64m", "GET 64 MiB, 4 connections", "MiB/s", lambda j: j["mib_per_sec"]),
    ("list", "fill 10,000 keys, then LIST them whole, 2 listers", "keys/s", lambda j: j["ops"] * 10000 / j["seconds"]),
    ("multipart", "multipart 128 MiB, 8 MiB parts, 4 at once", "MiB/s", lambda j: j["mib_per_sec"]),
    ("delete", "DELETE the 4 KiB objects, 32 connections", "ops/s", lambda j: j["ops_per_sec"]),
]
ss, cs = sdk("s3s-fs"), sdk("coffer")
if ss or cs:
    mib = lambda j, k: j.get(k) / 1024 if j and j.get(k) is not None else None
    lines += [
        "",
        "## The same kind of sequence from another client",
        "",
        "`crates/coffer/examples/sdk_load.rs`: the AWS SDK for Rust (signed payloads, CRC32",
        "checksums, its own connection pool) on 2 threads, one phase after the other on a fresh",
        f"server, {dur} a phase. VmHWM is the server's peak RSS when the phase ended, so the last",
        "row is the peak over the whole sequence.",
        "",
        "| phase | unit | s3s-fs | coffer | coffer / s3s-fs | errors (s3s-fs / coffer) | s3s-fs VmHWM MiB | coffer VmHWM MiB |",
        "|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for name, label, unit, f in SDK_ROWS:
        sj, cj = ss.get(name), cs.get(name)
        sv, cv = (f(sj) if sj else None), (f(cj) if cj else None)
        ratio = "-" if not sv or cv is None else f"{cv / sv:.2f}x"
        errs = f"{sj['errors'] if sj else '-'} / {cj['errors'] if cj else '-'}"
        lines.append(
            f"| {label} | {unit} | {fmt(sv, unit)} | {fmt(cv, unit)} | {ratio} | {errs} | "
            f"{fmt(mib(sj, 'server_vm_hwm_kib'), '')} | {fmt(mib(cj, 'server_vm_hwm_kib'), '')} |"
        )
    peak = mib(cs.get("delete"), "server_vm_hwm_kib")
    sp, cp = ss.get("put64m"), cs.get("put64m")
    put_ratio = cp["mib_per_sec"] / sp["mib_per_sec"] if sp and cp and sp["mib_per_sec"] else None
    lines += [
        "",
        f"- coffer's peak RSS over the sequence: {fmt(peak, '')} MiB (target: at most 64 MiB): "
        f"{'-' if peak is None else ('met' if peak <= 64 else 'not met')}",
        f"- PUT 64 MiB x4, coffer / s3s-fs: {'-' if put_ratio is None else f'{put_ratio:.2f}x'} "
        f"(target: 1.5x): {'-' if put_ratio is None else ('met' if put_ratio >= 1.5 else 'not met')}",
    ]
# Hand-written analysis below this heading survives a re-run.
KEEP = "\n## Analysis"
old = open(out).read() if os.path.exists(out) else ""
tail = old[old.index(KEEP):] if KEEP in old else ""
with open(out, "w") as fh:
    fh.write("\n".join(lines) + "\n" + tail)
print(f"wrote {out}")
PY
