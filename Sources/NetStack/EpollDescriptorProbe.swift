#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Finds the epoll instance a thread waits on, from what Linux says of the thread
/// (`/proc/self/task/TID/syscall`, proc(5)): while a thread blocks in `epoll_wait` or `epoll_pwait`,
/// that file holds the call's number and its first argument, the epoll descriptor. An event loop's
/// thread waits there whenever it is idle, so sampling it from another thread names the loop's
/// epoll instance without reading anything of the event-loop library itself.
enum EpollDescriptorProbe {
    /// The calling thread, as a path under /proc ("PID/task/TID"); nil without procfs.
    static func currentThread() -> String? { linkTarget("/proc/thread-self") }

    /// What a symbolic link of procfs points to (short targets only); nil when unreadable.
    static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 64)
        let n = readlink(path, &buffer, buffer.count - 1)
        return n > 0 ? String(cString: buffer) : nil
    }

    /// System call numbers that wait on an epoll descriptor given as their first argument.
    static let epollWaitCalls: Set<Int> = {
        #if arch(x86_64)
        return [232, 281, 441]   // epoll_wait, epoll_pwait, epoll_pwait2
        #elseif arch(arm64)
        return [22, 441]         // epoll_pwait, epoll_pwait2
        #else
        return []
        #endif
    }()

    /// The descriptor in one line of `/proc/.../syscall` ("232 0x5 0x7f... ..."), when that line
    /// shows an epoll wait; nil for "running", other calls and malformed lines.
    static func waitedDescriptor(syscallLine: String) -> CInt? {
        let fields = syscallLine.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 2, let number = Int(fields[0]), epollWaitCalls.contains(number),
              fields[1].hasPrefix("0x"), let fd = CInt(fields[1].dropFirst(2), radix: 16), fd >= 0 else { return nil }
        return fd
    }

    /// True when `fd` is an epoll instance of this process.
    static func isEpoll(_ fd: CInt) -> Bool { linkTarget("/proc/self/fd/\(fd)") == "anon_inode:[eventpoll]" }

    /// Samples `thread` (a `currentThread()` value) until it is seen waiting on an epoll
    /// descriptor, for up to `timeout`; blocks the calling thread meanwhile. Nil when the thread
    /// never waited on epoll in that time, has ended, or procfs says nothing.
    static func descriptor(waitedOnBy thread: String, timeout: TimeInterval) -> CInt? {
        let path = "/proc/\(thread)/syscall"
        let end = Date().addingTimeInterval(timeout)
        repeat {
            guard let line = readLine(path) else { return nil }
            if let fd = waitedDescriptor(syscallLine: line), isEpoll(fd) {
                return fd
            }
            usleep(500)
        } while Date() < end
        return nil
    }

    /// The first line of a small file (procfs files report size 0, so it is read, not sized).
    static func readLine(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[..<n], as: UTF8.self)
        return text.split(separator: "\n", maxSplits: 1).first.map(String.init)
    }

    /// `descriptor(waitedOnBy:timeout:)` on a thread of its own; `found` gets the result there.
    static func find(waitedOnBy thread: String, timeout: TimeInterval, found: @escaping @Sendable (CInt?) -> Void) {
        let worker = Thread { found(descriptor(waitedOnBy: thread, timeout: timeout)) }
        worker.name = "epoll-probe"
        worker.start()
    }
}
