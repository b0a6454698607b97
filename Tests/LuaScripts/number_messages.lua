-- Numbers where a message is expected are sent as their text, as Lua converts numbers where
-- strings are expected (print, io.write, table.concat): in each of the three send forms.
local ns = require "netstack"
local base = ...
local got = {}
local c
c = ns.OH_WebSocketClient_Constructor(function(client)
  assert(ns.OH_WebSocketClient_Send(client, 42) == 0)
  assert(ns.OH_WebSocketClient_Send(client, 1.5) == 0)
  assert(ns.OH_WebSocketClient_Send(client, 12345, 2) == 0)    -- the first 2 bytes of "12345"
  assert(client:send(-7))
  assert(client:send(2^63))
end, function(client, data, length, kind)
  got[#got + 1] = data .. "/" .. kind
  if #got == 5 then client:close(1000, "done") end
end, function(client, err) error("error " .. tostring(err.errorCode)) end, function()
  local want = "42/text 1.5/text 12/text -7/text 9.2233720368548e+18/text"
  assert(table.concat(got, " ") == want, table.concat(got, " "))
  ns.spawn(function()
    local ws = assert(ns.connect(base .. "/echo"))
    assert(ws:send(100))
    assert(ws:receive(5000) == "100")
    local ok, err = pcall(ws.send, ws, true)
    assert(not ok and err:find("string expected, got boolean"), err)
    ws:close()
    print("number_messages ok")
  end)
end)
assert(ns.OH_WebSocketClient_Connect(c, base .. "/echo") == 0)
