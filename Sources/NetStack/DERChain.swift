/// A chain of DER certificates handed to C as parallel arrays of pointers and lengths, valid
/// during `body` only.
enum DERChain {
    static func withPointers<R>(_ ders: [[UInt8]],
                                _ body: (UnsafePointer<UnsafePointer<UInt8>?>?, UnsafePointer<Int>?, Int) -> R) -> R {
        let owned = ders.map { der -> UnsafeMutableBufferPointer<UInt8> in
            let p = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(der.count, 1))
            _ = p.initialize(from: der)
            return p
        }
        defer { owned.forEach { $0.deallocate() } }
        let pointers: [UnsafePointer<UInt8>?] = owned.map { UnsafePointer($0.baseAddress) }
        let lengths = ders.map(\.count)
        return pointers.withUnsafeBufferPointer { pp in
            lengths.withUnsafeBufferPointer { lp in body(pp.baseAddress, lp.baseAddress, ders.count) }
        }
    }
}
