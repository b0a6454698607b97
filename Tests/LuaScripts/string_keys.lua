-- The built-in Lua's string hash (Sources/CLua/lua/lstring.c hashes 8 bytes at a time, the last
-- 8 once more as a tail): every length around the word and short/long string boundaries, strings
-- made by different routes, and strings differing in one byte at every position, must intern to
-- one string each and find their table entries.
local made = 0
local function variants(s)
  -- the same bytes by four routes: the value itself, a concatenation, string.char, a substring
  local bytes = { s:byte(1, -1) }
  local half = #s // 2
  return { s, s:sub(1, half) .. s:sub(half + 1), string.char(table.unpack(bytes)), ("x" .. s .. "y"):sub(2, -2) }
end

for len = 0, 90 do
  local t, keys = {}, {}
  local base = {}
  for i = 1, len do base[i] = string.char(97 + (i * 7) % 26) end
  base = table.concat(base)
  keys[#keys + 1] = base
  -- one byte changed at every position, to every value class (0, 255, a neighbour)
  for pos = 1, len do
    for _, b in ipairs({ 0, 255, base:byte(pos) ~ 1 }) do
      keys[#keys + 1] = base:sub(1, pos - 1) .. string.char(b) .. base:sub(pos + 1)
    end
  end
  for i, k in ipairs(keys) do t[k] = i end
  for i, k in ipairs(keys) do
    for _, v in ipairs(variants(k)) do
      assert(v == k, "equal bytes, unequal strings at length " .. len)
      assert(t[v] == i, "lookup by another route failed at length " .. len .. ", key " .. i)
      made = made + 1
    end
  end
  local n = 0
  for k, v in pairs(t) do n = n + 1; assert(keys[v] == k) end
  assert(n == #keys, "distinct keys merged at length " .. len .. ": " .. n .. " of " .. #keys)
end

-- many keys: every one found, none lost when the string table and the table grow
local t = {}
for i = 1, 200000 do t["k" .. i] = i; t['{"id":' .. i .. ',"type":"tick"}'] = -i end
for i = 1, 200000 do
  assert(t["k" .. i] == i and t['{"id":' .. i .. ',"type":"tick"}'] == -i, "lost key " .. i)
end
print("string keys ok: " .. made .. " lookups")
