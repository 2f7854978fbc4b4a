#!/usr/bin/env bash
# Instructions per GET, counted under callgrind: a user GETs 2,000 4 KiB objects from its own
# bucket (no policy), twice, from server binary SERVER with the client CLIENT. Run it for two
# commits' binaries with the same client to compare the hot path without machine noise.
#
#   scripts/bench-get-cg.sh SERVER CLIENT
set -euo pipefail
SRV="$1"; CLI="$2"; PORT=$((19000 + RANDOM % 1000)); D=$(mktemp -d)
export COFFER_ACCESS_KEY_ID=benchroot COFFER_SECRET_ACCESS_KEY=benchrootsecret12345678
valgrind --tool=callgrind --callgrind-out-file="$D/cg.out" "$SRV" server --data "$D/data" --listen 127.0.0.1:$PORT > "$D/log" 2>&1 &
sleep 8
PID=$(pgrep -f "callgrind.*$PORT" | head -1)
U=$("$CLI" user add owner --endpoint http://127.0.0.1:$PORT)
K=$(echo "$U" | sed -n 's/.*"access_key_id": *"\([^"]*\)".*/\1/p'); S=$(echo "$U" | sed -n 's/.*"secret_access_key": *"\([^"]*\)".*/\1/p')
COFFER_ACCESS_KEY_ID=$K COFFER_SECRET_ACCESS_KEY=$S "$CLI" bench get --concurrency 2 --objects 50 --count 10 --prefix p/ --no-cleanup --bucket bench-none --endpoint http://127.0.0.1:$PORT > /dev/null 2>&1
for round in 1 2; do
  callgrind_control -z $PID > /dev/null 2>&1
  COFFER_ACCESS_KEY_ID=$K COFFER_SECRET_ACCESS_KEY=$S "$CLI" bench get --concurrency 4 --objects 50 --count 2000 --prefix p/ --no-prepare --no-cleanup --bucket bench-none --endpoint http://127.0.0.1:$PORT > /dev/null 2>&1
  callgrind_control -d "r$round" $PID > /dev/null 2>&1; sleep 1
  f=$(ls -t "$D"/cg.out.* | head -1)
  echo "$(basename $SRV) round $round: $(grep -m1 '^summary' "$f" | awk '{printf "%.0f instructions per GET", $2/2000}')"
done
kill $PID; sleep 2; rm -rf "$D"
