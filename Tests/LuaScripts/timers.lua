-- Timers, ns.now, ns.exit.
local ns = require "netstack"
local order = {}
local t0 = ns.now()
ns.setTimeout(function() order[#order + 1] = "b" end, 30)
ns.setTimeout(function() order[#order + 1] = "a" end, 10)
local cancelled = ns.setTimeout(function() error("cancelled timer fired") end, 20)
assert(ns.clearTimer(cancelled) == true)
assert(ns.clearTimer(cancelled) == false)
local ticks = 0
local iv
iv = ns.setInterval(function()
  ticks = ticks + 1
  if ticks == 3 then
    ns.clearTimer(iv)
    assert(order[1] == "a" and order[2] == "b", table.concat(order, ","))
    local elapsed = ns.now() - t0
    assert(elapsed >= 0.03, "monotonic clock advanced: " .. elapsed)
    print("timers ok")
    ns.exit(7)
  end
end, 15)
