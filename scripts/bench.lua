-- The bench client contract of ../shared/bench, as a Lua script (every message through onMessage):
--   netstack run scripts/bench.lua -- MODE URL N SIZE [CONNS]
local ns = require "netstack"
local mode, url, n, size, conns = ...
n, size, conns = tonumber(n), tonumber(size), tonumber(conns or "1")
local payload = string.rep("x", size)
local options = os.getenv("WSBENCH_CA") and { caFile = os.getenv("WSBENCH_CA") } or nil
local t0, t1, count, bytes, failed = 0, 0, 0, 0, nil

local function finish(observed, observedBytes, rtts)
  if failed then
    io.stderr:write("bench.lua: " .. failed .. "\n")
    return ns.exit(1)
  end
  local expected = mode == "conns" and conns or n
  if observed ~= expected then
    io.stderr:write(("bench.lua: expected %d, observed %d\n"):format(expected, observed))
    return ns.exit(1)
  end
  local seconds = t1 - t0
  local p50, p99 = "-", "-"
  if rtts then
    table.sort(rtts)
    local function rank(p) return string.format("%.1f", rtts[math.max(1, math.ceil(p * #rtts))] * 1e6) end
    p50, p99 = rank(0.5), rank(0.99)
  end
  local sz = observedBytes % observed == 0 and tostring(observedBytes // observed) or string.format("%.2f", observedBytes / observed)
  print(("RESULT client=netstack-lua mode=%s n=%d size=%s conns=%d seconds=%.6f msgs_per_s=%.1f mb_per_s=%.3f p50_us=%s p99_us=%s")
    :format(mode, observed, sz, mode == "conns" and conns or 1, seconds, observed / seconds, observedBytes / seconds / 1e6, p50, p99))
  ns.exit(0)
end

local function onError(c, e) failed = failed or ("error " .. e.errorCode .. ": " .. e.errorMessage) end

if mode == "flood" then
  local c = ns.OH_WebSocketClient_Constructor(
    function() t0 = ns.now() end,
    function(c, data, length)
      count = count + 1
      bytes = bytes + length
      if count == n then t1 = ns.now() end
    end,
    onError,
    function(c, r)
      if r.code ~= 1000 then failed = failed or ("closed with " .. r.code) end
      finish(count, bytes)
    end)
  c:connect(url, options)
elseif mode == "echo" then
  local rtts, sent = {}, 0
  local c = ns.OH_WebSocketClient_Constructor(
    function(c)
      t0 = ns.now()
      sent = ns.now()
      c:send(payload)
    end,
    function(c, data, length, kind)
      local now = ns.now()
      count = count + 1
      rtts[count] = now - sent
      bytes = bytes + length
      if length ~= size or kind ~= "text" then failed = "bad echo" end
      if count == n then
        t1 = now
        c:close(1000)
      else
        sent = ns.now()
        c:send(payload)
      end
    end,
    onError,
    function() finish(count, bytes, rtts) end)
  c:connect(url, options)
elseif mode == "sink" then
  local sent = 0
  local c
  local function pump()
    while sent < n and c:bufferedAmount() < 1048576 do
      for _ = 1, math.min(1000, n - sent) do c:send(payload) end
      sent = math.min(n, sent + 1000)
    end
    if sent < n then ns.setTimeout(pump, 0) end
  end
  c = ns.OH_WebSocketClient_Constructor(
    function() t0 = ns.now(); pump() end,
    function(c, data)
      t1 = ns.now()
      local got, gotBytes = data:match("^done (%d+) (%d+)$")
      count, bytes = tonumber(got) or -1, tonumber(gotBytes) or -1
    end,
    onError,
    function() finish(count, bytes) end)
  c:connect(url, options)
elseif mode == "conns" then
  local clients, closed = {}, 0
  t0 = ns.now()
  for i = 1, conns do
    local c = ns.OH_WebSocketClient_Constructor(
      function(c) c:send(payload) end,
      function(c, data, length)
        count = count + 1
        bytes = bytes + length
        if count == conns then
          t1 = ns.now()
          for _, other in ipairs(clients) do other:close(1000) end
        end
      end,
      function(c, e) onError(c, e); ns.exit(1) end,
      function() closed = closed + 1; if closed == conns then finish(count, bytes) end end)
    clients[i] = c
    c:connect(url, options)
  end
else
  io.stderr:write("bench.lua: unknown mode " .. tostring(mode) .. "\n")
  ns.exit(2)
end
