#!/usr/bin/env python3
"""Hostile clients against `netstack serve`: clients that send without reading what they are
sent (echoes, pongs), and request URLs whose numbers are out of range. Checked: the server stays
up, answers a well-behaved client afterwards, and its resident memory stays bounded.

  hostile_clients.py NETSTACK        exit 1 on a mismatch

Python 3 standard library only. Run by `HostilePeerTests.testHostileClientsAgainstServe`;
docs/robustness.md lists what it found.
"""
import base64, os, re, socket, subprocess, sys, time

# AddressSanitizer keeps freed memory in quarantine (256 MB): the XCTest raises the bound for it.
GROWTH_LIMIT_KB = int(os.environ.get("NETSTACK_HOSTILE_RSS_MB", "64")) * 1024


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def upgrade(port, path="/echo"):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    return s


def masked(opcode, payload):
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload   # a zero mask key: the payload as it is


def send_without_reading(port, frame, seconds=4):
    s = upgrade(port)
    time.sleep(0.2)
    burst = frame * max(1, 65536 // len(frame))
    s.settimeout(1)
    end = time.time() + seconds
    sent = 0
    try:
        while time.time() < end:
            s.sendall(burst)
            sent += len(burst)
    except OSError:
        pass   # the server stopped reading: what the test wants
    s.close()
    return sent


def echo_works(port):
    try:
        return echo_once(port)
    except OSError:
        return False


def echo_once(port):
    s = upgrade(port)
    s.settimeout(5)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            return False
        head += chunk
    s.sendall(masked(1, b"still here"))
    data = head.split(b"\r\n\r\n", 1)[1]
    while len(data) < 12:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return data[:12] == b"\x81\x0astill here"


def answer_to(port, request):
    """The first bytes the server answers to a request sent whole (b"" when it answers nothing)."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(5)
    s.sendall(request.encode())
    try:
        return s.recv(4096)
    except OSError:
        return b""
    finally:
        s.close()


def main():
    server = subprocess.Popen([sys.argv[1], "serve", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        line = server.stdout.readline().decode()
        port = int(re.search(r":(\d+)", line).group(1))
        failures = 0

        def check(name, ok, detail=""):
            nonlocal failures
            print("%-34s %s %s" % (name, "ok" if ok else "FAILED", detail))
            failures += 0 if ok else 1

        base = rss_kb(server.pid)
        for name, frame in [("echo_without_reading", masked(2, bytes(60000))),
                            ("pings_without_reading", masked(9, bytes(125)))]:
            sent = send_without_reading(port, frame)
            time.sleep(0.5)
            growth = rss_kb(server.pid) - base
            check(name, server.poll() is None and growth < GROWTH_LIMIT_KB and echo_works(port),
                  "(sent %.1f MB, RSS +%d KiB)" % (sent / 1e6, growth))
        for path in ["/flood?n=-5&size=-7", "/flood?n=1&size=99999999999999", "/misbehave/oversized?size=-1",
                     "/misbehave/zipbomb?size=99999999999999", "/misbehave/slow-handshake?ms=99999999999999999999",
                     "/misbehave/ping-flood?ms=-1", "/echo?server_max_window_bits=99", "/echo?=x&a&=&"]:
            s = upgrade(port, path)
            s.settimeout(2)
            try:
                s.recv(65536)
            except OSError:
                pass
            s.close()
            time.sleep(0.3)
            check(path, server.poll() is None and echo_works(port))
        # Request heads that are not UTF-8 (a byte count taken from their decoded text crashed the
        # server), sent whole and a byte at a time, a head without end, and a head that never ends
        # sent slowly (each read used to search the whole head again).
        key = b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        heads = [("head_not_utf8", b"GET /echo HTTP/1.1\r\nHost: x\r\nX: \xff\xfe\xff\xfe\r\nUpgrade: websocket\r\n"
                                   b"Connection: Upgrade\r\n" + key + b"\r\n", None),
                 ("head_latin1_byte_by_byte", b"GET /echo?x=caf\xe9 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                                              b"Connection: Upgrade\r\n" + key + b"\r\n", 1)]
        for name, head, step in heads:
            s = socket.create_connection(("127.0.0.1", port))
            for i in range(0, len(head), step or len(head)):
                s.sendall(head[i:i + (step or len(head))])
            s.settimeout(5)
            try:
                answer = s.recv(4096)
            except OSError:
                answer = b""
            s.close()
            check(name, server.poll() is None and answer.startswith(b"HTTP/1.1 101") and echo_works(port), repr(answer[:40]))
        # Opening handshakes that break RFC 6455 §4.2.1 are refused with what is wrong (they were
        # upgraded: a 5-byte key, version 8, HTTP/1.0, no Connection or Host header).
        good = {"Host": "x", "Upgrade": "websocket", "Connection": "keep-alive, Upgrade",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}
        for name, version, change, status, words in [
                ("handshake_short_key", "1.1", {"Sec-WebSocket-Key": "short"}, b"400", b"Sec-WebSocket-Key must be 16 bytes"),
                ("handshake_no_key", "1.1", {"Sec-WebSocket-Key": None}, b"400", b"Sec-WebSocket-Key must be 16 bytes"),
                ("handshake_version_8", "1.1", {"Sec-WebSocket-Version": "8"}, b"426", b"Sec-WebSocket-Version: 13"),
                ("handshake_http_1_0", "1.0", {}, b"400", b"HTTP/1.1 or later"),
                ("handshake_no_host", "1.1", {"Host": None}, b"400", b"missing Host"),
                ("handshake_no_connection", "1.1", {"Connection": None}, b"400", b"Connection header must include Upgrade"),
                ("handshake_plain_http", "1.1", {"Upgrade": None, "Connection": None}, b"426", b"this is a WebSocket server"),
                ("handshake_good", "1.1", {}, b"101", b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")]:
            fields = dict(good)
            fields.update(change)
            request = "GET /echo HTTP/%s\r\n" % version + "".join("%s: %s\r\n" % kv for kv in fields.items() if kv[1] is not None) + "\r\n"
            answer = answer_to(port, request)
            check(name, answer.startswith(b"HTTP/1.1 " + status) and words in answer, repr(answer.split(b"\r\n")[0]))
        # Query values the server writes into its answer's head: a percent-encoded CR LF would
        # have ended the header line and added the requester's own headers (response splitting),
        # and a status outside three digits would have made a malformed status line.
        for name, path, status, words in [
                ("redirect_location_crlf", "/redirect?to=/echo%0d%0aSet-Cookie:%20x=1", b"400", b"'to' holds a control character"),
                ("protocol_crlf", "/echo?protocol=chat%0d%0aX-Injected:%201", b"400", b"'protocol' holds a control character"),
                ("redirect_status_negative", "/redirect?to=/echo&code=-1", b"400", b"a status of three digits"),
                ("status_too_long", "/status?code=4030", b"400", b"a status of three digits"),
                ("redirect_good", "/redirect?to=/echo&code=307", b"307", b"Location: /echo\r\n")]:
            request = "GET %s HTTP/1.1\r\n" % path + "".join("%s: %s\r\n" % kv for kv in good.items()) + "\r\n"
            answer = answer_to(port, request)
            check(name, answer.startswith(b"HTTP/1.1 " + status) and words in answer and b"Set-Cookie" not in answer
                  and b"X-Injected" not in answer, repr(answer.split(b"\r\n")[0]))
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(5)
        start = time.time()
        try:
            for _ in range(80):
                s.sendall(b"GET /echo HTTP/1.1\r\n" + b"X-Long: " + b"a" * 990 + b"\r\n")
            closed = s.recv(16) == b""
        except OSError:
            closed = True
        s.close()
        check("head_without_end", server.poll() is None and closed and echo_works(port), "(%.2f s)" % (time.time() - start))
        print("hostile clients: %d failed" % failures)
        return 1 if failures else 0
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
