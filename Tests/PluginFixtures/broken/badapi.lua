return { name = "badapi", version = "1.0.0", api = 2, setup = function() end }
