#!/usr/bin/env bash
# Fuzzes every parser entry point for SECONDS each (default 3600), JOBS at a time (default 1),
# with the mutation fuzzer in tests/fuzz.rs. Findings (panics, hangs, memory blow-ups) are saved
# under tests/fixtures/fuzz/<target>/, where CI replays them; commit them with the fix.
# Usage: bench/fuzz.sh [SECONDS] [JOBS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3600}; jobs=${2:-1}; shift $(( $# > 1 ? 2 : $# ))
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(mime attachment docx-xml sheet header extract config pdf doc legacy page-text letter)
cargo test --release --test fuzz --no-run >/dev/null 2>&1
mkdir -p target/fuzz
run() {
  BAOCAO_FUZZ_TARGET=$1 BAOCAO_FUZZ_SECONDS=$secs BAOCAO_FUZZ_SEED=$RANDOM$RANDOM \
    cargo test --release --test fuzz fuzz_for_a_while -- --ignored --nocapture > "target/fuzz/$1.log" 2>&1 || true
  grep -h "^fuzz \|saved" "target/fuzz/$1.log" || echo "fuzz $1: no summary (see target/fuzz/$1.log)"
}
export -f run; export secs
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run {}'
