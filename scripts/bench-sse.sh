#!/usr/bin/env bash
# What encryption costs, in one run against one server: PUT and GET of 64 MiB objects
# unencrypted and with SSE-S3 (the ratio is what matters; the machine is shared), and the
# bytes a 1 MiB ranged GET of a 1 GiB SSE-C object makes the server read (its rchar, from
# /proc), against the same range of an unencrypted 1 GiB object.
#
#   scripts/bench-sse.sh [COFFER_BINARY] [SECONDS]
set -euo pipefail
BIN="${1:-target/release/coffer}"; SECS="${2:-20}"
PORT=$((19000 + RANDOM % 1000)); D=$(mktemp -d); EP="http://127.0.0.1:$PORT"
export COFFER_ACCESS_KEY_ID=benchroot COFFER_SECRET_ACCESS_KEY=benchrootsecret12345678
"$BIN" server --data "$D/data" --listen 127.0.0.1:$PORT --sse-c-over-http > "$D/log" 2>&1 &
SRV=$!
trap 'kill $SRV 2>/dev/null; rm -rf "$D"' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "$EP" && break; sleep 0.2; done

# MiB/s of operation $1 in a `coffer bench --json` result.
mibs() { python3 -c 'import json,sys; r=json.load(sys.stdin); print(round(next(o["mib_per_sec"] for o in r["by_op"] if o["op"]==sys.argv[1]),1))' "$1"; }
run() { "$BIN" bench "$@" --endpoint "$EP" --json 2>/dev/null; }

echo "64 MiB objects, 2 clients, ${SECS}s each"
for sse in none s3; do
  put=$(run put --size 64MiB --concurrency 2 --duration "${SECS}s" --sse $sse | mibs PUT)
  get=$(run get --size 64MiB --concurrency 2 --objects 4 --duration "${SECS}s" --sse $sse | mibs GET)
  echo "  sse=$sse: PUT $put MiB/s, GET $get MiB/s"
  eval "put_$sse=$put get_$sse=$get"
done
awk -v a="$put_s3" -v b="$put_none" -v c="$get_s3" -v d="$get_none" \
  'BEGIN { printf "  SSE-S3 / unencrypted: PUT %.0f%%, GET %.0f%%\n", 100*a/b, 100*c/d }'

rchar() { awk '/^rchar/ {print $2}' /proc/$SRV/io; }
echo "1 MiB ranges of a 1 GiB object, 100 GETs"
for sse in none c; do
  run get --size 1GiB --objects 1 --count 1 --concurrency 1 --prefix "r-$sse/" --no-cleanup --sse $sse > /dev/null
  before=$(rchar)
  run get --size 1GiB --objects 1 --count 100 --concurrency 1 --prefix "r-$sse/" --no-prepare --no-cleanup \
    --range 1MiB --sse $sse > /dev/null
  after=$(rchar)
  echo "  sse=$sse: $(( (after - before) / 100 )) bytes read by the server per 1 MiB GET"
done
