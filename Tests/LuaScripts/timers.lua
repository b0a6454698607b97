-- Timers, ns.now, ns.exit.
local ns = require "netstack"
local order = {}
local t0 = ns.now()
ns.setTimeout(function() order[#order + 1] = "b" end, 30)
ns.setTimeout(function() order[#order + 1] = "a" end, 10)
local cancelled = ns.setTimeout(function() error("cancelled timer fired") end, 20)
assert(ns.clearTimer(cancelled) == true)
assert(ns.clearTimer(cancelled) == false)
-- JavaScript's names clear either kind.
local viaTimeout = ns.setTimeout(function() error("clearTimeout did not clear") end, 5)
assert(ns.clearTimeout(viaTimeout) == true)
local viaInterval = ns.setInterval(function() error("clearInterval did not clear") end, 5)
assert(ns.clearInterval(viaInterval) == true and ns.clearTimer(viaInterval) == false)
-- An interval of 0 runs again (at least 1 ms later) until it clears itself.
local zeroTicks, zero = 0, nil
zero = ns.setInterval(function()
  zeroTicks = zeroTicks + 1
  if zeroTicks == 3 then assert(ns.clearInterval(zero) == true) end
end, 0)
-- 20,000 pending timers: cancelling them all when the run ends is quick (each cancel took
-- linear time before: 12 s for these).
for i = 1, 20000 do ns.setTimeout(function() error("a far timer fired") end, 3600000) end
local ticks = 0
local iv
iv = ns.setInterval(function()
  ticks = ticks + 1
  if ticks == 3 then
    ns.clearTimer(iv)
    assert(order[1] == "a" and order[2] == "b", table.concat(order, ","))
    assert(zeroTicks == 3, "the zero interval ticked " .. zeroTicks .. " times")
    local elapsed = ns.now() - t0
    assert(elapsed >= 0.03, "monotonic clock advanced: " .. elapsed)
    print("timers ok")
    ns.exit(7)
  end
end, 15)
