import ArgumentParser
import CInterrupt
import Foundation
import LuaHost
import NetStackLoad
import NIOPosix

/// The plugin options shared by `run`, `plugins` and `audit`.
struct PluginFlags: ParsableArguments {
    @Option(name: .customLong("plugin"), parsing: .unconditionalSingleValue, help: "Load a plugin before the script (repeatable; in order).")
    var plugins: [String] = []
    @Option(name: [.customShort("P"), .customLong("plugin-option")], parsing: .unconditionalSingleValue, help: "A plugin option, NAME.KEY=VALUE (repeatable).")
    var pluginOptions: [String] = []
    @Option(name: .customLong("plugin-path"), parsing: .unconditionalSingleValue, help: "A folder searched for plugins before the standard ones (repeatable).")
    var pluginPaths: [String] = []
    @Flag(help: "Withhold os.execute, io.popen and native (C) modules from plugins and the script; load text chunks only.")
    var sandbox = false

    /// The form plugins.lua reads (`^([%w_%-]+)%.([%w_]+)=(.*)$`), checked here so that a bad
    /// option is a usage error (64) before any script runs.
    static func isPluginOption(_ spec: String) -> Bool {
        guard let dot = spec.firstIndex(of: "."), let eq = spec[dot...].firstIndex(of: "=") else { return false }
        let name = spec[..<dot], key = spec[spec.index(after: dot)..<eq]
        func word(_ c: Character, dash: Bool) -> Bool { c.isASCII && (c.isLetter || c.isNumber || c == "_" || (dash && c == "-")) }
        return !name.isEmpty && !key.isEmpty && name.allSatisfy { word($0, dash: true) } && key.allSatisfy { word($0, dash: false) }
    }

    func validate() throws {
        for spec in pluginOptions where !Self.isPluginOption(spec) {
            throw ValidationError("--plugin-option '\(spec)': expected NAME.KEY=VALUE (NAME letters, digits, _ and -; KEY letters, digits and _)")
        }
    }

    func apply(to options: inout ScriptHost.Options) {
        options.plugins = plugins
        options.pluginOptions = pluginOptions
        options.pluginPath = PluginSearchPath.standard(extra: pluginPaths)
        options.sandbox = sandbox
    }
}

/// A command built on a shipped plugin (`audit`) cannot run without it, for example a netstack
/// copied away from its `share/netstack/plugins`: said in a line, status 3 (what a `--plugin`
/// that cannot load gives), instead of a Lua traceback of `require`.
func requirePlugin(_ name: String, for command: String, flags: PluginFlags) throws {
    let path = PluginSearchPath.standard(extra: flags.pluginPaths)
    guard !path.holds(name) else { return }
    printErr("netstack \(command): the '\(name)' plugin is not found (searched: \(path.described)); it ships in " +
             "PREFIX/share/netstack/plugins beside an installed netstack (scripts/install PREFIX), or give its folder with --plugin-path")
    throw ExitCode(ScriptHost.pluginLoadFailureStatus)
}

/// Runs Lua `source` in a fresh host with the plugin flags; a non-zero status becomes the exit status.
/// `interruptible`: SIGINT and SIGTERM stop the script as they stop `run` (`ns.stopping()` turns
/// true, the plugins' exit functions run, status 130); a second one exits at once.
func runInternalScript(_ source: String, name: String, args: [String], flags: PluginFlags, interruptible: Bool = false) throws {
    let code = try internalScriptStatus(source, name: name, args: args, flags: flags, interruptible: interruptible)
    if code != 0 { throw ExitCode(code) }
}

/// Runs Lua `source` in a fresh host with the plugin flags; returns its exit status.
func internalScriptStatus(_ source: String, name: String, args: [String], flags: PluginFlags, json: Bool = false,
                          interruptible: Bool = false) throws -> Int32 {
    var options = ScriptHost.Options()
    flags.apply(to: &options)
    options.vm.memoryLimit = DefaultMemoryLimit.script(available: VUMemoryCheck.availableBytes())
    options.vm.memoryLimitOrigin = DefaultMemoryLimit.commandOrigin
    if json { options.events = { print($0) } }
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    defer { try? group.syncShutdownGracefully() }
    let host = try ScriptHost(eventLoop: group.next(), options: options)
    if interruptible {
        guard netstack_interrupt_install() == 0 else {
            printErr("netstack \(name): cannot install the SIGINT handler")
            throw ExitCode(1)
        }
        watchInterrupts(first: { host.interrupt() }, second: {
            printErr("netstack \(name): interrupted again; exiting now")
            fflush(stdout)
            _exit(130)
        })
    }
    return host.run(source: source, name: name, args: args)
}

/// Lua for `list` and `info`: `clean(v)`, text from plugin files made safe for a terminal
/// (control bytes shown as \xNN).
private let cleanFunction = """
local function clean(v) return (tostring(v):gsub("[%c\\127]", function(c) return string.format("\\\\x%02x", c:byte()) end)) end
"""

struct Plugins: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, describe and check plugins.",
        discussion: """
        Search order (the first folder holding a plugin wins): --plugin-path folders, \
        NETSTACK_PLUGIN_PATH (colon-separated), ./plugins, ~/.config/netstack/plugins \
        ($XDG_CONFIG_HOME/netstack/plugins), then the plugins shipped with netstack.
        """,
        subcommands: [List.self, Info.self, Check.self],
        defaultSubcommand: List.self
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every plugin on the search path: name, version, where from, status.")
        @OptionGroup var flags: PluginFlags
        @Flag(help: "One JSON document instead of a table.") var json = false

        func run() throws {
            try runInternalScript(Self.source, name: "plugins list", args: [json ? "json" : "table"], flags: flags, interruptible: true)
        }

        static let source = """
        local mode = ...
        local ns = require "netstack"
        local list = ns.plugins.available()
        if mode == "json" then
          local out = {}
          for i, p in ipairs(list) do
            out[i] = { name = p.name, version = p.version or ns.json.null, description = p.description or ns.json.null,
                       api = p.api or ns.json.null, origin = p.origin, path = p.path, status = p.status,
                       shadowed = #p.shadowed > 0 and p.shadowed or ns.json.emptyArray }
          end
          print(ns.json.encode(#out > 0 and out or ns.json.emptyArray))
          return
        end
        if #list == 0 then print("no plugins found") return end
        \(cleanFunction)
        local rows = { { "NAME", "VERSION", "FROM", "STATUS", "PATH" } }
        for _, p in ipairs(list) do
          rows[#rows + 1] = { clean(p.name), clean(p.version or "-"), p.origin, clean(p.status), clean(p.path) }
        end
        local widths = {}
        for _, r in ipairs(rows) do for i = 1, 4 do widths[i] = math.max(widths[i] or 0, #r[i]) end end
        for _, r in ipairs(rows) do
          local cells = {}
          for i = 1, 4 do cells[i] = r[i] .. string.rep(" ", widths[i] - #r[i]) end
          cells[5] = r[5]
          print(table.concat(cells, "  "))
        end
        for _, p in ipairs(list) do
          for _, s in ipairs(p.shadowed) do print(string.format("note: %s at %s is shadowed by %s", clean(p.name), clean(s), clean(p.path))) end
        end
        """
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A plugin's manifest: description, API version, requirements and options.")
        @Argument(help: "Plugin name.") var name: String
        @OptionGroup var flags: PluginFlags

        func run() throws {
            try runInternalScript(Self.source, name: "plugins info", args: [name], flags: flags, interruptible: true)
        }

        static let source = """
        local name = ...
        local ns = require "netstack"
        \(cleanFunction)
        for _, p in ipairs(ns.plugins.available()) do
          if p.name == name then
            print(string.format("%s %s (%s)", clean(p.name), clean(p.version or "?"), clean(p.path)))
            if p.description then print("  " .. clean(p.description)) end
            print("  from: " .. p.origin .. "; status: " .. clean(p.status))
            if p.api then print("  host API: " .. clean(p.api)) end
            if type(p.requires) == "table" and #p.requires > 0 then
              local r = {}
              for i, v in ipairs(p.requires) do r[i] = clean(v) end
              print("  requires: " .. table.concat(r, ", "))
            end
            if type(p.options) == "table" then
              local keys = {}
              for k in pairs(p.options) do keys[#keys + 1] = tostring(k) end
              table.sort(keys)
              if #keys > 0 then print("  options (-P " .. clean(name) .. ".KEY=VALUE):") end
              for _, k in ipairs(keys) do
                local o = p.options[k]
                if type(o) ~= "table" then o = {} end
                local default = o.default
                if type(default) == "table" then
                  local d = {}
                  for i, v in ipairs(default) do d[i] = tostring(v) end
                  default = table.concat(d, ",")
                end
                print(string.format("    %-16s %-8s %s%s", clean(k), clean(o.type or "string"), clean(o.help or ""),
                  default ~= nil and (" (default: " .. clean(default) .. ")") or ""))
              end
            end
            return
          end
        end
        io.stderr:write("netstack: no plugin named '" .. name .. "' on the search path\\n")
        netstack.exit(2)
        """
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a plugin and run its health check.",
            discussion: "Exit status 0 when healthy, 1 when the check fails or the plugin cannot load, 130 after SIGINT or SIGTERM."
        )
        @Argument(help: "Plugin name.") var name: String
        @OptionGroup var flags: PluginFlags

        func run() throws {
            try runInternalScript(Self.source, name: "plugins check", args: [name], flags: flags, interruptible: true)
        }

        static let source = """
        local name = ...
        local ok, message = netstack.plugins.check(name)
        print(string.format("%s: %s: %s", name, ok and "ok" or "FAILED", message))
        if not ok then netstack.exit(1) end
        """
    }
}
