-- Runs every case of a generated corpus (generate.py) through ns.verify with strict = true, as
-- `netstack verify --strict` does, and prints "NAME CODE" per case.
--   netstack run Tests/CertCorpus/verify_corpus.lua -- CORPUS_DIR
local ns = require "netstack"
local dir = assert(arg[1], "usage: verify_corpus.lua CORPUS_DIR")

local function read(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("a")
  f:close()
  return data
end

for line in io.lines(dir .. "/manifest.tsv") do
  local name, time, hostname, ip, untrusted, crls = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)\t([01])\t([01])$")
  assert(name, "bad manifest line: " .. line)
  local d = dir .. "/" .. name .. "/"
  local options = { ca = read(d .. "roots.pem"), strict = true, time = tonumber(time) }
  if untrusted == "1" then options.untrusted = read(d .. "untrusted.pem") end
  if crls == "1" then options.crls = read(d .. "crls.pem") end
  if hostname ~= "-" then options.hostname = hostname end
  if ip ~= "-" then options.ip = ip end
  local r = ns.verify(read(d .. "leaf.pem"), options)
  print(name .. " " .. r.code)
end
