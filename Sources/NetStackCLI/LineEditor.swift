import Foundation

/// Line editing and history for `netstack connect` on a terminal, from libedit (its readline
/// interface: arrows, Ctrl-R search, emacs keys), loaded at run time so that netstack neither
/// links nor requires it: without libedit.so.2, `make` returns nil and lines are read plainly.
/// History lives in `NETSTACK_HISTORY` (default ~/.netstack_history; empty: none), at most
/// `limit` lines.
final class LineEditor {
    private typealias ReadlineFn = @convention(c) (UnsafePointer<CChar>?) -> UnsafeMutablePointer<CChar>?
    private typealias HistoryFn = @convention(c) (UnsafePointer<CChar>?) -> Int32
    private typealias VoidFn = @convention(c) () -> Void
    private typealias StifleFn = @convention(c) (Int32) -> Void

    static let limit: Int32 = 1000

    private let readline: ReadlineFn
    private let addHistory: HistoryFn
    private let writeHistory: HistoryFn
    let historyFile: String?

    private init(readline: ReadlineFn, addHistory: HistoryFn, writeHistory: HistoryFn, historyFile: String?) {
        self.readline = readline
        self.addHistory = addHistory
        self.writeHistory = writeHistory
        self.historyFile = historyFile
    }

    /// An editor when libedit can be loaded, with the history file read.
    static func make(environment: [String: String] = ProcessInfo.processInfo.environment) -> LineEditor? {
        guard let lib = dlopen("libedit.so.2", RTLD_NOW | RTLD_LOCAL) ?? dlopen("libedit.so", RTLD_NOW | RTLD_LOCAL) else { return nil }
        func symbol<T>(_ name: String, _ type: T.Type) -> T? {
            dlsym(lib, name).map { unsafeBitCast($0, to: type) }
        }
        guard let readline = symbol("readline", ReadlineFn.self), let add = symbol("add_history", HistoryFn.self),
              let read = symbol("read_history", HistoryFn.self), let write = symbol("write_history", HistoryFn.self) else { return nil }
        symbol("using_history", VoidFn.self)?()
        symbol("stifle_history", StifleFn.self)?(limit)
        var file: String? = environment["NETSTACK_HISTORY"] ?? environment["HOME"].map { $0 + "/.netstack_history" }
        if file?.isEmpty == true { file = nil }
        if let f = file { _ = read(f) }
        return LineEditor(readline: readline, addHistory: add, writeHistory: write, historyFile: file)
    }

    /// The next line (without its newline), or nil at the end of input. Non-empty lines join
    /// the history, which is saved at once (a session may end by SIGINT).
    func readLine(prompt: String) -> String? {
        guard let p = prompt.withCString({ readline($0) }) else { return nil }
        defer { free(p) }
        let line = String(cString: p)
        if !line.trimmingCharacters(in: .whitespaces).isEmpty {
            _ = addHistory(p)
            if let f = historyFile { _ = writeHistory(f) }
        }
        return line
    }
}
