-- The VU workloads of `scripts/bench vus` (netstack side). Arguments after --:
--   MODE VUS N [URL...]  MODE echo: N 32-byte echoes per VU on one connection (to --url); conns: N
--                 iterations per VU, each a connection with one echo; idle: one idle connection per
--                 VU for N seconds, VU i to URL (i mod count) (loopback has about 28,000 ports per
--                 destination); vm: no connection, the VU waits N seconds (the VM's own memory)
local mode, vus, n = arg[1], tonumber(arg[2]), tonumber(arg[3])
local scenario
if mode == "idle" or mode == "vm" then
  scenario = { executor = "constant-vus", vus = vus, duration = n * 1000, gracefulStop = 0 }
else
  scenario = { executor = "per-vu-iterations", vus = vus, iterations = mode == "echo" and 1 or n, maxDuration = "10m" }
end
options = { scenarios = { bench = scenario } }

local payload = string.rep("x", 32)
local count = 0

local urls = { select(4, table.unpack(arg)) }
if mode == "vm" then
  function main() netstack.setTimeout(function() end, n * 1000 + 5000) end
elseif mode == "idle" and #urls > 0 then
  function main()
    local c = netstack.OH_WebSocketClient_Constructor()
    netstack.OH_WebSocketClient_Connect(c, urls[netstack.vu.id % #urls + 1])
  end
else
  function onOpen(c)
    if mode == "idle" then return end
    count = 0
    c:send(payload)
  end
  function onMessage(c)
    count = count + 1
    if mode == "echo" and count < n then c:send(payload) else c:close() end
  end
end
