-- Appended to every benchmark script by benchmarks/run.py: keeps the threads and, when wrk
-- finishes, prints one machine-readable line ("BENCH_JSON {...}") that run.py parses.
-- Latencies are in microseconds. `issued` is how many requests the script generated (the
-- update script uses it to hand the next run fresh resources).

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  local issued = 0
  for _, thread in ipairs(threads) do
    issued = issued + (tonumber(thread:get("issued")) or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"issued":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p75":%d,"p90":%d,"p99":%d}}\n',
    summary.requests, summary.duration, summary.bytes, issued,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99)))
end
