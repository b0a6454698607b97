import NIOPosix

extension ThreadSpecificVariable {
    /// The calling thread's value, made by `make` and kept the first time a thread asks. The
    /// per-loop objects (timers, busy polling, buffers, mask keys) are found this way.
    func currentValue(orMake make: () -> Value) -> Value {
        if let v = currentValue { return v }
        let v = make()
        currentValue = v
        return v
    }
}
