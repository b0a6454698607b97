#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NetStackCLI

// Standard input, output or error closed when we start (`netstack verify - <&-`, a service
// manager's setting) would hand its number to the first file or socket opened, and `verify -` would
// then read an event loop's descriptor and wait for ever, or a diagnostic land in a connection:
// each one closed is /dev/null instead (reads end at once, writes are dropped).
for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
    let opened = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY)
    if opened >= 0 && opened != fd {
        _ = dup2(opened, fd)
        _ = close(opened)
    }
}

// A reader that goes away (`netstack ... | head`) makes later writes fail with EPIPE, which are then
// dropped, instead of SIGPIPE ending the process: SwiftNIO ignores SIGPIPE once its first socket
// exists, so without this the exit status would depend on when the reader left. Every command
// ends with its own status (docs/exit-status.md).
signal(SIGPIPE, SIG_IGN)
NetStackCommand.warnAboutTheEnvironment()
NetStackCommand.main()
