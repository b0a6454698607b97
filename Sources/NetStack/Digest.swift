import COpenSSL

/// Digests from the system OpenSSL.
public enum Digest {
    /// SHA-256 of `bytes`, 32 bytes.
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let rc = bytes.withUnsafeBytes { b in out.withUnsafeMutableBufferPointer { netstack_sha256(b.baseAddress, b.count, $0.baseAddress) } }
        precondition(rc == 0, "SHA-256 is not available in this OpenSSL")
        return out
    }

    /// SHA-256 of `bytes` as 64 lowercase hex digits.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        let out = sha256(bytes)
        let digits = Array("0123456789abcdef".utf8)
        var hex = [UInt8]()
        hex.reserveCapacity(64)
        for b in out { hex.append(digits[Int(b >> 4)]); hex.append(digits[Int(b & 15)]) }
        return String(decoding: hex, as: UTF8.self)
    }
}
