#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NetStackCLI

// A reader that goes away (`netstack ... | head`) makes later writes fail with EPIPE, which are then
// dropped, instead of SIGPIPE ending the process: SwiftNIO ignores SIGPIPE once its first socket
// exists, so without this the exit status would depend on when the reader left. Every command
// ends with its own status (docs/exit-status.md).
signal(SIGPIPE, SIG_IGN)
NetStackCommand.main()
