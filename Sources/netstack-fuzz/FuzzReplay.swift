import Foundation

/// Runs inputs through a target once each, without libFuzzer (regression runs of the corpora).
enum FuzzReplay {
    static func main(_ args: [String]) -> Int32 {
        if args.count == 2 && args[1] == "--list" {
            for t in FuzzTargets.all { print("\(t.name)\t\(t.summary)") }
            return 0
        }
        guard args.count >= 3, let target = FuzzTargets.all.first(where: { $0.name == args[1] }) else {
            FileHandle.standardError.write("usage: netstack-fuzz --list | TARGET FILE_OR_DIR...\n".data(using: .utf8)!)
            return 2
        }
        var count = 0
        for path in args.dropFirst(2) {
            for file in files(at: path) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write("netstack-fuzz: cannot read \(file)\n".data(using: .utf8)!)
                    return 2
                }
                data.withUnsafeBytes { target.run($0) }
                count += 1
            }
        }
        print("\(target.name): \(count) inputs replayed")
        return 0
    }

    static func files(at path: String) -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return [path] }
        if !isDir.boolValue { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().filter { !$0.hasPrefix(".") }.map { path + "/" + $0 }
    }
}
