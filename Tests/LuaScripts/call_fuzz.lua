-- Every netstack function and client method called with random values and numbers of arguments
-- (seeded, so a run repeats): each call returns or raises a Lua error, never stops the process.
-- In a debug build (the tests'), the host checks after every Swift function that it left the
-- Lua stack balanced. Usage: call_fuzz.lua ws://HOST:PORT
local ns = require "netstack"
local base = ...
local url = base .. "/echo"
local values = { nil, 0, -1, 1, 1.5, 0 / 0, 1 / 0, -1 / 0, 2 ^ 53, 2 ^ 63, math.maxinteger, math.mininteger, 1e308, "", "x", url,
  "wss://127.0.0.1:1/", string.rep("a", 200), "\0", "\255\254", true, false, {}, { 1, 2, 3 }, { code = 1000, reason = "r" },
  { fieldName = "A", fieldValue = "b" }, { code = 4000 }, { binary = true }, { headers = { { fieldName = "X", fieldValue = "y" } } },
  function() end, coroutine.create(function() end), setmetatable({}, { __index = function() error("index") end }),
  setmetatable({}, { __tostring = function() return 5 end }), ns.json.null, io.stdout, { type = 1, data = "x" }, { data = 5 },
  { path = "/nonexistent" }, { -1 }, { [1.5] = 1 }, 3000, 1000, 65535, 65536, 125, 126 }
local NV = 46
local skip = { exit = true, spawn = true, sleep = true, connect = true, select = true, setInterval = true, fetchChain = true, log = true }
local names = {}
for k, v in pairs(ns) do if type(v) == "function" and not skip[k] then names[#names + 1] = k end end
table.sort(names)
local methods = { "addHeader", "connect", "send", "close", "ping", "destroy", "state", "bufferedAmount", "id" }
local clients, calls, raised = {}, 0, 0
for seed = 1, 5 do
  math.randomseed(seed)
  local function rv() return values[math.random(1, NV)] end
  local function client()
    if #clients > 0 and math.random() < 0.7 then return clients[math.random(#clients)] end
    local c = ns.OH_WebSocketClient_Constructor(nil, nil, nil, nil)
    clients[#clients + 1] = c
    return c
  end
  for _ = 1, 1500 do
    local r, ok = math.random()
    local args = {}
    for j = 1, math.random(0, 8) do args[j] = rv() end
    if r < 0.45 then
      local name = names[math.random(#names)]
      if name:find("WebSocketClient") and math.random() < 0.8 then args[1] = client() end
      ok = pcall(ns[name], table.unpack(args, 1, 8))
    elseif r < 0.85 then
      local c = client()
      ok = pcall(c[methods[math.random(#methods)]], c, table.unpack(args, 1, 8))
    else
      ok = pcall(ns.json[math.random() < 0.5 and "encode" or "decode"], table.unpack(args, 1, 8))
    end
    calls = calls + 1
    if not ok then raised = raised + 1 end
  end
end
assert(raised > 0 and raised < calls, "some calls raise and some do not: " .. raised .. " of " .. calls)
ns.setTimeout(function()
  for _, c in ipairs(clients) do c:destroy() end
  print(("call fuzz ok: %d calls, %d raised"):format(calls, raised))
  ns.exit(0)
end, 300)
