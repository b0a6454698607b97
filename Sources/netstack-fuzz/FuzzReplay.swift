import Foundation
import NetStack

/// Runs inputs through a target once each, without libFuzzer (regression runs of the corpora).
enum FuzzReplay {
    static func main(_ args: [String]) -> Int32 {
        if args.count == 2 && args[1] == "--list" {
            for t in FuzzTargets.all { print("\(t.name)\t\(t.summary)") }
            return 0
        }
        guard args.count >= 3, let target = FuzzTargets.all.first(where: { $0.name == args[1] }) else {
            StandardError.write("usage: netstack-fuzz --list | TARGET FILE_OR_DIR...\n")
            return 2
        }
        var count = 0
        for path in args.dropFirst(2) {
            for file in files(at: path) {
                guard let data = readFile(file) else {
                    StandardError.write("netstack-fuzz: cannot read \(file)\n")
                    return 2
                }
                data.withUnsafeBytes { target.run($0) }
                count += 1
            }
        }
        print("\(target.name): \(count) inputs replayed")
        return 0
    }

    /// The whole file, read with POSIX calls (FileManager.contents leaks its 4 KiB buffer for an
    /// empty file, which LeakSanitizer reports when the corpora are replayed under it).
    static func readFile(_ path: String) -> Data? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data = Data()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { return data }
            data.append(contentsOf: chunk[0..<n])
        }
    }

    static func files(at path: String) -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return [path] }
        if !isDir.boolValue { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().filter { !$0.hasPrefix(".") }.map { path + "/" + $0 }
    }
}
