-- POST a wallet payment (confirm: true) as a random seeded resident, each with its own
-- Idempotency-Key, and count the answers by status (the bench checks money against the 2xx).
-- wrk ... -s pay.lua URL -- RESIDENTS_FILE RUN_TAG AMOUNT
local rows = {}
local threads = {}
local next_id = 1
local tag = "run"
local amount = 100

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    local token, wallet, account = line:match("^(%S+) (%S+) (%S+)")
    if token then table.insert(rows, {token, wallet, account}) end
  end
  tag = args[2] or tag
  amount = tonumber(args[3] or amount)
  math.randomseed(os.time() + thread_id * 7919)
  statuses = {}
  counter = 0
end

function request()
  counter = counter + 1
  local row = rows[math.random(#rows)]
  local body = string.format(
    '{"account_id": "%s", "method": "wallet", "wallet_id": "%s", "amount": %d, "confirm": true}',
    row[3], row[2], amount)
  return wrk.format("POST", "/v1/payments", {
    ["Authorization"] = "Bearer " .. row[1],
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("%s-%d-%d", tag, thread_id, counter),
  }, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(counts) do table.insert(parts, string.format('"%d": %d', status, n)) end
  io.write(string.format(
    'KVIT-WRK {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d,'
      .. ' "socket_errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout, table.concat(parts, ", ")))
end
