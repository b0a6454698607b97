-- netstack.json: round trips, null, arrays vs objects, errors.
local json = require("netstack").json
local t = assert(json.decode('{"a":1,"b":[true,false,null,2.5,-3],"c":{"d":"\\u00e9\\ud83d\\ude00\\n"},"e":[],"f":{}}'))
assert(t.a == 1 and math.type(t.a) == "integer")
assert(t.b[1] == true and t.b[2] == false and t.b[3] == json.null and t.b[4] == 2.5 and t.b[5] == -3)
assert(t.c.d == "é😀\n", t.c.d)
assert(next(t.e) == nil and next(t.f) == nil)
assert(json.encode({1, 2, "x"}) == '[1,2,"x"]')
assert(json.encode({}) == "{}")
assert(json.encode(json.emptyArray) == "[]")
assert(json.encode({ a = json.null }) == '{"a":null}')
assert(json.encode("q\"\\\n\1") == '"q\\"\\\\\\n\\u0001"')
assert(json.encode(1.5) == "1.5" and json.encode(3) == "3" and json.encode(true) == "true")
-- Negative zero keeps its sign (it was written "0") and comes back a float.
assert(json.encode(-0.0) == "-0.0", json.encode(-0.0))
do
  local z = json.decode(json.encode({ -0.0 }))[1]
  assert(math.type(z) == "float" and 1 / z == -math.huge)
end
local back = assert(json.decode(json.encode({ name = "bot", list = { 1, 2, 3 }, nested = { ok = true } })))
assert(back.name == "bot" and #back.list == 3 and back.nested.ok == true)
-- Errors are values, not exceptions.
local v, err = json.decode('{"a":}')
assert(v == nil and err:find("byte 6"), err)
v, err = json.decode('[1,2')
assert(v == nil and err:find("unterminated"), err)
v, err = json.decode('"\xff"')
assert(v == nil and err:find("UTF%-8"), err)
v, err = json.decode('[1] x')
assert(v == nil and err:find("unexpected data"), err)
v, err = json.decode(string.rep("[", 600) .. string.rep("]", 600))
assert(v == nil and err:find("deeper"), err)
local cyc = {}
cyc.self = cyc
v, err = json.encode(cyc)
assert(v == nil and err:find("cycle"), err)
v, err = json.encode({ f = print })
assert(v == nil and err:find("function"), err)
-- An array is a table whose keys are exactly 1..n: as many other keys as the border is long
-- make an object, and nothing is lost.
do
  local t = json.decode(json.encode({ 1, nil, 3, [10] = "x" }))
  assert(t["1"] == 1 and t["3"] == 3 and t["10"] == "x" and t[1] == nil, json.encode({ 1, nil, 3, [10] = "x" }))
  local u = { 1, 2, 3, [3.5] = "half" }
  assert(json.decode(json.encode(u))["3.5"] == "half", json.encode(u))
  local v = { "a", "b", [0] = "zero" }
  assert(json.decode(json.encode(v))["0"] == "zero", json.encode(v))
  local w = { "a", "b", name = "n" }
  assert(json.decode(json.encode(w)).name == "n", json.encode(w))
  assert(json.encode({ "a", "b" }) == '["a","b"]')
end
-- A key that is neither a string nor a number is named by its own type.
v, err = json.encode({ [true] = 1 })
assert(v == nil and err == "json.encode: cannot encode a boolean key", err)
v, err = json.encode({ [print] = 1 })
assert(v == nil and err == "json.encode: cannot encode a function key", err)
v, err = json.encode({ [{}] = 1 })
assert(v == nil and err == "json.encode: cannot encode a table key", err)
v, err = json.encode(0 / 0)
assert(v == nil and err == "json.encode: cannot encode NaN (JSON has no such number)", err)
v, err = json.encode({ -math.huge })
assert(v == nil and err == "json.encode: cannot encode -infinity (JSON has no such number)", err)
v, err = json.encode("\xff")
assert(v == nil and err:find("UTF%-8"), err)
-- A number beyond the double range is refused by decode (it could not be encoded again).
v, err = json.decode("2e700")
assert(v == nil and err:find("number out of range"), tostring(err))
v, err = json.decode("[1, -1e400]")
assert(v == nil and err == "json.decode: number out of range at byte 5", tostring(err))
v, err = json.decode("1e400 ")
assert(v == nil and err == "json.decode: number out of range at byte 1", tostring(err))
-- A number key and a string key that write the same name: refused, not written twice.
v, err = json.encode({ [1] = "a", ["1"] = "b" })
assert(v == nil and err == 'json.encode: the key "1" is both a number and a string in one table', tostring(err))
v, err = json.encode({ [2.5] = 1, ["2.5"] = 2 })
assert(v == nil and err:find('"2.5" is both', 1, true), tostring(err))
assert(json.encode({ [2] = 1, ["x"] = 2 }):find('"2":1', 1, true))
assert(json.decode("1e308") == 1e308)
-- An empty array comes back as one: [] decodes to an empty table that encodes as [] again
-- (nested too), while an empty table made in Lua stays {}; once it holds values the usual rules apply.
local t = json.decode('{"a":[],"b":{},"c":[[],{}]}')
assert(#t.a == 0 and next(t.a) == nil)
assert(json.encode(t.a) == "[]" and json.encode(t.b) == "{}" and json.encode(t.c) == "[[],{}]", json.encode(t.c))
assert(json.encode(json.decode("[]")) == "[]" and json.encode({}) == "{}")
t.a[1] = 5
assert(json.encode(t.a) == "[5]")
t.a[1] = nil
t.a.x = 1
assert(json.encode(t.a) == '{"x":1}')
-- No argument is a mistake; an explicit nil is null.
local ok, why = pcall(json.encode)
assert(not ok and why:find("bad argument #1 to 'json.encode' (value expected", 1, true), why)
assert(json.encode(nil) == "null")
print("json ok")
