import NIOPosix

extension MaskKeySource {
    private static let perThread = ThreadSpecificVariable<MaskKeySource>()

    /// The key source of the calling thread (an event loop), shared by its connections.
    static func forCurrentThread() -> MaskKeySource {
        if let s = perThread.currentValue { return s }
        let s = MaskKeySource()
        perThread.currentValue = s
        return s
    }
}
