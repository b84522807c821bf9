-- wrk -s: POST /goods with the body of one goods, and count the answers HTTP 200 whose errorcode is not 0 (a
-- write the service refused or failed; wrk itself counts the non-2xx ones), printed as "Errorcode failures: N".
wrk.method = "POST"
wrk.body = '{"name":"bench post","category":"benchmark","price":1000,"description":"posted by the benchmark"}'
wrk.headers["Content-Type"] = "application/json"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  failures = 0
end

function response(status, headers, body)
  if status == 200 and not string.find(body, '"errorcode":0', 1, true) then
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("failures")
  end
  io.write(string.format("Errorcode failures: %d\n", total))
end
