-- An error in a callback is reported with a traceback and the run goes on.
local ns = require "netstack"
ns.setTimeout(function() local t = nil; return t.field end, 1)
ns.setTimeout(function() print("still running") end, 20)
