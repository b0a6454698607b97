return { name = "dup", version = "2.0.0", description = "the copy in shadowB", api = 1,
         setup = function() return { where = "B" } end,
         check = function() return true, "B is fine" end }
