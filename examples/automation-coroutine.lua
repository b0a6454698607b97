-- automation.lua again, in the coroutine style: the same steps read top to bottom, with
-- netstack.connect and ws:receive instead of callbacks. Same output and exit status.
-- Run: netstack run examples/automation-coroutine.lua -- COMMANDS_FILE URL
local ns = require "netstack"
local file, url = ...
assert(file and url, "usage: netstack run examples/automation-coroutine.lua -- COMMANDS_FILE URL")

local steps = {}
for line in io.lines(file) do
  local verb, text = line:match("^(%w+)%s(.*)$")
  if verb == "send" or verb == "expect" then steps[#steps + 1] = { verb = verb, text = text } end
end

ns.spawn(function()
  local ws, err, code = ns.connect(url)
  if not ws then
    print("error " .. code .. ": " .. err)
    ns.exit(2)
    return
  end
  local failures = 0
  for i, step in ipairs(steps) do
    if step.verb == "send" then
      ws:send(step.text)
    else
      local data, why, errCode = ws:receive(5000)
      if data == step.text then
        print("ok      " .. data)
      elseif data then
        failures = failures + 1
        print(("FAILED  expected %q, got %q"):format(step.text, data))
      else
        print(("FAILED  expected %q: %s %s"):format(step.text, why, errCode or ""))
        ns.exit(2)
        return
      end
    end
  end
  ws:close(1000, "done")
  repeat local data = ws:receive(5000) until data == nil   -- until the close handshake ends
  print(("%d of %d steps, %d failed"):format(#steps, #steps, failures))
  ns.exit(failures == 0 and 0 or 1)
end)
