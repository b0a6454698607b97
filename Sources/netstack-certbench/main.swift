// Verification throughput: the documented API against raw OpenSSL C loops.
//   netstack-certbench [SECONDS]
// Makes a P-256 root and leaf with the openssl CLI, then for SECONDS (default 2) each:
//   api           CertificateVerifier.verify(cert: leaf PEM, ca: root PEM)   (what OH_NetStack_VerifyCertification runs)
//   c-original    C: parse leaf and CA (PEM), new store, verify              (what the original does)
//   c-store-once  C: parse leaf (PEM), verify against a store built once     (the practical limit)
//   api-strict    the same as api with strict mode (purpose server, security level 2, the strict checks)
import CNetStackSSL
import Foundation
import NetStack
import NetStackTestServer

let seconds = CommandLine.arguments.count > 1 ? Double(CommandLine.arguments[1]) ?? 2 : 2
let pki = try TestPKI.generate()
let (leafPath, _) = try pki.issue(name: "bench-leaf", subjectAltName: "DNS:bench.test")
let leaf = Array(FileManager.default.contents(atPath: leafPath)!)
let root = Array(FileManager.default.contents(atPath: pki.caCertificate)!)

func measure(_ name: String, _ body: () -> Bool) -> Double {
    var n = 0
    let start = DispatchTime.now().uptimeNanoseconds
    var elapsed = 0.0
    while elapsed < seconds {
        for _ in 0..<100 {
            guard body() else { fatalError("\(name): verification failed") }
        }
        n += 100
        elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
    let rate = Double(n) / elapsed
    print(String(format: "%-14@ %10.0f verifications/s  (%d in %.2f s)", name as NSString, rate, n, elapsed))
    return rate
}

let api = measure("api") { CertificateVerifier.verify(cert: leaf, certType: .pem, ca: root, options: .documented).code == 0 }
let original = measure("c-original") {
    leaf.withUnsafeBufferPointer { l in root.withUnsafeBufferPointer { r in netstack_verify_original(l.baseAddress, l.count, r.baseAddress, r.count) == 0 } }
}
var crl: Int32 = 0
let store = root.withUnsafeBufferPointer { netstack_store_from_blob($0.baseAddress, $0.count, 0, &crl) }!
let once = measure("c-store-once") {
    var result = netstack_verify_result()
    leaf.withUnsafeBufferPointer { netstack_verify_with_store($0.baseAddress, $0.count, 0, store, 0, nil, &result) }
    return result.error == 0
}
netstack_store_free(store)
var strictOptions = CertificateVerificationOptions.strictServer
strictOptions.hostname = "bench.test"
let strict = measure("api-strict") { CertificateVerifier.verify(cert: leaf, certType: .pem, ca: root, options: strictOptions).code == 0 }
print(String(format: "ratio api/c-original %.2f, api/c-store-once %.2f, api-strict/api %.2f", api / original, api / once, strict / api))
