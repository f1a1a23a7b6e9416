#!/usr/bin/env bash
# Side-by-side kernel timings of several builds of mnistcnn_bench_kernels: each round runs
# each binary once with --benchmark_filter=FILTER, ROUNDS rounds alternating; prints the
# median wall-clock time (real_time) of every benchmark per binary, in microseconds, and
# the ratio of the first two (old / new: above 1 means the second is faster).
# Usage: scripts/ab_kernels.sh ROUNDS FILTER BENCH_BINARY...
# e.g.   scripts/ab_kernels.sh 7 'BM_Conv2' /tmp/old/mnistcnn_bench_kernels build/bench/mnistcnn_bench_kernels
set -euo pipefail
rounds=$1 filter=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$rounds"); do
  i=0
  for b in "$@"; do
    # JSON, not CSV: the CSV reporter aborts when benchmarks report different counters.
    "$b" --benchmark_filter="$filter" --benchmark_format=json 2>/dev/null >"$tmp/out.json"
    /usr/bin/python3 - "$tmp/out.json" "$i" >>"$tmp/all" <<'PY'
import json, sys
scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    print(sys.argv[2], b["name"], b["real_time"] * scale[b["time_unit"]])
PY
    i=$((i + 1))
  done
done
/usr/bin/python3 - "$tmp/all" "$@" <<'PY'
import collections, statistics, sys
times = collections.defaultdict(list)
order = []
for line in open(sys.argv[1]):
    i, name, t = line.split()
    if name not in order:
        order.append(name)
    times[(name, int(i))].append(float(t))
bins = sys.argv[2:]
for name in order:
    meds = [statistics.median(times[(name, i)]) if times[(name, i)] else float("nan") for i in range(len(bins))]
    ratio = f"   ratio {meds[0] / meds[1]:.3f}" if len(meds) > 1 else ""
    print(f"{name:45s} " + "  ".join(f"{m:10.1f}" for m in meds) + ratio)
PY
