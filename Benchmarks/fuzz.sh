#!/usr/bin/env bash
# Runs every libFuzzer harness of Sources/FovealFuzz for SECONDS each (not CI), starting from the
# committed corpora in Tests/Fuzz/corpus (new inputs go to a work copy under .build-fuzz), and
# prints executions and crashes per harness. Crash inputs are kept in .build-fuzz/crashes/.
# Usage: make fuzz SECONDS=N  (builds first), or Benchmarks/fuzz.sh SECONDS [HARNESS...];
# FUZZ_RUNS=N also stops each harness after N executions (whichever comes first).
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}; shift || true
harnesses=${*:-safetensors image mat y4m mjpeg recording mpii script calibration-row edid request-body}
binary=.build-fuzz/release/FovealFuzz
[ -x "$binary" ] || { echo "build first: make fuzz" >&2; exit 2; }
mkdir -p .build-fuzz/crashes
crashes_total=0
printf '%-16s %12s %10s %8s %8s\n' harness executions exec/s corpus crashes
for h in $harnesses; do
  work=.build-fuzz/corpus/$h
  mkdir -p "$work"
  log=.build-fuzz/$h.log
  # Whole files for the binary formats; a few kB hold any number of JSON entries or text lines.
  case $h in recording|mpii|script|request-body) max_len=8192 ;; *) max_len=65536 ;; esac
  LSAN_OPTIONS=suppressions=$PWD/Tests/Fuzz/lsan.supp FOVEAL_FUZZ_TARGET=$h FOVEAL_CHECKOUT=$PWD "$binary" "$work" "Tests/Fuzz/corpus/$h" -max_total_time="$seconds" ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} \
    -print_final_stats=1 -artifact_prefix=".build-fuzz/crashes/$h-" -max_len=$max_len -rss_limit_mb=4096 >"$log" 2>&1
  status=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(ls .build-fuzz/crashes/"$h"-* 2>/dev/null | wc -l)
  [ $status -ne 0 ] && [ "$crashes" -eq 0 ] && crashes="exit $status"
  printf '%-16s %12s %10s %8s %8s\n' "$h" "${runs:-0}" "${rate:-0}" "$(ls "$work" | wc -l)" "$crashes"
  [ "$crashes" != 0 ] && crashes_total=$((crashes_total + 1))
done
[ $crashes_total -eq 0 ]
