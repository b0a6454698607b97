-- A script that makes reading and writing globals raise: the host reads its handlers raw.
local ns = require "netstack"
function onOpen(c) c:send("hi") end
function onMessage(c, data) assert(data == "hi"); c:close(1000, "bye") end
function onClose(c, r) io.write("hostile globals ok ", r.code, "\n") end
setmetatable(_G, {
  __index = function(_, k) error("no global " .. tostring(k)) end,
  __newindex = function(_, k) error("no new global " .. tostring(k)) end,
})
