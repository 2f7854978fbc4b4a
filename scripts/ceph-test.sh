#!/usr/bin/env bash
# A throwaway one-host Ceph cluster for the RADOS blob engine's tests: one mon and one
# memstore OSD (objects live in the OSD's RAM), auth none, pool size 1, on loopback.
#   scripts/ceph-test.sh [start] [DIR]   prints the path of ceph.conf; DIR/pids lists the daemons
#   scripts/ceph-test.sh stop DIR        kills them (by pid) and removes DIR
# then: COFFER_TEST_RADOS=$(path printed) cargo test -p coffer-store --features rados --test conformance
# Env: POOL (default coffer), MEMSTORE_BYTES (default 2 GiB: the OSD's capacity, not
# memory it takes up front). Runs as any user (everything lives under DIR); about 5 s here.
# Needs Debian's ceph-mon ceph-osd ceph-common uuid-runtime (and librados-dev to build).
# No mgr: RADOS I/O and pool creation do not need one (`ceph -s` warns, harmlessly).
set -euo pipefail
[ "${1:-}" = start ] && shift
if [ "${1:-}" = stop ]; then
  DIR=${2:?usage: $0 stop DIR}
  [ -f "$DIR/ceph.conf" ] || { echo "$DIR holds no cluster of this script" >&2; exit 1; }
  # By pid, never by name. SIGKILL: nothing to keep (the OSD's objects are in its RAM),
  # and a clean stop takes 4 s (the OSD reports to the mon, which then winds down).
  if [ -f "$DIR/pids" ]; then
    while read -r _ pid; do kill -KILL "$pid" 2>/dev/null || true; done < "$DIR/pids"
    while read -r _ pid; do
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    done < "$DIR/pids"
  fi
  rm -rf "$DIR"
  exit 0
fi

DIR=${1:-$(mktemp -d /tmp/coffer-ceph.XXXXXX)}
if [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then echo "$DIR is not empty" >&2; exit 1; fi
mkdir -p "$DIR"/{run,log,mon.a,osd0}
DIR=$(cd "$DIR" && pwd)
T0=$(date +%s.%N)
trap 'echo "failed: logs in $DIR/log; $0 stop $DIR kills what started" >&2' ERR
# A free port: bound and released by the kernel's choice; v2 (msgr2) only, one port.
MON_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CONF=$DIR/ceph.conf
FSID=$(uuidgen)
cat > "$CONF" <<EOF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MON_PORT]
ms bind msgr1 = false
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
; with auth none, the default "secure" mode is impossible
ms mon client mode = crc
run dir = $DIR/run
crash dir = $DIR/crash
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
admin socket = $DIR/run/\$name.asok
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool delete = true
; a full disk under DIR must not stop the mon
mon data avail warn = 2
mon data avail crit = 1

[mon]
mon data = $DIR/mon.\$id
; a throwaway mon on a shared disk: start whatever space the disk has left
mon data avail crit = 0
mon data avail warn = 0

[osd]
osd data = $DIR/osd\$id
osd objectstore = memstore
memstore device bytes = ${MEMSTORE_BYTES:-2147483648}

[client]
; every test connects: one shared log, no admin socket per connection
log file = $DIR/log/client.log
admin socket =
EOF

monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" > "$DIR/log/mon.mkfs.out" 2>&1
ceph-mon -c "$CONF" -i a -f > "$DIR/log/mon.a.out" 2>&1 &
echo "mon.a $!" > "$DIR/pids"
CEPH() { timeout 30 ceph -c "$CONF" "$@"; }
OSD_UUID=$(uuidgen)
OSD_ID=$(CEPH osd new "$OSD_UUID")
ceph-osd -c "$CONF" -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" > "$DIR/log/osd.mkfs.out" 2>&1
ceph-osd -c "$CONF" -i "$OSD_ID" -f > "$DIR/log/osd.$OSD_ID.out" 2>&1 &
OSD_PID=$!
echo "osd.$OSD_ID $OSD_PID" >> "$DIR/pids"
out=$(CEPH osd pool create "${POOL:-coffer}" 8 2>&1) || { echo "$out" >&2; exit 1; }
# Ready when the OSD is up and a write goes through (the pool's PGs are active). A write
# sent before the OSD is up can stall far longer than the OSD takes to come up.
for i in $(seq 1 300); do
  kill -0 "$OSD_PID" 2>/dev/null || { echo "ceph-osd exited:" >&2; tail -20 "$DIR/log/osd.$OSD_ID.log" >&2; exit 1; }
  CEPH osd stat | grep -q ' 1 up' && break
  [ "$i" = 300 ] && { echo "OSD not up after 60 s" >&2; exit 1; }
  sleep 0.2
done
timeout 60 rados -c "$CONF" -p "${POOL:-coffer}" put ready "$CONF"
timeout 10 rados -c "$CONF" -p "${POOL:-coffer}" rm ready
echo "RADOS up in $(python3 -c "print(round($(date +%s.%N)-$T0,1))") s; daemons in $DIR/pids" >&2
echo "$CONF"
