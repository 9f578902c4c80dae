-- wrk script: each request takes the next path of PATHS_FILE (one per line),
-- shared out between wrk's threads, with METHOD and an optional BODY_FILE;
-- a thread stops when its share is used up. `done` prints one JSON line.
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  paths = {}
  for line in io.lines(os.getenv("PATHS_FILE")) do paths[#paths + 1] = line end
  step = tonumber(os.getenv("WRK_THREADS"))
  index = id + 1 - step
  method = os.getenv("METHOD") or "GET"
  body = nil
  headers = {}
  if os.getenv("BODY_FILE") then
    local file = io.open(os.getenv("BODY_FILE"))
    body = file:read("*a")
    file:close()
    headers["Content-Type"] = "application/x-www-form-urlencoded"
  end
end

function request()
  index = index + step
  if index > #paths then
    wrk.thread:stop()
    index = #paths
  end
  return wrk.format(method, paths[index], headers, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "non_2xx_3xx": %d, "errors": %d, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
