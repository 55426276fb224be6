-- GET /orders/{n} with n drawn uniformly from 0 .. count-1 (wrk args: count seed), so an order
-- query touches the whole stored history rather than one hot page.
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

local count = 1
init = function(args)
  count = tonumber(args[1])
  math.randomseed(tonumber(args[2]) + (thread_id or 0))
end

request = function()
  return wrk.format("GET", "/orders/" .. math.random(0, count - 1))
end
