-- The plugin runtime: search, manifests, options, hooks, start and exit handlers.
-- Loaded by the host into every script's VM with (host, config):
--   host   private functions of the host (not visible to scripts)
--   config { path = { {dir=, origin=}, ... }, plugins = { names }, options = { "name.key=value" },
--            sandbox = bool, json = bool, apiVersion = n }
local host, config = ...
local ns = require "netstack"

local API_VERSION = config.apiVersion
local traceback = debug.traceback
local format = string.format

local EVENTS = { open = true, message = true, error = true, close = true,
                 connect = true, send = true, disconnect = true }
local CALLBACK_INDEX = { open = 0, message = 1, error = 2, close = 3 }

-- name -> record { name, version, description, dir, path, origin, manifest, exports, options, ctx }
local loaded, order, loading = {}, {}, {}
local hooks = {}            -- event -> { before = { {plugin=, fn=} }, after = { ... } }
local startFns, exitFns = {}, {}
local started = false
local cliOptions = {}       -- plugin name -> { key -> raw string }

for _, spec in ipairs(config.options or {}) do
  local name, key, value = spec:match("^([%w_%-]+)%.([%w_]+)=(.*)$")
  if not name then
    error(format("--plugin-option '%s': expected NAME.KEY=VALUE", spec), 0)
  end
  cliOptions[name] = cliOptions[name] or {}
  cliOptions[name][key] = value
end

local function report(context, message)
  host.reportError(context, tostring(message))
end

-- Search ------------------------------------------------------------------------------------

local function readable(path)
  local f = io.open(path, "r")
  if f then f:close() return true end
  return false
end

--- Every candidate for `name` in search order: { path=, dir=, origin= }.
local function candidates(name)
  local found = {}
  for _, entry in ipairs(config.path) do
    local init = entry.dir .. "/" .. name .. "/init.lua"
    local single = entry.dir .. "/" .. name .. ".lua"
    if readable(init) then
      found[#found + 1] = { path = init, dir = entry.dir .. "/" .. name, origin = entry.origin, root = entry.dir }
    elseif readable(single) then
      found[#found + 1] = { path = single, dir = entry.dir, origin = entry.origin, root = entry.dir }
    end
  end
  return found
end

local function searchedDirs()
  local dirs = {}
  for _, entry in ipairs(config.path) do dirs[#dirs + 1] = entry.dir .. " (" .. entry.origin .. ")" end
  return table.concat(dirs, ", ")
end

local function validName(name)
  return type(name) == "string" and name:match("^[%a_][%w_%-]*$") ~= nil
end

-- Manifests and options --------------------------------------------------------------------

local OPTION_TYPES = { string = true, number = true, integer = true, boolean = true, list = true }

local function convert(plugin, key, spec, value)
  local t = spec.type or "string"
  if type(value) == "string" and t ~= "string" then
    if t == "number" or t == "integer" then
      local n = tonumber(value)
      if n == nil then return nil, format("option '%s' expects a %s, got '%s'", key, t, value) end
      value = n
    elseif t == "boolean" then
      if value == "true" or value == "1" or value == "yes" or value == "on" then value = true
      elseif value == "false" or value == "0" or value == "no" or value == "off" then value = false
      else return nil, format("option '%s' expects a boolean, got '%s'", key, value) end
    elseif t == "list" then
      local list = {}
      for item in value:gmatch("[^,]+") do list[#list + 1] = item end
      value = list
    end
  end
  if t == "integer" then
    if math.type(value) == "float" and value == math.floor(value) then value = math.tointeger(value) end
    if math.type(value) ~= "integer" then return nil, format("option '%s' expects an integer", key) end
  elseif t == "number" and type(value) ~= "number" then
    return nil, format("option '%s' expects a number, got %s", key, type(value))
  elseif t == "boolean" and type(value) ~= "boolean" then
    return nil, format("option '%s' expects a boolean, got %s", key, type(value))
  elseif t == "list" and type(value) ~= "table" then
    return nil, format("option '%s' expects a list, got %s", key, type(value))
  elseif t == "string" and type(value) ~= "string" then
    return nil, format("option '%s' expects a string, got %s", key, type(value))
  end
  if spec.check then
    local ok, why = spec.check(value)
    if not ok then return nil, format("option '%s': %s", key, why or "invalid value") end
  end
  return value
end

local function resolveOptions(record, given)
  local specs = record.manifest.options or {}
  local resolved = {}
  for key, spec in pairs(specs) do
    if spec.default ~= nil then resolved[key] = spec.default end
  end
  local function apply(source, values)
    for key, value in pairs(values or {}) do
      local spec = specs[key]
      if not spec then
        local known = {}
        for k in pairs(specs) do known[#known + 1] = k end
        table.sort(known)
        error(format("unknown option '%s' (%s; known: %s)", tostring(key), source,
          #known > 0 and table.concat(known, ", ") or "none"), 0)
      end
      local v, err = convert(record.name, key, spec, value)
      if err then error(err .. " (" .. source .. ")", 0) end
      resolved[key] = v
    end
  end
  apply("--plugin-option", cliOptions[record.name])
  apply("options table", given)
  return resolved
end

--- Loads a plugin file as a text chunk named by its path below the search folder (for example
--- "audit/init.lua"), so messages stay short and name the plugin whatever the install path.
local function loadPluginFile(path, root)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local source = f:read("a")
  f:close()
  local short = path
  if root and path:sub(1, #root + 1) == root .. "/" then short = path:sub(#root + 2) end
  return load(source, "@" .. short, "t")
end

local function readManifest(name, candidate)
  local chunk, err = loadPluginFile(candidate.path, candidate.root)
  if not chunk then error(format("cannot load %s: %s", candidate.path, err), 0) end
  local ok, manifest = xpcall(chunk, traceback, name, candidate.path)
  if not ok then error(format("raised while loading %s: %s", candidate.path, manifest), 0) end
  if type(manifest) ~= "table" then
    error(format("%s must return a manifest table, returned %s", candidate.path, type(manifest)), 0)
  end
  if manifest.name ~= name then
    error(format("manifest name is %s, expected '%s'", manifest.name == nil and "missing" or "'" .. tostring(manifest.name) .. "'", name), 0)
  end
  if type(manifest.version) ~= "string" or not manifest.version:match("^%d+%.%d+") then
    error("manifest version must be a string like \"1.0.0\"", 0)
  end
  if manifest.description ~= nil and type(manifest.description) ~= "string" then
    error("manifest description must be a string", 0)
  end
  if math.type(manifest.api) ~= "integer" then
    error("manifest api must be an integer (the host API version the plugin needs; this host provides " .. API_VERSION .. ")", 0)
  end
  if manifest.api ~= API_VERSION then
    error(format("needs host API version %d, this host provides %d", manifest.api, API_VERSION), 0)
  end
  if manifest.requires ~= nil then
    if type(manifest.requires) ~= "table" then error("manifest requires must be a list of plugin names", 0) end
    for _, dep in ipairs(manifest.requires) do
      if not validName(dep) then error("manifest requires: invalid plugin name " .. tostring(dep), 0) end
    end
  end
  if manifest.options ~= nil then
    if type(manifest.options) ~= "table" then error("manifest options must be a table", 0) end
    for key, spec in pairs(manifest.options) do
      if type(key) ~= "string" or type(spec) ~= "table" then error("manifest options: each entry is name = { type =, default =, help = }", 0) end
      if spec.type and not OPTION_TYPES[spec.type] then
        error(format("manifest option '%s': unknown type '%s'", key, tostring(spec.type)), 0)
      end
    end
  end
  for _, f in ipairs({ "setup", "check" }) do
    if manifest[f] ~= nil and type(manifest[f]) ~= "function" then error("manifest " .. f .. " must be a function", 0) end
  end
  if manifest.native ~= nil and (type(manifest.native) ~= "string" or not manifest.native:match("^[%a_][%w_]*$")) then
    error("manifest native must name a module: letters, digits and _ (NAME.so in the plugin's folder, exporting luaopen_NAME)", 0)
  end
  return manifest
end

--- A manifest's native module: NAME.so in the plugin's folder, opened through luaopen_NAME (as
--- `require` opens C modules). What luaopen_NAME returns becomes ctx.native.
local function loadNative(record)
  local native = record.manifest.native
  if config.sandbox or not package.loadlib then
    error(format("native module '%s' not loaded: native code is disabled by --sandbox", native), 0)
  end
  local path = record.dir .. "/" .. native .. ".so"
  local opener, err = package.loadlib(path, "luaopen_" .. native)
  if not opener then error(format("cannot load native module %s: %s", path, tostring(err)), 0) end
  local ok, module = pcall(opener, native, path)
  if not ok then error(format("native module %s raised while opening: %s", path, tostring(module)), 0) end
  if module == nil then module = true end
  return module
end

-- Hooks --------------------------------------------------------------------------------------

local STOP = setmetatable({}, { __tostring = function() return "netstack.plugins.STOP" end })

local function addHook(plugin, event, phase, fn)
  if not EVENTS[event] then
    local names = {}
    for k in pairs(EVENTS) do names[#names + 1] = k end
    table.sort(names)
    error(format("unknown event '%s' (events: %s)", tostring(event), table.concat(names, ", ")), 3)
  end
  if type(fn) ~= "function" then error("hook must be a function", 3) end
  hooks[event] = hooks[event] or { before = {}, after = {} }
  local list = hooks[event][phase]
  list[#list + 1] = { plugin = plugin, fn = fn }
  -- The host sends this event through `dispatch` from now on (events without hooks go straight
  -- to the script's callbacks).
  if CALLBACK_INDEX[event] then host.enableHooks(CALLBACK_INDEX[event]) end
end

local function removeHooksOf(plugin)
  for _, h in pairs(hooks) do
    for _, phase in ipairs({ "before", "after" }) do
      local kept = {}
      for _, entry in ipairs(h[phase]) do if entry.plugin ~= plugin then kept[#kept + 1] = entry end end
      h[phase] = kept
    end
  end
end

-- Hooks run inside one protected call per event (not one per hook): `position` tells which
-- entry was running when an error came, the error is reported, and the run resumes after it.
-- Hook arguments are at most four values after the client (message: data, length, kind;
-- operations' after hooks: ..., rc), passed without varargs.
local position = 0

local function runList(list, from, canStop, client, a, b, c, d)
  for i = from, #list do
    position = i
    local r = list[i].fn(client, a, b, c, d)
    if canStop and (r == false or r == STOP) then return false end
  end
  return true
end

--- Runs `list` (a phase's hooks); returns false when a before hook stopped propagation.
local function runHooks(list, event, phase, client, a, b, c, d)
  if #list == 0 then return true end
  local saved, from = position, 1
  while true do
    local ok, r = xpcall(runList, traceback, list, from, phase == "before", client, a, b, c, d)
    if ok then
      position = saved
      return r
    end
    report(format("plugin '%s' (%s %s hook)", list[position].plugin, phase, event), r)
    from = position + 1
  end
end

local function runBefore(event, client, a, b, c, d)
  local h = hooks[event]
  if not h then return true end
  return runHooks(h.before, event, "before", client, a, b, c, d)
end

local function runAfter(event, client, a, b, c, d)
  local h = hooks[event]
  if h then runHooks(h.after, event, "after", client, a, b, c, d) end
end

local CALLBACK_NAMES = { open = "onOpen", message = "onMessage", error = "onError", close = "onClose" }

-- Before hooks (positions 1..nb), the callback (nb + 1), after hooks (nb + 2 ...).
local function runChain(h, from, callback, client, a, b, c)
  local before, after = h.before, h.after
  local nb = #before
  local i = from
  while i <= nb do
    position = i
    local r = before[i].fn(client, a, b, c)
    if r == false or r == STOP then return end
    i = i + 1
  end
  if i == nb + 1 then
    position = i
    if callback then callback(client, a, b, c) end
    i = i + 1
  end
  for j = i - nb - 1, #after do
    position = nb + 1 + j
    after[j].fn(client, a, b, c)
  end
end

--- Called by the host for the events that have hooks: before hooks, the script's callback (may
--- be nil), after hooks; an error in any of them is reported and the others still run.
local function dispatch(event, callback, client, a, b, c)
  local h = hooks[event]
  if not h then
    if callback then
      local ok, err = xpcall(callback, traceback, client, a, b, c)
      if not ok then report(CALLBACK_NAMES[event], err) end
    end
    return
  end
  local saved, from = position, 1
  while true do
    local ok, err = xpcall(runChain, traceback, h, from, callback, client, a, b, c)
    if ok then break end
    local nb, k = #h.before, position
    if k <= nb then
      report(format("plugin '%s' (before %s hook)", h.before[k].plugin, event), err)
    elseif k == nb + 1 then
      report(CALLBACK_NAMES[event], err)
    else
      report(format("plugin '%s' (after %s hook)", h.after[k - nb - 1].plugin, event), err)
    end
    from = k + 1
  end
  position = saved
end

-- Operations (connect, send, disconnect) run through hooks by wrapping the functions scripts call.
local wrapped = false
local function wrapOperations()
  if wrapped then return end
  wrapped = true
  local methods = host.clientMethods
  local OK = ns.WEBSOCKET_OK

  -- `prepare(...)` turns a call's arguments into the hooks' (client, x, y), or returns false to
  -- pass the call through unhooked. A stopped call returns success without running.
  local function documented(event, original, prepare)
    return function(...)
      local hooked, c, x, y = prepare(...)
      if not hooked then return original(...) end
      if not runBefore(event, c, x, y) then return OK end
      local rc = original(...)
      runAfter(event, c, x, y, rc)
      return rc
    end
  end
  local function method(event, original, prepare)
    return function(...)
      local hooked, c, x, y = prepare(...)
      if not hooked then return original(...) end
      if not runBefore(event, c, x, y) then return true end
      local ok, msg, code = original(...)
      runAfter(event, c, x, y, ok and OK or code)
      return ok, msg, code
    end
  end

  ns.OH_WebSocketClient_Connect = documented("connect", ns.OH_WebSocketClient_Connect, function(c, url, options)
    return type(c) == "userdata" and type(url) == "string", c, url, options
  end)
  methods.connect = method("connect", methods.connect, function(c, url, options)
    return type(url) == "string", c, url, options
  end)

  -- A number is sent as its text (as the functions convert it), and hooks see that text.
  ns.OH_WebSocketClient_Send = documented("send", ns.OH_WebSocketClient_Send, function(c, data, length)
    if math.type(data) then data = tostring(data) end
    if type(c) ~= "userdata" or type(data) ~= "string" then return false end
    local bytes = data
    if length ~= nil and math.type(length) == "integer" and length >= 0 and length < #data then bytes = data:sub(1, length) end
    if #bytes == 0 then return false end
    return true, c, bytes, host.classify(bytes)
  end)
  methods.send = method("send", methods.send, function(c, data, options)
    if math.type(data) then data = tostring(data) end
    return type(data) == "string", c, data, (type(options) == "table" and options.binary) and "binary" or "text"
  end)

  ns.OH_WebSocketClient_Close = documented("disconnect", ns.OH_WebSocketClient_Close, function(c, option)
    if type(c) ~= "userdata" then return false end
    local code = type(option) == "table" and option.code or nil
    if code == 0 then code = nil end
    local reason = type(option) == "table" and option.reason or nil
    return true, c, code or 1000, reason or ""
  end)
  methods.close = method("disconnect", methods.close, function(c, code, reason)
    return true, c, code or 1000, reason or ""
  end)
end

-- Plugin contexts ----------------------------------------------------------------------------

local loadPlugin

local function newContext(record)
  local name = record.name
  local ctx = { name = name, version = record.manifest.version, dir = record.dir, origin = record.origin,
                json = config.json, sandbox = config.sandbox, STOP = STOP,
                tty = { stdout = host.isatty(1), stderr = host.isatty(2) } }
  function ctx.before(event, fn)
    addHook(name, event, "before", fn)
    if event == "connect" or event == "send" or event == "disconnect" then wrapOperations() end
  end
  function ctx.after(event, fn)
    addHook(name, event, "after", fn)
    if event == "connect" or event == "send" or event == "disconnect" then wrapOperations() end
  end
  function ctx.export(key, value)
    if type(key) ~= "string" then error("export name must be a string", 2) end
    if rawget(_G, key) ~= nil and not record.exportsOwned[key] then
      error(format("cannot export '%s': a global of that name already exists", key), 2)
    end
    record.exportsOwned[key] = true
    rawset(_G, key, value)
  end
  function ctx.onStart(fn)
    if type(fn) ~= "function" then error("onStart expects a function", 2) end
    if started then
      local ok, err = xpcall(fn, traceback)
      if not ok then report(format("plugin '%s' (start)", name), err) end
    else
      startFns[#startFns + 1] = { plugin = name, fn = fn }
    end
  end
  function ctx.onExit(fn)
    if type(fn) ~= "function" then error("onExit expects a function", 2) end
    exitFns[#exitFns + 1] = { plugin = name, fn = fn }
  end
  --- Delivers an event to a client as if it came from the connection: hooks, then the
  --- script's callback.
  function ctx.emit(client, event, ...)
    local index = CALLBACK_INDEX[event]
    if not index then error("emit: event must be open, message, error or close", 2) end
    dispatch(event, host.callbackOf(client, index), client, ...)
  end
  function ctx.log(level, message)
    if message == nil then level, message = "info", level end
    host.log(format("[%s] %s: %s", level, name, tostring(message)))
  end
  function ctx.require(dep, options)
    return loadPlugin(dep, options)
  end
  return ctx
end

-- Loading ------------------------------------------------------------------------------------

local function pluginError(name, message)
  return format("plugin '%s': %s", name, message)
end

--- Loads and sets up `name` (and what it requires); returns its exports. Raises
--- "plugin 'name': reason" on any failure, leaving no hook of the failed plugin behind.
--- `forCheck`: for a health check: a plugin that defines `check` is loaded, its options resolved
--- and its context made, but `setup` does not run (a check must not open files or hook events).
function loadPlugin(name, options, via, forCheck)
  if not validName(name) then error(format("invalid plugin name '%s'", tostring(name)), 0) end
  local rec = loaded[name]
  if rec then
    if options ~= nil and next(options) ~= nil then
      error(pluginError(name, "already loaded; options can only be given when it is first loaded"), 0)
    end
    return rec.exports
  end
  if loading[name] then error(pluginError(name, "circular requires (" .. (via or "?") .. " -> " .. name .. ")"), 0) end
  local found = candidates(name)[1]
  if not found then
    error(pluginError(name, "not found (searched: " .. searchedDirs() .. ")"), 0)
  end
  loading[name] = true
  local ok, result = pcall(function()
    local manifest = readManifest(name, found)
    local record = { name = name, manifest = manifest, dir = found.dir, path = found.path, origin = found.origin,
                     exportsOwned = {} }
    for _, dep in ipairs(manifest.requires or {}) do
      local okDep, err = pcall(loadPlugin, dep, nil, name)
      if not okDep then error(format("requires '%s', which failed: %s", dep, err), 0) end
    end
    record.options = resolveOptions(record, options)
    if manifest.native then record.native = loadNative(record) end
    record.ctx = newContext(record)
    record.ctx.native = record.native
    if manifest.setup and not (forCheck and manifest.check) then
      local okSetup, exports = pcall(manifest.setup, record.ctx, record.options)
      if not okSetup then
        removeHooksOf(name)
        error("setup failed: " .. tostring(exports), 0)
      end
      record.exports = exports
    end
    if record.exports == nil then record.exports = manifest end
    return record
  end)
  loading[name] = nil
  if not ok then
    local message = tostring(result)
    if message:find("^plugin '") then error(message, 0) end
    error(pluginError(name, message), 0)
  end
  loaded[name] = result
  order[#order + 1] = name
  package.loaded[name] = result.exports
  return result.exports
end

-- `require "name"` finds plugins (before the standard searchers), and `require "name.part"`
-- finds name/part.lua inside a plugin's folder.
local function searcher(modname)
  local base, rest = modname:match("^([^.]+)%.(.+)$")
  if base then
    local found = candidates(base)[1]
    if found and found.path:sub(-9) == "/init.lua" then
      local file = found.dir .. "/" .. rest:gsub("%.", "/") .. ".lua"
      if readable(file) then
        return function()
          local chunk, err = loadPluginFile(file, found.root)
          if not chunk then error(err, 0) end
          return chunk(modname, file)
        end, file
      end
    end
    return nil
  end
  if not validName(modname) or #candidates(modname) == 0 then return nil end
  return function() return loadPlugin(modname) end, "plugin"
end
table.insert(package.searchers, 2, searcher)

-- The host's entry points --------------------------------------------------------------------

local runtime = {}

--- Loads the --plugin list (each failure reported), then runs the start functions.
--- Returns true, or false when any plugin failed to load.
function runtime.start()
  local failed = 0
  for _, name in ipairs(config.plugins or {}) do
    local ok, err = pcall(loadPlugin, name)
    if not ok then
      failed = failed + 1
      host.loadFailed("netstack: " .. tostring(err))
    end
  end
  if failed > 0 then return false end
  started = true
  for _, entry in ipairs(startFns) do
    local ok, err = xpcall(entry.fn, traceback)
    if not ok then report(format("plugin '%s' (start)", entry.plugin), err) end
  end
  startFns = {}
  return true
end

--- Runs the exit functions in load order; each may return a new exit status (used when the
--- status so far is 0). Returns the final status.
function runtime.exit(status)
  for _, entry in ipairs(exitFns) do
    local ok, r = xpcall(entry.fn, traceback, status)
    if not ok then
      report(format("plugin '%s' (exit)", entry.plugin), r)
      if status == 0 then status = 1 end
    elseif math.type(r) == "integer" and status == 0 then
      status = r
    end
  end
  exitFns = {}
  return status
end

runtime.dispatch = dispatch
runtime.searcher = searcher

-- Scripts' view: netstack.plugins -------------------------------------------------------------

local api = { STOP = STOP, API_VERSION = API_VERSION }

--- Loads a plugin with options (the same as require, plus options).
function api.load(name, options)
  if options ~= nil and type(options) ~= "table" then error("netstack.plugins.load: options must be a table", 2) end
  return loadPlugin(name, options)
end

--- Plugins loaded so far, in load order: { name, version, origin, path }.
function api.loaded()
  local list = {}
  for _, name in ipairs(order) do
    local r = loaded[name]
    list[#list + 1] = { name = name, version = r.manifest.version, origin = r.origin, path = r.path }
  end
  return list
end

--- Every plugin on the search path: { name, version, description, api, origin, path, status,
--- shadowedBy, options } where status is "ok" or the reason it cannot load.
function api.available()
  local seen, list = {}, {}
  for _, entry in ipairs(config.path) do
    for _, file in ipairs(host.listdir(entry.dir)) do
      local name = file:match("^(.-)%.lua$") or file
      if validName(name) and not seen[name] then
        local all = candidates(name)
        if #all > 0 then
          seen[name] = true
          local first = all[1]
          local item = { name = name, origin = first.origin, path = first.path, status = "ok" }
          local ok, manifest = pcall(readManifest, name, first)
          if ok then
            item.version, item.description, item.api = manifest.version, manifest.description, manifest.api
            item.requires = manifest.requires
            item.options = manifest.options
          else
            item.status = tostring(manifest)
          end
          item.shadowed = {}
          for i = 2, #all do item.shadowed[#item.shadowed + 1] = all[i].path end
          list[#list + 1] = item
        end
      end
    end
  end
  table.sort(list, function(a, b) return a.name < b.name end)
  return list
end

--- Loads `name` and runs its health check: true/false, message. A plugin with a check is not
--- set up (setup may write files: a check of the record plugin must not truncate a recording);
--- one without is set up, which is then its check.
function api.check(name)
  local ok, err = pcall(loadPlugin, name, nil, nil, true)
  if not ok then return false, host.explain(tostring(err)) end
  local r = loaded[name]
  if not r.manifest.check then return true, "loaded (the plugin defines no health check)" end
  local okCheck, healthy, message = xpcall(r.manifest.check, traceback, r.ctx, r.options)
  if not okCheck then return false, "check raised: " .. host.explain(tostring(healthy)) end
  return healthy and true or false, message or (healthy and "healthy" or "unhealthy")
end

ns.plugins = api
return runtime
