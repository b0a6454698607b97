-- The documented functions: codes, callback values, frame type detection.
local ns = require "netstack"
local base = ...
assert(netstack == ns, "global and require give the same module")
assert(ns.WEBSOCKET_OK == 0 and ns.E_BASE == 1000 and ns.WEBSOCKET_NO_CONNECTION_CONTEXT == 1018)
assert(ns.WEBSOCKET_CONNECTION_PARSE_URL_ERROR == 1005 and ns.NetStack_CERT_TYPE_DER == 1)

-- NULL client and wrong types.
assert(ns.OH_WebSocketClient_Send(nil, "x") == ns.WEBSOCKET_CLIENT_NULL)
assert(ns.OH_WebSocketClient_Connect(nil, base) == ns.WEBSOCKET_CLIENT_NULL)
assert(ns.OH_WebSocketClient_Close(nil) == ns.WEBSOCKET_CLIENT_NULL)
assert(ns.OH_WebSocketClient_Destroy(nil) == ns.WEBSOCKET_CLIENT_NULL)
local ok, err = pcall(ns.OH_WebSocketClient_Send, 42, "x")
assert(not ok and err:find("netstack client expected"), err)
ok, err = pcall(ns.OH_WebSocketClient_Constructor, 1)
assert(not ok and err:find("function or nil expected"), err)

-- A client that never connects.
local idle = ns.OH_WebSocketClient_Constructor(nil, nil, nil, nil)
assert(ns.OH_WebSocketClient_Send(idle, "early") == ns.WEBSOCKET_NO_CONNECTION)
assert(ns.OH_WebSocketClient_Close(idle) == ns.WEBSOCKET_NO_CONNECTION)
assert(ns.OH_WebSocketClient_AddHeader(idle, { fieldName = "X-Bad", fieldValue = "a\r\nInjected: 1" }) == ns.WEBSOCKET_NO_HEADER_CONTEXT)
assert(ns.OH_WebSocketClient_AddHeader(idle, { fieldName = "Host", fieldValue = "evil" }) == ns.WEBSOCKET_NO_HEADER_CONTEXT)
assert(ns.OH_WebSocketClient_AddHeader(idle, { fieldName = "X-Ok" }) == ns.WEBSOCKET_NO_HEADER_CONTEXT)
-- Header text goes on the wire as it is: bytes that are not UTF-8 are refused, not replaced.
assert(ns.OH_WebSocketClient_AddHeader(idle, { fieldName = "X-Latin", fieldValue = "caf\xe9" }) == ns.WEBSOCKET_NO_HEADER_CONTEXT)
assert(ns.OH_WebSocketClient_AddHeader(idle, { fieldName = "X-\xff", fieldValue = "v" }) == ns.WEBSOCKET_NO_HEADER_CONTEXT)
assert(ns.OH_WebSocketClient_AddHeader(idle, { fieldName = "X-Utf8", fieldValue = "caf\xc3\xa9" }) == 0)
assert(ns.OH_WebSocketClient_Connect(ns.OH_WebSocketClient_Constructor(), "ws://127.0.0.1:1/",
  { headers = { { fieldName = "X-Latin", fieldValue = "caf\xe9" } } }) == ns.WEBSOCKET_NO_HEADER_CONTEXT)
assert(ns.OH_WebSocketClient_Connect(idle, "http://nope") == ns.WEBSOCKET_CONNECTION_PARSE_URL_ERROR)
assert(ns.OH_WebSocketClient_Connect(idle, nil) == ns.WEBSOCKET_CONNECTION_PARSE_URL_ERROR)
ok, err = pcall(ns.OH_WebSocketClient_Connect, idle, base, { bogus = 1 })
assert(not ok and err:find("unknown option 'bogus'"), err)
ok, err = pcall(ns.OH_WebSocketClient_Connect, idle, base, { busyPoll = "fast" })
assert(not ok and err:find("invalid value for 'busyPoll'"), err)
ok, err = pcall(ns.OH_WebSocketClient_Connect, idle, base, { busyPoll = -1 })
assert(not ok and err:find("invalid value for 'busyPoll'"), err)
assert(ns.OH_WebSocketClient_Destroy(idle) == 0)
assert(ns.OH_WebSocketClient_Send(idle, "x") == ns.WEBSOCKET_CLIENT_NOT_CREATED)
assert(ns.OH_WebSocketClient_Destroy(idle) == ns.WEBSOCKET_CLIENT_NOT_CREATED)

-- A real session against the echo server.
local events = {}
local client
local function onOpen(c, r)
  assert(c == client, "callbacks receive the same client object")
  assert(r.code == 101 and r.reason == "Switching Protocols", r.reason)
  events[#events + 1] = "open"
  assert(ns.OH_WebSocketClient_Send(c, "") == 0, "length 0 sends nothing")
  assert(ns.OH_WebSocketClient_Send(c, nil) == ns.WEBSOCKET_SEND_DATA_NULL)
  assert(ns.OH_WebSocketClient_Send(c, string.rep("x", 2000)) == ns.WEBSOCKET_DATA_LENGTH_EXCEEDED)
  assert(ns.OH_WebSocketClient_Send(c, "text κ") == 0)
  assert(ns.OH_WebSocketClient_Send(c, "bin\0ary") == 0)
  assert(ns.OH_WebSocketClient_Send(c, "\xff\xfe") == 0)
  assert(ns.OH_WebSocketClient_Send(c, "abcdef", 3) == 0)
end
local received = {}
local function onMessage(c, data, length, kind)
  assert(#data == length)
  received[#received + 1] = kind .. ":" .. data
  if #received == 4 then
    local raised, why = pcall(ns.OH_WebSocketClient_Close, c, { Code = 4001 })
    assert(not raised and why:find("bad argument #2 to 'OH_WebSocketClient_Close' (unknown option 'Code', did you mean 'code'?", 1, true), why)
    assert(ns.OH_WebSocketClient_Close(c, { code = 4000, reason = "done" }) == 0)
  end
end
local function onError(c, e) events[#events + 1] = "error " .. e.errorCode .. " " .. e.errorMessage end
local function onClose(c, r)
  events[#events + 1] = "close " .. r.code .. " " .. r.reason
  assert(received[1] == "text:text κ", received[1])
  assert(received[2] == "binary:bin\0ary", received[2])
  assert(received[3] == "binary:\xff\xfe", received[3])
  assert(received[4] == "text:abc", received[4])
  assert(events[1] == "open" and events[2] == "close 4000 done", table.concat(events, "; "))
  assert(ns.OH_WebSocketClient_Destroy(c) == 0, "destroy inside onClose")
  print("oh_api ok")
end
client = ns.OH_WebSocketClient_Constructor(onOpen, onMessage, onError, onClose)
assert(ns.OH_WebSocketClient_AddHeader(client, { fieldName = "X-Added", fieldValue = "1" }) == 0)
assert(ns.OH_WebSocketClient_Connect(client, base .. "/echo", { maxSendSize = 1000, busyPoll = 0.02, headers = { { fieldName = "X-Per-Connect", fieldValue = "2" } } }) == 0)
assert(ns.OH_WebSocketClient_Connect(client, base .. "/echo") == ns.WEBSOCKET_CONNECTION_ERROR, "already connecting")
