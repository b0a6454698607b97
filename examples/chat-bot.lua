-- A chat-style bot: JSON messages, a heartbeat timer, a reply counter.
-- Run: netstack run examples/chat-bot.lua [--url ws://...] [-- ROUNDS]
-- Against an echo server every message comes back, so the bot "hears" itself.
local ns = require "netstack"
local json = ns.json
local rounds = tonumber(arg[1]) or 3
local heard, timer = 0, nil

function onOpen(client, result)
  ns.log("info", "connected: " .. result.code .. " " .. result.reason)
  client:send(json.encode({ type = "join", user = "netstack-bot" }))
  timer = ns.setInterval(function()
    client:send(json.encode({ type = "say", text = "heartbeat at " .. string.format("%.3f", ns.now()) }))
  end, 100)
end

function onMessage(client, data)
  local msg, err = json.decode(data)
  if not msg then
    ns.log("warn", "not JSON: " .. err)
    return
  end
  heard = heard + 1
  print(("heard %s%s"):format(msg.type, msg.text and (": " .. msg.text:gsub("%d+%.%d+", "T")) or ""))
  if heard > rounds then
    ns.clearTimer(timer)
    client:close(1000, "bye")
  end
end

function onError(client, err) print("error", err.errorCode, err.errorMessage) end
function onClose(client, result)
  if timer then ns.clearTimer(timer) end
  print("closed", result.code, result.reason)
end
