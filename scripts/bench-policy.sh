#!/usr/bin/env bash
# What a bucket policy costs a GET: one server, one user who owns two buckets, one of them
# with the 20-statement policy in scripts/bench-policy-20.json; alternating runs of
# `coffer bench get` against each, so noise hits both alike. Each line gives ops/s and the
# server's CPU time per GET (from /proc), which a busy machine disturbs far less; quote the
# ratio of the means.
#
#   scripts/bench-policy.sh BIN [ROUNDS]      (BENCH_DURATION, default 8s)
set -euo pipefail
bin="$1" rounds="${2:-3}" dur="${BENCH_DURATION:-8s}"
here="$(cd "$(dirname "$0")" && pwd)"
d=$(mktemp -d)
port=$((19000 + RANDOM % 1000))
export COFFER_ACCESS_KEY_ID=benchroot COFFER_SECRET_ACCESS_KEY=benchrootsecret12345678
"$bin" server --data "$d/data" --listen "127.0.0.1:$port" >"$d/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$d"' EXIT
sleep 1
user=$("$bin" user add owner --endpoint "http://127.0.0.1:$port")
key=$(echo "$user" | sed -n 's/.*"access_key_id": *"\([^"]*\)".*/\1/p')
secret=$(echo "$user" | sed -n 's/.*"secret_access_key": *"\([^"]*\)".*/\1/p')
for round in $(seq "$rounds"); do
    for v in none policy; do
        extra=()
        [ "$v" = policy ] && extra=(--bucket-policy "$here/bench-policy-20.json")
        cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
        r=$(COFFER_ACCESS_KEY_ID="$key" COFFER_SECRET_ACCESS_KEY="$secret" "$bin" bench get \
            --size 4KiB --concurrency 32 --objects 1000 --duration "$dur" --bucket "bench-$v" \
            --endpoint "http://127.0.0.1:$port" "${extra[@]}" 2>&1 | grep -E '^GET ' | tail -1)
        cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
        ops=$(echo "$r" | awk '{print $2}')
        # Clock ticks (1/100 s) over the measured phase and the preparation before it.
        us=$(awk -v t=$((cpu1 - cpu0)) -v n="$ops" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t * 1e6 / hz / (n + 1000) }')
        echo "round $round $v | $r | server CPU ${us} us/op"
    done
done
