-- Swift-backed functions called from coroutines work on the coroutine's own stack.
local ns = require "netstack"
local url = ...

local co = coroutine.wrap(function()
  local t = ns.now()
  assert(type(t) == "number", "now() in a coroutine gave a " .. type(t))
  local decoded = ns.json.decode('{"a":[1,2,{"b":null}]}')
  assert(decoded.a[2] == 2 and decoded.a[3].b == ns.json.null)
  assert(ns.json.encode({ x = 1 }) == '{"x":1}')
  -- 100,000 calls in one coroutine: each must leave the coroutine's stack as it found it.
  local sum = 0
  for i = 1, 100000 do
    sum = sum + (ns.now() > 0 and 1 or 0)
    if i % 1000 == 0 then coroutine.yield(i) end
  end
  assert(sum == 100000)
  -- A client made and used inside a coroutine: its events arrive on the main state later.
  local c = ns.OH_WebSocketClient_Constructor(function(c)
    local rc = ns.OH_WebSocketClient_Send(c, "from a coroutine")
    assert(rc == 0, "Send returned " .. tostring(rc))
  end, function(c, data)
    assert(data == "from a coroutine", data)
    coroutine.wrap(function()
      assert(ns.OH_WebSocketClient_Close(c, { code = 1000, reason = "done" }) == 0)
    end)()
  end, nil, function(c, r)
    assert(r.code == 1000, r.code)
    print("coroutines ok")
  end)
  local rc = ns.OH_WebSocketClient_Connect(c, url .. "/echo")
  assert(rc == 0, "Connect returned " .. tostring(rc))
  -- A timer set inside a coroutine fires on the main state.
  ns.setTimeout(function() assert(type(ns.now()) == "number") end, 1)
  return "end"
end)

local yields = 0
while co() ~= "end" do yields = yields + 1 end
assert(yields == 100, "yields " .. yields)
