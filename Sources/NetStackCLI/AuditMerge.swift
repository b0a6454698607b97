import Foundation
import NetStackLoad

/// Audit segments' JSON reports joined into one: targets back in their original order (target
/// k of segment i/n was number (i-1) + k·n), printed by the audit plugin's own report.
struct AuditMerge {
    let results: [Any]
    let segments: String
    let isPartial: Bool
    /// A segment was interrupted before it checked all its targets (its report says
    /// `interrupted`); the merge then ends as that segment did, 130.
    let wasInterrupted: Bool

    static func isAuditReport(_ data: Data) -> Bool {
        guard let doc = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return false }
        return doc["exitStatus"] != nil && doc["targets"] != nil && doc["counts"] != nil
    }

    init(_ files: [Data], names: [String], allowPartial: Bool) throws {
        var bySegment: [Int: [Any]] = [:]
        var interruptedPlaces: [Int: [Int: Any]] = [:]
        var count = 0
        var run: String?
        var interrupted = false
        for (data, name) in zip(files, names) {
            guard let doc = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any], let targets = doc["targets"] as? [Any] else {
                throw LoadOptionError("merge: \(name) is not an audit JSON report")
            }
            let r = doc["run"] as? String
            if name == names[0] { run = r } else if r != run {
                throw LoadOptionError("merge: \(name) is from audit run '\(r ?? "-")', \(names[0]) from '\(run ?? "-")'")
            }
            let seg = (doc["segment"] as? String) ?? "1/1"
            let parts = seg.split(separator: "/")
            guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), i >= 1, i <= n else {
                throw LoadOptionError("merge: \(name) has no valid segment ('\(seg)')")
            }
            if count == 0 { count = n }
            guard n == count else { throw LoadOptionError("merge: \(name) is segment \(seg), others are of \(count)") }
            guard bySegment[i] == nil else { throw LoadOptionError("merge: audit segment \(seg) is given twice") }
            if doc["interrupted"] as? Bool == true {
                // Only the checked targets are listed, each with its place in the segment's list.
                interrupted = true
                var placed: [Int: Any] = [:]
                for t in targets {
                    guard let k = (t as? [String: Any])?["index"] as? Int, k >= 1, placed[k - 1] == nil else {
                        throw LoadOptionError("merge: \(name) is an interrupted audit report whose targets have no valid index")
                    }
                    placed[k - 1] = t
                }
                interruptedPlaces[i] = placed
            }
            bySegment[i] = targets
        }
        let missing = (1...max(count, 1)).filter { bySegment[$0] == nil }
        if !missing.isEmpty && !allowPartial {
            throw LoadOptionError("merge: audit segments \(missing.map { "\($0)/\(count)" }.joined(separator: ", ")) are missing (--allow-partial merges what is there)")
        }
        var ordered: [(Int, Any)] = []
        for (i, targets) in bySegment {
            if let placed = interruptedPlaces[i] {
                for (k, t) in placed {
                    var record = t as? [String: Any] ?? [:]
                    record["index"] = nil
                    ordered.append(((i - 1) + k * count, record))
                }
            } else {
                for (k, t) in targets.enumerated() { ordered.append(((i - 1) + k * count, t)) }
            }
        }
        results = ordered.sorted { $0.0 < $1.0 }.map { $0.1 }
        segments = bySegment.keys.sorted().map(String.init).joined(separator: ",") + "/\(count)"
        isPartial = !missing.isEmpty
        wasInterrupted = interrupted
    }

    /// Prints `results` with the audit plugin's report in `format`; returns its status.
    static func render(_ results: [Any], format: String) throws -> Int32 {
        let path = NSTemporaryDirectory() + "netstack-audit-merge-\(getpid()).json"
        try JSONSerialization.data(withJSONObject: results).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        var flags = try PluginFlags.parse([])
        flags.pluginOptions = ["audit.format=\(format)", "audit.progress=off"]
        try requirePlugin("audit", for: "merge", flags: flags)
        let source = """
        local audit = require("audit")
        local f = assert(io.open(arg[1], "rb"))
        local results = netstack.json.decode(f:read("a"))
        f:close()
        netstack.exit(audit.report(results))
        """
        return try internalScriptStatus(source, name: "audit merge", args: [path], flags: flags)
    }
}
