-- nst/JSONTestSuite's parsing cases (Tests/JSONCorpus) through netstack.json: every y_ text
-- decodes, and encoding what it gave is stable (encode, decode, encode gives the same text);
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
      local once, e1 = json.encode(value)
      if not once then fail(name, "encode", e1) else
        local again = json.decode(once)
        local twice, e2 = json.encode(again)
        if twice ~= once then fail(name, "not stable", once, tostring(twice or e2)) end
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
