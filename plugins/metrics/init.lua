-- metrics: counts, a latency histogram for request/response traffic, an end-of-run summary and
-- thresholds that turn into the exit status.
local ns = require "netstack"

local METRICS = {
  "duration", "connections", "connect_failures", "closes", "closes_abnormal", "errors",
  "messages_in", "messages_out", "bytes_in", "bytes_out", "send_failures",
  "latency.count", "latency.min", "latency.mean", "latency.p50", "latency.p90", "latency.p95", "latency.p99", "latency.max",
}
local KNOWN = {}
for _, m in ipairs(METRICS) do KNOWN[m] = true end

--- Parses "latency.p99<50,errors==0" into { {metric=, op=, value=, text=} }.
local function parseThresholds(list)
  local out = {}
  for _, text in ipairs(list) do
    local metric, op, value = text:match("^%s*([%w_.]+)%s*([<>=!]=?)%s*([%d.eE+-]+)%s*$")
    local n = tonumber(value)
    if not metric or not n or not (op == "<" or op == "<=" or op == ">" or op == ">=" or op == "==" or op == "!=") then
      return nil, string.format("threshold '%s': expected METRIC OP NUMBER with OP one of < <= > >= == !=", text)
    end
    if not KNOWN[metric] then
      return nil, string.format("threshold '%s': unknown metric '%s' (known: %s)", text, metric, table.concat(METRICS, ", "))
    end
    out[#out + 1] = { metric = metric, op = op, value = n, text = text:match("^%s*(.-)%s*$") }
  end
  return out
end

local function holds(v, op, limit)
  if op == "<" then return v < limit elseif op == "<=" then return v <= limit
  elseif op == ">" then return v > limit elseif op == ">=" then return v >= limit
  elseif op == "==" then return v == limit else return v ~= limit end
end

-- A log-bucketed histogram: 1% resolution from 1 µs up, exact count, min, max and sum.
local Histogram = {}
Histogram.__index = Histogram
local SCALE = 1 / math.log(1.01)
function Histogram.new() return setmetatable({ buckets = {}, count = 0, sum = 0, min = math.huge, max = 0 }, Histogram) end
function Histogram:add(ms)
  local us = math.max(1, ms * 1000)
  local b = math.floor(math.log(us) * SCALE)
  self.buckets[b] = (self.buckets[b] or 0) + 1
  self.count, self.sum = self.count + 1, self.sum + ms
  if ms < self.min then self.min = ms end
  if ms > self.max then self.max = ms end
end
function Histogram:percentile(p)
  if self.count == 0 then return 0 end
  local keys = {}
  for k in pairs(self.buckets) do keys[#keys + 1] = k end
  table.sort(keys)
  local rank, seen = math.max(1, math.ceil(p / 100 * self.count)), 0
  for _, k in ipairs(keys) do
    seen = seen + self.buckets[k]
    if seen >= rank then
      -- The bucket's upper edge, clamped to what was observed.
      return math.min(self.max, math.max(self.min, math.exp((k + 1) / SCALE) / 1000))
    end
  end
  return self.max
end

return {
  name = "metrics",
  version = "1.0.0",
  description = "Counts connections, messages, bytes and errors; latency histogram; summary; thresholds",
  api = 1,
  options = {
    thresholds = { type = "list", default = {}, help = "comma-separated METRIC OP NUMBER, e.g. latency.p99<50,errors==0; any failure exits 99" },
    latency = { type = "string", default = "fifo",
                check = function(v) return v == "fifo" or v == "none" or v:match("^json:[%w_]+$") ~= nil, "fifo, none or json:FIELD" end,
                help = "pairing of replies to requests: fifo (each message answers the oldest unanswered send), json:FIELD (same value of FIELD), none" },
    summary = { type = "string", default = "auto", check = function(v) return v == "auto" or v == "table" or v == "json" or v == "none", "auto, table, json or none" end,
                help = "end-of-run summary: auto (JSON with --json, else a table on stderr), table, json, none" },
    file = { type = "string", help = "also write the JSON summary to this file" },
  },

  setup = function(ctx, opts)
    local thresholds, err = parseThresholds(opts.thresholds)
    if not thresholds then error(err, 0) end
    -- In a load run every VU has its own instance: `{vu}` in the file name is the VU's id; VUs
    -- writing one file would overwrite each other, so that is refused. VU 0 (the init that reads
    -- the options) writes no file.
    local vu = ns.vu
    if opts.file and vu then
      if vu.id == 0 then
        opts.file = nil
      elseif opts.file:find("{vu}", 1, true) then
        opts.file = opts.file:gsub("{vu}", tostring(vu.id))
      elseif vu.total > 1 then
        error(string.format("metrics.file: %d VUs would all write %s: put {vu} in the name (metrics.file=metrics-{vu}.json), which becomes each VU's id",
          vu.total, opts.file), 0)
      end
    end
    if opts.file then
      -- Found out now, not after the run: a file that cannot be written stops the run (status 3).
      local f, ferr = io.open(opts.file, "a")
      if not f then error("cannot write " .. tostring(ferr), 0) end
      f:close()
    end
    local started = ns.now()
    local c = { connections = 0, connect_failures = 0, closes = 0, closes_abnormal = 0, errors = 0,
                messages_in = 0, messages_out = 0, bytes_in = 0, bytes_out = 0, send_failures = 0 }
    local errorsByCode, closesByCode = {}, {}
    local latency = Histogram.new()
    local pending = setmetatable({}, { __mode = "k" })   -- client -> FIFO of send times or map id -> time
    local field = opts.latency:match("^json:(.+)$")

    local function queue(client)
      local q = pending[client]
      if not q then q = { first = 1, last = 0 } pending[client] = q end
      return q
    end

    local function idOf(data)
      local v = ns.json.decode(data)
      if type(v) == "table" and v[field] ~= nil then return tostring(v[field]) end
    end

    ctx.after("send", function(client, data, kind, rc)
      if rc ~= ns.WEBSOCKET_OK then c.send_failures = c.send_failures + 1 return end
      c.messages_out, c.bytes_out = c.messages_out + 1, c.bytes_out + #data
      if opts.latency == "fifo" then
        local q = queue(client)
        q.last = q.last + 1
        q[q.last] = ns.now()
      elseif field then
        local id = idOf(data)
        if id then queue(client)[id] = ns.now() end
      end
    end)
    ctx.before("message", function(client, data, length)
      c.messages_in, c.bytes_in = c.messages_in + 1, c.bytes_in + length
      if opts.latency == "fifo" then
        local q = pending[client]
        if q and q.first <= q.last then
          latency:add((ns.now() - q[q.first]) * 1000)
          q[q.first] = nil
          q.first = q.first + 1
        end
      elseif field then
        local q, id = pending[client], idOf(data)
        if q and id and q[id] then
          latency:add((ns.now() - q[id]) * 1000)
          q[id] = nil
        end
      end
    end)
    ctx.before("open", function() c.connections = c.connections + 1 end)
    ctx.before("error", function(client, e)
      c.errors = c.errors + 1
      errorsByCode[e.errorCode] = (errorsByCode[e.errorCode] or 0) + 1
      -- An error that ended a connection that never opened: a failed connect.
      if client:state() == "closed" then c.connect_failures = c.connect_failures + 1 end
    end)
    ctx.before("close", function(client, r)
      c.closes = c.closes + 1
      closesByCode[r.code] = (closesByCode[r.code] or 0) + 1
      if r.code == 1006 then c.closes_abnormal = c.closes_abnormal + 1 end
      pending[client] = nil
    end)

    local function snapshot()
      local s = {}
      for k, v in pairs(c) do s[k] = v end
      s.duration = ns.now() - started
      s.latency = { count = latency.count, min = latency.count > 0 and latency.min or 0,
                    mean = latency.count > 0 and latency.sum / latency.count or 0,
                    p50 = latency:percentile(50), p90 = latency:percentile(90), p95 = latency:percentile(95),
                    p99 = latency:percentile(99), max = latency.max }
      s.errorsByCode, s.closesByCode = {}, {}
      for k, v in pairs(errorsByCode) do s.errorsByCode[tostring(k)] = v end
      for k, v in pairs(closesByCode) do s.closesByCode[tostring(k)] = v end
      return s
    end

    local function valueOf(s, metric)
      local group, key = metric:match("^(%w+)%.(%w+)$")
      if group then return s[group][key] end
      return s[metric]
    end

    local function evaluate(s)
      local results = {}
      for _, t in ipairs(thresholds) do
        local v = valueOf(s, t.metric)
        results[#results + 1] = { threshold = t.text, value = v, ok = holds(v, t.op, t.value) }
      end
      return results
    end

    local function table_(s, results)
      local lines = {}
      local function row(name, value) lines[#lines + 1] = string.format("  %-18s %s", name, value) end
      lines[#lines + 1] = "metrics:"
      row("duration", string.format("%.3f s", s.duration))
      row("connections", string.format("%d opened, %d failed to connect", s.connections, s.connect_failures))
      row("messages", string.format("%d in, %d out (%d send failures)", s.messages_in, s.messages_out, s.send_failures))
      row("bytes", string.format("%d in, %d out", s.bytes_in, s.bytes_out))
      local codes = {}
      for k, v in pairs(s.errorsByCode) do codes[#codes + 1] = k .. "x" .. v end
      table.sort(codes)
      row("errors", s.errors .. (#codes > 0 and (" (" .. table.concat(codes, ", ") .. ")") or ""))
      local closes = {}
      for k, v in pairs(s.closesByCode) do closes[#closes + 1] = k .. "x" .. v end
      table.sort(closes)
      row("closes", s.closes .. (#closes > 0 and (" (" .. table.concat(closes, ", ") .. ")") or ""))
      if s.latency.count > 0 then
        local l = s.latency
        row("latency (ms)", string.format("n=%d min=%.3f mean=%.3f p50=%.3f p90=%.3f p95=%.3f p99=%.3f max=%.3f",
          l.count, l.min, l.mean, l.p50, l.p90, l.p95, l.p99, l.max))
      end
      for _, r in ipairs(results) do
        row(r.ok and "threshold ok" or "threshold FAILED", string.format("%s (value %s)", r.threshold, tostring(r.value)))
      end
      return table.concat(lines, "\n")
    end

    ctx.onExit(function(status)
      local s = snapshot()
      local results = evaluate(s)
      local failed = 0
      for _, r in ipairs(results) do if not r.ok then failed = failed + 1 end end
      s.thresholds = #results > 0 and results or ns.json.emptyArray
      local mode = opts.summary
      if mode == "auto" then mode = ctx.json and "json" or "table" end
      local encoded = ns.json.encode({ event = "metrics", metrics = s })
      if mode == "json" then
        io.stdout:write(encoded, "\n")
        io.stdout:flush()
      elseif mode == "table" then
        io.stderr:write(table_(s, results), "\n")
      end
      local written = true
      if opts.file then
        local f, ferr = io.open(opts.file, "w")
        local ok, werr = f ~= nil, ferr
        if f then
          ok, werr = f:write(ns.json.encode(s), "\n")
          local closed, cerr = f:close()
          if ok and not closed then ok, werr = false, cerr end
        end
        if not ok then
          ctx.log("error", "cannot write " .. opts.file .. ": " .. tostring(werr))
          written = false
        end
      end
      if failed > 0 then
        ctx.log("error", string.format("%d of %d thresholds failed", failed, #results))
        return 99
      end
      -- As an --out file that cannot be written in full (docs/exit-status.md).
      if not written then return 2 end
    end)

    return {
      snapshot = snapshot,
      --- Records a latency sample (ms) measured by the script itself.
      observe = function(ms) latency:add(ms) end,
    }
  end,

  check = function(ctx, opts)
    local t, err = parseThresholds(opts.thresholds)
    if not t then return false, err end
    return true, string.format("%d thresholds; latency pairing %s", #t, opts.latency)
  end,
}
