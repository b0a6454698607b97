-- record: writes every event of a session to JSON lines; replays a recording against a bot, or
-- checks a bot's outgoing messages against one.
local ns = require "netstack"
local json = ns.json

local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
local function unhex(h) return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)) end

-- A recording's lines are read through this, each at most MAX_LINE bytes (a 64 MiB message
-- recorded as hex or escaped JSON stays within it), so that a wrong file (a device that never
-- ends, a binary) is an error, not a read without end.
local MAX_LINE = 512 * 1024 * 1024

local function boundedLines(f, name)
  local chunk, pos = "", 1
  return function()
    local parts, size = nil, 0
    while true do
      local nl = chunk:find("\n", pos, true)
      if nl then
        local piece = chunk:sub(pos, nl - 1)
        pos = nl + 1
        if not parts then return piece end
        parts[#parts + 1] = piece
        return table.concat(parts)
      end
      if pos <= #chunk then
        parts = parts or {}
        parts[#parts + 1] = chunk:sub(pos)
        size = size + #chunk - pos + 1
        if size > MAX_LINE then error(name .. ": a line longer than 512 MiB: not a recording", 0) end
      end
      chunk, pos = f:read(1 << 20), 1
      if not chunk then
        chunk = ""
        return parts and table.concat(parts) or nil
      end
    end
  end
end

local function payload(entry)
  if entry.hex then return unhex(entry.hex) end
  return entry.data or ""
end

local function describe(data, kind)
  local shown = kind == "binary" and ("0x" .. hex(data:sub(1, 32))) or string.format("%q", data:sub(1, 64))
  return string.format("%s %s (%d bytes)", kind, shown, #data)
end

--- How recorded and sent messages are compared: binary byte for byte; text messages that are both
--- JSON objects or arrays as JSON values (key order free, `ignore`d fields left out); other text
--- byte for byte. The matches of `normalize` patterns in text and JSON strings stand for any text.
local function Comparison(ignore, normalize)
  local byName, byPath = {}, {}
  for _, f in ipairs(ignore) do
    if f:find(".", 1, true) then
      local parts = {}
      for part in f:gmatch("[^.]+") do parts[#parts + 1] = part end
      byPath[#byPath + 1] = parts
    else
      byName[f] = true
    end
  end
  local function ignored(path)
    if byName[path[#path]] then return true end
    for _, parts in ipairs(byPath) do
      if #parts == #path then
        local all = true
        for i = 1, #parts do
          if parts[i] ~= "*" and parts[i] ~= tostring(path[i]) then all = false break end
        end
        if all then return true end
      end
    end
    return false
  end
  local function norm(text)
    for _, p in ipairs(normalize) do text = text:gsub(p, "\0\1*\1\0") end
    return text
  end
  local function equal(a, b, path)
    if type(a) == "string" and type(b) == "string" then return a == b or norm(a) == norm(b) end
    if type(a) ~= "table" or type(b) ~= "table" then return a == b end
    for k, v in pairs(a) do
      path[#path + 1] = k
      local same = ignored(path) or equal(v, b[k], path)
      path[#path] = nil
      if not same then return false end
    end
    for k in pairs(b) do
      if a[k] == nil then
        path[#path + 1] = k
        local skip = ignored(path)
        path[#path] = nil
        if not skip then return false end
      end
    end
    return true
  end
  local rules = #ignore > 0 or #normalize > 0
  return {
    rules = rules,
    --- Whether the bot's `got` stands for the recorded `want` (both of kind `kind`).
    same = function(want, got, kind)
      if want == got then return true end
      if kind ~= "text" then return false end
      local a, b = ns.json.decode(want), ns.json.decode(got)
      if type(a) == "table" and type(b) == "table" then return equal(a, b, {}) end
      return rules and norm(want) == norm(got)
    end,
  }
end

return {
  name = "record",
  version = "1.0.0",
  description = "Records sessions to JSON lines; replays a recorded server against a bot; checks a bot against a recording",
  api = 1,
  options = {
    mode = { type = "string", default = "record",
             check = function(v) return v == "record" or v == "replay" or v == "check", "record, replay or check" end,
             help = "record: write events; replay: play the recorded server side (no network); check: live, compare outgoing messages" },
    file = { type = "string", default = "session.jsonl", help = "the recording (JSON lines)" },
    timing = { type = "string", default = "fast", check = function(v) return v == "fast" or v == "recorded", "fast or recorded" end,
               help = "replay: deliver events at once (fast) or with the recorded gaps (recorded)" },
    timeout = { type = "number", default = 5000, help = "replay: how long to wait for an expected message from the bot, ms" },
    ignore = { type = "list", default = {},
               help = "JSON fields not compared (a name: at any depth; a dotted path such as data.ts or items.*.id: from the top)" },
    normalize = { type = "list", default = {},
                  help = "Lua patterns (e.g. %d+%.%d+) whose matches in text messages and JSON strings are dynamic: replaced before comparing" },
    rules = { type = "string", help = "a JSON file {\"ignore\": [...], \"normalize\": [...]} (joins the two options; no comma escaping needed)" },
  },

  setup = function(ctx, opts)
    local started = ns.now()
    local function t() return math.floor((ns.now() - started) * 1e6) / 1e6 end
    -- In a load run every VU has its own instance: `{vu}` in the file name is the VU's id. VUs
    -- recording into one file would overwrite each other, so that is refused; the init that
    -- reads the options (VU 0) records nothing.
    local vu = ns.vu
    if vu then
      if vu.id == 0 and opts.mode == "record" then return { mode = "record" } end
      if opts.file:find("{vu}", 1, true) then
        opts.file = opts.file:gsub("{vu}", tostring(vu.id))
      elseif opts.mode == "record" and vu.total > 1 then
        error(string.format("record.file: %d VUs would all record to %s: put {vu} in the name (record.file=session-{vu}.jsonl), which becomes each VU's id",
          vu.total, opts.file), 0)
      end
    end

    if opts.mode == "record" then
      local out, err = io.open(opts.file, "w")
      if not out then error("cannot write " .. opts.file .. ": " .. tostring(err), 0) end
      -- A write that fails (a full disk) is reported once and makes the status 2: a recording
      -- with holes must not pass for a whole one.
      local failed
      local function write(entry)
        if failed then return end
        entry.t = t()
        local ok, werr = out:write(json.encode(entry), "\n")
        if not ok then failed = tostring(werr) end
      end
      write({ type = "session", version = 1, netstack = ns.VERSION })
      local function data(entry, bytes, kind)
        entry.kind = kind
        if kind == "text" then entry.data = bytes else entry.hex = hex(bytes) end
        return entry
      end
      ctx.after("connect", function(c, url, _, rc)
        write({ client = c:id(), dir = "out", type = "connect", url = url, rc = rc })
      end)
      ctx.after("send", function(c, bytes, kind, rc)
        if rc == ns.WEBSOCKET_OK then write(data({ client = c:id(), dir = "out", type = "send" }, bytes, kind)) end
      end)
      ctx.after("disconnect", function(c, code, reason, rc)
        write({ client = c:id(), dir = "out", type = "disconnect", code = code, reason = reason, rc = rc })
      end)
      ctx.before("open", function(c, r)
        write({ client = c:id(), dir = "in", type = "open", code = r.code, reason = r.reason, protocol = r.protocol })
      end)
      ctx.before("message", function(c, bytes, _, kind)
        write(data({ client = c:id(), dir = "in", type = "message" }, bytes, kind))
      end)
      ctx.before("error", function(c, e)
        write({ client = c:id(), dir = "in", type = "error", errorCode = e.errorCode, errorMessage = e.errorMessage })
      end)
      ctx.before("close", function(c, r)
        write({ client = c:id(), dir = "in", type = "close", code = r.code, reason = r.reason })
      end)
      ctx.onExit(function()
        local closed, cerr = out:close()
        if not failed and not closed then failed = tostring(cerr) end
        if failed then
          ctx.log("error", string.format("cannot write %s: %s (the recording is incomplete)", opts.file, failed))
          return 2
        end
        ctx.log(string.format("recorded to %s", opts.file))
      end)
      return { file = opts.file, mode = "record" }
    end

    -- replay and check: read the recording, split it by recorded client, in connect order.
    local f, err = io.open(opts.file, "r")
    if not f then error("cannot read " .. opts.file .. ": " .. tostring(err), 0) end
    local sessions, order, lineNo = {}, {}, 0
    for line in boundedLines(f, opts.file) do
      lineNo = lineNo + 1
      if line:match("%S") then
        local entry, jerr = json.decode(line)
        if type(entry) ~= "table" then error(string.format("%s:%d: %s", opts.file, lineNo, jerr or "not an object"), 0) end
        if entry.client then
          if not sessions[entry.client] then
            sessions[entry.client] = {}
            order[#order + 1] = entry.client
          end
          local list = sessions[entry.client]
          list[#list + 1] = entry
        end
      end
    end
    f:close()

    local ignore, normalize = {}, {}
    for _, f in ipairs(opts.ignore) do ignore[#ignore + 1] = f end
    for _, p in ipairs(opts.normalize) do normalize[#normalize + 1] = p end
    if opts.rules then
      local rf, rerr = io.open(opts.rules, "r")
      if not rf then error("cannot read " .. opts.rules .. ": " .. tostring(rerr), 0) end
      local text = rf:read(16 * 1024 * 1024 + 1) or ""
      if #text > 16 * 1024 * 1024 then rf:close() error(opts.rules .. ": larger than 16 MiB: not a rules file", 0) end
      local rules, jerr = json.decode(text)
      rf:close()
      if type(rules) ~= "table" or rules[1] ~= nil then error(opts.rules .. ": " .. tostring(jerr or "not a JSON object"), 0) end
      for key in pairs(rules) do
        if key ~= "ignore" and key ~= "normalize" then error(opts.rules .. ": unknown key '" .. tostring(key) .. "' (ignore, normalize)", 0) end
      end
      for _, key in ipairs({ "ignore", "normalize" }) do
        local list = rules[key] or {}
        if type(list) ~= "table" then error(opts.rules .. ": " .. key .. " must be a list of strings", 0) end
        for _, v in ipairs(list) do
          if type(v) ~= "string" then error(opts.rules .. ": " .. key .. " must be a list of strings", 0) end
          if key == "ignore" then ignore[#ignore + 1] = v else normalize[#normalize + 1] = v end
        end
      end
    end
    for _, p in ipairs(normalize) do
      local ok, perr = pcall(string.find, "", p)
      if not ok then error("normalize: bad Lua pattern '" .. p .. "': " .. tostring(perr), 0) end
    end
    local comparison = Comparison(ignore, normalize)

    local mismatches, checked = {}, 0
    local function mismatch(c, text)
      mismatches[#mismatches + 1] = text
      ctx.log("error", string.format("client %d: %s", c:id(), text))
    end

    local bound = setmetatable({}, { __mode = "k" })   -- live client -> { events, pos, timer }
    local nextSession = 1

    --- The recorded outgoing entries of a session, for check mode.
    local function outgoing(events)
      local list = {}
      for _, e in ipairs(events) do if e.dir == "out" and e.type == "send" then list[#list + 1] = e end end
      return list
    end

    local function compare(c, expected, bytes, kind)
      checked = checked + 1
      if not expected then
        mismatch(c, "unexpected send: " .. describe(bytes, kind))
        return
      end
      local want = payload(expected)
      if (expected.kind or "text") ~= kind or not comparison.same(want, bytes, kind) then
        mismatch(c, string.format("send #%d differs: expected %s, got %s", checked, describe(want, expected.kind or "text"), describe(bytes, kind)))
      end
    end

    if opts.mode == "check" then
      ctx.after("connect", function(c, _, _, rc)
        if rc ~= ns.WEBSOCKET_OK or bound[c] then return end
        local id = order[nextSession]
        nextSession = nextSession + 1
        bound[c] = { expected = id and outgoing(sessions[id]) or {}, pos = 1 }
        if not id then mismatch(c, "connects more often than the recording") end
      end)
      ctx.after("send", function(c, bytes, kind, rc)
        local b = bound[c]
        if not b or rc ~= ns.WEBSOCKET_OK then return end
        compare(c, b.expected[b.pos], bytes, kind)
        b.pos = b.pos + 1
      end)
      ctx.onExit(function()
        for c, b in pairs(bound) do
          if b.pos <= #b.expected then
            mismatch(c, string.format("%d recorded message(s) never sent, first: %s", #b.expected - b.pos + 1,
              describe(payload(b.expected[b.pos]), b.expected[b.pos].kind or "text")))
          end
        end
        ctx.log(string.format("check against %s: %d sent, %d mismatch(es)", opts.file, checked, #mismatches))
        if #mismatches > 0 then return 1 end
      end)
      return { mismatches = mismatches, mode = "check" }
    end

    -- replay: no network. Connects are intercepted and the recorded server side is delivered.
    local step

    local function schedule(c, delay)
      local b = bound[c]
      if b.timer then ns.clearTimer(b.timer) end
      b.timer = ns.setTimeout(function() b.timer = nil step(c) end, delay or 0)
    end

    function step(c)
      local b = bound[c]
      b.inStep = true
      local ok, err = pcall(function()
      while b.pos <= #b.events do
        local e = b.events[b.pos]
        if e.dir == "out" then
          if e.type == "send" or e.type == "disconnect" then
            -- Wait for the bot; the timer keeps the run alive and catches a bot that never sends.
            b.waiting = e
            b.timer = ns.setTimeout(function()
              b.timer = nil
              if b.waiting == e then
                mismatch(c, string.format("timed out after %g ms waiting for %s", opts.timeout,
                  e.type == "send" and describe(payload(e), e.kind or "text") or "close()"))
                b.pos = #b.events + 1
                b.waiting = nil
              end
            end, opts.timeout)
            return
          end
          b.pos = b.pos + 1   -- connect lines: already happened
        else
          if opts.timing == "recorded" and b.lastT and e.t and e.t > b.lastT and not b.delayed then
            b.delayed = true
            return schedule(c, (e.t - b.lastT) * 1000)
          end
          b.delayed = false
          b.lastT = e.t
          b.pos = b.pos + 1
          if e.type == "open" then
            ctx.emit(c, "open", { code = e.code, reason = e.reason, protocol = e.protocol })
          elseif e.type == "message" then
            local data = payload(e)
            ctx.emit(c, "message", data, #data, e.kind or "text")
          elseif e.type == "error" then
            ctx.emit(c, "error", { errorCode = e.errorCode, errorMessage = e.errorMessage })
          elseif e.type == "close" then
            ctx.emit(c, "close", { code = e.code, reason = e.reason })
          end
          if b.waiting then return end
        end
      end
      end)
      b.inStep = false
      if not ok then error(err, 0) end
    end

    local function expectFromBot(c, kindOfOp, bytes, kind)
      local b = bound[c]
      if not b then return true end
      local e = b.waiting
      if not e then
        -- The bot answered inside a callback, before the replay reached the expected line.
        while b.pos <= #b.events and b.events[b.pos].type == "connect" do b.pos = b.pos + 1 end
        local nextEvent = b.events[b.pos]
        if nextEvent and nextEvent.dir == "out" then e = nextEvent end
      end
      if kindOfOp == "send" then
        if not e or e.type ~= "send" then
          compare(c, nil, bytes, kind)
          return false
        end
        compare(c, e, bytes, kind)
      elseif not e or e.type ~= "disconnect" then
        -- A close the recording does not have: end this client's replay with the close.
        b.pos = #b.events + 1
        ctx.emit(c, "close", { code = 1000, reason = "" })
        return false
      end
      b.waiting = nil
      if b.timer then ns.clearTimer(b.timer) b.timer = nil end
      b.pos = b.pos + 1
      if not b.inStep then schedule(c) end
      return false
    end

    ctx.before("connect", function(c)
      if bound[c] then bound[c].pos = #bound[c].events + 1 end
      local id = order[nextSession]
      nextSession = nextSession + 1
      if not id then
        mismatch(c, "connects more often than the recording")
        return ns.plugins.STOP
      end
      bound[c] = { events = sessions[id], pos = 1 }
      schedule(c)
      return ns.plugins.STOP
    end)
    ctx.before("send", function(c, bytes, kind)
      if not bound[c] then return end
      return expectFromBot(c, "send", bytes, kind)
    end)
    ctx.before("disconnect", function(c)
      if not bound[c] then return end
      return expectFromBot(c, "disconnect")
    end)
    ctx.onExit(function()
      for c, b in pairs(bound) do
        if b.pos <= #b.events then
          local e = b.events[b.pos]
          mismatch(c, string.format("recording not finished: next is %s %s", e.dir, e.type))
        end
      end
      ctx.log(string.format("replay of %s: %d bot message(s) checked, %d mismatch(es)", opts.file, checked, #mismatches))
      if #mismatches > 0 then return 1 end
    end)
    return { mismatches = mismatches, mode = "replay" }
  end,

  check = function(ctx, opts)
    if opts.mode == "record" then
      -- Writable? Opened to append (an existing recording is left as it is); a file made only
      -- for the test is removed again.
      local existing = io.open(opts.file, "r")
      if existing then existing:close() end
      local f, err = io.open(opts.file, "a")
      if not f then return false, "cannot write " .. opts.file .. ": " .. tostring(err) end
      f:close()
      if not existing then os.remove(opts.file) end
      return true, "will record to " .. opts.file .. (existing and " (it exists: a run replaces it)" or "")
    end
    local f, err = io.open(opts.file, "r")
    if not f then return false, "cannot read " .. opts.file .. ": " .. tostring(err) end
    local n = 0
    local ok, err2 = pcall(function() for _ in boundedLines(f, opts.file) do n = n + 1 end end)
    f:close()
    if not ok then return false, tostring(err2) end
    return true, string.format("%s: %d lines to %s", opts.file, n, opts.mode)
  end,
}
