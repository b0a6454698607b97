-- os.exit ends the run as netstack.exit does, and does not return: the run ends through the
-- host (its output and summary written), not by ending the process at once.
local ns = require "netstack"
local mode = ...
if mode == "top" then
  print("before")
  os.exit(3)
  print("after os.exit")
elseif mode == "timer" then
  ns.setTimeout(function() os.exit(false); print("after os.exit") end, 5)
  ns.setTimeout(function() print("second timer ran") end, 300)
elseif mode == "true" then
  ns.setTimeout(function() os.exit(true, true) end, 5)
  ns.setTimeout(function() print("second timer ran") end, 300)
elseif mode == "pcall" then
  -- A pcall catches the unwinding (as it would catch any error object), but the exit stands.
  local ok, err = pcall(os.exit, 4)
  print("pcall returned", ok, type(err))
elseif mode == "string" then
  os.exit("5")
elseif mode == "range" then
  os.exit(300)
elseif mode == "coroutine" then
  ns.spawn(function()
    ns.sleep(5)
    os.exit(6)
    print("after os.exit")
  end)
  ns.setTimeout(function() print("second timer ran") end, 300)
elseif mode == "main" then
  function main() os.exit(7) end
elseif mode == "onopen" then
  function onOpen(c) os.exit(8) end
  function onClose(c) print("closed") end
end
