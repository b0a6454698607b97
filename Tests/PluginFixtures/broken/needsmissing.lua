return { name = "needsmissing", version = "1.0.0", api = 1, requires = { "absent" } }
