import Foundation
import NetStackTestServer
import XCTest

/// The C ABI from C: Tests/CABI/abi_test.c compiled with cc as C99 and as C++17 against the
/// documented headers, linked to libnetstack-c.so, run against the local servers.
final class CABITests: XCTestCase {
    static let root = CLITests.root

    func run(_ tool: String, _ args: [String], env: [String: String] = [:], cwd: String? = nil) throws -> (Int32, String) {
        try runTool(tool, args, env: env, cwd: cwd ?? Self.root.path)
    }

    /// Where libswiftCore.so lives (next to the `swift` found on PATH).
    static func swiftRuntimeDirectory() throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(dir)/swift"
            if FileManager.default.isExecutableFile(atPath: candidate) {
                let resolved = URL(fileURLWithPath: candidate).resolvingSymlinksInPath()
                return resolved.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("lib/swift/linux").path
            }
        }
        throw CLITests.Failure("no swift on PATH")
    }

    /// A wss server with an expired certificate (the C test's third URL).
    func expiredTLSServer(_ name: String) throws -> LocalWebSocketServer {
        let expired = try Servers.pki.issue(name: name, subjectAltName: "IP:127.0.0.1", days: -1)
        return Servers.tlsServer(certificate: expired.certificate, key: expired.key)
    }

    /// Builds examples/c/echo.c against the install whose netstack.pc is in `pkgConfigDir`
    /// (C99, -Werror -pedantic) and runs it with no LD_LIBRARY_PATH, sending `message` to the
    /// local echo server. Returns the pkg-config flags, the binary and the run's status and output.
    func buildAndRunEcho(pkgConfigDir: String, name: String, message: String) throws
        -> (flags: String, binary: String, status: Int32, output: String) {
        let (pcrc, flags) = try run("pkg-config", ["--cflags", "--libs", "netstack"], env: ["PKG_CONFIG_PATH": pkgConfigDir])
        XCTAssertEqual(pcrc, 0, flags)
        let binary = NSTemporaryDirectory() + "\(name)-\(getpid())"
        let args = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "examples/c/echo.c"]
            + flags.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init) + ["-o", binary]
        let (ccrc, ccout) = try run("cc", args)
        XCTAssertEqual(ccrc, 0, ccout)
        let (erc, text) = try run("env", ["-u", "LD_LIBRARY_PATH", binary, Servers.plain.url + "/echo", message])
        return (flags, binary, erc, text)
    }

    /// `PREFIX/bin/netstack plugins --json`, run from / with no user or env plugin folders.
    func installedPlugins(_ prefix: String) throws -> (Int32, String) {
        try run("env", ["-u", "NETSTACK_PLUGIN_PATH", "HOME=/nonexistent", prefix + "/bin/netstack", "plugins", "--json"], cwd: "/")
    }

    /// The compilers (C99 and C++17) and the flags that build `source` against the documented
    /// headers and libnetstack-c.so; under a sanitizer, the toolchain's clang with the same one.
    static func cBuilds(_ source: String) throws -> (compilers: [(String, [String])], common: [String]) {
        let lib = CLITests.buildDir
        guard FileManager.default.fileExists(atPath: lib + "/libnetstack-c.so") else {
            throw CLITests.Failure("\(lib)/libnetstack-c.so is missing: run `swift build` first (scripts/test does)")
        }
        let runtime = try swiftRuntimeDirectory()
        var common = ["-Wall", "-Wextra", "-Werror", "-pedantic", "-I", "Sources/CNetStackABI/include", source,
                      "-L", lib, "-lnetstack-c", "-Wl,-rpath,\(lib)", "-Wl,-rpath,\(runtime)"]
        // Under a sanitizer the library carries its runtime: the program is built with the same
        // sanitizer by the toolchain's clang, so that runtime is loaded first.
        var compilers = [("cc", ["-std=c99"]), ("c++", ["-std=c++17", "-x", "c++"])]
        if let san = CLITests.sanitizer {
            let clang = URL(fileURLWithPath: runtime).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("bin/clang").path
            compilers = [(clang, ["-std=c99", "-fsanitize=\(san)", "-g"]), (clang + "++", ["-std=c++17", "-x", "c++", "-fsanitize=\(san)", "-g"])]
            // ThreadSanitizer's runtime intercepts libdispatch: the program links it (and its blocks runtime).
            if san == "thread" { common += ["-L", runtime, "-ldispatch", "-lBlocksRuntime"] }
        }
        return (compilers, common)
    }

    func testDocumentedABIFromCAndCxx() throws {
        let (compilers, common) = try Self.cBuilds("Tests/CABI/abi_test.c")
        let expiredServer = try expiredTLSServer("c-expired")
        defer { expiredServer.stop() }
        let lab = CertificateLab.shared
        for (compiler, flags) in compilers {
            let binary = NSTemporaryDirectory() + "abi_test_\(compiler.hasSuffix("++") ? "cxx" : "c")_\(getpid())"
            let (status, output) = try run(compiler, flags + common + ["-o", binary])
            XCTAssertEqual(status, 0, "\(compiler) failed:\n\(output)")
            guard status == 0 else { continue }
            let (rc, text) = try run(binary, [Servers.plain.url, Servers.tls.url, expiredServer.url, lab.dir],
                                     env: ["SSL_CERT_FILE": Servers.pki.caCertificate])
            XCTAssertEqual(rc, 0, "\(compiler) build of abi_test:\n\(text)")
            XCTAssertTrue(text.contains(" passed, 0 failed"), text)
            XCTAssertFalse(text.contains("not ok"), text)
        }
    }

    /// One set of clients used from four threads at once (Tests/CABI/threads_test.c): Destroy
    /// racing AddHeader, Connect, Send and Close on the same client, callbacks that destroy.
    /// Connect read a header list that a Destroy on another thread was freeing (6 crashes in 8
    /// runs before AddHeader, Connect and Destroy took the client's lock).
    func testClientsSharedBetweenThreads() throws {
        let (compilers, common) = try Self.cBuilds("Tests/CABI/threads_test.c")
        for (compiler, flags) in compilers {
            let binary = NSTemporaryDirectory() + "threads_test_\(compiler.hasSuffix("++") ? "cxx" : "c")_\(getpid())"
            let (status, output) = try run(compiler, flags + common + ["-lpthread", "-o", binary])
            XCTAssertEqual(status, 0, "\(compiler) failed:\n\(output)")
            guard status == 0 else { continue }
            for _ in 0..<3 {
                let (rc, text) = try run(binary, [Servers.plain.url])
                XCTAssertEqual(rc, 0, "\(compiler) build of threads_test:\n\(text)")
                XCTAssertTrue(text.contains(", 0 unexpected codes"), text)
            }
        }
    }

    /// The C test program under valgrind: no invalid access, no definite or indirect leak from
    /// the library (the Swift runtime's metadata caches are "possibly lost" or "still
    /// reachable" and not counted).
    func testDocumentedABIUnderValgrind() throws {
        if let san = CLITests.sanitizer {
            throw XCTSkip("valgrind cannot run a \(san)-sanitized library; the \(san) run of testDocumentedABIFromCAndCxx checks the same program")
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/valgrind") else {
            throw CLITests.Failure("valgrind is not installed: scripts/bootstrap installs it")
        }
        // valgrind 3.19 cannot read the DWARF 5 the Swift toolchain emits: a copy of the library
        // without debug information is checked instead (same code).
        let lib = NSTemporaryDirectory() + "netstack-vg-\(getpid())"
        try? FileManager.default.createDirectory(atPath: lib, withIntermediateDirectories: true)
        let (src, srcOut) = try run("objcopy", ["--strip-debug", CLITests.buildDir + "/libnetstack-c.so", lib + "/libnetstack-c.so"])
        XCTAssertEqual(src, 0, srcOut)
        let runtime = try Self.swiftRuntimeDirectory()
        let expiredServer = try expiredTLSServer("c-expired-vg")
        defer { expiredServer.stop() }
        let binary = NSTemporaryDirectory() + "abi_test_vg_\(getpid())"
        let (status, output) = try run("cc", ["-std=c99", "-g", "-O0", "-I", "Sources/CNetStackABI/include", "Tests/CABI/abi_test.c",
                                              "-L", lib, "-lnetstack-c", "-Wl,-rpath,\(lib)", "-Wl,-rpath,\(runtime)", "-o", binary])
        XCTAssertEqual(status, 0, output)
        let (rc, text) = try run("valgrind", ["--error-exitcode=99", "--leak-check=full", "--show-leak-kinds=definite,indirect",
                                              "--errors-for-leak-kinds=definite,indirect", "--track-origins=no",
                                              "--suppressions=Tests/CABI/valgrind.supp",
                                              binary, Servers.plain.url, Servers.tls.url, expiredServer.url, CertificateLab.shared.dir],
                                 env: ["SSL_CERT_FILE": Servers.pki.caCertificate])
        XCTAssertEqual(rc, 0, text)
        XCTAssertTrue(text.contains(" passed, 0 failed"), text)
        XCTAssertTrue(text.contains("ERROR SUMMARY: 0 errors"), text)
        print(text.split(separator: "\n").filter { $0.hasPrefix("==") && ($0.contains("SUMMARY") || $0.contains("lost:") || $0.contains("reachable:") || $0.contains("in use at exit")) }.joined(separator: "\n"))
    }

    func testInstalledLibraryAndExample() throws {
        if CLITests.sanitizer != nil { throw XCTSkip("installs the plain debug build (packaging, not memory safety)") }
        let prefix = NSTemporaryDirectory() + "netstack-prefix-\(getpid())"
        // --no-build: `swift test` holds the build directory, and scripts/test built everything already.
        let (rc, out) = try run("bash", ["scripts/install", "--debug", "--no-build", prefix])
        XCTAssertEqual(rc, 0, out)
        // No LD_LIBRARY_PATH: the program finds the library and the library finds the Swift runtime.
        let (_, _, erc, text) = try buildAndRunEcho(pkgConfigDir: prefix + "/lib/pkgconfig", name: "netstack-echo-c", message: "hi from C")
        XCTAssertEqual(erc, 0, text)
        XCTAssertEqual(text, "open: 101 Switching Protocols\nmessage: hi from C\nclose: 1000 bye\n")
        // The installed CLI finds the installed plugins (share/netstack/plugins) from anywhere.
        let (lrc, list) = try installedPlugins(prefix)
        XCTAssertEqual(lrc, 0, list)
        XCTAssertTrue(list.contains("\"path\":\"\(prefix)/share/netstack/plugins/reconnect/init.lua\""), list)
        XCTAssertTrue(list.contains("\"origin\":\"builtin\""), list)
    }

    /// `scripts/install --bundle-runtime`: the Swift runtime goes with the library, the install is
    /// moved to another folder, and a C program built against it (pkg-config) and the installed CLI
    /// load everything from there.
    func testRelocatableInstallWithBundledRuntime() throws {
        if CLITests.sanitizer != nil { throw XCTSkip("installs the plain debug build (packaging, not memory safety)") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/patchelf") else {
            throw CLITests.Failure("patchelf is not installed: scripts/bootstrap installs it")
        }
        let first = NSTemporaryDirectory() + "netstack-bundle-a-\(getpid())"
        let moved = NSTemporaryDirectory() + "netstack-bundle-b-\(getpid())"
        try? FileManager.default.removeItem(atPath: moved)
        let (rc, out) = try run("bash", ["scripts/install", "--debug", "--no-build", "--bundle-runtime", first])
        XCTAssertEqual(rc, 0, out)
        try FileManager.default.moveItem(atPath: first, toPath: moved)
        let (_, runpath) = try run("readelf", ["-d", moved + "/lib/libnetstack-c.so"])
        XCTAssertTrue(runpath.contains("[$ORIGIN/netstack-swift]"), runpath)
        let (flags, binary, erc, text) = try buildAndRunEcho(pkgConfigDir: moved + "/lib/pkgconfig", name: "netstack-echo-bundled", message: "relocated")
        XCTAssertFalse(flags.contains("/lib/swift/linux"), "no toolchain path: \(flags)")
        XCTAssertEqual(erc, 0, text)
        XCTAssertEqual(text, "open: 101 Switching Protocols\nmessage: relocated\nclose: 1000 bye\n")
        // Every Swift runtime library comes from the moved install, none from the toolchain.
        for file in [binary, moved + "/bin/netstack"] {
            let (_, deps) = try run("ldd", [file])
            let swiftLines = deps.split(separator: "\n").filter { $0.contains("libswiftCore") || $0.contains("libFoundation") || $0.contains("libdispatch") }
            XCTAssertFalse(swiftLines.isEmpty, deps)
            for line in swiftLines {
                let path = line.split(separator: " ").first { $0.hasPrefix("/") }.map { URL(fileURLWithPath: String($0)).standardizedFileURL.path } ?? ""
                XCTAssertTrue(path.hasPrefix(moved + "/lib/netstack-swift/"), "\(file): \(line)")
            }
        }
        let (lrc, list) = try installedPlugins(moved)
        XCTAssertEqual(lrc, 0, list)
        XCTAssertTrue(list.contains("\(moved)/share/netstack/plugins/audit/init.lua"), list)
        try? FileManager.default.removeItem(atPath: moved)
    }
}
