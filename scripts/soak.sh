#!/usr/bin/env bash
# Soak test: a release coffer under hundreds of concurrent connections of mixed operations
# (GET/HEAD/PUT/DELETE, small inline objects and blob-sized ones) for SOAK_SECS, sampling
# the server's RSS. Reports ops/s, errors and peak RSS (VmHWM); fails on any error or if
# the server dies. Uses `coffer bench mixed` as the driver.
#
#   scripts/soak.sh            # 10 minutes, 256 + 32 connections
#   scripts/soak.sh --short    # 45 s, for CI
#   SOAK_SECS=1800 SOAK_CONN=512 scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${SOAK_SECS:-600}"
conn="${SOAK_CONN:-256}"
if [[ "${1:-}" == "--short" ]]; then secs="${SOAK_SECS:-45}"; conn="${SOAK_CONN:-200}"; fi

cargo build --release -p coffer --quiet
bin="${CARGO_TARGET_DIR:-target}/release/coffer"
"$bin" bench --help >/dev/null 2>&1 || { echo "soak: this coffer has no 'bench' subcommand" >&2; exit 2; }

work=$(mktemp -d)
export COFFER_ACCESS_KEY_ID=SOAKROOTKEY000000001 COFFER_SECRET_ACCESS_KEY=soak-secret-0123456789abcdef
"$bin" server --data "$work/data" --listen 127.0.0.1:0 --max-connections 2048 >"$work/server.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 100); do
    grep -q 'coffer listening on' "$work/server.log" && break
    sleep 0.1
done
endpoint=$(sed -n 's/^coffer listening on \(http:\/\/[^ ]*\).*/\1/p' "$work/server.log")
[[ -n "$endpoint" ]] || { cat "$work/server.log"; exit 1; }
echo "soak: $secs s, $conn + $((conn / 8)) connections against $endpoint (pid $pid)"

# RSS every 5 s: a flat curve after warm-up is what "no leak" looks like.
( while kill -0 "$pid" 2>/dev/null; do
      awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null; sleep 5
  done >"$work/rss.kb" ) &

# Small objects (inline in the metadata) and 1 MiB ones (blob files), side by side.
"$bin" bench mixed --endpoint "$endpoint" --bucket soak-small --size 4KiB -c "$conn" \
    -d "${secs}s" --objects 2000 --json >"$work/small.json" &
small=$!
"$bin" bench mixed --endpoint "$endpoint" --bucket soak-big --size 1MiB -c "$((conn / 8))" \
    -d "${secs}s" --objects 200 --json >"$work/big.json" &
big=$!
status=0
wait "$small" || status=1
wait "$big" || status=1

kill -0 "$pid" 2>/dev/null || { echo "soak: the server died"; cat "$work/server.log"; exit 1; }
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
python3 - "$work/small.json" "$work/big.json" "$work/rss.kb" "$hwm" "$secs" <<'PY' || status=1
import json, sys
small, big, rss, hwm, secs = sys.argv[1:]
ops = errors = 0
for path in (small, big):
    r = json.load(open(path))
    for o in r.get("by_op", []):
        ops += o.get("ops", 0); errors += o.get("errors", 0)
        print(f"  {path.rsplit('/', 1)[-1]:<10} {o['op']:<8} {o['ops']:>9} ops {o['ops_per_sec']:>9.1f}/s  errors {o['errors']}")
    for e in r.get("first_errors", []):
        print("  error:", e)
samples = [int(x) for x in open(rss).read().split()]
print(f"soak: {ops} ops in {secs} s = {ops / float(secs):.0f} ops/s, {errors} errors")
print(f"soak: peak RSS (VmHWM) {int(hwm) / 1024:.1f} MiB; RSS first/middle/last sample "
      f"{samples[0] / 1024:.1f}/{samples[len(samples) // 2] / 1024:.1f}/{samples[-1] / 1024:.1f} MiB"
      if samples else f"soak: peak RSS (VmHWM) {int(hwm) / 1024:.1f} MiB")
sys.exit(1 if errors else 0)
PY
exit "$status"
