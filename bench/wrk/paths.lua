-- wrk script: each request takes the next path of PATHS_FILE (one per line),
-- shared out between wrk's threads, with METHOD and an optional BODY_FILE;
-- a thread stops when its share is used up. `done` prints one JSON line,
-- with the portal's own time per request as its Server-Timing header said
-- (`app` and `db`, when the answers carry one).
local counter = 0
local threads = {}
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  threads[#threads + 1] = thread
end

function init(args)
  paths = {}
  for line in io.lines(os.getenv("PATHS_FILE")) do paths[#paths + 1] = line end
  step = tonumber(os.getenv("WRK_THREADS"))
  index = id + 1 - step
  method = os.getenv("METHOD") or "GET"
  body = nil
  headers = {}
  apps, dbs, cpus = {}, {}, {}
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

function response(status, response_headers, response_body)
  local timing = response_headers["Server-Timing"] or response_headers["server-timing"]
  if timing then
    local app = timing:match("app;dur=([%d%.]+)")
    local db = timing:match("db;dur=([%d%.]+)")
    local cpu = timing:match("cpu;dur=([%d%.]+)")
    if app then apps[#apps + 1] = tonumber(app) end
    if cpu then cpus[#cpus + 1] = tonumber(cpu) end
    if db then dbs[#dbs + 1] = tonumber(db) end
  end
end

local function percentile(sorted, p)
  if #sorted == 0 then return 0 end
  return sorted[math.max(1, math.ceil(#sorted * p / 100))]
end

function done(summary, latency, requests)
  local all_apps, db_total, db_count, cpu_total, cpu_count = {}, 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    for _, v in ipairs(thread:get("cpus") or {}) do cpu_total = cpu_total + v; cpu_count = cpu_count + 1 end
    for _, v in ipairs(thread:get("apps") or {}) do all_apps[#all_apps + 1] = v end
    for _, v in ipairs(thread:get("dbs") or {}) do db_total = db_total + v; db_count = db_count + 1 end
  end
  table.sort(all_apps)
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "non_2xx_3xx": %d, "errors": %d, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, ' ..
    '"server_timing": {"answers": %d, "app_p50_ms": %.2f, "app_p95_ms": %.2f, "app_p99_ms": %.2f, "db_mean_ms": %.2f, "cpu_mean_ms": %.3f}}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    #all_apps, percentile(all_apps, 50), percentile(all_apps, 95), percentile(all_apps, 99),
    db_count > 0 and db_total / db_count or 0, cpu_count > 0 and cpu_total / cpu_count or 0))
end
