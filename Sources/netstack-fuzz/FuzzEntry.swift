// Fuzz targets for the parsers and boundaries that take outside input (scripts/fuzz).
//
// Built by scripts/fuzz with -sanitize=fuzzer,address and -D NETSTACK_FUZZING, libFuzzer owns
// main and calls LLVMFuzzerTestOneInput; NETSTACK_FUZZ_TARGET names the target. Built normally,
// this is a replay tool: `netstack-fuzz TARGET FILE_OR_DIR...` runs each input once (the seed
// corpora in Tests/FuzzCorpus are replayed this way by the tests), `netstack-fuzz --list` names
// the targets.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafeRawPointer?, _ size: Int) -> CInt {
    FuzzTargets.selected.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if !NETSTACK_FUZZING
@main
struct ReplayMain {
    static func main() {
        exit(FuzzReplay.main(CommandLine.arguments))
    }
}
#endif
