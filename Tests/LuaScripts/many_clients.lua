-- N clients open at the same time (N above the shell's soft limit on open files): each sends,
-- gets its echo, and only when all N are open and echoed do they all close. TIMEOUT: the connect
-- timeout in ms (default 10000; longer for slow sanitized builds).
local ns = require "netstack"
local base, n, timeout = ...
n = tonumber(n)
local clients, echoed, closed = {}, 0, 0
for i = 1, n do
  local c = ns.OH_WebSocketClient_Constructor(function(c) c:send("client " .. i) end, function(c, data)
    assert(data == "client " .. i, data)
    echoed = echoed + 1
    if echoed == n then
      for _, other in ipairs(clients) do assert(other:close()) end
    end
  end, function(c, e) print("error " .. e.errorCode .. " " .. e.errorMessage) ns.exit(1) end,
  function(c, r)
    closed = closed + 1
    if closed == n then print(("%d clients open at once, %d echoed, %d closed"):format(n, echoed, closed)) end
  end)
  clients[i] = c
  assert(c:connect(base .. "/echo", { connectTimeout = tonumber(timeout) or 10000 }))
end
