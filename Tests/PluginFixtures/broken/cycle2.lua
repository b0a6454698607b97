return { name = "cycle2", version = "1.0.0", api = 1, requires = { "cycle1" } }
