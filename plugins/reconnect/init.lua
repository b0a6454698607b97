-- reconnect: reconnects dropped connections with exponential backoff and jitter.
local ns = require "netstack"

local function positive(v) return v > 0, "must be greater than 0" end

return {
  name = "reconnect",
  version = "1.0.0",
  description = "Reconnects dropped connections with exponential backoff, jitter, a cap and an attempt limit",
  api = 1,
  options = {
    initialDelay = { type = "number", default = 500, check = positive, help = "delay before the first attempt, ms" },
    maxDelay = { type = "number", default = 30000, check = positive, help = "cap on any delay, ms" },
    factor = { type = "number", default = 2, check = function(v) return v >= 1, "must be at least 1" end,
               help = "each failed attempt multiplies the delay by this" },
    jitter = { type = "number", default = 0.2, check = function(v) return v >= 0 and v <= 1, "must be within 0..1" end,
               help = "each delay varies randomly by up to this fraction" },
    maxAttempts = { type = "integer", default = 10, check = function(v) return v >= 0, "must be 0 or more" end,
                    help = "consecutive failed attempts before giving up (0: never give up)" },
    stableAfter = { type = "number", default = 1000, check = function(v) return v >= 0, "must be 0 or more" end,
                    help = "a connection open this long (ms) resets the backoff; one closed sooner counts as a failed attempt" },
    quiet = { type = "boolean", default = false, help = "do not log each attempt" },
  },

  setup = function(ctx, opts)
    -- Per client (weak keys: a destroyed, collected client takes its state with it).
    local state = setmetatable({}, { __mode = "k" })
    local gaveUp = 0

    -- A coroutine-style ws (from netstack.connect) stands for the client it wraps.
    local function clientOf(c)
      if type(c) == "table" and c.client ~= nil then return c.client end
      return c
    end

    local function of(c)
      c = clientOf(c)
      local s = state[c]
      if not s then
        s = { attempts = 0, reconnects = 0 }
        state[c] = s
      end
      return s
    end

    --- The delay before attempt `n` (1-based), with jitter, never below 1 ms.
    local function delay(n)
      local d = math.min(opts.maxDelay, opts.initialDelay * opts.factor ^ (n - 1))
      d = d * (1 + opts.jitter * (2 * math.random() - 1))
      return math.max(1, d)
    end

    local schedule, wait
    local stopCheck = 250

    local function attempt(c)
      local s = of(c)
      s.timer = nil
      if s.stopped or ns.stopping() or c:state() == "destroyed" then return end
      s.reconnecting = true
      local ok, message, code = c:connect(s.url, s.options)
      s.reconnecting = false
      if not ok then
        -- A URL or option that can never work ends the attempts at once.
        if code == ns.WEBSOCKET_CONNECTION_PARSE_URL_ERROR or code == ns.WEBSOCKET_NO_HEADER_CONTEXT then
          ctx.log("warn", string.format("client %d: giving up: %s", c:id(), message))
          gaveUp = gaveUp + 1
          return
        end
        schedule(c, message)
      end
    end

    function schedule(c, why)
      local s = of(c)
      if s.stopped or s.userClosed or not s.url or s.timer or ns.stopping() then return end
      local state_ = c:state()
      if state_ == "destroyed" or state_ == "open" or state_ == "connecting" then return end
      s.attempts = s.attempts + 1
      if opts.maxAttempts > 0 and s.attempts > opts.maxAttempts then
        ctx.log("warn", string.format("client %d: giving up after %d attempts (%s)", c:id(), opts.maxAttempts, why))
        gaveUp = gaveUp + 1
        return
      end
      local ms = delay(s.attempts)
      if not opts.quiet then
        ctx.log(string.format("client %d: %s; attempt %d in %d ms", c:id(), why, s.attempts, math.floor(ms)))
      end
      wait(c, s, ms)
    end

    --- Waits `ms` before the attempt, in steps of at most `stopCheck` ms: once the run or the VU's
    --- scenario is stopping (`ns.stopping()`), the wait ends there and the client is left closed,
    --- so a load run's iteration does not sit out the rest of a long backoff (up to `maxDelay`)
    --- and get interrupted at the end of the graceful stop.
    function wait(c, s, ms)
      local step = math.min(ms, stopCheck)
      s.timer = ns.setTimeout(function()
        s.timer = nil
        if ns.stopping() then return end
        if ms > step then return wait(c, s, ms - step) end
        attempt(c)
      end, step)
    end

    ctx.after("connect", function(c, url, options, rc)
      local s = of(c)
      if rc == ns.WEBSOCKET_OK and not s.reconnecting then
        -- A connect by the script: remember where to, start afresh.
        s.url, s.options, s.userClosed, s.attempts = url, options, false, 0
      end
    end)
    ctx.before("disconnect", function(c)
      local s = of(c)
      s.userClosed = true
      if s.timer then ns.clearTimer(s.timer) s.timer = nil end
    end)
    -- Before the script's onOpen, so that it sees the new count.
    ctx.before("open", function(c)
      local s = of(c)
      if s.everOpened then s.reconnects = s.reconnects + 1 end
      s.everOpened = true
      s.openedAt = ns.now()
    end)
    ctx.after("close", function(c, result)
      local s = of(c)
      if s.openedAt and (ns.now() - s.openedAt) * 1000 >= opts.stableAfter then s.attempts = 0 end
      s.openedAt = nil
      schedule(c, string.format("closed (%d %s)", result.code, result.reason))
    end)
    ctx.after("error", function(c, err)
      -- Only an error that ended the connection (it never opened) leads to a new attempt;
      -- an error on an open connection is followed by onClose.
      if c:state() == "closed" then schedule(c, string.format("error %d: %s", err.errorCode, err.errorMessage)) end
    end)

    ctx.onExit(function(status)
      if gaveUp > 0 then return 1 end
    end)

    return {
      --- Consecutive attempts for `c` since its last stable connection.
      attempts = function(c) return of(c).attempts end,
      --- Successful reconnects of `c` so far.
      reconnects = function(c) return of(c).reconnects end,
      --- Whether a new connection of `c` is on its way: an attempt is scheduled or connecting.
      --- (The coroutine style's receive waits for it instead of answering the last close again.)
      pending = function(c)
        c = clientOf(c)
        local s = state[c]
        if not s or s.stopped or s.userClosed or ns.stopping() then return false end
        return s.timer ~= nil or c:state() == "connecting"
      end,
      --- No more reconnecting for `c` (a pending attempt is cancelled).
      stop = function(c)
        local s = of(c)
        s.stopped = true
        if s.timer then ns.clearTimer(s.timer) s.timer = nil end
      end,
      options = opts,
    }
  end,

  check = function(ctx, opts)
    if opts.maxDelay < opts.initialDelay then
      return false, string.format("maxDelay (%g ms) is below initialDelay (%g ms)", opts.maxDelay, opts.initialDelay)
    end
    return true, string.format("backoff %g ms x%g up to %g ms, jitter %d%%, %s", opts.initialDelay, opts.factor,
      opts.maxDelay, math.floor(opts.jitter * 100),
      opts.maxAttempts > 0 and (opts.maxAttempts .. " attempts") or "no attempt limit")
  end,
}
