function onOpen(c) netstack.OH_WebSocketClient_Send(c, "x") end
function onMessage(c, d) local t = {} while true do t[#t+1] = d end end
