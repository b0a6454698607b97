-- Bot for the metrics test: sends messages of known sizes (text and binary), one at a time,
-- then closes. The summary must count exactly this traffic.
local sizes = { 1, 10, 100, 1000, 10000, 100000 }
local i = 0
local function next_(c)
  i = i + 1
  if i > #sizes then return c:close(1000, "done") end
  c:send(string.rep(i % 2 == 0 and "b" or "t", sizes[i]), { binary = i % 2 == 0 })
end
function onOpen(c) next_(c) end
function onMessage(c) next_(c) end
