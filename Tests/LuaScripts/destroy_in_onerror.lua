-- A message sent from onMessage goes out even when the next frame of the same read breaks the
-- protocol and onError destroys the client (arguments: URL, marker to prefix the echo with).
local url, marker = arg[1], arg[2]
local c = netstack.OH_WebSocketClient_Constructor(
  nil,
  function(c, data) c:send(marker .. data) end,
  function(c, err) print("error", err.errorCode) netstack.OH_WebSocketClient_Destroy(c) end,
  nil)
c:connect(url)
