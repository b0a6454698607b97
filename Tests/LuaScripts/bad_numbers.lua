-- Numbers from scripts are checked: out-of-range values raise or give the documented code.
local ns = require "netstack"
local url = ...
local function raises(f, pattern)
  local ok, err = pcall(f)
  assert(not ok, "expected an error matching " .. pattern)
  assert(tostring(err):find(pattern), tostring(err))
end
local noop = function() end
raises(function() ns.setTimeout(noop, 1e300) end, "milliseconds from 0 to 2147483647")
raises(function() ns.setTimeout(noop, -1) end, "milliseconds")
raises(function() ns.setTimeout(noop, 0/0) end, "milliseconds")
raises(function() ns.setInterval(noop, math.huge) end, "milliseconds")
raises(function() ns.fetchChain("127.0.0.1", 2^40) end, "port from 1 to 65535")
raises(function() ns.fetchChain("127.0.0.1", 0) end, "port from 1 to 65535")
raises(function() ns.fetchChain("127.0.0.1", 443, { timeout = 1e300 }) end, "timeout")
raises(function() ns.exit(2305020) end, "exit status from 0 to 255")
raises(function() ns.exit(-1) end, "exit status from 0 to 255")
raises(function() ns.exit("x") end, "exit status from 0 to 255")
raises(function() ns.verify("x", { time = 1e300 }) end, "time")
for _, key in ipairs({ "pingInterval", "pongTimeout", "busyPoll", "connectTimeout" }) do
  local c = ns.OH_WebSocketClient_Constructor()
  raises(function() c:connect(url .. "/echo", { [key] = 1e300 }) end, "invalid value for '" .. key .. "'")
  raises(function() c:connect(url .. "/echo", { [key] = -5 }) end, "invalid value for '" .. key .. "'")
  c:destroy()
end
-- A keepalive interval above zero is at least 1 ms (a shorter one would spend the connection on pings).
for _, interval in ipairs({ 0.5, 0.000001 }) do
  local c = ns.OH_WebSocketClient_Constructor()
  raises(function() c:connect(url .. "/echo", { pingInterval = interval }) end, "invalid value for 'pingInterval' %(0, or milliseconds from 1 to 2147483647%)")
  c:destroy()
end

local closes = { 1e300, 1000.5, "abc", true, -1, 2^40 }
local pending = #closes
local function check(code)
  local c
  c = ns.OH_WebSocketClient_Constructor(function()
    local rc = ns.OH_WebSocketClient_Close(c, { code = code })
    assert(rc == ns.WEBSOCKET_PROTOCOL_ERROR, "Close with code " .. tostring(code) .. " returned " .. tostring(rc))
    assert(ns.OH_WebSocketClient_Close(c, { code = 1000, reason = 7 }) == ns.WEBSOCKET_PROTOCOL_ERROR)
    -- A reason goes on the wire as UTF-8: other bytes are refused, not replaced.
    assert(ns.OH_WebSocketClient_Close(c, { code = 1000, reason = "\xff" }) == ns.WEBSOCKET_PROTOCOL_ERROR)
    local ok, message, rc = c:close(1000, "caf\xe9")
    assert(ok == nil and message == "close reason is not valid UTF-8" and rc == ns.WEBSOCKET_PROTOCOL_ERROR, tostring(message))
    assert(c:state() == "open", c:state())
    assert(ns.OH_WebSocketClient_Close(c, { code = 4000, reason = "fine" }) == 0)
  end, nil, nil, function(_, r)
    assert(r.code == 4000, "the connection closed with " .. r.code)
    pending = pending - 1
    if pending == 0 then print("bad numbers ok") end
  end)
  assert(ns.OH_WebSocketClient_Connect(c, url .. "/echo") == 0)
end
for _, code in ipairs(closes) do check(code) end
