/// A flag shared by code that runs on one event loop (a function and the callbacks it registers),
/// where a captured `var` would not do: closures handed to SwiftNIO are `@Sendable`.
final class LoopFlag: @unchecked Sendable {
    var value: Bool
    init(_ value: Bool) { self.value = value }
}
