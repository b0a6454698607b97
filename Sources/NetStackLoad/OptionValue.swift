/// A value of the script's `options` table (or of a command-line option), independent of Lua:
/// the options are read out of the VM once and checked here.
public indirect enum OptionValue: Equatable, Sendable {
    case string(String)
    case number(Double)
    case bool(Bool)
    /// A Lua sequence (keys 1...n).
    case list([OptionValue])
    /// A table with string keys.
    case table([String: OptionValue])

    var typeName: String {
        switch self {
        case .string: return "string"
        case .number: return "number"
        case .bool: return "boolean"
        case .list: return "list"
        case .table: return "table"
        }
    }
}

/// Typed reads from an options table; every error names the option's path (`scenarios.ramp.stages[2].target`).
struct OptionReader {
    let path: String
    let fields: [String: OptionValue]
    /// Keys the reader was asked about; anything else is a typo (reported by `rejectUnknown`).
    private var known: Set<String> = []

    init(path: String, _ value: OptionValue) throws {
        self.path = path
        switch value {
        case .table(let t): fields = t
        case .list(let l) where l.isEmpty: fields = [:]
        default: throw LoadOptionError("\(path): expected a table, got a \(value.typeName)")
        }
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    mutating func value(_ key: String) -> OptionValue? {
        known.insert(key)
        return fields[key]
    }

    mutating func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw LoadOptionError("\(name(key)): expected a string, got a \(v.typeName)") }
        return s
    }

    /// A whole number in `range`.
    mutating func integer(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let v = value(key) else { return nil }
        return try OptionReader.integer(v, name: name(key), in: range)
    }

    static func integer(_ v: OptionValue, name: String, in range: ClosedRange<Int>) throws -> Int {
        let n: Double
        switch v {
        case .number(let d): n = d
        case .string(let s):
            guard let d = Double(s) else { throw LoadOptionError("\(name): '\(s)' is not a number") }
            n = d
        default: throw LoadOptionError("\(name): expected a whole number, got a \(v.typeName)")
        }
        guard n.isFinite, n == n.rounded(), n >= Double(range.lowerBound), n <= Double(range.upperBound) else {
            // -1 as written, not -1.0 (the value arrives as a double); 1.5, inf and nan as they are.
            let written = n.isFinite && n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : "\(n)"
            throw LoadOptionError("\(name): expected a whole number from \(range.lowerBound) to \(range.upperBound), got \(written)")
        }
        return Int(n)
    }

    /// A duration: a string (`30s`) or a number of milliseconds.
    mutating func duration(_ key: String) throws -> LoadDuration? {
        guard let v = value(key) else { return nil }
        return try OptionReader.duration(v, name: name(key))
    }

    static func duration(_ v: OptionValue, name: String) throws -> LoadDuration {
        switch v {
        case .string(let s):
            do { return try LoadDuration(parsing: s) } catch let e as LoadOptionError { throw LoadOptionError("\(name): \(e.message)") }
        case .number(let ms):
            guard ms.isFinite, ms >= 0, ms <= Double(LoadDuration.max.nanoseconds) / 1e6 else {
                throw LoadOptionError("\(name): \(ms) ms is not a duration from 0 to 100 days")
            }
            return LoadDuration(nanoseconds: Int64(ms * 1e6))
        default: throw LoadOptionError("\(name): expected a duration (\"30s\", or milliseconds), got a \(v.typeName)")
        }
    }

    mutating func rejectUnknown() throws {
        let unknown = fields.keys.filter { !known.contains($0) }.sorted()
        if let first = unknown.first { throw LoadOptionError("\(name(first)): unknown option") }
    }
}
