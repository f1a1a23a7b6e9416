#!/usr/bin/env bash
# Load test of `mnistcnn serve`: wrk POSTs a drawn digit (a PNG the browser test saved
# from the page's canvas) to /api/predict for a while, on loopback only, and reports
# requests/s, latency percentiles, errors, and the server's resident memory before,
# during and after (it must stay flat).
#   scripts/load_test.sh MODEL [SECONDS=30] [CONNECTIONS=8] [PNG=tests/fixtures/drawn_3.png]
# Environment: BIN (default build/mnistcnn), SERVE_ARGS (extra flags for serve).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: scripts/load_test.sh MODEL [SECONDS] [CONNECTIONS] [PNG]}
seconds=${2:-30} connections=${3:-8} png=${4:-tests/fixtures/drawn_3.png}
bin=${BIN:-build/mnistcnn}
command -v wrk >/dev/null || { echo "load_test: wrk is missing (apt-get install wrk)" >&2; exit 1; }

log=$(mktemp -d)
"$bin" serve --model "$model" --port 0 --data /nonexistent ${SERVE_ARGS:-} >"$log/out" 2>"$log/err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$log"' EXIT
for _ in $(seq 100); do grep -q serving "$log/out" && break; sleep 0.1; done
url=$(grep -o 'http://[^ ]*' "$log/out") || { cat "$log/err" >&2; exit 1; }
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }

code=$(curl -s -o "$log/first.json" -w '%{http_code}' -H 'Content-Type: image/png' --data-binary @"$png" "${url}api/predict")
[ "$code" = 200 ] || { echo "load_test: first request got $code: $(cat "$log/first.json")" >&2; exit 1; }
echo "server: $url ($(grep -o '[0-9]* predictions at once.*' "$log/err"))"
echo "body: $png ($(stat -c %s "$png") bytes), answer: $(grep -o '"label":"[^"]*"' "$log/first.json")"
echo "wrk: $seconds s, $connections connections, 2 threads"
# Warm-up, so the pool of network copies and the allocator reach their working size.
BODY=$png wrk -t2 -c"$connections" -d3s -s scripts/wrk_predict.lua "${url}api/predict" >/dev/null
echo "rss before: $(rss) KiB"
(for i in $(seq $((seconds / 5))); do sleep 5; echo "rss at ${i}x5 s: $(rss) KiB"; done) &
sampler=$!
BODY=$png wrk -t2 -c"$connections" -d"${seconds}s" --latency -s scripts/wrk_predict.lua "${url}api/predict" | sed -n '/^requests/,$p'
wait $sampler
echo "rss after: $(rss) KiB"
echo "server health: $(curl -s "${url}api/health")"
