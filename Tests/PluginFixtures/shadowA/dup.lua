return { name = "dup", version = "1.0.0", description = "the copy in shadowA", api = 1,
         setup = function() return { where = "A" } end,
         check = function() return false, "A is never healthy" end }
