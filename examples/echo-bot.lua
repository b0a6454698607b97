-- An echo bot: sends a few messages, prints what comes back, closes.
-- Run: netstack run examples/echo-bot.lua [--url ws://...]   (no --url: the built-in echo server)
local sent = 0
local total = tonumber(arg[1]) or 3

local function sendNext(client)
  sent = sent + 1
  netstack.OH_WebSocketClient_Send(client, "hello #" .. sent)
end

function onOpen(client, result)
  print(("open: %d %s"):format(result.code, result.reason))
  sendNext(client)
end

function onMessage(client, data, length, kind)
  print(("message (%s, %d bytes): %s"):format(kind, length, data))
  if sent < total then
    sendNext(client)
  else
    netstack.OH_WebSocketClient_Close(client, { code = 1000, reason = "bye" })
  end
end

function onError(client, err)
  print(("error %d: %s"):format(err.errorCode, err.errorMessage))
end

function onClose(client, result)
  print(("close: %d %s"):format(result.code, result.reason))
end
