-- onMessage over runs of small messages that arrive in one read (the server's /flood writes
-- them back to back): what a callback does between two messages of a run takes effect before
-- the next one, as when each message arrives alone. Arguments: URL (of /flood), mode.
local url, mode = arg[1], arg[2]
local n, bytes, kinds = 0, 0, {}
local c
c = netstack.OH_WebSocketClient_Constructor(
  nil,
  function(client, data, length, kind)
    assert(client == c, "the client object")
    assert(#data == length, "length")
    n = n + 1
    bytes = bytes + length
    kinds[kind] = (kinds[kind] or 0) + 1
    if mode == "error" and n % 3 == 0 then error("raised at message " .. n) end
    if mode == "destroy" and n == 5 then
      c:destroy()
      netstack.setTimeout(function() print("messages", n) end, 200)
    end
    if mode == "exit" and n == 3 then print("exit at", n); netstack.exit(7) end
    if mode == "exit" and n > 3 then print("after exit", n) end
    if mode == "close" and n == 4 then c:close(1000, "enough") end
    if mode == "budget" then for _ = 1, 20000 do end end
    if mode == "runaway" and n == 2 then while true do end end
  end,
  function(client, e) print("error", e.errorCode) end,
  function(client, r)
    print("messages", n, "bytes", bytes, "text", kinds.text or 0, "binary", kinds.binary or 0, "close", r.code)
  end)
c:connect(url)
