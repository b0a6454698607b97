-- The object form, headers reaching the server, connection errors, many clients.
local ns = require "netstack"
local base = ...
local done = 0
-- The refused connection below fails on purpose: the script chooses its status when it is done.
local function finished() done = done + 1; if done == 4 then print("object_api ok"); ns.exit(0) end end

-- Headers as seen by the server.
local h = ns.OH_WebSocketClient_Constructor(nil, function(c, data)
  assert(data:find('"X%-Added":"1"'), data)
  assert(data:find('"X%-Per%-Connect":"2"'), data)
  assert(c:close(1000, "thanks"))
end, nil, function() finished() end)
assert(h:addHeader("X-Added", "1"))
local okh, msg, code = h:addHeader("Bad Name", "v")
assert(okh == nil and code == ns.WEBSOCKET_NO_HEADER_CONTEXT and msg:find("Bad Name"), msg)
okh, msg, code = h:addHeader("X-Latin", "caf\xe9")
assert(okh == nil and code == ns.WEBSOCKET_NO_HEADER_CONTEXT and msg:find("not valid UTF%-8"), msg)
assert(h:connect(base .. "/headers", { headers = { { fieldName = "X-Per-Connect", fieldValue = "2" } } }))

-- Text vs binary never guessed by c:send.
local kinds = {}
local o = ns.OH_WebSocketClient_Constructor(function(c)
  assert(c:send("plain"))
  assert(c:send("plain", { binary = true }))
  local ok, m, e = c:send("\xff", { binary = false })
  assert(ok == nil and e == ns.WEBSOCKET_PROTOCOL_ERROR, m)
  -- A misspelt option raises rather than sending text.
  local raised, why = pcall(c.send, c, "plain", { Binary = true })
  assert(not raised and why:find("bad argument #3 to 'send' (unknown option 'Binary', did you mean 'binary'?", 1, true), why)
end, function(c, data, len, kind)
  kinds[#kinds + 1] = kind
  if #kinds == 2 then
    assert(kinds[1] == "text" and kinds[2] == "binary")
    local ok, m, e = c:close(1005)
    assert(ok == nil and e == ns.WEBSOCKET_PROTOCOL_ERROR, m)
    assert(c:close(3001, "bye"))
  end
end, nil, function(c, r)
  assert(r.code == 3001 and r.reason == "bye", r.code)
  assert(c:state() == "closed", c:state())
  c:destroy()
  assert(c:state() == "destroyed")
  local ok, m, e = c:send("x")
  assert(ok == nil and e == ns.WEBSOCKET_CLIENT_NOT_CREATED)
  finished()
end)
assert(o:connect(base .. "/echo"))

-- A refused connection: onError alone, with 1003.
local refused = ns.OH_WebSocketClient_Constructor(function() error("must not open") end, nil, function(c, e)
  assert(e.errorCode == ns.WEBSOCKET_CONNECTION_ERROR and e.errorMessage:find("refused"), e.errorMessage)
  finished()
end, function() error("no onClose when it never opened") end)
assert(refused:connect("ws://127.0.0.1:1/"))

-- Many clients in one script, dropped by the script right after connect.
local n, echoed = 200, 0
for i = 1, n do
  local c = ns.OH_WebSocketClient_Constructor(function(c) c:send("client " .. i) end, function(c, data)
    assert(data == "client " .. i)
    echoed = echoed + 1
    c:close()
  end, nil, function() if echoed == n then finished() end end)
  assert(c:connect(base .. "/echo"))
end
collectgarbage()
