-- The coroutine style with the reconnect plugin: a server that says "bye" and drops every
-- connection. receive reports each connection's message and its end, in order; after the plugin
-- gives up (maxAttempts), the last end is returned at once, every call.
local url = ...
netstack.spawn(function()
  local ws = assert(netstack.connect(url))
  local seen = {}
  for _ = 1, 6 do
    local data, kind, code = ws:receive(5000)
    seen[#seen + 1] = tostring(data) .. " " .. tostring(kind) .. " " .. tostring(code)
  end
  print(table.concat(seen, ", "))
  local started = netstack.now()
  local data, kind, code = ws:receive(3000)
  print("after giving up", data, kind, code, netstack.now() - started < 1)
  local reconnect = require "reconnect"
  print("state", ws:state(), reconnect.reconnects(ws), reconnect.pending(ws))
  ws:destroy()
end)
