return {
  name = "boom", version = "1.0.0", api = 1,
  setup = function(ctx)
    ctx.before("message", function(c, data) error("boom on " .. data) end)
    ctx.after("message", function(c, data) if data == "b" then error("after boom") end end)
    ctx.after("message", function(c, data) io.stdout:write("second after hook saw " .. data .. "\n") end)
  end,
}
