#!/usr/bin/env bash
# What a bucket policy costs a GET, in instructions: the server runs under callgrind, a
# user GETs 2,000 small objects from a bucket without a policy and from one with the
# 20-statement policy in scripts/bench-policy-20.json, twice each, and the counts are
# read between runs (callgrind_control). Instructions do not depend on what else the
# machine is doing, unlike throughput (scripts/bench-policy.sh).
#
#   scripts/bench-policy-cg.sh BIN
set -euo pipefail
BIN="$1"; PORT=$((19000 + RANDOM % 1000)); D=$(mktemp -d)
HERE="$(cd "$(dirname "$0")" && pwd)"
export COFFER_ACCESS_KEY_ID=benchroot COFFER_SECRET_ACCESS_KEY=benchrootsecret12345678
valgrind --tool=callgrind --callgrind-out-file="$D/cg.out" "$BIN" server --data "$D/data" --listen 127.0.0.1:$PORT > "$D/log" 2>&1 &
sleep 8
PID=$(pgrep -f "callgrind.*$PORT" | head -1)
U=$("$BIN" user add owner --endpoint http://127.0.0.1:$PORT)
K=$(echo "$U" | sed -n 's/.*"access_key_id": *"\([^"]*\)".*/\1/p'); S=$(echo "$U" | sed -n 's/.*"secret_access_key": *"\([^"]*\)".*/\1/p')
for v in none policy; do
  extra=(); [ $v = policy ] && extra=(--bucket-policy "$HERE/bench-policy-20.json")
  COFFER_ACCESS_KEY_ID=$K COFFER_SECRET_ACCESS_KEY=$S "$BIN" bench get --concurrency 2 --objects 50 --count 10 --prefix p/ --no-cleanup --bucket bench-$v --endpoint http://127.0.0.1:$PORT "${extra[@]}" > /dev/null 2>&1
done
for round in 1 2; do for v in none policy; do
  callgrind_control -z $PID > /dev/null 2>&1
  COFFER_ACCESS_KEY_ID=$K COFFER_SECRET_ACCESS_KEY=$S "$BIN" bench get --concurrency 4 --objects 50 --count 2000 --prefix p/ --no-prepare --no-cleanup --bucket bench-$v --endpoint http://127.0.0.1:$PORT > /dev/null 2>&1
  callgrind_control -d "$v-$round" $PID > /dev/null 2>&1; sleep 1
  f=$(ls -t "$D"/cg.out.* | head -1)
  echo "round $round $v: $(grep -m1 '^summary' "$f" | awk '{printf "%.0f instructions per GET", $2/2000}')"
done; done
kill $PID; sleep 2; rm -rf "$D"
