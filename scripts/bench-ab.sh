#!/usr/bin/env bash
# A/B of two coffer binaries on the same machine, alternating, a fresh data directory per
# run, so noise hits both alike. Quote figures as the ratio of the means.
#
#   scripts/bench-ab.sh OLD_BIN NEW_BIN "get --size 4KiB --concurrency 32 --objects 1000" ...
#
# ROUNDS (default 3) and BENCH_DURATION (default 8s) tune it; NEW_BIN runs the client.
set -euo pipefail
old="$1" new="$2"; shift 2
rounds="${ROUNDS:-3}" dur="${BENCH_DURATION:-8s}"
export COFFER_ACCESS_KEY_ID=benchkey COFFER_SECRET_ACCESS_KEY=benchsecret12345678
for round in $(seq "$rounds"); do
    for v in old new; do
        bin=$old; [ "$v" = new ] && bin=$new
        d=$(mktemp -d)
        port=$((19000 + RANDOM % 1000))
        "$bin" server --data "$d/data" --listen "127.0.0.1:$port" >"$d/log" 2>&1 &
        pid=$!
        sleep 1
        for sc in "$@"; do
            # shellcheck disable=SC2086
            r=$("$new" bench $sc --duration "$dur" --endpoint "http://127.0.0.1:$port" 2>&1 | grep -E '^(PUT|GET|HEAD|LIST|DELETE|MIXED|MULTIPART) ' | tail -1)
            echo "round $round $v | $sc | $r"
        done
        kill "$pid"; wait "$pid" 2>/dev/null || true
        rm -rf "$d"
    done
done
