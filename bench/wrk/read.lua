-- GET one path as a random seeded resident per request.
-- wrk ... -s read.lua URL -- RESIDENTS_FILE PATH
-- RESIDENTS_FILE: one "token wallet_id account_id" line per resident.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
local tokens = {}
local path = "/v1/me/accounts"

function init(args)
  for line in io.lines(args[1]) do
    local token = line:match("^(%S+)")
    if token then table.insert(tokens, token) end
  end
  path = args[2] or path
  math.randomseed(os.time() + thread_id * 7919)
  statuses = {}
end

function request()
  local token = tokens[math.random(#tokens)]
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. token})
end
