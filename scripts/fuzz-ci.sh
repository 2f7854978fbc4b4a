#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (FUZZ_SECS each, default 20) and fails
# on the first crash. cargo-fuzz's flags need nightly features; RUSTC_BOOTSTRAP=1 unlocks
# them on the stable toolchain. Crashes land in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${FUZZ_SECS:-20}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
status=0
for target in $(cargo fuzz list); do
    echo "== fuzz $target for ${secs}s"
    log=$(mktemp)
    # A crash makes cargo fuzz exit non-zero; the log says what and where.
    if ! cargo fuzz run -O "$target" -- -max_total_time="$secs" -max_len=4096 -print_final_stats=1 >"$log" 2>&1; then
        status=1
        tail -n 60 "$log"
    fi
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units)' "$log" || true
    rm -f "$log"
done
exit "$status"
