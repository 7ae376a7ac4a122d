-- wrk script for bench/wrk_api.py: the token header, a path with a random id, the POST
-- body of a session create, an optional think time, and a JSON line of figures at the end.
-- Everything comes from the environment (so the token is not on the command line):
--   BENCH_TOKEN       knox token
--   BENCH_METHOD      GET (default) or POST
--   BENCH_PATH        the path; "{id}" is replaced by a random one of BENCH_IDS
--   BENCH_IDS         client ids, comma separated (detail paths and session bodies)
--   BENCH_SUPPORTER   the supporter id of a session create
--   BENCH_THINK_MS    "low,high": each connection pauses a random time between requests

local token = os.getenv("BENCH_TOKEN") or ""
local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/"
local supporter = os.getenv("BENCH_SUPPORTER") or "null"
local ids = {}
for id in string.gmatch(os.getenv("BENCH_IDS") or "", "%d+") do
  ids[#ids + 1] = id
end
local think_low, think_high = string.match(os.getenv("BENCH_THINK_MS") or "", "(%d+),(%d+)")

wrk.method = method
wrk.headers["Authorization"] = "Token " .. token
wrk.headers["Accept"] = "application/json"
if method == "POST" then
  wrk.headers["Content-Type"] = "application/json"
end

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_number or 0) * 7919)
end

local function any_id()
  return ids[math.random(#ids)]
end

function request()
  if method == "POST" then
    -- A one-to-one phone session, 1 to 300 days ago, with one client of the caseload.
    local start = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - math.random(86400, 300 * 86400))
    local body = string.format(
      '{"supporter": %s, "kind": "one_to_one", "start": "%s", "duration_minutes": 30, '
        .. '"modality": "phone", "attendances": [{"client": %s, "status": "completed"}]}',
      supporter, start, any_id()
    )
    return wrk.format("POST", path, nil, body)
  end
  if #ids > 0 then
    return wrk.format(nil, (string.gsub(path, "{id}", any_id())))
  end
  return wrk.format(nil, path)
end

if think_low then
  function delay()
    return math.random(tonumber(think_low), tonumber(think_high))
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, '
      .. '"status": %d, "timeout": %d}, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max
  ))
end
