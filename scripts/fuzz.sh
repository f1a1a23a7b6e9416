#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -DMNISTCNN_FUZZ=ON, in build-fuzz) and runs each for
# SECONDS (default 30) on a scratch copy of its seed corpus in fuzz/corpus, so the committed
# corpus never grows. Prints executions, coverage and the result per target; exits 1 when a
# target found a crash, leak, timeout or out-of-memory (the inputs are kept and named).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   targets: idx safetensors spec png (default all)
# FUZZ_NO_BUILD=1 skips configuring and building (for runs side by side on one build).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(idx safetensors spec png)
build=build-fuzz

# Longest input per target: a little above the largest seed.
declare -A max_len=([idx]=8192 [safetensors]=4096 [spec]=512 [png]=4096)
for t in "${targets[@]}"; do
  [ -n "${max_len[$t]:-}" ] || { echo "fuzz.sh: unknown target '$t' (idx, safetensors, spec, png)" >&2; exit 2; }
done

if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
  command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
  cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMNISTCNN_FUZZ=ON -DMNISTCNN_BUILD_TESTS=OFF \
    -DMNISTCNN_BUILD_BENCH=OFF >/dev/null
  cmake --build "$build" --target "${targets[@]/%/_fuzz}"
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export OMP_NUM_THREADS=1

found=0
printf '%-12s %7s %10s %8s %6s %7s %7s %8s  %s\n' target elapsed execs exec/s cov ft corpus rss_mb result
for t in "${targets[@]}"; do
  run="$build/fuzz-runs/$t"
  rm -rf "$run"
  mkdir -p "$run/artifacts"
  cp -r "fuzz/corpus/$t" "$run/corpus"
  rc=0
  start=$SECONDS
  "$build/fuzz/${t}_fuzz" "$run/corpus" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -max_len="${max_len[$t]}" -timeout=25 -dict="fuzz/dict/$t.dict" -print_final_stats=1 \
    -artifact_prefix="$run/artifacts/" >"$run/log" 2>&1 || rc=$?
  elapsed=$((SECONDS - start))
  final_stat() { sed -n "s/^stat::$1: *//p" "$run/log" | tail -1; }
  last=$(grep -E '^#[0-9]+.* cov: ' "$run/log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  artifacts=$(find "$run/artifacts" -type f | sort)
  if [ "$rc" -eq 0 ] && [ -z "$artifacts" ]; then
    result="no finding"
  else
    found=1
    result="FINDING (exit $rc): $(grep -m1 -E '^==[0-9]+== ?ERROR|SUMMARY|runtime error|fuzz invariant|out-of-memory|timeout' "$run/log" || echo 'see log')"
  fi
  printf '%-12s %7s %10s %8s %6s %7s %7s %8s  %s\n' "$t" "${elapsed}s" "$(final_stat number_of_executed_units)" \
    "$(final_stat average_exec_per_sec)" "${cov:-?}" "${ft:-?}" "$(find "$run/corpus" -type f | wc -l)" \
    "$(final_stat peak_rss_mb)" "$result"
  for a in $artifacts; do
    echo "             input: $a (log: $run/log); base64, to reproduce from a CI log:"
    base64 -w 100 "$a" | head -c 20000
    echo
  done
done
exit "$found"
