-- nst/JSONTestSuite's parsing cases (Tests/JSONCorpus) through netstack.json: every y_ text
-- decodes, and what it gave survives encode and decode (the same value, not the same text:
-- the order of an object's names is a table's);
-- every n_ text is refused with a positioned message; nothing raises. The i_ cases (RFC 8259
-- leaves them to the implementation) are printed as "i NAME accepted|rejected" for the test to
-- compare with what lua-api.md says.
local json = netstack.json
local dir = ...
local names = {}
local p = assert(io.popen("ls '" .. dir .. "'"))
for name in p:lines() do names[#names + 1] = name end
p:close()
assert(#names > 300, "the corpus is there: " .. #names)

-- The same JSON value: equal scalars (a float with a whole value comes back an integer, as
-- lua-api.md says `encode` writes it), or tables with the same keys, the same values and the
-- same metatable (the mark `decode` puts on an empty array).
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  if getmetatable(a) ~= getmetatable(b) then return false end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local failures = 0
local function fail(...) failures = failures + 1 print("FAIL", ...) end

for _, name in ipairs(names) do
  local f = assert(io.open(dir .. "/" .. name, "rb"))
  local text = f:read("a")
  f:close()
  local ok, value, err = pcall(json.decode, text)
  local kind = name:sub(1, 2)
  if not ok then
    fail(name, "raised", value)
  elseif kind == "y_" then
    if value == nil then
      fail(name, "refused", err)
    else
      local text2, e1 = json.encode(value)
      if not text2 then fail(name, "encode", e1) else
        local again, e2 = json.decode(text2)
        if not same(value, again) then fail(name, "not the same after encode and decode", text2, tostring(e2)) end
      end
    end
  elseif kind == "n_" then
    if value ~= nil or err == nil then
      fail(name, "accepted")
    elseif not (err:match("^json%.decode: .+ at byte %d+$") or err:match("^json%.decode: .+ at the end of the text$")) then
      fail(name, "message", err)
    end
  elseif kind == "i_" then
    print("i", name, value ~= nil and "accepted" or "rejected")
  else
    fail(name, "unknown kind")
  end
end
print("cases", #names, "failures", failures)
