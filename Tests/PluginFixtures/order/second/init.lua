-- Test fixture: loaded after `first`; stops "secret" messages and "drop" sends.
return {
  name = "second", version = "2.1.0", description = "hook-order fixture (second)", api = 1,
  requires = { "first" },
  setup = function(ctx)
    local function log(what) TRACE[#TRACE + 1] = "second." .. what end
    ctx.before("open", function() log("before.open") end)
    ctx.after("open", function() log("after.open") end)
    ctx.before("message", function(c, data)
      log("before.message:" .. data)
      if data == "secret" then return false end
    end)
    ctx.after("message", function(c, data) log("after.message:" .. data) end)
    ctx.before("send", function(c, data)
      if data == "drop" then log("stopped.send:drop") return ctx.STOP end
    end)
    ctx.export("shout", function(s) return s:upper() end)
  end,
}
