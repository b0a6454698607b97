return {
  name = "boom", version = "1.0.0", api = 1,
  setup = function(ctx)
    ctx.before("message", function(c, data) error("boom on " .. data) end)
  end,
}
