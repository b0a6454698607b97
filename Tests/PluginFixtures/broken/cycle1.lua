return { name = "cycle1", version = "1.0.0", api = 1, requires = { "cycle2" } }
