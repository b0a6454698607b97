import Foundation
import NetStack

/// `connect --jsonrpc`: each input line `METHOD [PARAMS]` becomes a JSON-RPC 2.0 request with the
/// next id (websocat's --jsonrpc). PARAMS that are a JSON array or object are sent as they are;
/// any other JSON value, or text that is not JSON, is wrapped in an array; no PARAMS sends `[]`.
/// Answers are matched to their requests by id (`match`), so the output can name the method.
struct JSONRPCInput {
    private(set) var nextID = 1
    /// Requests sent and not answered: id → method (at most `maxPending`; the oldest go first).
    private(set) var pending: [Int: String] = [:]
    private var order: [Int] = []
    static let maxPending = 10_000

    /// The request text for `line`, or why not.
    mutating func request(_ line: String) -> Result<String, ConnectInputError> {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard let method = parts.first.map(String.init), !method.isEmpty else { return .failure(.init("--jsonrpc: a method name expected")) }
        var params = "[]"
        if parts.count > 1 {
            let rest = String(parts[1]).trimmingCharacters(in: .whitespaces)
            if let value = try? JSONSerialization.jsonObject(with: Data(rest.utf8), options: [.fragmentsAllowed]) {
                params = value is [Any] || value is [String: Any] ? rest : "[" + rest + "]"
            } else {
                params = "[" + JSONString.quote(rest) + "]"
            }
        }
        let id = nextID
        nextID += 1
        pending[id] = method
        order.append(id)
        if order.count > Self.maxPending {
            pending[order.removeFirst()] = nil
        }
        return .success("{\"jsonrpc\":\"2.0\",\"id\":\(id),\"method\":\(JSONString.quote(method)),\"params\":\(params)}")
    }

    /// The method of the request that `message` answers (a JSON object with a pending id), which
    /// stops being pending; nil for anything else (notifications, other traffic).
    mutating func match(_ message: String) -> (id: Int, method: String)? {
        guard message.first == "{", let object = try? JSONSerialization.jsonObject(with: Data(message.utf8)) as? [String: Any],
              let number = object["id"] as? NSNumber, let method = pending[number.intValue], Double(number.intValue) == number.doubleValue else { return nil }
        pending[number.intValue] = nil
        order.removeAll { $0 == number.intValue }
        return (number.intValue, method)
    }
}

struct ConnectInputError: Error, Equatable {
    let message: String
    init(_ message: String) { self.message = message }
}
