-- A load test: each VU is a bot with its own Lua VM. Run it with
--   .build/debug/netstack run examples/load-test.lua [--url ws://HOST:PORT/echo]
-- (or override the plan: --vus 50 --duration 30s). Without --url, the built-in echo server.
options = {
  scenarios = {
    -- 8 bots, 3 sessions each: 24 connections, 3 request/reply rounds per session.
    chat = { executor = "per-vu-iterations", vus = 8, iterations = 3 },
  },
  thresholds = {
    ws_connecting = { "p(95)<1000" },
    ws_rtt = { "p(99)<500" },
    replies = { "rate==1" },
  },
}

local replies = netstack.metrics.rate("replies")
local rounds = 3

-- One iteration = one session: the bot's handlers below, connected to --url by the host.
function onOpen(client)
  sent = 0
  local key = netstack.vu.id .. ":" .. sent
  netstack.metrics.request(key)
  client:send(key)
end

function onMessage(client, data)
  replies:add(netstack.metrics.reply(data) ~= nil)
  sent = sent + 1
  if sent < rounds then
    local key = netstack.vu.id .. ":" .. sent
    netstack.metrics.request(key)
    client:send(key)
  else
    client:close(1000, "done")
  end
end
