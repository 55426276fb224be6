-- POST /orders: sell then buy one share of the same stock, cycling through the stocks given as
-- a comma-separated wrk arg, so the stocks' quantities stay level however long the run (at most
-- the requests in flight are ahead on one side) and no trade is refused for want of shares.
local names = {}
local i = 0
init = function(args)
  for name in string.gmatch(args[1], "[^,]+") do
    names[#names + 1] = name
  end
end

local headers = { ["Content-Type"] = "application/json" }
request = function()
  i = i + 1
  local side = (i % 2 == 1) and "sell" or "buy"
  local name = names[(math.floor((i - 1) / 2) % #names) + 1]
  return wrk.format("POST", "/orders", headers,
    '{"name":"' .. name .. '","quantity":1,"type":"' .. side .. '"}')
end
