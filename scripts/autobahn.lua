-- Autobahn|Testsuite client (fuzzingserver mode) in Lua: runs every case one after another and
-- echoes each message back with its kind, every message through onMessage.
--   netstack run scripts/autobahn.lua [-- destroy-on-error]
-- The server from AUTOBAHN_URL (default ws://127.0.0.1:9001), the agent name from AUTOBAHN_AGENT
-- (default netstack-lua), AUTOBAHN_CASE_FILTER: a comma-separated list of case numbers instead of
-- all (as the Swift client, Sources/netstack-autobahn). destroy-on-error: onError destroys the
-- client (the connection is then over: the next case starts), as a script that gives up on a
-- broken connection does. Used by scripts/autobahn --lua.
local ns = require "netstack"
local base = os.getenv("AUTOBAHN_URL") or "ws://127.0.0.1:9001"
local agent = os.getenv("AUTOBAHN_AGENT") or "netstack-lua"
local only = os.getenv("AUTOBAHN_CASE_FILTER")
if only == "" then only = nil end
local destroyOnError = arg[1] == "destroy-on-error"
local options = { maxSendSize = 64 * 1024 * 1024, maxReceiveSize = 64 * 1024 * 1024, pingInterval = 0 }

-- Runs one connection; `onText` sees text messages when given (control endpoints), else messages
-- are echoed. `after` runs once, when the connection is over.
local function run(url, onText, after)
  local finished = false
  local function done(c)
    if finished then return end
    finished = true
    c:destroy()
    ns.setTimeout(after, 0)
  end
  local c = ns.OH_WebSocketClient_Constructor(
    nil,
    function(c, data, length, kind)
      if onText then onText(data) else c:send(data, { binary = kind == "binary" }) end
    end,
    function(c, err)
      if onText then io.stderr:write("autobahn: ", url, ": ", err.errorMessage, "\n") end
      -- A connection that never opened ends with onError alone; destroy-on-error ends it here.
      if destroyOnError or c:state() == "closed" then done(c) end
    end,
    function(c) done(c) end)
  local ok, message = c:connect(url, options)
  if not ok then
    io.stderr:write("autobahn: ", tostring(message), "\n")
    ns.exit(2)
  end
end

local cases = {}
run(base .. "/getCaseCount", function(text)
  local count = tonumber(text) or 0
  if only then
    for n in only:gmatch("%d+") do cases[#cases + 1] = tonumber(n) end
  else
    for i = 1, count do cases[i] = i end
  end
end, function()
  if #cases == 0 then
    io.stderr:write("autobahn: no cases reported by ", base, "\n")
    ns.exit(2)
    return
  end
  io.stderr:write("autobahn: ", #cases, " cases", destroyOnError and " (destroy on error)" or "", "\n")
  local i = 0
  local function nextCase()
    i = i + 1
    if i > #cases then
      run(base .. "/updateReports?agent=" .. agent, function() end, function()
        io.stderr:write("autobahn: done\n")
      end)
      return
    end
    run(base .. "/runCase?case=" .. cases[i] .. "&agent=" .. agent, nil, nextCase)
  end
  nextCase()
end)
