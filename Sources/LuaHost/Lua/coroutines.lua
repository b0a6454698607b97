-- The coroutine style of the netstack module: netstack.spawn, netstack.connect, ws:receive,
-- netstack.sleep and netstack.select (docs/lua-api.md, "Coroutine style"). Built on the callback
-- API: a spawned function waits by yielding; the client's callbacks and timers resume it.
-- Loaded into a VM the first time a script reads one of those names.
local ns = ...
local create, resume, yield, running, status = coroutine.create, coroutine.resume, coroutine.yield, coroutine.running, coroutine.status
-- debug is read only when an error needs a traceback: in a load run's VU, opening it makes every
-- entry of the module's tables.
local function traceback(co, message) return debug.traceback(co, message) end
local setmetatable, getmetatable, type, error, tostring, select = setmetatable, getmetatable, type, error, tostring, select

-- Bytes of messages a client keeps for receive; past it the connection is closed (1008) and
-- receive reports WEBSOCKET_QUEUE_LENGTH_EXCEEDED.
local MAX_QUEUE = 16 * 1024 * 1024

local spawned = setmetatable({}, { __mode = "k" })  -- coroutines made by spawn
-- The host runs a load run's iteration entry points and a plain run's main in coroutines of its
-- own (entry threads): they wait as spawned functions do, and yield WAIT_MARK to say they wait.
local isEntryThread, WAIT_MARK, markFailed = ns.isEntryThread, ns.WAIT_MARK, ns.markFailed
local waiting = {}                                  -- coroutine -> token while it waits

-- Runs `co` until it waits again or ends; its error is raised here, with its own traceback.
local function step(co, ...)
  local ok, err = resume(co, ...)
  if not ok then
    if err == ns.EXIT_UNWIND then error(err, 0) end  -- os.exit: the run is ending, not an error
    -- The host reports an error that starts with this prefix as the spawned function's own,
    -- whichever callback resumed it; the traceback is the function's, the handler adds none.
    local text = (type(err) == "string" or type(err) == "number") and tostring(err)
      or (getmetatable(err) ~= nil and type(getmetatable(err).__tostring) == "function" and tostring(err))
      or "(error object is a " .. type(err) .. " value)"
    local prefix = isEntryThread(co) and ns.ENTRY_ERROR_PREFIX or ns.SPAWNED_ERROR_PREFIX
    error(traceback(co, prefix .. text), 0)
  end
  if status(co) == "suspended" and waiting[co] == nil then
    error("netstack.spawn: the function yielded by itself; inside netstack.spawn, wait with "
      .. "netstack.sleep, netstack.connect, ws:receive or netstack.select", 0)
  end
end

-- Resumes `co` if it still waits for `token` (a timeout and a message may both come).
local function wake(co, token, ...)
  if waiting[co] ~= token then return false end
  waiting[co] = nil
  step(co, ...)
  return true
end

local function current(what)
  local co = running()
  if not spawned[co] and not isEntryThread(co) then
    error(what .. " waits, so it must be called inside a function started with netstack.spawn"
      .. " (or directly in main, or in a load run's iteration function)", 3)
  end
  return co
end

-- Waits until wake(co, token, ...) and returns what it passed.
local function wait(co, token)
  waiting[co] = token
  return yield(WAIT_MARK)
end

local function checkTimeout(timeout, what)
  if timeout ~= nil and (type(timeout) ~= "number" or timeout ~= timeout or timeout < 0 or timeout > 2147483647) then
    error(what .. ": timeout must be milliseconds from 0 to 2147483647, or nil", 3)
  end
end

local WebSocket = { __name = "netstack.websocket" }
WebSocket.__index = WebSocket

function WebSocket:__tostring()
  return "netstack.websocket (" .. tostring(self.client) .. ")"
end

local function isReader(r)
  return r ~= nil and waiting[r.co] == r.token
end

-- Something arrived on ws: wake whoever waits on it.
local function ready(ws)
  local r = ws.reader
  if r then
    ws.reader = nil
    wake(r.co, r.token, ws)
  end
end

-- The queue holds messages and, in their place among them, what ended a connection: an error
-- (kind FAILED, data { message, code }) and a close (kind CLOSED, data the close result). So a
-- client that connects again (c:connect, or the reconnect plugin) reports each ending once, in
-- order, and then the new connection's messages. ws.closed is the latest ending while no new
-- connection has opened: receive returns it again once the queue is empty.
local FAILED, CLOSED = 1, 2

-- Whether the reconnect plugin will connect ws's client again: its latest end is then not final,
-- and receive waits for the new connection instead of answering it again.
local loaded = type(package) == "table" and type(package.loaded) == "table" and package.loaded or {}
local function reconnecting(ws)
  local r = loaded.reconnect
  return not ws.destroyed and type(r) == "table" and type(r.pending) == "function" and r.pending(ws.client) == true
end

local function final(ws)
  return ws.closed ~= nil and not reconnecting(ws)
end

local function hasNews(ws)
  return ws.first <= ws.last or final(ws)
end

-- While a reader waits on a closed client that is to be connected again, checks every 100 ms
-- whether the plugin gave up (then the end is final and the reader wakes). A new open stops it.
local function watch(ws)
  if ws.watch or not ws.closed then return end
  ws.watch = ns.setInterval(function()
    if not reconnecting(ws) then
      ns.clearTimer(ws.watch)
      ws.watch = nil
      ready(ws)
    end
  end, 100)
end

local function unwatch(ws)
  if ws.watch then
    ns.clearTimer(ws.watch)
    ws.watch = nil
  end
end

-- Queues an ending. At most two endings wait in a row: a client that keeps failing to connect
-- again while nobody receives replaces the second with the latest (the queue stays bounded).
local function push(ws, kind, data)
  local last = ws.last
  if last >= ws.first + 1 and type(ws.kinds[last]) == "number" and type(ws.kinds[last - 1]) == "number" then
    ws.data[last], ws.kinds[last] = data, kind
    return
  end
  ws.last = last + 1
  ws.data[ws.last], ws.kinds[ws.last] = data, kind
end

-- The next message or ending, without waiting; nothing when there is none yet.
local function take(ws)
  local i = ws.first
  if i <= ws.last then
    local data, kind = ws.data[i], ws.kinds[i]
    ws.data[i], ws.kinds[i] = nil, nil
    ws.first = i + 1
    if kind == FAILED then return true, nil, data.message, data.code end
    if kind == CLOSED then return true, nil, "closed", data.code, data.reason end
    ws.bytes = ws.bytes - #data
    return true, data, kind
  end
  if final(ws) then
    return true, nil, "closed", ws.closed.code, ws.closed.reason
  end
  return false
end

--- ws:receive([timeout]) -> data, kind | nil, "timeout" | nil, "closed", code, reason | nil, message, code
function WebSocket:receive(timeout)
  checkTimeout(timeout, "ws:receive")
  if hasNews(self) then return select(2, take(self)) end
  local co = current("ws:receive")
  if isReader(self.reader) then error("ws:receive: another coroutine is already waiting on this client", 2) end
  local token = {}
  self.reader = { co = co, token = token }
  local timer = timeout and ns.setTimeout(function() wake(co, token, nil) end, timeout)
  watch(self)
  wait(co, token)
  unwatch(self)
  if timer then ns.clearTimer(timer) end
  if self.reader and self.reader.token == token then self.reader = nil end
  if hasNews(self) then return select(2, take(self)) end
  return nil, "timeout"
end

--- ws:ping([data [, timeout]]) -> rtt (ms) | nil, message [, code]
function WebSocket:ping(data, timeout)
  checkTimeout(timeout, "ws:ping")
  local co = current("ws:ping")
  local token = {}
  local ok, message, code = self.client:ping(data, function(rtt, err, errCode) wake(co, token, rtt, err, errCode) end)
  if not ok then return nil, message, code end
  local timer = timeout and ns.setTimeout(function() wake(co, token, nil, "timeout") end, timeout)
  local pinger = { co = co, token = token }
  self.pingers = self.pingers or {}
  self.pingers[pinger] = true
  local rtt, err, errCode = wait(co, token)
  if self.pingers then self.pingers[pinger] = nil end
  if timer then ns.clearTimer(timer) end
  if rtt then return rtt end
  if errCode == nil then return nil, err end
  return nil, err, errCode
end

function WebSocket:send(data, options) return self.client:send(data, options) end
function WebSocket:close(code, reason) return self.client:close(code, reason) end
-- Destroying ends the connection without callbacks: receive (and a coroutine already waiting in
-- it or in select, woken from a timer so its errors are the host's) gets nil, "closed", 1006,
-- "destroyed"; a coroutine waiting in ping gets nil, message, 1017 (as when the connection ends).
local function markDestroyed(ws)
  if ws.pingers and next(ws.pingers) then
    local pingers = ws.pingers
    ws.pingers = nil
    pcall(ns.setTimeout, function()
      for p in pairs(pingers) do
        wake(p.co, p.token, nil, "the connection was destroyed before the pong came", ns.WEBSOCKET_NO_CONNECTION)
      end
    end, 0)
  end
  if ws.destroyed then return end
  ws.destroyed = true
  if not ws.closed then ws.closed = { code = 1006, reason = "destroyed" } end
  if ws.reader then pcall(ns.setTimeout, function() ready(ws) end, 0) end
end

function WebSocket:destroy()
  local r = self.client:destroy()
  markDestroyed(self)
  return r
end

function WebSocket:__close()
  self.client:destroy()
  markDestroyed(self)
end
function WebSocket:state() return self.client:state() end
function WebSocket:id() return self.client:id() end
function WebSocket:bufferedAmount() return self.client:bufferedAmount() end
--- The onOpen result: code, reason, protocol, redirects.
function WebSocket:openResult() return self.result end

local M = {}

--- netstack.spawn(fn, ...) -> coroutine: runs fn(...) now, until it first waits.
function M.spawn(fn, ...)
  if type(fn) ~= "function" then
    error("bad argument #1 to 'spawn' (function expected, got " .. type(fn) .. ")", 2)
  end
  local co = create(fn)
  spawned[co] = true
  step(co, ...)
  return co
end

--- netstack.connect(url [, options]) -> ws | nil, message, code
function M.connect(url, options)
  local co = current("netstack.connect")
  local ws = setmetatable({ data = {}, kinds = {}, first = 1, last = 0, bytes = 0 }, WebSocket)
  local token = {}
  local c = ns.OH_WebSocketClient_Constructor(
    function(_, result)
      -- A later open is a new connection of the same client (a reconnect): it is open again.
      if ws.opened and not ws.destroyed then
        ws.closed, ws.overflowed = nil, nil
        unwatch(ws)
      end
      ws.opened = true
      ws.result = result
      wake(co, token)
    end,
    function(client, data, length, kind)
      if ws.overflowed then return end
      if ws.bytes + length > MAX_QUEUE then
        ws.overflowed = true
        push(ws, FAILED, { message = "receive queue over " .. MAX_QUEUE .. " bytes: the script does not call receive",
                           code = ns.WEBSOCKET_QUEUE_LENGTH_EXCEEDED })
        client:close(1008, "receive queue full")
        markFailed(client)                          -- messages were dropped: the run's status is 1
      else
        ws.last = ws.last + 1
        ws.data[ws.last], ws.kinds[ws.last] = data, kind
        ws.bytes = ws.bytes + length
      end
      ready(ws)
    end,
    function(_, err)
      if not ws.opened then
        ws.connectError = err
        wake(co, token)
      elseif not ws.overflowed then
        push(ws, FAILED, { message = err.errorMessage, code = err.errorCode })
        ready(ws)
      end
    end,
    function(_, result)
      if ws.destroyed then return end
      ws.closed = result
      push(ws, CLOSED, result)
      -- The reader wakes from a timer: after the plugins' hooks on this close (the reconnect
      -- plugin decides there whether the client connects again).
      if ws.reader then pcall(ns.setTimeout, function() ready(ws) end, 0) end
    end)
  ws.client = c
  local ok, message, code = c:connect(url, options)
  if not ok then
    c:destroy()
    return nil, message, code
  end
  wait(co, token)
  if ws.opened then return ws end
  c:destroy()
  local err = ws.connectError or { errorMessage = "connection failed", errorCode = ns.WEBSOCKET_CONNECTION_ERROR }
  return nil, err.errorMessage, err.errorCode
end

--- netstack.sleep(ms)
function M.sleep(ms)
  if type(ms) ~= "number" or ms ~= ms or ms < 0 or ms > 2147483647 then
    local got = type(ms) == "number" and tostring(ms) or type(ms)
    error("bad argument #1 to 'sleep' (milliseconds from 0 to 2147483647 expected, got " .. got .. ")", 2)
  end
  local co = current("netstack.sleep")
  local token = {}
  ns.setTimeout(function() wake(co, token) end, ms)
  wait(co, token)
end

--- netstack.select(clients [, timeout]) -> ws, <what ws:receive returns> | nil, "timeout"
function M.select(clients, timeout)
  if type(clients) ~= "table" then
    error("bad argument #1 to 'select' (table of clients from netstack.connect expected, got " .. type(clients) .. ")", 2)
  end
  checkTimeout(timeout, "netstack.select")
  for i = 1, #clients do
    local ws = clients[i]
    if getmetatable(ws) ~= WebSocket then
      error("bad argument #1 to 'select' (entry " .. i .. " is not a client from netstack.connect)", 2)
    end
    if hasNews(ws) then return ws, ws:receive() end
  end
  if #clients == 0 and timeout == nil then error("netstack.select: no clients and no timeout would wait for ever", 2) end
  local co = current("netstack.select")
  for i = 1, #clients do
    if isReader(clients[i].reader) then error("netstack.select: another coroutine is already waiting on client " .. i, 2) end
  end
  local token = {}
  local reader = { co = co, token = token }
  for i = 1, #clients do
    clients[i].reader = reader
    watch(clients[i])
  end
  local timer = timeout and ns.setTimeout(function() wake(co, token, nil) end, timeout)
  local ws = wait(co, token)
  if timer then ns.clearTimer(timer) end
  for i = 1, #clients do
    unwatch(clients[i])
    if clients[i].reader == reader then clients[i].reader = nil end
  end
  if ws then return ws, ws:receive() end
  return nil, "timeout"
end

return M
