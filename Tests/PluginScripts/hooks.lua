-- Run with --plugin second (which requires first): checks hook order, stop, exports, op hooks.
local first = require "first"
assert(first.tag == "first", "require returns the plugin's exports")
assert(shout("x") == "X", "exported function")
local received = {}
function onOpen(c)
  c:send("hello")
  c:send("drop")
  c:send("secret")
end
function onMessage(c, data)
  received[#received + 1] = data
  TRACE[#TRACE + 1] = "script.message:" .. data
  if data == "hello" then
    -- "secret" is echoed too but stopped before the script; close after the last echo.
    netstack.setTimeout(function() c:close() end, 100)
  end
end
function onClose(c, r)
  TRACE[#TRACE + 1] = "script.close:" .. r.code
  print(table.concat(TRACE, "\n"))
  print("received=" .. table.concat(received, ","))
end
