-- audit: certificate audits of TLS servers and certificate files, concurrently, with findings
-- (trust, hostname, expiry, weak keys, SHA-1, revocation) reported as a table, JSON or CSV.
local ns = require "netstack"

-- INFO findings are notes: they never change a target's status.
local SEVERITY = { INFO = -1, OK = 0, WARN = 1, ERROR = 2, FAIL = 3 }
-- Exit status, Nagios style: 0 OK, 1 WARN, 2 FAIL, 3 ERROR (a target could not be checked).
local EXIT = { OK = 0, WARN = 1, FAIL = 2, ERROR = 3 }
local CODE_EXPIRED, CODE_NOT_YET_VALID, CODE_REVOKED = 2305010, 2305009, 2305023
-- Weak keys and digests: reported by the audit's own key and signature findings.
local WEAK_CODES = { [2305066] = true, [2305067] = true, [2305068] = true }
local OLD_TLS = { SSLv3 = true, TLSv1 = true, ["TLSv1.1"] = true }

-- Files are read up to 64 MiB (as ns.verify's { path = }): a larger one, a device that never
-- ends (/dev/zero) or a folder is an error, not a read without end.
local MAX_FILE = 64 * 1024 * 1024

local function readFile(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local data, rerr = f:read(MAX_FILE + 1)
  f:close()
  if data == nil then
    if rerr then return nil, path .. ": " .. tostring(rerr) end
    return ""
  end
  if #data > MAX_FILE then return nil, path .. ": larger than 64 MiB" end
  return data
end

--- "host", "host:port", "[v6]:port", "[v6]" or a certificate file.
local function parseTarget(text, defaultPort)
  local f = io.open(text, "rb")
  if f then f:close() return { kind = "file", path = text } end
  local function checked(port)
    port = tonumber(port) or defaultPort
    if math.type(port) ~= "integer" or port < 1 or port > 65535 then return nil end
    return port
  end
  local v6, port = text:match("^%[([%x:.]+)%]:?(%d*)$")
  if v6 then
    port = checked(port)
    if not port then return nil, "port out of range" end
    return { kind = "host", host = v6, port = port, ip = true }
  end
  local host
  host, port = text:match("^([^:/%s]+):(%d+)$")
  if not host then host = text:match("^([^:/%s]+)$") end
  if not host then return nil, "not host[:port], [IPv6]:port or a readable file" end
  port = checked(port)
  if not port then return nil, "port out of range" end
  return { kind = "host", host = host, port = port, ip = host:match("^%d+%.%d+%.%d+%.%d+$") ~= nil }
end

--- RFC 6125: DNS names compare case-insensitively; a wildcard is a whole leftmost label and
--- matches exactly one label. IP targets match IP SANs only.
local function matchesHost(cert, host, isIP)
  if isIP then
    for _, ip in ipairs(cert.ip or {}) do if ip:lower() == host:lower() then return true end end
    return false
  end
  host = host:lower():gsub("%.$", "")
  for _, name in ipairs(cert.dns or {}) do
    name = name:lower()
    if name == host then return true end
    local rest = name:match("^%*%.(.+)$")
    if rest and rest:find("%.") then
      local first, hostRest = host:match("^([^.]+)%.(.+)$")
      if first and hostRest == rest then return true end
    end
  end
  return false
end

local function weakKey(cert, minRSABits)
  local t = (cert.keyType or ""):upper()
  if (t == "RSA" or t == "DSA") and cert.keyBits < minRSABits then
    return string.format("%s key of %d bits (< %d)", t, cert.keyBits, minRSABits)
  end
  if (t == "EC" or t == "ECDSA") and cert.keyBits > 0 and cert.keyBits < 224 then
    return string.format("EC key of %d bits (< 224)", cert.keyBits)
  end
end

local function weakSignature(cert)
  local alg = (cert.signatureAlgorithm or ""):lower()
  if alg:find("sha1") or alg:find("md5") or alg:find("md2") then return cert.signatureAlgorithm end
end

--- A Prometheus label value: backslash, double quote and newline escaped.
local function label(v)
  return (tostring(v):gsub("\\", "\\\\"):gsub('"', '\\"'):gsub("\n", "\\n"))
end

--- Text from certificates and servers made safe for a terminal (the table and CSV): control
--- characters (C0, DEL, and C1 as UTF-8 U+0080-U+009F) become \xHH, as netstack shows
--- everything it prints, so a certificate name cannot clear the screen or retitle it.
local function printable(v)
  local s = tostring(v):gsub("[\0-\31\127]", function(c) return string.format("\\x%02x", c:byte()) end)
  return (s:gsub("\194([\128-\159])", function(c) return string.format("\\x%02x", c:byte()) end))
end

local function csvField(v)
  v = printable(v == nil and "" or v)
  if v:find('[,"\n\r]') then v = '"' .. v:gsub('"', '""') .. '"' end
  return v
end

return {
  name = "audit",
  version = "1.0.0",
  description = "Audits TLS servers' and files' certificates: trust, hostname, expiry, weak keys, SHA-1, CRL",
  api = 1,
  options = {
    ca = { type = "string", help = "PEM file of trusted CAs (default: the system trust store)" },
    crl = { type = "list", default = {}, help = "PEM CRL files; revocation is checked when given" },
    untrusted = { type = "list", default = {},
                  help = "PEM or DER files of intermediates to build chains with, apart from what servers send (an incomplete chain is then a WARN)" },
    at = { type = "number", check = function(v) return v >= -62135596800 and v <= 253402300799, "Unix seconds from -62135596800 to 253402300799" end,
           help = "verify and judge expiry as of this Unix time instead of now" },
    purpose = { type = "string", default = "server",
                check = function(v) return v == "any" or v == "server" or v == "client", "any, server or client" end,
                help = "the purpose the leaf must allow (any, server, client)" },
    maxDepth = { type = "integer", check = function(v) return v >= 0 and v <= 255, "0 to 255" end,
                 help = "most intermediates between a leaf and its trust anchor" },
    securityLevel = { type = "integer", check = function(v) return v >= 0 and v <= 5, "0 to 5" end,
                      help = "minimum security level for the trust verdict (the strict check uses 2 unless this is given)" },
    partialChain = { type = "boolean", default = false, help = "a chain may end at any certificate of ca, not only a self-signed root" },
    policies = { type = "list", default = {}, check = function(v)
                   if #v > 64 then return false, "at most 64 policies" end
                   for _, oid in ipairs(v) do
                     local first, second = oid:match("^([0-2])%.(%d+)")
                     local wellFormed = oid == "anyPolicy" or (first and #oid <= 100 and oid:match("^[%d.]+$") and not oid:find("..", 1, true)
                       and oid:sub(-1) ~= "." and not oid:find("%.0%d") and not oid:find("%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d")
                       and (first == "2" or tonumber(second) <= 39))
                     if not wellFormed then return false, "'" .. oid .. "' is not a numeric OID (such as 2.23.140.1.2.1) or anyPolicy" end
                   end
                   return true
                 end,
                 help = "certificate policies accepted (numeric OIDs or anyPolicy; RFC 5280's user-initial-policy-set; default anyPolicy)" },
    explicitPolicy = { type = "boolean", default = false, help = "each chain must be valid for one of the policies" },
    inhibitPolicyMapping = { type = "boolean", default = false, help = "policy mappings are not followed" },
    inhibitAnyPolicy = { type = "boolean", default = false, help = "anyPolicy in a certificate matches no policy" },
    hostname = { type = "string", help = "check this name (and send it as SNI) instead of each target's host; for files, the name to check" },
    email = { type = "string", help = "also check this e-mail address against each leaf" },
    fetchOCSP = { type = "boolean", default = false,
                  help = "ask each certificate's OCSP responder (authority information access, http) within timeout; answers kept five minutes" },
    warnDays = { type = "number", default = 30, help = "WARN when a certificate expires within this many days" },
    minRSABits = { type = "integer", default = 2048, help = "RSA/DSA keys below this are FAIL" },
    concurrency = { type = "integer", default = 8, check = function(v) return v >= 1, "must be at least 1" end,
                    help = "targets checked at once" },
    timeout = { type = "number", default = 5000, help = "connect + handshake timeout per target, ms" },
    port = { type = "integer", default = 443, help = "port when a target gives none" },
    format = { type = "string", default = "table",
               check = function(v) return v == "table" or v == "json" or v == "csv" or v == "prometheus", "table, json, csv or prometheus" end,
               help = "report format (table, json, csv, prometheus) on stdout" },
    fetchCRL = { type = "boolean", default = true,
                 help = "fetch each certificate's CRL from its http distribution point and check it (within timeout)" },
    strict = { type = "boolean", default = true,
               help = "also verify strictly (RFC 5280 structure, CA/B Forum server profile, security level 2): a chain OpenSSL trusts that fails is FAIL" },
    segment = { type = "string", default = "",
                help = "i/n: the report says it holds segment i of n (netstack audit --segment; netstack merge joins them)" },
    run = { type = "string", default = "", help = "run id written into the JSON report (segments of one run share it)" },
    progress = { type = "string", default = "auto",
                 check = function(v) return v == "auto" or v == "on" or v == "off", "auto, on or off" end,
                 help = "progress line on stderr (auto: on a terminal, for more than 3 targets)" },
  },

  setup = function(ctx, opts)
    local caData
    if opts.ca then
      caData = assert(readFile(opts.ca))
    end
    -- Intermediates given apart, as one PEM text (DER files are converted).
    local untrustedData
    for _, path in ipairs(opts.untrusted) do
      local data, err = readFile(path)
      if not data then error("cannot read " .. path .. ": " .. tostring(err), 0) end
      local certs = ns.inspect(data)
      if not certs or #certs == 0 then error(path .. " holds no certificate", 0) end
      for _, c in ipairs(certs) do untrustedData = (untrustedData or "") .. c.pem end
    end
    if #opts.crl > 0 then
      -- CRLs go with the CAs; without --ca, the system bundle is read so the CRLs can join it.
      if not caData then
        local bundle = os.getenv("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt"
        caData = readFile(bundle)
        if not caData then error("a CRL needs CAs: give ca=FILE (the system bundle " .. bundle .. " is not readable)", 0) end
      end
      for _, path in ipairs(opts.crl) do
        local data, err = readFile(path)
        if not data then error("cannot read CRL " .. path .. ": " .. tostring(err), 0) end
        caData = caData .. "\n" .. data
      end
    end
    local finalStatus = nil
    local interruptedReport = nil

    --- The verifier's options (the knobs given to the audit) with `extra` on top (false removes one).
    local function verifyOptions(extra)
      local o = { ca = caData, purpose = opts.purpose, time = opts.at, maxDepth = opts.maxDepth, securityLevel = opts.securityLevel,
                  untrusted = untrustedData, email = opts.email, partialChain = opts.partialChain or nil,
                  policies = #opts.policies > 0 and opts.policies or nil, explicitPolicy = opts.explicitPolicy or nil,
                  inhibitPolicyMapping = opts.inhibitPolicyMapping or nil, inhibitAnyPolicy = opts.inhibitAnyPolicy or nil }
      for k, v in pairs(extra or {}) do
        if v == false then o[k] = nil else o[k] = v end
      end
      return o
    end

    --- Findings for a chain (list of inspected certificates, leaf first); `fetched` is what
    --- fetchChain returned for a server (nil for a file).
    local function assess(result, chain, target, fetched)
      local leaf = chain[1]
      local pem = {}
      for i, c in ipairs(chain) do pem[i] = c.pem end
      local v = ns.verify(table.concat(pem), verifyOptions())
      result.verifyCode, result.verifyMeaning, result.crlChecked = v.code, v.meaning, v.crlChecked
      local function add(sev, message)
        result.findings[#result.findings + 1] = { severity = sev, message = message }
        if SEVERITY[sev] > SEVERITY[result.status] then result.status = sev end
      end
      local last = chain[#chain]
      if v.code == CODE_REVOKED then
        add("FAIL", "revoked (CRL)")
      elseif v.code ~= 0 and v.code ~= CODE_EXPIRED and v.code ~= CODE_NOT_YET_VALID then
        local incomplete = not last.selfSigned and (v.code == 2305020 or v.code == 2305002)
          and string.format(" (the chain ends at %s, whose issuer is not sent)", last.commonName or last.subject) or ""
        add("FAIL", string.format("untrusted: %d %s%s%s", v.code, v.meaning, v.subject and (" (" .. v.subject .. ")") or "", incomplete))
      end
      if v.code == 0 and untrustedData then
        local alone = ns.verify(table.concat(pem), verifyOptions({ untrusted = false }))
        if alone.code == 2305020 or alone.code == 2305002 then
          add("WARN", string.format("chain incomplete: trusted only with the --untrusted certificates (%s is not sent)",
              alone.subject or ("the issuer of " .. (chain[#chain].commonName or chain[#chain].subject))))
        end
      end
      if v.code == 0 and opts.strict then
        local s = ns.verify(table.concat(pem), verifyOptions({ strict = true, securityLevel = opts.securityLevel or 2 }))
        if not s.ok and not WEAK_CODES[s.code] then
          add("FAIL", string.format("not conformant (strict RFC 5280 / CA/B Forum): %d %s%s", s.code, s.reason,
              s.subject and string.format(" at depth %d (%s)", s.depth or 0, s.subject) or ""))
        end
        result.strictCode = s.code
      end
      -- The chain as presented: duplicates, order, the root sent.
      local seen = {}
      for i, c in ipairs(chain) do
        if seen[c.sha256] then add("WARN", string.format("chain: certificate %d repeats certificate %d", i, seen[c.sha256])) end
        seen[c.sha256] = seen[c.sha256] or i
      end
      for i = 1, #chain - 1 do
        if chain[i].issuer ~= chain[i + 1].subject and not chain[i].selfSigned then
          add("WARN", string.format("chain order: certificate %d (%s) is not the issuer of certificate %d (%s)", i + 1,
              chain[i + 1].commonName or chain[i + 1].subject, i, chain[i].commonName or chain[i].subject))
          break
        end
      end
      if #chain > 1 and last.selfSigned then add("INFO", "the chain includes its root (clients do not need it)") end
      result.scts = leaf.scts
      add("INFO", leaf.scts > 0 and string.format("%d embedded SCTs", leaf.scts) or "no embedded SCTs (certificate transparency)")
      if fetched then
        result.tlsVersion, result.cipher = fetched.tlsVersion, fetched.cipher
        if OLD_TLS[fetched.tlsVersion] then add("WARN", "negotiated " .. fetched.tlsVersion .. " (below TLS 1.2)") end
        local o = fetched.ocsp
        result.ocspStaple = o and o.status or "none"
        if not o then
          if leaf.mustStaple then add("FAIL", "must-staple certificate, but no OCSP response stapled")
          else add("INFO", "no OCSP staple") end
        elseif o.status == "revoked" then
          add("FAIL", "revoked (stapled OCSP response: " .. o.reason .. ")")
        elseif o.status == "invalid" then
          add(leaf.mustStaple and "FAIL" or "WARN", "stapled OCSP response invalid: " .. o.reason)
        elseif o.status == "unknown" then
          add("WARN", "stapled OCSP response: certificate unknown to the responder")
        else
          add("INFO", "stapled OCSP response: good" .. (o.nextUpdate and (", next update " .. os.date("!%Y-%m-%d %H:%M", o.nextUpdate)) or ""))
        end
      end
      if fetched and fetched.crl then
        result.crl = {}
        for _, c in ipairs(fetched.crl) do
          result.crl[#result.crl + 1] = { certificate = c.certificate, url = c.url, status = c.status }
          local which = c.certificate == 1 and "certificate" or ("chain certificate " .. c.certificate)
          if c.status == "revoked" then
            add("FAIL", string.format("%s revoked (CRL from %s)", which, c.url))
          elseif c.status == "invalid" then
            add("WARN", string.format("CRL from %s for %s: %s", c.url, which, c.reason))
          elseif c.status == "unavailable" then
            add("WARN", string.format("CRL from %s for %s not fetched: %s", c.url, which, c.reason))
          else
            add("INFO", string.format("%s not revoked (CRL from %s%s)", which, c.url,
                c.nextUpdate and (", next update " .. os.date("!%Y-%m-%d %H:%M", c.nextUpdate)) or ""))
          end
        end
        if #result.crl == 0 then result.crl = ns.json.emptyArray end
      end
      if fetched and fetched.ocspFetched then
        result.ocsp = {}
        for _, c in ipairs(fetched.ocspFetched) do
          result.ocsp[#result.ocsp + 1] = { certificate = c.certificate, url = c.url, status = c.status }
          local which = c.certificate == 1 and "certificate" or ("chain certificate " .. c.certificate)
          if c.status == "revoked" then
            add("FAIL", string.format("%s revoked (OCSP responder %s: %s%s)", which, c.url, c.reason,
                c.revokedAt and (", since " .. os.date("!%Y-%m-%d", c.revokedAt)) or ""))
          elseif c.status == "unknown" then
            add("WARN", string.format("OCSP responder %s does not know %s", c.url, which))
          elseif c.status == "invalid" then
            add("WARN", string.format("OCSP response from %s for %s: %s", c.url, which, c.reason))
          elseif c.status == "unavailable" then
            add("WARN", string.format("OCSP responder %s for %s not reached: %s", c.url, which, c.reason))
          else
            add("INFO", string.format("%s not revoked (OCSP responder %s%s)", which, c.url,
                c.nextUpdate and (", next update " .. os.date("!%Y-%m-%d %H:%M", c.nextUpdate)) or ""))
          end
        end
        if #result.ocsp == 0 then
          result.ocsp = ns.json.emptyArray
          add("INFO", "no OCSP responder named (authority information access)")
        end
      end
      local name = opts.hostname or (target.kind == "host" and target.host)
      local nameIsIP = opts.hostname and (opts.hostname:match("^%d+%.%d+%.%d+%.%d+$") ~= nil or opts.hostname:find(":") ~= nil)
        or (not opts.hostname and target.ip)
      if name and not matchesHost(leaf, name, nameIsIP) then
        local names = {}
        for _, n in ipairs(leaf.dns or {}) do names[#names + 1] = n end
        for _, n in ipairs(leaf.ip or {}) do names[#names + 1] = n end
        add("FAIL", string.format("hostname mismatch: %s not in [%s]", name, table.concat(names, ", ")))
      end
      -- Expiry as of --at (or now): daysLeft is recomputed from notAfter.
      local now = opts.at or os.time()
      for _, c in ipairs(chain) do c.daysLeft = (c.notAfter - now) / 86400 end
      for i, c in ipairs(chain) do
        local which = i == 1 and "certificate" or ("chain certificate " .. i .. " (" .. (c.commonName or c.subject) .. ")")
        if c.notBefore > now then
          add("FAIL", which .. " not valid before " .. os.date("!%Y-%m-%d", math.floor(c.notBefore)))
        elseif c.daysLeft < 0 then
          add("FAIL", string.format("%s expired %d days ago (%s)", which, math.floor(-c.daysLeft), os.date("!%Y-%m-%d", math.floor(c.notAfter))))
        elseif c.daysLeft < opts.warnDays then
          local days = math.floor(c.daysLeft)
          add("WARN", string.format("%s expires in %d day%s (%s)", which, days, days == 1 and "" or "s", os.date("!%Y-%m-%d", math.floor(c.notAfter))))
        end
        local wk = weakKey(c, opts.minRSABits)
        if wk then add("FAIL", which .. ": weak key, " .. wk) end
        local ws = not c.selfSigned and weakSignature(c)
        if ws then add("FAIL", which .. ": weak signature " .. ws) end
      end
      result.subject, result.issuer = leaf.subject, leaf.issuer
      result.commonName = leaf.commonName
      result.notAfter = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(leaf.notAfter))
      result.daysLeft = math.floor(leaf.daysLeft)
      result.keyType, result.keyBits, result.signatureAlgorithm = leaf.keyType, leaf.keyBits, leaf.signatureAlgorithm
      result.sha256 = leaf.sha256
      result.chainLength = #chain
      local minDays
      for _, c in ipairs(chain) do minDays = math.min(minDays or c.daysLeft, c.daysLeft) end
      result.chainMinDaysLeft = minDays and math.floor(minDays)
    end

    --- `planned`: the number of targets when the run was interrupted before all were checked
    --- (`results` then holds the checked ones).
    local function report(results, planned)
      local counts = { OK = 0, WARN = 0, FAIL = 0, ERROR = 0 }
      local worst = "OK"
      for _, r in ipairs(results) do
        counts[r.status] = counts[r.status] + 1
      end
      if counts.FAIL > 0 then worst = "FAIL" elseif counts.ERROR > 0 then worst = "ERROR" elseif counts.WARN > 0 then worst = "WARN" end
      local out = {}
      if opts.format == "json" then
        local list = {}
        for i, r in ipairs(results) do
          local copy = {}
          for k, v in pairs(r) do copy[k] = v end
          if #copy.findings == 0 then copy.findings = ns.json.emptyArray end
          list[i] = copy
        end
        local doc = { worst = worst, exitStatus = EXIT[worst], counts = counts,
                      targets = #list > 0 and list or ns.json.emptyArray }
        if planned then doc.interrupted, doc.planned = true, planned end
        if opts.segment ~= "" then doc.segment = opts.segment end
        if opts.run ~= "" then doc.run = opts.run end
        out[1] = ns.json.encode(doc)
      elseif opts.format == "csv" then
        out[1] = "status,target,host,port,subject,issuer,not_after,days_left,key_type,key_bits,signature_algorithm,verify_code,findings,tls_version,cipher,ocsp_staple,scts"
        for _, r in ipairs(results) do
          local msgs = {}
          for _, f in ipairs(r.findings) do msgs[#msgs + 1] = f.severity .. ": " .. f.message end
          local row = { r.status, r.target, r.host, r.port, r.subject, r.issuer, r.notAfter, r.daysLeft, r.keyType,
                        r.keyBits, r.signatureAlgorithm, r.verifyCode, table.concat(msgs, "; "), r.tlsVersion, r.cipher,
                        r.ocspStaple, r.scts }
          for i = 1, 17 do row[i] = csvField(row[i]) end
          out[#out + 1] = table.concat(row, ",")
        end
      elseif opts.format == "prometheus" then
        local function metric(name, help, rows)
          out[#out + 1] = "# HELP " .. name .. " " .. help
          out[#out + 1] = "# TYPE " .. name .. " gauge"
          for _, row in ipairs(rows) do out[#out + 1] = row end
        end
        local function rows(f)
          local list = {}
          for _, r in ipairs(results) do
            local labels, value = f(r)
            if value ~= nil then list[#list + 1] = string.format("{target=\"%s\"%s} %s", label(r.target), labels, tostring(value)) end
          end
          return list
        end
        local function named(name, list) for i, row in ipairs(list) do list[i] = name .. row end return list end
        metric("netstack_audit_status", "1 for the target's status (OK, WARN, FAIL, ERROR).",
          named("netstack_audit_status", rows(function(r) return string.format(",status=\"%s\"", r.status), 1 end)))
        metric("netstack_audit_days_left", "Whole days until the leaf certificate expires.",
          named("netstack_audit_days_left", rows(function(r) return "", r.daysLeft end)))
        metric("netstack_audit_chain_days_left", "Whole days until the first certificate of the chain expires.",
          named("netstack_audit_chain_days_left", rows(function(r) return "", r.chainMinDaysLeft end)))
        metric("netstack_audit_verify_code", "The verifier's code for the chain (0: trusted).",
          named("netstack_audit_verify_code", rows(function(r) return "", r.verifyCode end)))
        metric("netstack_audit_embedded_scts", "Signed certificate timestamps embedded in the leaf.",
          named("netstack_audit_embedded_scts", rows(function(r) return "", r.scts end)))
        metric("netstack_audit_ocsp_staple", "1 for the stapled OCSP response's status (good, revoked, unknown, invalid, none).",
          named("netstack_audit_ocsp_staple", rows(function(r) if r.ocspStaple then return string.format(",status=\"%s\"", r.ocspStaple), 1 end end)))
        local findingRows = {}
        for _, r in ipairs(results) do
          local n = { INFO = 0, WARN = 0, FAIL = 0, ERROR = 0 }
          for _, f in ipairs(r.findings) do n[f.severity] = (n[f.severity] or 0) + 1 end
          for _, sev in ipairs({ "INFO", "WARN", "FAIL", "ERROR" }) do
            findingRows[#findingRows + 1] = string.format("netstack_audit_findings{target=\"%s\",severity=\"%s\"} %d", label(r.target), sev, n[sev])
          end
        end
        metric("netstack_audit_findings", "Findings per target and severity.", findingRows)
        metric("netstack_audit_exit_status", "The audit's exit status (0 OK, 1 WARN, 2 FAIL, 3 ERROR).",
          { string.format("netstack_audit_exit_status %d", EXIT[worst]) })
      else
        local rows = { { "STATUS", "TARGET", "SUBJECT", "DAYS", "FINDINGS" } }
        for _, r in ipairs(results) do
          local msgs = {}
          for _, f in ipairs(r.findings) do if f.severity ~= "INFO" then msgs[#msgs + 1] = f.message end end
          rows[#rows + 1] = { r.status, printable(r.target), printable(r.commonName or r.subject or "-"), r.daysLeft and tostring(r.daysLeft) or "-",
                              #msgs > 0 and printable(table.concat(msgs, "; ")) or "ok" }
        end
        local w = {}
        for _, row in ipairs(rows) do for i = 1, 4 do w[i] = math.max(w[i] or 0, #row[i]) end end
        for _, row in ipairs(rows) do
          out[#out + 1] = table.concat({ row[1] .. string.rep(" ", w[1] - #row[1]), row[2] .. string.rep(" ", w[2] - #row[2]),
            row[3] .. string.rep(" ", w[3] - #row[3]), string.rep(" ", w[4] - #row[4]) .. row[4], row[5] }, "  ")
        end
        out[#out + 1] = string.format("%d targets: %d OK, %d WARN, %d FAIL, %d ERROR", #results, counts.OK, counts.WARN, counts.FAIL, counts.ERROR)
        if planned then out[#out + 1] = string.format("interrupted: %d of %d targets checked", #results, planned) end
      end
      io.stdout:write(table.concat(out, "\n"), "\n")
      io.stdout:flush()
      if planned and opts.format ~= "table" then
        io.stderr:write(string.format("netstack audit: interrupted; %d of %d targets checked\n", #results, planned))
      end
      return EXIT[worst], worst
    end

    --- Checks `targets` (strings) with up to `concurrency` at once; prints the report when all
    --- are done and calls `done(results, exitStatus)` if given. The run's exit status becomes
    --- the audit's (0 OK, 1 WARN, 2 FAIL, 3 ERROR) unless something else already failed.
    local function run(targets, done)
      local results, nextIndex, running, finished = {}, 1, 0, 0
      local total = #targets
      local showProgress = opts.progress == "on" or (opts.progress == "auto" and ctx.tty.stderr and total > 3)
      local drawnAt = -1
      --- A bar on stderr, redrawn at most ten times a second: "audit [#####-----] 512/1000, 8 running".
      local function progress(final)
        if not showProgress then return end
        if final then io.stderr:write("\r\27[K") io.stderr:flush() return end
        local t = ns.now()
        if t - drawnAt < 0.1 and finished > 0 and finished < total then return end
        drawnAt = t
        local width = 30
        local filled = total > 0 and math.floor(width * finished / total) or width
        io.stderr:write(string.format("\r\27[Kaudit [%s%s] %d/%d, %d running", string.rep("#", filled), string.rep("-", width - filled),
            finished, total, running))
        io.stderr:flush()
      end
      -- Stopped early (SIGINT, SIGTERM): the targets checked so far are reported, in their order.
      local checked = {}
      interruptedReport = function()
        progress(true)
        local list = {}
        -- Each keeps its place in the target list (JSON `index`), so that `merge` orders segments.
        for i = 1, total do if checked[i] then results[i].index = i list[#list + 1] = results[i] end end
        report(list, total)
      end
      local launch
      local function complete(index)
        checked[index] = true
        running, finished = running - 1, finished + 1
        progress()
        if finished == total then
          progress(true)
          local status = report(results)
          finalStatus = status
          if done then done(results, status) end
        else
          launch()
        end
      end
      function launch()
        while running < opts.concurrency and nextIndex <= total and not ns.stopping() do
          local index = nextIndex
          nextIndex = nextIndex + 1
          local text = targets[index]
          local result = { target = text, status = "OK", findings = {} }
          results[index] = result
          local target, perr = parseTarget(text, opts.port)
          running = running + 1
          if not target then
            result.status = "ERROR"
            result.findings[1] = { severity = "ERROR", message = perr }
            complete(index)
          elseif target.kind == "file" then
            local data, rerr = readFile(target.path)
            local chain, ierr
            if data then chain, ierr = ns.inspect(data) end
            if not data then
              result.status = "ERROR"
              result.findings[1] = { severity = "ERROR", message = "cannot read " .. tostring(rerr) }
            elseif not chain then
              result.status = "ERROR"
              result.findings[1] = { severity = "ERROR", message = "cannot parse: " .. tostring(ierr) }
            else
              assess(result, chain, target)
            end
            complete(index)
          else
            result.host, result.port = target.host, target.port
            -- The trust anchors also check the stapled OCSP response's signature.
            ns.fetchChain(target.host, target.port, { timeout = opts.timeout, serverName = opts.hostname or (not target.ip and target.host or nil),
                                                      caFile = opts.ca, crl = opts.fetchCRL, ocsp = opts.fetchOCSP },
              function(chain, ferr)
                if not chain then
                  result.status = "ERROR"
                  result.findings[1] = { severity = "ERROR", message = tostring(ferr) }
                elseif #chain.certificates == 0 then
                  result.status = "ERROR"
                  result.findings[1] = { severity = "ERROR", message = "the server presented no certificate" }
                else
                  assess(result, chain.certificates, target, chain)
                end
                complete(index)
              end)
          end
        end
      end
      if total == 0 then
        finalStatus = report(results)
        if done then done(results, finalStatus) end
        return
      end
      progress()
      launch()
    end

    ctx.onExit(function(status)
      if status == 130 then
        if not finalStatus and interruptedReport then interruptedReport() end
        return 130
      end
      if finalStatus and finalStatus ~= 0 then return finalStatus end
    end)

    return {
      run = run,
      --- Prints `results` (as `run` makes them) in the configured format; returns the exit status.
      report = function(results)
        finalStatus = report(results)
        return finalStatus
      end,
      parseTarget = parseTarget,
      matchesHost = matchesHost,
      options = opts,
    }
  end,

  check = function(ctx, opts)
    if opts.ca then
      local data, err = readFile(opts.ca)
      if not data then return false, "cannot read CA file: " .. tostring(err) end
      if not ns.inspect(data) then return false, opts.ca .. " holds no certificate" end
    end
    for _, path in ipairs(opts.crl) do
      if not readFile(path) then return false, "cannot read CRL " .. path end
    end
    for _, path in ipairs(opts.untrusted) do
      local data = readFile(path)
      if not data then return false, "cannot read " .. path end
      if not ns.inspect(data) then return false, path .. " holds no certificate" end
    end
    return true, string.format("trust: %s; CRLs: %d; warn within %g days", opts.ca or "system store", #opts.crl, opts.warnDays)
  end,
}
