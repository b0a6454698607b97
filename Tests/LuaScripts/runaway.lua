local ns = require "netstack"
local mode = ...
if mode == "memory" then
  local t = {}
  for i = 1, 1e9 do t[i] = string.rep("x", 1000) .. i end
elseif mode == "loop" then
  ns.setTimeout(function() while true do end end, 1)
  ns.setTimeout(function() print("after the runaway callback") end, 50)
end
