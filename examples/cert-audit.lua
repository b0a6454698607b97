-- Certificate audit on the audit plugin: servers and certificate files, checked concurrently,
-- reported as a table (or JSON/CSV), exit status by the worst finding (0 OK, 1 WARN, 2 FAIL,
-- 3 a target could not be checked).
-- Run: netstack run examples/cert-audit.lua -- [--ca CA.pem] [--crl CRL.pem] [--warn-days N]
--        [--format table|json|csv|prometheus] [--lenient] [--no-crl-fetch] TARGET...
--   TARGET is host[:port] (default port 443), [IPv6]:port, or a PEM/DER certificate file.
-- The same as `netstack audit`, as a script you can change.
local ns = require "netstack"

local args, targets, options = { ... }, {}, {}
local i = 1
while i <= #args do
  local a = args[i]
  if a == "--ca" then options.ca = args[i + 1]; i = i + 2
  elseif a == "--crl" then options.crl = { args[i + 1] }; i = i + 2
  elseif a == "--warn-days" then options.warnDays = tonumber(args[i + 1]); i = i + 2
  elseif a == "--format" then options.format = args[i + 1]; i = i + 2
  elseif a == "--lenient" then options.strict = false; i = i + 1            -- no strict RFC 5280 / CA/B Forum check
  elseif a == "--no-crl-fetch" then options.fetchCRL = false; i = i + 1
  else targets[#targets + 1] = a; i = i + 1 end
end
if #targets == 0 then
  io.stderr:write("usage: netstack run examples/cert-audit.lua -- [--ca CA.pem] [--warn-days N] [--lenient] [--no-crl-fetch] TARGET...\n")
  ns.exit(64)
  return
end

local audit = ns.plugins.load("audit", options)
audit.run(targets, function(results, status)
  -- The plugin printed the report; add what needs doing first, soonest expiry first.
  if (options.format or "table") ~= "table" then return end
  table.sort(results, function(a, b) return (a.daysLeft or math.huge) < (b.daysLeft or math.huge) end)
  for _, r in ipairs(results) do
    if r.status ~= "OK" then print(string.format("attention: %s (%s)", r.target, r.status)) end
  end
end)
