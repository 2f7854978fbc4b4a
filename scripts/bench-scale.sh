#!/usr/bin/env bash
# Measures coffer on its engines in one run: redb + files, postgres + files and
# postgres + rados, each with one gateway and (for the shared engines) two gateways over
# the same store, with `coffer bench` put/get of 4 KiB and 64 MiB. For every scenario it
# also reports the CPU seconds each process spent (the gateways, PostgreSQL, the Ceph OSD
# and mon, the load generator), which names what saturates the machine's cores.
# Starts its own PostgreSQL (scripts/pg-test.sh) and one-host Ceph (scripts/ceph-test.sh,
# a memstore OSD: objects in RAM, so RADOS here is an upper bound on what disks give).
# Not part of CI. Prints a Markdown table; BENCH_OUT=FILE writes it there too.
#
#   scripts/bench-scale.sh                  # 5 s per scenario
#   BENCH_DURATION=10s scripts/bench-scale.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${BENCH_DURATION:-5s}
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
WORK=${BENCH_WORK:-$TARGET_DIR/bench-scale}
export COFFER_ACCESS_KEY_ID=benchaccesskey COFFER_SECRET_ACCESS_KEY=benchsecretkey0123456789

cargo build --release --locked -p coffer --features rados --bin coffer
COFFER=$TARGET_DIR/release/coffer
rm -rf "$WORK"
mkdir -p "$WORK/results"
PG_DIR=$(mktemp -d /tmp/coffer-bench-pg.XXXXXX)
CEPH_DIR=$(mktemp -d -u /tmp/coffer-bench-ceph.XXXXXX)
PIDS=()
stop_servers() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
}
cleanup() {
    stop_servers
    bash scripts/pg-test.sh stop "$PG_DIR" || true
    [ -f "$CEPH_DIR/ceph.conf" ] && bash scripts/ceph-test.sh stop "$CEPH_DIR" || true
}
trap cleanup EXIT
PG_URL=$(bash scripts/pg-test.sh start "$PG_DIR")
CEPH_CONF=$(MEMSTORE_BYTES=$((12 << 30)) bash scripts/ceph-test.sh start "$CEPH_DIR")

wait_port() {
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}

# CPU seconds (user + system) of the processes `pgrep ARGS` names.
cpu_of() {
    local total=0 pid t
    for pid in $(pgrep "$@" || true); do
        t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
        total=$((total + t))
    done
    echo "$total"
}
CLK=$(getconf CLK_TCK)
snapshot() {
    echo "$(cpu_of -f "$COFFER server") $(cpu_of -x postgres) $(cpu_of -x ceph-osd) $(cpu_of -x ceph-mon)"
}

# start ENGINES N: N gateways on one store; ENGINES is files, pg-files or pg-rados.
start() {
    local engines=$1 n=$2 i args=()
    local dir=$WORK/data-$engines-$n
    rm -rf "$dir"
    case $engines in
    pg-files) args=(--meta "$PG_URL?schema=b$n") ;;
    pg-rados) args=(--meta "$PG_URL?schema=r$n" --blobs "rados://coffer?conf=$CEPH_CONF&namespace=b$n") ;;
    esac
    PORTS=()
    for i in $(seq 1 "$n"); do
        local port=$((19300 + n * 10 + i))
        # One data dir: each gateway keeps only its root credentials and master key there.
        "$COFFER" server --data "$dir" --listen "127.0.0.1:$port" "${args[@]}" >"$dir-$i.log" 2>&1 &
        PIDS+=($!)
        wait_port "$port"
        PORTS+=("$port")
    done
}

# bench NAME SCENARIO ARGS...: `coffer bench` against every gateway at once, the
# concurrency split between them, on one bucket; ops and bytes summed.
bench() {
    local name=$1 conc=$2
    shift 2
    local each=$((conc / ${#PORTS[@]})) i=0 files=() bpids=() before after
    before=$(snapshot)
    local t0 t1
    t0=$(date +%s.%N)
    for port in "${PORTS[@]}"; do
        i=$((i + 1))
        "$COFFER" bench "$@" --endpoint "http://127.0.0.1:$port" --bucket bench --concurrency "$each" \
            --duration "$DUR" --json >"$WORK/results/$name-$i.json" &
        bpids+=($!)
        files+=("$WORK/results/$name-$i.json")
    done
    wait "${bpids[@]}"
    t1=$(date +%s.%N)
    after=$(snapshot)
    jq -s --arg name "$name" --arg before "$before" --arg after "$after" --arg wall "$(echo "$t1 - $t0" | bc)" --arg clk "$CLK" '
        ($before | split(" ") | map(tonumber)) as $b | ($after | split(" ") | map(tonumber)) as $a |
        {name: $name, ops_per_sec: (map(.ops_per_sec) | add), mib_per_sec: (map(.mib_per_sec) | add),
         p50: (map(.latency_ms.p50) | max), errors: (map(.errors) | add),
         cpu: [range(0; 4) | ([($a[.] - $b[.]) / ($clk | tonumber) / ($wall | tonumber), 0] | max)]}' "${files[@]}" \
        >"$WORK/results/$name.json"
    jq -r '"   \(.ops_per_sec|floor) ops/s, \(.mib_per_sec|floor) MiB/s, p50 \(.p50) ms, \(.errors) errors, cores: gateways \(.cpu[0]*100|floor)%, postgres \(.cpu[1]*100|floor)%, osd \(.cpu[2]*100|floor)%"' \
        "$WORK/results/$name.json"
}

run() {
    local engines=$1 n=$2
    echo "== $engines, $n gateway(s)"
    start "$engines" "$n"
    # The bucket, made through the first gateway (`--count 1` with --no-cleanup keeps it).
    "$COFFER" bench put --endpoint "http://127.0.0.1:${PORTS[0]}" --bucket bench --count 1 --no-cleanup >/dev/null
    bench "$engines-$n-put4k" 16 put --size 4KiB
    bench "$engines-$n-get4k" 16 get --size 4KiB --objects 1000
    bench "$engines-$n-put64m" 4 put --size 64MiB
    bench "$engines-$n-get64m" 4 get --size 64MiB --objects 4
    stop_servers
    # Gigabytes of 64 MiB objects: not kept.
    rm -rf "$WORK/data-$engines-$n"
}

run files 1
run pg-files 1
run pg-files 2
run pg-rados 1
run pg-rados 2

{
    echo "| engines | gateways | PUT 4 KiB ops/s | GET 4 KiB ops/s | PUT 64 MiB MiB/s | GET 64 MiB MiB/s |"
    echo "|---|---|---|---|---|---|"
    for c in files-1 pg-files-1 pg-files-2 pg-rados-1 pg-rados-2; do
        r() { jq -r "$1" "$WORK/results/$c-$2.json"; }
        echo "| ${c%-*} | ${c##*-} | $(r '.ops_per_sec|floor' put4k) | $(r '.ops_per_sec|floor' get4k) | $(r '.mib_per_sec|floor' put64m) | $(r '.mib_per_sec|floor' get64m) |"
    done
    echo
    echo "Share of one core per process during each scenario (gateways / PostgreSQL / Ceph OSD):"
    echo
    echo "| engines | gateways | PUT 4 KiB | GET 4 KiB | PUT 64 MiB | GET 64 MiB |"
    echo "|---|---|---|---|---|---|"
    for c in files-1 pg-files-1 pg-files-2 pg-rados-1 pg-rados-2; do
        r() { jq -r '.cpu | map(. * 100 | floor | tostring) | "\(.[0]) / \(.[1]) / \(.[2])"' "$WORK/results/$c-$1.json"; }
        echo "| ${c%-*} | ${c##*-} | $(r put4k) | $(r get4k) | $(r put64m) | $(r get64m) |"
    done
} | tee "$WORK/table.md"
[ -n "${BENCH_OUT:-}" ] && cp "$WORK/table.md" "$BENCH_OUT"
exit 0
