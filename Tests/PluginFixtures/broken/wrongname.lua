return { name = "othername", version = "1.0.0", api = 1 }
