-- Soak: BOTS connections at a time for SECONDS against the local server's misbehaving paths,
-- each replaced by a new one when it ends. Checks exactly one terminal event per connection
-- (onClose, or onError before the open) and samples the process's RSS and open descriptors.
-- Prints one JSON line {"soak":...} at the end; exits 1 on any violation.
local ns = require "netstack"
local base, bots, seconds, sampleEvery = ...
bots, seconds, sampleEvery = tonumber(bots), tonumber(seconds), tonumber(sampleEvery or "5")
local wss = base:gsub("^ws:", "wss:")
-- A held echo session is the most common bot (weight 12 of 24): it sends a message a second, checks
-- each echo, and closes after 5-20 of them. The misbehaving kinds share the other half.
local kinds = {
  { name = "echo", path = "/echo", weight = 12 },
  { name = "drop", path = "/misbehave/drop" },
  { name = "stall", path = "/misbehave/hang" },
  { name = "invalid-utf8", path = "/misbehave/invalid-utf8" },
  { name = "rsv", path = "/misbehave/rsv" },
  { name = "opcode", path = "/misbehave/opcode" },
  { name = "masked", path = "/misbehave/masked" },
  { name = "ping-flood", path = "/misbehave/ping-flood?ms=50" },
  { name = "no-close-reply", path = "/misbehave/no-close-reply" },
  { name = "silent", path = "/misbehave/silent" },
  { name = "garbage", path = "/misbehave/garbage" },
  { name = "reject-hold", path = "/misbehave/reject-hold" },
  { name = "tls-abort", tls = true, path = "/echo" },
}

local weighted = {}
for _, k in ipairs(kinds) do
  for _ = 1, k.weight or 1 do weighted[#weighted + 1] = k end
end

local pid = io.open("/proc/self/stat"):read("l"):match("^(%d+)")
local function rssKiB()
  for line in io.lines("/proc/" .. pid .. "/status") do
    local v = line:match("^VmRSS:%s+(%d+)")
    if v then return tonumber(v) end
  end
end
local function fds()
  local p = io.popen("ls /proc/" .. pid .. "/fd | wc -l")
  local n = tonumber(p:read("l")); p:close()
  return n
end

-- Per-connection state lives in the connection's closures (nothing here grows with the number of
-- connections made, so the RSS measured is the host's).
local violations, live, connections = {}, 0, 0
local liveSet = {}
local errorKinds = {}
local byKind, samples = {}, {}
local startFds = fds()
local t0 = ns.now()
local stopping = false
local nextKind = 0

local violationCount = 0
local function violation(text)
  if #violations < 20 then violations[#violations + 1] = text end
  violationCount = violationCount + 1
end

local launch
local function ended(conn, how)
  local id, kind = conn.id, conn.kind
  conn.terminals = conn.terminals + 1
  if conn.terminals > 1 then violation(string.format("connection %d (%s): terminal event #%d (%s)", id, kind, conn.terminals, how)) return end
  if conn.expired then return end   -- already reported as missing its terminal event
  live = live - 1
  liveSet[id] = nil
  byKind[kind] = byKind[kind] or { connections = 0, closes = 0, errors = 0 }
  byKind[kind][how] = byKind[kind][how] + 1
  -- Replaced after a pause (as bots retry), not at once: a failure storm must not become a
  -- connect storm.
  if not stopping then ns.setTimeout(launch, 500 + (id * 7919) % 2000) end
end

function launch()
  if stopping then return end
  connections = connections + 1
  local id = connections
  nextKind = nextKind % #weighted + 1
  local kind = weighted[nextKind]
  local opened = false
  live = live + 1
  local c
  local conn = { id = id, kind = kind.name, since = ns.now(), terminals = 0, client = function() return c end }
  liveSet[id] = conn
  local sent, wanted, ticker = 0, 5 + id % 16, nil
  c = ns.OH_WebSocketClient_Constructor(function(c)
    opened = true
    if kind.name == "echo" then
      sent = 1
      c:send("soak " .. id .. " 1")
    end
    if kind.name == "silent" then c:send("soak " .. id) end
    -- The server never answers a close: the close timeout (5 s) must end the connection.
    if kind.name == "no-close-reply" then c:close(1000, "bye") end
  end, function(c, data)
    if kind.name ~= "echo" then return end
    if data ~= "soak " .. id .. " " .. sent then violation(("connection %d: echo %q for message %d"):format(id, data, sent)) end
    if sent >= wanted then c:close(1000, "done") return end
    ticker = ns.setTimeout(function()
      ticker = nil
      if c:state() == "open" then sent = sent + 1; c:send("soak " .. id .. " " .. sent) end
    end, 1000)
  end, function(c, err)
    -- An error before the open ends the connection; after the open, onClose follows.
    if not opened then
      local m = (err.errorMessage or ""):gsub("%d+", "N"):sub(1, 80)
      errorKinds[kind.name .. ": " .. m] = (errorKinds[kind.name .. ": " .. m] or 0) + 1
      ended(conn, "errors"); c:destroy()
    end
  end, function(c, r)
    if ticker then ns.clearTimer(ticker); ticker = nil end
    ended(conn, "closes"); c:destroy()
  end)
  byKind[kind.name] = byKind[kind.name] or { connections = 0, closes = 0, errors = 0 }
  byKind[kind.name].connections = byKind[kind.name].connections + 1
  local ok, err = c:connect((kind.tls and wss or base) .. kind.path,
    { connectTimeout = 10000, pingInterval = 1000, pongTimeout = 2000, insecure = false })
  if not ok then violation("connect failed at once: " .. tostring(err)); live = live - 1 end
end

-- Ramp up over a tenth of the run (at most 10 s): BOTS connects at once are a storm of their own.
local ramp = math.min(10, seconds / 10)
local ticks = math.max(1, math.floor(ramp * 10))
local launched, tick = 0, 0
local rampTimer
rampTimer = ns.setInterval(function()
  tick = tick + 1
  local target = math.min(bots, math.ceil(bots * tick / ticks))
  while launched < target do launched = launched + 1; launch() end
  if launched >= bots then ns.clearTimer(rampTimer) end
end, 100)

local warm = nil
ns.setInterval(function()
  local t = ns.now() - t0
  samples[#samples + 1] = { t = math.floor(t), rss = rssKiB(), fds = fds(), live = live, lua = math.floor(collectgarbage("count")) }
  if stopping then
    for id, l in pairs(liveSet) do
      if ns.now() - l.since > 60 then
        violation(string.format("connection %d (%s) has had no terminal event for %.0f s (state %s)", id, l.kind, ns.now() - l.since, l.client() and l.client():state() or "?"))
        liveSet[id] = nil
        l.expired = true
        live = live - 1
      end
    end
  end
  io.stderr:write(string.format("soak: t=%ds live=%d connections=%d rss=%d KiB lua=%d KiB fds=%d\n", math.floor(t), live, connections,
    samples[#samples].rss, samples[#samples].lua, samples[#samples].fds))
  if t >= seconds * 0.2 and not warm then warm = #samples end
  if t >= seconds and not stopping then
    stopping = true
    -- Let every live connection end on its own (timeouts are a few seconds), then report.
  end
  if stopping and live == 0 then
    local endFds = fds()
    local warmRss = samples[warm or #samples].rss
    local maxAfter = 0
    for i = (warm or #samples), #samples do maxAfter = math.max(maxAfter, samples[i].rss) end
    local result = { connections = connections, violations = violationCount, startFds = startFds, endFds = endFds,
                     warmRssKiB = warmRss, maxRssAfterWarmKiB = maxAfter, samples = samples, byKind = byKind,
                     firstViolations = #violations > 0 and violations or ns.json.emptyArray, errors = errorKinds }
    io.write(ns.json.encode({ soak = result }), "\n")
    io.stdout:flush()
    ns.exit(violationCount > 0 and 1 or 0)
  end
end, sampleEvery * 1000)
