-- Certificate functions from Lua: the documented verification, verify with options, inspect, fetchChain.
local ns = require "netstack"
local dir, tlsHost, tlsPort, caFile = ...
local function read(name)
  local f = assert(io.open(dir .. "/" .. name, "rb"))
  local d = f:read("a")
  f:close()
  return d
end
local PEM, DER = ns.NetStack_CERT_TYPE_PEM, ns.NetStack_CERT_TYPE_DER

assert(ns.OH_NetStack_VerifyCertification({ type = PEM, data = read("leaf+inter.pem") }, { type = PEM, data = read("root.pem") }) == 0)
assert(ns.OH_NetStack_VerifyCertification({ type = PEM, data = read("expired+inter.pem") }, { type = PEM, data = read("root.pem") }) == 2305010)
assert(ns.OH_NetStack_CertVerification({ type = DER, data = read("leaf.der.der") }, { type = PEM, data = read("inter+root.pem") }) == 0)
assert(ns.OH_NetStack_VerifyCertification(nil, nil) == 2305069)
-- Extra arguments are ignored, and a bad argument beside them raises (a debug build checked the
-- stack and stopped the process here: the function had dropped them before raising).
assert(ns.OH_NetStack_VerifyCertification({ type = PEM, data = read("leaf+inter.pem") }, { type = PEM, data = read("root.pem") }, 1, 2) == 0)
local okBad, whyBad = pcall(ns.OH_NetStack_VerifyCertification, { type = PEM, data = "x" }, 5, 6, 7)
assert(not okBad and whyBad:find("bad argument #2", 1, true), whyBad)
okBad, whyBad = pcall(ns.verify, read("leaf.pem"), 5, 6, 7)
assert(not okBad and whyBad:find("bad argument #2", 1, true), whyBad)
assert(ns.OH_NetStack_VerifyCertification({ type = PEM, data = "" }) == 2305069)
assert(ns.OH_NetStack_VerifyCertification({ type = ns.NetStack_CERT_TYPE_INVALID, data = read("leaf.pem") }) == 2305069)
assert(ns.certMessage(2305010) == "certificate expired")

local r = ns.verify(read("revoked+inter.pem"), { ca = read("root+crls.pem") })
assert(r.code == 2305023 and not r.ok and r.meaning == "certificate revoked" and r.crlChecked and r.depth == 0, r.reason)
r = ns.verify(read("leaf+inter.pem"), { ca = read("root.pem"), hostname = "other.test" })
assert(r.code == 2305062, r.code)
r = ns.verify(read("leaf+inter.pem"), { ca = read("root.der.der"), hostname = "leaf.test", purpose = "server" })
assert(r.ok, r.reason)

-- Every knob.
local ca = read("root.pem")
r = ns.verify(read("leaf.pem"), { ca = ca, untrusted = read("inter.pem") })
assert(r.ok, "untrusted intermediates apart: " .. r.reason)
assert(ns.verify(read("leaf.pem"), { ca = ca }).code == 2305020)
r = ns.verify(read("revoked.pem"), { ca = ca, untrusted = read("inter.pem"), crls = read("root+crls.pem") })
assert(r.code == 2305023 and r.crlChecked, "CRLs apart: " .. r.code)
assert(ns.verify(read("leaf+inter.pem"), { ca = ca, email = "a@leaf.test" }).code == 2305063)
assert(ns.verify(read("leaf+inter.pem"), { ca = ca, purpose = "client" }).code == 2305026)
assert(ns.verify(read("leaf+inter.pem"), { ca = ca, purpose = "any" }).ok)
assert(ns.verify(read("leaf+inter.pem"), { ca = ca, maxDepth = 0 }).code == 2305022)
assert(ns.verify(read("leaf+inter.pem"), { ca = ca, maxDepth = 1 }).ok)
assert(ns.verify(read("leaf+inter.pem"), { ca = ca, maxDepth = 255 }).ok, "maxDepth 255 is the largest")
assert(ns.verify(read("leaf+inter.pem"), { ca = ca, time = 0 }).code == 2305009, "time 0 is 1970, not now")
-- RFC 5280 6.1.1 policy inputs: the lab's certificates assert no policy, so a path that must be
-- valid for an explicit policy fails (2305043), and without that requirement any set passes.
assert(ns.verify(read("leaf+inter.pem"), { ca = ca, explicitPolicy = true }).code == 2305043)
assert(ns.verify(read("leaf+inter.pem"), { ca = ca, policies = { "2.23.140.1.2.1", "anyPolicy" }, explicitPolicy = true }).code == 2305043)
assert(ns.verify(read("leaf+inter.pem"), { ca = ca, policies = "1.2.3", inhibitPolicyMapping = true, inhibitAnyPolicy = true }).ok)
for _, bad in ipairs({ {}, "3.1", "1.40", "1.2.03", "1..2", "1", "x", { "1.2", 5 } }) do
  local okP, whyP = pcall(ns.verify, read("leaf+inter.pem"), { ca = ca, policies = bad })
  assert(not okP and whyP:find("bad argument #2 to 'verify' (policies:", 1, true), tostring(whyP))
end
-- A misspelt option is an error, not a check left out (hostName would skip the name check and
-- crl the revocation check).
for key, suggestion in pairs({ hostName = "hostname", crl = "crls", CA = "ca", tim = "time" }) do
  local okK, whyK = pcall(ns.verify, read("leaf+inter.pem"), { ca = ca, [key] = "other.test" })
  assert(not okK and whyK:find("bad argument #2 to 'verify' (unknown option '" .. key .. "', did you mean '" .. suggestion .. "'?", 1, true), tostring(whyK))
end
local okE, whyE = pcall(ns.verify, read("leaf+inter.pem"), { ca = ca, certType = "DER" })
assert(not okE and whyE:find("certType: \"pem\" or \"der\" expected", 1, true), tostring(whyE))
assert(ns.verify(read("leaf.der.der"), { ca = ca, untrusted = read("inter.pem"), certType = "der", caType = "pem" }).ok)
local okN, whyN = pcall(ns.verify, read("leaf+inter.pem"), { ca = ca, [1] = true })
assert(not okN and whyN:find("option names are strings", 1, true), tostring(whyN))
local okT, whyT = pcall(ns.fetchChain, "127.0.0.1", 1, { timeOut = 5 })
assert(not okT and whyT:find("bad argument #3 to 'fetchChain' (unknown option 'timeOut', did you mean 'timeout'?", 1, true), tostring(whyT))
for _, case in ipairs({ { { crl = "no" }, "crl: boolean expected" }, { { ocsp = 1 }, "ocsp: boolean expected" },
                        { { serverName = 5 }, "serverName: string expected" }, { { caFile = true }, "caFile: string expected" },
                        { { caPath = {} }, "caPath: string expected" } }) do
  local okB, whyB = pcall(ns.fetchChain, "127.0.0.1", 1, case[1], function() end)
  assert(not okB and whyB:find("bad argument #3 to 'fetchChain' (" .. case[2] .. ")", 1, true), tostring(whyB))
end
local okF, whyF = pcall(ns.verify, read("leaf+inter.pem"), { ca = ca, explicitPolicy = 1 })
assert(not okF and whyF:find("explicitPolicy: boolean expected", 1, true), tostring(whyF))
assert(ns.verify(read("weak.pem"), { ca = ca, untrusted = read("inter.pem"), securityLevel = 2 }).code == 2305066)
assert(ns.verify(read("weak.pem"), { ca = ca, untrusted = read("inter.pem"), securityLevel = 0 }).ok)
assert(ns.verify(read("leaf.pem"), { ca = read("inter.pem"), partialChain = true }).ok)
assert(ns.verify(read("leaf.pem"), { ca = read("inter.pem") }).code == 2305002)
r = ns.verify(read("leaf+inter.pem"), { ca = ca, strict = true })
assert(r.code == 2305807 and r.depth == 0 and r.reason:find("commonName"), "strict: CN not among the SANs: " .. r.code)
r = ns.verify(read("weak.pem"), { ca = ca, untrusted = read("inter.pem"), strict = true, purpose = "any" })
assert(r.code == 2305066, "strict brings security level 2: " .. r.code)
for _, bad in ipairs({ { maxDepth = 256 }, { maxDepth = 1.5 }, { securityLevel = 6 }, { purpose = "mail" },
                       { strict = "yes" }, { partialChain = 1 }, { untrusted = 5 },
                       { ip = "127.0.0.1.1" }, { ip = "[::1]" }, { hostname = "" }, { email = "" }, { hostname = 5 },
                       { hostname = "a\0b" } }) do
  local ok, err = pcall(ns.verify, read("leaf.pem"), bad)
  assert(not ok and err:find("bad argument #2 to 'verify'"), tostring(err))
end

local certs = assert(ns.inspect(read("leaf+inter.pem")))
assert(#certs == 2 and certs[1].commonName == "leaf" and certs[2].commonName == "inter" and certs[2].isCA)
assert(certs[1].dns[1] == "leaf.test" and certs[1].ip[1] == "127.0.0.1" and certs[1].keyType == "EC" and certs[1].keyBits == 256)
assert(certs[1].daysLeft >= 29 and #certs[1].sha256 == 95)
-- Whole numbers are integers: times in Unix seconds, whole days left (negative once expired).
assert(math.type(certs[1].daysLeft) == "integer" and math.type(certs[1].notAfter) == "integer" and math.type(certs[1].notBefore) == "integer")
assert(math.type(certs[1].secondsLeft) == "integer" and certs[1].daysLeft == certs[1].secondsLeft // 86400)
local expired = assert(ns.inspect(read("expired.pem")))[1]
assert(expired.daysLeft < 0 and expired.secondsLeft < 0, expired.daysLeft)

-- Files and data said explicitly, and a file name passed as data refused with a clear message.
r = ns.verify({ path = dir .. "/leaf+inter.pem" }, { ca = { path = dir .. "/root.pem" } })
assert(r.ok and r.depth == nil and r.subject == nil, r.reason)
r = ns.verify({ data = read("leaf.pem") }, { ca = { data = read("root.pem") }, untrusted = { path = dir .. "/inter.der.der" } })
assert(r.ok, r.reason)
r = ns.verify({ path = dir .. "/revoked+inter.pem" }, { ca = { path = dir .. "/root.pem" }, crls = { path = dir .. "/crl.inter.pem" } })
assert(r.code == 2305003 or r.code == 2305023, r.code)
local ok, err = pcall(ns.verify, dir .. "/leaf+inter.pem")
assert(not ok and err:find("is a file name, not certificate data: pass { path = \"...\" }", 1, true), err)
ok, err = pcall(ns.verify, read("leaf.pem"), { ca = dir .. "/root.pem" })
assert(not ok and err:find("bad argument #2 to 'verify' (ca: '", 1, true), err)
ok, err = pcall(ns.verify, { path = dir .. "/no-such-file.pem" })
assert(not ok and err:find("cannot read '.*no%-such%-file%.pem': No such file"), err)
ok, err = pcall(ns.inspect, { nothing = true })
assert(not ok and err:find("{ data = string } or { path = string } expected", 1, true), err)
assert(#assert(ns.inspect({ path = dir .. "/leaf+inter.pem" })) == 2)
assert(ns.verify("garbage").code == 2305069)
assert(#assert(ns.inspect(read("leaf.der.der"), "der")) == 1)
ok, err = pcall(ns.inspect, read("leaf.der.der"), "DER")
assert(not ok and err:find("bad argument #2 to 'inspect' (\"pem\", \"der\" or nil expected, got string)", 1, true), err)
local none, why = ns.inspect("garbage")
assert(none == nil and why:find("no certificate"))

local chain = assert(ns.fetchChain(tlsHost, tlsPort, { caFile = caFile }))
assert(chain.verification.ok and chain.tlsVersion:find("TLS") and #chain.certificates == 1, chain.verification.reason)
local failed, message = ns.fetchChain("127.0.0.1", 1, { timeout = 2000 })
assert(failed == nil and message:find("refused"), message)
-- Hosts that read as IPv4 only to getaddrinfo (hex, shortened) are refused before any connection,
-- in both forms, as in WebSocket URLs.
for _, h in ipairs({ "0x7f000001", "127.1", "a.0x10", "2130706433", "bad host", "::zz" }) do
  local none, why = ns.fetchChain(h, tlsPort, { timeout = 2000 })
  assert(none == nil and why:find("invalid", 1, true), h .. ": " .. tostring(why))
end
ns.fetchChain("0x7f000001", tlsPort, { timeout = 2000 }, function(result, err)
  assert(result == nil and err:find("invalid IPv4 address '0x7f000001'", 1, true), tostring(err))
end)
-- Asynchronous form: the run waits for the callback.
ns.fetchChain(tlsHost, tlsPort, {}, function(result, err)
  assert(result and result.verification.code == 2305020, err)
  print("certificates ok")
end)
