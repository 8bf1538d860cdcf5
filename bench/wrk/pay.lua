-- POST a wallet payment (confirm: true) as a random seeded resident, each with its own
-- Idempotency-Key, and count the answers by status (the bench checks money against the 2xx).
-- wrk ... -s pay.lua URL -- RESIDENTS_FILE RUN_TAG AMOUNT
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
local rows = {}
local tag = "run"
local amount = 100

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
