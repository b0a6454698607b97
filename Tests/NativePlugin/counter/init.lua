-- A plugin whose hooks are C functions: `native` names counter.so in this folder.
return {
  name = "counter",
  version = "1.0.0",
  description = "Counts what the script sends, in C",
  api = 1,
  native = "counter",
  setup = function(ctx, opts)
    ctx.after("send", ctx.native.onSend)
    ctx.onExit(function()
      local n, bytes = ctx.native.totals()
      ctx.log(string.format("sent %d messages, %d bytes (%s)", n, bytes, ctx.native.lua))
    end)
    return { totals = ctx.native.totals }
  end,
}
