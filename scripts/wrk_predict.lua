-- wrk script for scripts/load_test.sh: POSTs the PNG named by $BODY to /api/predict and
-- prints the latency percentiles and every kind of error at the end.
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "image/png"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("requests %d in %.1f s: %.1f/s\n", summary.requests, summary.duration / 1e6,
                         summary.requests / (summary.duration / 1e6)))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("latency p%s %.2f ms\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("latency max %.2f ms\n", latency.max / 1000))
  io.write(string.format("errors connect %d read %d write %d status %d timeout %d\n",
                         e.connect, e.read, e.write, e.status, e.timeout))
end
