return { name = "badexport", version = "1.0.0", api = 1, setup = function(ctx) ctx.export("print", function() end) end }
