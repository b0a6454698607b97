-- Certificate audit: verify PEM/DER files and servers' chains, print a table, exit 1 on any failure.
-- Run: netstack run examples/cert-audit.lua -- [--ca CA.pem] [--warn-days N] TARGET...
--   TARGET is a certificate file, or host:port for a TLS server (its presented chain is fetched).
local ns = require "netstack"
local args, targets, ca, caFile, warnDays = { ... }, {}, nil, nil, 30
local i = 1
while i <= #args do
  if args[i] == "--ca" then
    caFile = args[i + 1]
    local f = assert(io.open(caFile, "rb"))
    ca = f:read("a")
    f:close()
    i = i + 2
  elseif args[i] == "--warn-days" then
    warnDays = tonumber(args[i + 1])
    i = i + 2
  else
    targets[#targets + 1] = args[i]
    i = i + 1
  end
end

local rows, worst = {}, 0
local function report(target, subject, daysLeft, code, meaning)
  local status = code == 0 and (daysLeft < warnDays and "WARN" or "OK") or "FAIL"
  if status == "FAIL" then worst = 1 end
  rows[#rows + 1] = { status, target, subject or "-", daysLeft and string.format("%d", math.floor(daysLeft)) or "-", code .. " " .. meaning }
end

for _, target in ipairs(targets) do
  local host, port = target:match("^([^/]+):(%d+)$")
  if host then
    local chain, err = ns.fetchChain(host, tonumber(port), { caFile = caFile, timeout = 5000 })
    if chain then
      local leaf = chain.certificates[1]
      report(target, leaf and leaf.commonName, leaf and leaf.daysLeft, chain.verification.code, chain.verification.meaning)
    else
      rows[#rows + 1] = { "FAIL", target, "-", "-", err }
      worst = 1
    end
  else
    local f = io.open(target, "rb")
    if not f then
      rows[#rows + 1] = { "FAIL", target, "-", "-", "cannot read" }
      worst = 1
    else
      local data = f:read("a")
      f:close()
      local certs = ns.inspect(data)
      local r = ns.verify(data, { ca = ca })
      report(target, certs and certs[1].commonName, certs and certs[1].daysLeft, r.code, r.meaning)
    end
  end
end

local widths = { 6, 6, 7, 9, 7 }
local header = { "STATUS", "TARGET", "SUBJECT", "DAYS LEFT", "RESULT" }
for _, row in ipairs(rows) do
  for c, v in ipairs(row) do widths[c] = math.max(widths[c], #tostring(v)) end
end
local function line(row)
  local parts = {}
  for c, v in ipairs(row) do parts[c] = string.format("%-" .. widths[c] .. "s", tostring(v)) end
  print(table.concat(parts, "  "))
end
line(header)
for _, row in ipairs(rows) do line(row) end
ns.exit(worst)
