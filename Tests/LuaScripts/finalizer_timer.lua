-- A finalizer that runs while the script ends (the state is closed) tries to start a timer and a
-- connection: both must be refused, and nothing may fire after the state is gone.
local ns = require "netstack"
local url = ...
keep = setmetatable({}, { __gc = function()
  local ok, err = pcall(ns.setTimeout, function() print("timer fired after the end") end, 5)
  print("timer at close:", ok, err)
  local c = ns.OH_WebSocketClient_Constructor(function() print("opened after the end") end)
  print("connect at close:", ns.OH_WebSocketClient_Connect(c, url .. "/echo"))
end })
print("main done")
