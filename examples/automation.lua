-- Headless automation: connect, send commands from a file, assert the replies, exit non-zero on a
-- mismatch. The file has one step per line:  send TEXT  |  expect TEXT  |  # comment
-- Run: netstack run examples/automation.lua -- COMMANDS_FILE URL
local ns = require "netstack"
local file, url = ...
assert(file and url, "usage: netstack run examples/automation.lua -- COMMANDS_FILE URL")

local steps = {}
for line in io.lines(file) do
  local verb, text = line:match("^(%w+)%s(.*)$")
  if verb == "send" or verb == "expect" then steps[#steps + 1] = { verb = verb, text = text } end
end

local step, failures = 1, 0
local function advance(client)
  while steps[step] and steps[step].verb == "send" do
    client:send(steps[step].text)
    step = step + 1
  end
  if not steps[step] then client:close(1000, "done") end
end

local client = ns.OH_WebSocketClient_Constructor(
  function(c) advance(c) end,
  function(c, data)
    local want = steps[step]
    if not want then return end
    if data == want.text then
      print("ok      " .. data)
    else
      failures = failures + 1
      print(("FAILED  expected %q, got %q"):format(want.text, data))
    end
    step = step + 1
    advance(c)
  end,
  function(c, err) print("error " .. err.errorCode .. ": " .. err.errorMessage); ns.exit(2) end,
  function(c, result)
    print(("%d of %d steps, %d failed"):format(step - 1, #steps, failures))
    ns.exit(failures == 0 and 0 or 1)
  end)
local rc = ns.OH_WebSocketClient_Connect(client, url)
if rc ~= ns.WEBSOCKET_OK then
  print("connect failed: " .. rc)
  ns.exit(2)
end
