-- wrk script for scripts/bench.sh: prints one machine-readable line at the end of a run
--   BENCHJSON {"requests":..,"duration_us":..,"bytes":..,"errors":{..},"latency_us":{..}}
-- Latencies are wrk's own (HdrHistogram-corrected, microseconds).
-- Optional session cookies: wrk ... -s report.lua URL -- COOKIEFILE
--   COOKIEFILE has one "name=value" per line; thread t of n uses a disjoint slice of it and
--   rotates through that slice, so no two in-flight requests share a session (with_lock).
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local cookies = nil
local pos = 0

function init(args)
  local file = args[1]
  if file == nil or file == "" then return end
  local all = {}
  for line in io.lines(file) do
    if line ~= "" then table.insert(all, line) end
  end
  local nthreads = tonumber(args[2] or "1")
  local per = math.floor(#all / nthreads)
  local first = (tid - 1) * per + 1
  cookies = {}
  for i = first, first + per - 1 do table.insert(cookies, all[i]) end
  if #cookies == 0 then cookies = all end
end

function request()
  if cookies == nil then return wrk.request() end
  pos = pos % #cookies + 1
  return wrk.format(nil, nil, { ["Cookie"] = cookies[pos] })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
