return { name = "noversion", api = 1 }
