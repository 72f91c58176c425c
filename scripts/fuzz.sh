#!/usr/bin/env bash
# Coverage-guided fuzzing of pagelab: builds every cargo-fuzz target in
# fuzz/ and runs each for a bounded time on a scratch copy of its seed
# corpus (fuzz/corpus/TARGET, which stays untouched), then prints the
# executions per second and total executions of each.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 60)
#   FUZZ_TARGETS="machine scenario" scripts/fuzz.sh 30    (a subset)
#
# Exit status: 0 when no target found anything, 1 when one crashed, hung
# (10 s on one input), ran out of memory (2 GiB) or broke an invariant;
# the input is kept in fuzz/artifacts/TARGET/ (reproduce with
# `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/FILE`). Without a
# nightly toolchain the script says SKIP and exits 0. cargo-fuzz is
# installed if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
case "$secs" in
  '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]" >&2; exit 2 ;;
esac
read -r -a targets <<<"${FUZZ_TARGETS:-scenario overrides trace_refs trace_lackey trace_oracle_general trace_oracle_general_zst trace_text trace_csv trace_detect machine buddyinfo}"

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "SKIP: fuzzing needs the nightly toolchain (rustup toolchain install nightly)"
  exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo +nightly install cargo-fuzz --locked
fi

start=$(date +%s)
cd fuzz
# No sanitizer: pagelab is safe Rust (its one unsafe block is a prefetch
# hint), where AddressSanitizer finds nothing and halves the speed. Debug
# assertions and overflow checks stay on: an overflow is a finding.
cargo +nightly fuzz build --sanitizer none --debug-assertions
host=$(rustc +nightly -vV | sed -n 's/^host: //p')
bin="target/$host/release"
built=$(date +%s)

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
summary=()
for t in "${targets[@]}"; do
  printf '\n=== fuzz %s for %s s ===\n' "$t" "$secs"
  mkdir -p "$scratch/$t" "artifacts/$t"
  cp -R "corpus/$t/." "$scratch/$t/"
  log="$scratch/$t.log"
  rc=0
  "$bin/$t" "$scratch/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 >"$log" 2>&1 || rc=$?
  # libFuzzer's status lines end "... exec/s: N rss: M"; the last one is the run's.
  rate=$(grep -o 'exec/s: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || true)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || true)
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    grep -E "panicked at|ERROR: libFuzzer|SUMMARY|Test unit written" -A2 "$log" | head -n 40 || tail -n 40 "$log"
    summary+=("$(printf '%-22s %10s exec/s %12s runs  cov %6s  FAILED' "$t" "${rate:-?}" "${runs:-?}" "${cov:-?}")")
  else
    tail -n 3 "$log" | grep -v '^$' || true
    summary+=("$(printf '%-22s %10s exec/s %12s runs  cov %6s  ok' "$t" "${rate:-?}" "${runs:-?}" "${cov:-?}")")
  fi
done
end=$(date +%s)

printf '\n=== fuzzing summary (%s s per target) ===\n' "$secs"
printf '%s\n' "${summary[@]}"
printf 'build %d s, total %d s\n' $((built - start)) $((end - start))
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}: the inputs are in fuzz/artifacts/; make each a regression test"
  exit 1
fi
