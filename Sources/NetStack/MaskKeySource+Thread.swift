import NIOPosix

extension MaskKeySource {
    private static let perThread = ThreadSpecificVariable<MaskKeySource>()

    /// The key source of the calling thread (an event loop), shared by its connections.
    static func forCurrentThread() -> MaskKeySource {
        perThread.currentValue(orMake: { MaskKeySource() })
    }
}
