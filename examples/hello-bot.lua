-- examples/hello-bot.lua
function onOpen(client, result)            -- result = { code = 101, reason = "Switching Protocols" }
  netstack.OH_WebSocketClient_Send(client, "hello")
end
function onMessage(client, data, length, kind)   -- kind = "text" | "binary"
  print(data)
  netstack.OH_WebSocketClient_Close(client, { code = 1000, reason = "bye" })
end
function onClose(client, result) print("closed", result.code) end
