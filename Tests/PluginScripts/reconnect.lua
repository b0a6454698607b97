-- Bot for the reconnect test: counts opens; closes cleanly after the second connection echoes.
local reconnect = require "reconnect"
local opens = 0
function onOpen(c)
  opens = opens + 1
  print(string.format("open %d reconnects %d", opens, reconnect.reconnects(c)))
  c:send("hello " .. opens)
end
function onMessage(c, data)
  print("echo " .. data)
  if opens == 2 then c:close(1000, "done") end
end
function onError(c, e) print("error " .. e.errorCode) end
function onClose(c, r) print("close " .. r.code) end
