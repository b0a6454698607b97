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
        var line = syscallLine
        return line.withUTF8 { waitedDescriptor(syscallBytes: UnsafeRawBufferPointer($0)) }
    }

    /// `waitedDescriptor(syscallLine:)` on the bytes as read (up to the first newline): the probe
    /// samples a busy loop's thread thousands of times, and splitting each line into Strings cost
    /// about 50,000 instructions a sample (callgrind); this reads the two fields in place.
    static func waitedDescriptor(syscallBytes bytes: UnsafeRawBufferPointer) -> CInt? {
        var i = 0
        let n = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
        func skipSpaces() { while i < n && bytes[i] == UInt8(ascii: " ") { i += 1 } }
        // The call's number: decimal digits (a "-1" or "running" is no call).
        skipSpaces()
        var number = 0, digits = 0
        while i < n, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9"), digits < 6 {
            number = number * 10 + Int(bytes[i] - UInt8(ascii: "0"))
            i += 1
            digits += 1
        }
        guard digits > 0, i < n, bytes[i] == UInt8(ascii: " "), epollWaitCalls.contains(number) else { return nil }
        // Its first argument: "0x" and hex digits that fit a descriptor, then a space or the end.
        skipSpaces()
        guard i + 2 < n, bytes[i] == UInt8(ascii: "0"), bytes[i + 1] == UInt8(ascii: "x") else { return nil }
        i += 2
        var fd: Int64 = 0
        var hexDigits = 0
        while i < n, bytes[i] != UInt8(ascii: " ") {
            let c = bytes[i]
            let v: Int64
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = Int64(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = Int64(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = Int64(c - UInt8(ascii: "A") + 10)
            default: return nil
            }
            fd = fd * 16 + v
            hexDigits += 1
            guard fd <= Int64(CInt.max) else { return nil }
            i += 1
        }
        return hexDigits > 0 ? CInt(fd) : nil
    }

    /// True when `fd` is an epoll instance of this process.
    static func isEpoll(_ fd: CInt) -> Bool { linkTarget("/proc/self/fd/\(fd)") == "anon_inode:[eventpoll]" }

    /// How long the probe sleeps between samples: 500 µs for the first 100 ms (an idle loop is
    /// found at once), then 2 ms (a loop that never waits is sampled about 1,150 times in its two
    /// seconds instead of 4,000).
    static func pause(afterSamples samples: Int) -> useconds_t { samples < 200 ? 500 : 2000 }

    /// Samples `thread` (a `currentThread()` value) until it is seen waiting on an epoll
    /// descriptor, for up to `timeout`; blocks the calling thread meanwhile. Nil when the thread
    /// never waited on epoll in that time, has ended, or procfs says nothing. The file is opened
    /// once and read again from its start for each sample (procfs writes it afresh on each read
    /// from offset 0), so a sample is one `pread`.
    static func descriptor(waitedOnBy thread: String, timeout: TimeInterval) -> CInt? {
        let file = open("/proc/\(thread)/syscall", O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { return nil }
        defer { close(file) }
        let end = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, timeout) * 1e9)
        var samples = 0
        return withUnsafeTemporaryAllocation(byteCount: 256, alignment: 1) { buffer -> CInt? in
            repeat {
                let n = pread(file, buffer.baseAddress, buffer.count, 0)
                // An ended thread reads as an error (or nothing): it will never wait again.
                guard n > 0 else { return nil }
                if let fd = waitedDescriptor(syscallBytes: UnsafeRawBufferPointer(rebasing: buffer[..<n])), isEpoll(fd) {
                    return fd
                }
                usleep(pause(afterSamples: samples))
                samples += 1
            } while DispatchTime.now().uptimeNanoseconds < end
            return nil
        }
    }

    /// `descriptor(waitedOnBy:timeout:)` on a thread of its own; `found` gets the result there.
    static func find(waitedOnBy thread: String, timeout: TimeInterval, found: @escaping @Sendable (CInt?) -> Void) {
        let worker = Thread { found(descriptor(waitedOnBy: thread, timeout: timeout)) }
        worker.name = "epoll-probe"
        worker.start()
    }
}
