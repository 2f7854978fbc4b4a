#!/usr/bin/env bash
# CI lane for the shared engines: a throwaway PostgreSQL and a one-host Ceph, then
#  - the engine conformance suite on PostgreSQL and on RADOS, and the RADOS engine's own tests;
#  - the whole integration suite once against a postgres + rados server.
# Installs Debian's postgresql, ceph-mon, ceph-osd, ceph-common, uuid-runtime and
# librados-dev when missing (a failed install fails the lane: nothing here is optional).
# Builds with `--features rados` into the same target dir as the rest of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [[ "$(id -u)" == 0 ]] || SUDO="sudo"

need=()
ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || need+=(postgresql)
for p in ceph-mon ceph-osd ceph-common uuid-runtime librados-dev; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if ((${#need[@]})); then
  echo "installing Debian's ${need[*]}"
  $SUDO apt-get update -qq >/dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

PG_DIR=$(mktemp -d /tmp/coffer-ci-pg.XXXXXX)
CEPH_DIR=$(mktemp -d -u /tmp/coffer-ci-ceph.XXXXXX)
cleanup() {
  bash scripts/pg-test.sh stop "$PG_DIR" || true
  [[ -f "$CEPH_DIR/ceph.conf" ]] && bash scripts/ceph-test.sh stop "$CEPH_DIR" || true
}
trap cleanup EXIT
PG_URL=$(bash scripts/pg-test.sh start "$PG_DIR")
# The suite leaves its objects behind (a namespace per test): room for one run of it,
# in the OSD's RAM only as far as it is used.
CEPH_CONF=$(MEMSTORE_BYTES=$((8 << 30)) bash scripts/ceph-test.sh start "$CEPH_DIR")

echo "-- conformance on PostgreSQL and RADOS, and the RADOS engine's tests"
COFFER_TEST_POSTGRES="$PG_URL" COFFER_TEST_RADOS="$CEPH_CONF" \
  cargo test --locked -p coffer-store --features postgres,rados --test conformance --test rados

echo "-- the integration suite on postgres + rados"
COFFER_TEST_META="$PG_URL" COFFER_TEST_BLOBS="rados://coffer?conf=$CEPH_CONF" \
  cargo test --locked -p coffer --features rados --test it
