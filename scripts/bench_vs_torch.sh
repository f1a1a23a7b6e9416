#!/usr/bin/env bash
# mnistcnn against libtorch, side by side: for ROUNDS rounds, runs each job once with our
# engine and once with bench/torch/torch_reference (libtorch 1.13, same network, recipe,
# batch, data and thread count), swapping which goes first every round, then prints a
# Markdown table of medians and ratios and the exact commands. Builds nothing.
#
# Usage: scripts/bench_vs_torch.sh DATA_DIR ROUNDS [OUT_DIR]
#   e.g. scripts/bench_vs_torch.sh ../shared/data/mnist 3
# Environment:
#   MNISTCNN=path         our program (default build/mnistcnn)
#   TORCH_REFERENCE=path  the libtorch program (default build/bench/torch/torch_reference)
#   JOBS="net:threads ..." the jobs (default "keras-mnist:2 keras-mnist:1 lenet:2"; lenet:1 is
#                         worth adding to find libtorch's best thread count for lenet)
# OUT_DIR (default runs/bench_vs_torch) keeps the raw JSON of every run and their stderr.
#
# Each job: one training epoch (60,000 images, no validation) + inference over the 10,000
# test images (batch 256). Ours: `mnistcnn train ... --epochs 1 --no-val` under
# /usr/bin/time (peak RSS), then `mnistcnn eval --repeat 3` of the model it wrote (a cold
# first pass in a fresh process, then the median of 3 more passes). libtorch: one process that trains one epoch, then times inference (one
# warm-up pass, median of 3 passes: libtorch's best case), single-image latency and reads
# its own peak RSS (getrusage). Both run with OMP_NUM_THREADS=T and OPENBLAS_NUM_THREADS=1
# (libtorch: without the latter its OpenMP and OpenBLAS threads fight).
#
# Run it on an idle machine: with two OpenMP threads on two cores, any other busy process
# makes every parallel region wait for a descheduled thread, and 2-thread timings (of both
# engines) come out tens of times slower than they should.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  echo "usage: $0 DATA_DIR ROUNDS [OUT_DIR]" >&2
  exit 2
fi
data=$1 rounds=$2 out=${3:-runs/bench_vs_torch}
ours=${MNISTCNN:-build/mnistcnn}
torchref=${TORCH_REFERENCE:-build/bench/torch/torch_reference}
jobs=${JOBS:-"keras-mnist:2 keras-mnist:1 lenet:2"}
py=/usr/bin/python3

[ -x "$ours" ] || { echo "$0: $ours: not found or not executable (build it, or set MNISTCNN)" >&2; exit 1; }
[ -x "$torchref" ] || { echo "$0: $torchref: not found (install libtorch-dev and build, or set TORCH_REFERENCE)" >&2; exit 1; }
[ -d "$data" ] || { echo "$0: $data: no such directory" >&2; exit 1; }
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "$0: ROUNDS must be a positive number" >&2; exit 2; }
[ -x "$py" ] || { echo "$0: needs $py" >&2; exit 1; }
have_time=0
[ -x /usr/bin/time ] && have_time=1

# Peak RSS (KiB) of a command, written to file $1: /usr/bin/time, else a python wrapper.
rss_run() {
  local rss_file=$1
  shift
  if [ "$have_time" = 1 ]; then
    /usr/bin/time -f %M -o "$rss_file" "$@"
  else
    "$py" -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
open(sys.argv[1], "w").write("%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)' "$rss_file" "$@"
  fi
}

mkdir -p "$out"
for j in $jobs; do
  rm -f "$out/ours-${j/:/-t}".{train,eval,rss}.jsonl "$out/torch-${j/:/-t}.jsonl"
done
rm -f "$out/stderr.log"
model=$(mktemp --suffix=.safetensors)
on_exit() {
  local rc=$?
  rm -f "$model"
  if [ "$rc" != 0 ] && [ -s "$out/stderr.log" ]; then
    echo "$0: a run failed; the end of $out/stderr.log:" >&2
    tail -n 20 "$out/stderr.log" >&2
  fi
}
trap on_exit EXIT

read -r load1 _ </proc/loadavg
echo "# $(date -u +%FT%TZ), $(nproc) cores, load average $load1 at start" >&2
if "$py" -c "import sys; sys.exit(0 if float('$load1') > 0.5 else 1)"; then
  echo "warning: the machine is busy (load $load1); 2-thread timings will not be meaningful" >&2
fi

run_ours() {  # net threads
  local net=$1 t=$2 tag="ours-$1-t$2"
  OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=1 rss_run "$out/$tag.rss.tmp" \
    "$ours" train --preset "$net" --data "$data" --epochs 1 --no-val --json --quiet --threads "$t" --out "$model" \
    >>"$out/$tag.train.jsonl"
  cat "$out/$tag.rss.tmp" >>"$out/$tag.rss.jsonl" && rm -f "$out/$tag.rss.tmp"
  OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=1 \
    "$ours" eval --model "$model" --data "$data" --batch-size 256 --repeat 3 --json --threads "$t" >>"$out/$tag.eval.jsonl"
}
run_torch() {  # net threads
  local net=$1 t=$2
  OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=1 \
    "$torchref" --net "$net" --data "$data" --epochs 1 --threads "$t" --json >>"$out/torch-$net-t$t.jsonl"
}

for r in $(seq "$rounds"); do
  for j in $jobs; do
    net=${j%%:*} t=${j##*:}
    echo "round $r/$rounds: $net, $t threads" >&2
    if [ $((r % 2)) = 1 ]; then
      run_ours "$net" "$t" 2>>"$out/stderr.log"
      run_torch "$net" "$t" 2>>"$out/stderr.log"
    else
      run_torch "$net" "$t" 2>>"$out/stderr.log"
      run_ours "$net" "$t" 2>>"$out/stderr.log"
    fi
  done
done

# shellcheck disable=SC2086  # $jobs: one argument per job
"$py" - "$out" "$rounds" "$ours" "$torchref" "$data" $jobs <<'PY'
import json, statistics, sys
out, rounds, ours, torchref, data, jobs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]

def lines(path):
    with open(path) as f:
        return [l for l in f.read().splitlines() if l.strip()]

med = statistics.median
rows, info = [], None
for j in jobs:
    net, t = j.split(":")
    tag = f"{net}-t{t}"
    tr = [json.loads(l) for l in lines(f"{out}/ours-{tag}.train.jsonl")]
    ev = [json.loads(l) for l in lines(f"{out}/ours-{tag}.eval.jsonl")]
    rss = [int(l) / 1024.0 for l in lines(f"{out}/ours-{tag}.rss.jsonl")]
    to = [json.loads(l) for l in lines(f"{out}/torch-{tag}.jsonl")]
    info = to[0]
    rows.append(dict(
        net=net, t=int(t), batch=to[0]["batch_size"], n=len(tr),
        o_ep=med([x["epochs"][0]["epoch_seconds"] for x in tr]),
        t_ep=med([x["epoch_seconds"][0] for x in to]),
        o_ep_all=[x["epochs"][0]["epoch_seconds"] for x in tr],
        t_ep_all=[x["epoch_seconds"][0] for x in to],
        o_inf=med([x["warm_images_per_second"] for x in ev]),
        o_inf_cold=med([x["images_per_second"] for x in ev]),
        t_inf=med([x["infer_images_per_second"] for x in to]),
        t_inf_cold=med([x["infer_first_pass_images_per_second"] for x in to]),
        t_1img=med([x["single_image_ms"] for x in to]),
        o_rss=med(rss), t_rss=med([x["peak_rss_mb"] for x in to]),
        o_acc=med([x["test_accuracy"] for x in tr]), t_acc=med([x["test_accuracy"] for x in to]),
    ))

print(f"Training, one epoch of 60,000 images (median of {rounds} rounds; test accuracy after that epoch):\n")
print("| network | batch | threads | mnistcnn s/epoch | libtorch s/epoch | speed-up | accuracy mnistcnn / libtorch |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    print(f"| `{r['net']}` | {r['batch']} | {r['t']} | {r['o_ep']:.2f} | {r['t_ep']:.2f} | **{r['t_ep'] / r['o_ep']:.2f}x** "
          f"| {100 * r['o_acc']:.2f}% / {100 * r['t_acc']:.2f}% |")
print()
print("Inference over the 10,000 test images (batch 256) and peak resident memory of the training process:\n")
print("| network | threads | mnistcnn images/s (cold pass) | libtorch images/s (cold pass) | ratio (cold) | "
      "libtorch 1 image | mnistcnn peak RSS | libtorch peak RSS | RSS ratio |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    print(f"| `{r['net']}` | {r['t']} | {r['o_inf']:,.0f} ({r['o_inf_cold']:,.0f}) | {r['t_inf']:,.0f} ({r['t_inf_cold']:,.0f}) "
          f"| **{r['o_inf'] / r['t_inf']:.2f}x** ({r['o_inf_cold'] / r['t_inf_cold']:.2f}x) | {r['t_1img']:.3f} ms "
          f"| {r['o_rss']:.0f} MiB | {r['t_rss']:.0f} MiB | {r['o_rss'] / r['t_rss']:.2f} |")
print()
by = {(r["net"], r["t"]): r for r in rows}
for net in sorted({r["net"] for r in rows}):
    if (net, 1) in by and (net, 2) in by:
        o = by[(net, 1)]["o_ep"] / by[(net, 2)]["o_ep"]
        t = by[(net, 1)]["t_ep"] / by[(net, 2)]["t_ep"]
        print(f"`{net}` training, 2 threads against 1: mnistcnn {o:.2f}x, libtorch {t:.2f}x.")
    ts = [r for r in rows if r["net"] == net]
    if len(ts) > 1:
        best = min(ts, key=lambda r: r["t_ep"])
        ours2 = min(ts, key=lambda r: r["o_ep"])
        print(f"`{net}`: libtorch's best ({best['t']} threads, {best['t_ep']:.2f} s) against mnistcnn's best "
              f"({ours2['t']} threads, {ours2['o_ep']:.2f} s): {best['t_ep'] / ours2['o_ep']:.2f}x.")
print()
print("Per-run epoch seconds (mnistcnn | libtorch):\n")
for r in rows:
    print(f"- `{r['net']}`, {r['t']} threads: " + ", ".join(f"{s:.2f}" for s in r["o_ep_all"]) + " | "
          + ", ".join(f"{s:.2f}" for s in r["t_ep_all"]))
print()
blas = [p for p in info["math_libraries"] if "blas" in p]
print(f"libtorch {info['torch_version']}, mkldnn {'on' if info['mkldnn_enabled'] else 'off'}, "
      f"BLAS loaded: {', '.join(blas) or 'none'}; inference: eval mode + InferenceMode, one warm-up pass then "
      f"the median of 3 passes (the cold first pass in brackets); mnistcnn eval --repeat 3: the same (its first, "
      f"scored pass is the cold one).")
if any("/blas/libblas.so" in p for p in blas):
    print("\n**Note**: libtorch resolved `libblas.so.3` to the netlib reference BLAS (no OpenBLAS installed), "
          "which slows its dense layers and its batch-1 convolutions; install `libopenblas0` for a fair reference.")
print()
print("Commands (per round, per job NET:T; the order of the two engines alternates each round):\n")
print("```sh")
print(f"OMP_NUM_THREADS=T OPENBLAS_NUM_THREADS=1 /usr/bin/time -f %M {ours} train --preset NET --data {data} "
      f"--epochs 1 --no-val --json --quiet --threads T --out MODEL")
print(f"OMP_NUM_THREADS=T OPENBLAS_NUM_THREADS=1 {ours} eval --model MODEL --data {data} --batch-size 256 --repeat 3 "
      f"--json --threads T")
print(f"OMP_NUM_THREADS=T OPENBLAS_NUM_THREADS=1 {torchref} --net NET --data {data} --epochs 1 --threads T --json")
print("```")
print(f"\nRaw JSON of every run: {out}/")
PY
