return {
  name = "setupfails", version = "1.0.0", api = 1,
  setup = function(ctx)
    ctx.before("message", function() end)   -- must be removed again when setup fails
    local t = nil
    return t.field                          -- raises
  end,
}
