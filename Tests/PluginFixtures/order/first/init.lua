-- Test fixture: records hook order into the global TRACE (exported), observes sends.
return {
  name = "first", version = "1.0.0", description = "hook-order fixture (first)", api = 1,
  options = { tag = { type = "string", default = "first" } },
  setup = function(ctx, opts)
    local trace = {}
    ctx.export("TRACE", trace)
    local function log(what) trace[#trace + 1] = opts.tag .. "." .. what end
    ctx.before("open", function() log("before.open") end)
    ctx.after("open", function() log("after.open") end)
    ctx.before("message", function(c, data) log("before.message:" .. data) end)
    ctx.after("message", function(c, data) log("after.message:" .. data) end)
    ctx.before("send", function(c, data, kind) log("before.send:" .. data .. ":" .. kind) end)
    ctx.after("send", function(c, data, kind, rc) log("after.send:" .. data .. ":" .. rc) end)
    ctx.before("close", function(c, r) log("before.close:" .. r.code) end)
    ctx.onStart(function() log("start") end)
    ctx.onExit(function(status) io.stdout:write("exit hook saw status " .. status .. "\n") end)
    return { tag = opts.tag }
  end,
}
