#!/usr/bin/env python3
"""Hostile peers on raw sockets: servers that answer the opening handshake and send frames byte
by byte as no WebSocket library would (interim answers, bare LF, folded or control-character
header lines, frames whose header breaks a rule before their payload, deflate streams ended with
BFINAL, TLS that breaks or never sends close_notify...), each driven by `netstack connect` and
checked for its exit status, its words and how long it took.

  hostile_peers.py NETSTACK [CASE...]    run every case (or the named ones); exit 1 on a mismatch

Time bounds are multiplied by NETSTACK_HOSTILE_SLOWDOWN (default 1; the XCTest sets 4 under a
sanitizer, whose builds are several times slower).

Python 3 standard library and the `openssl` CLI (for a throwaway certificate) only. Run by
`HostilePeerTests.testRawSocketMisbehaviours`; docs/robustness.md lists what it found.
"""
import base64, concurrent.futures, hashlib, os, socket, ssl, struct, subprocess, sys, tempfile, threading, time, zlib

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def ok(key, extra=b""):
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept_for(key) + b"\r\n" + extra + b"\r\n")


def frame(op, payload, fin=True, rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    n = len(payload)
    if n < 126:
        h = bytes([b0, n])
    elif n < 65536:
        h = bytes([b0, 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, 127]) + struct.pack(">Q", n)
    return h + payload


def close_frame(code, reason=b""):
    return frame(8, struct.pack(">H", code) + reason)


def deflate_final(data):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_FINISH)


def read_frame(c):
    h = c.recv(2)
    if len(h) < 2:
        return None
    n = h[1] & 0x7F
    if n == 126:
        n = struct.unpack(">H", c.recv(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", c.recv(8))[0]
    mask = c.recv(4) if h[1] & 0x80 else b"\0\0\0\0"
    p = b""
    while len(p) < n:
        p += c.recv(n - len(p))
    return h[0], bytes(b ^ mask[i % 4] for i, b in enumerate(p))


def until_closed(c, seconds=10):
    """Reads until the client ends the connection (or `seconds` pass), answering nothing."""
    c.settimeout(seconds)
    try:
        while c.recv(65536):
            pass
    except Exception:
        pass


def answer_close(c, seconds=10, echo=True):
    """Reads until the client's close frame, echoes it (unless the server closed first) and ends
    TCP, as a well-behaved server does."""
    c.settimeout(seconds)
    try:
        while True:
            f = read_frame(c)
            if f is None:
                return
            if f[0] & 0x0F == 8:
                if echo:
                    c.sendall(frame(8, f[1][:2]))
                return
    except Exception:
        pass


def hold(c, seconds=30):
    time.sleep(seconds)


# name: (server behaviour, connect arguments, expected exit status, words expected in the output,
#        most seconds it may take); the server gets the socket and the client's key.
CASES = {}


def case(status, words=(), seconds=4.0, args=(), tls=False):
    def register(f):
        CASES[("tls-" if tls else "") + f.__name__] = (f, list(args), status, list(words), seconds, tls)
        return f
    return register


# The opening handshake.
@case(0, ["hi", "closed 1000"])
def interim_answers(c, k):
    c.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + ok(k) + frame(1, b"hi") + close_frame(1000))
    answer_close(c)


@case(0, ["hi", "closed 1000"])
def bare_lf(c, k):
    c.sendall(ok(k).replace(b"\r\n", b"\n") + frame(1, b"hi") + close_frame(1000))
    answer_close(c)


@case(0, ["hi", "closed 1000"])
def folded_header(c, k):
    c.sendall(ok(k, b"X-A: a\r\n b\r\n") + frame(1, b"hi") + close_frame(1000))
    answer_close(c)


@case(0, ["connected (101)", "hi"])
def no_reason_phrase(c, k):
    c.sendall(ok(k).replace(b"101 Switching Protocols", b"101") + frame(1, b"hi") + close_frame(1000))
    answer_close(c)


@case(0, ["closed 1000"])
def connection_list(c, k):
    c.sendall(ok(k).replace(b"Connection: Upgrade", b"Connection: keep-alive, Upgrade") + close_frame(1000))
    answer_close(c)


@case(6, ["more than one Sec-WebSocket-Accept"], seconds=2)
def two_accept_headers(c, k):
    c.sendall(ok(k, b"Sec-WebSocket-Accept: " + accept_for(k) + b"\r\n"))
    until_closed(c)


@case(6, ["malformed header line 'X-B: a\\x00b' (a control character)"], seconds=2)
def nul_in_header(c, k):
    c.sendall(ok(k, b"X-B: a\x00b\r\n"))
    until_closed(c)


@case(6, ["response head larger than 65536 bytes"], seconds=2)
def huge_head(c, k):
    c.sendall(ok(k, b"".join(b"X-%d: v\r\n" % i for i in range(20000))))
    until_closed(c)


@case(6, ["interim (1xx) responses larger than 65536 bytes"], seconds=3)
def endless_interim(c, k):
    try:
        for _ in range(200):
            c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n" * 100)
    except Exception:
        pass
    until_closed(c)


@case(6, ["malformed status line"], seconds=2)
def four_digit_status(c, k):
    c.sendall(ok(k).replace(b"101 Switching", b"1010 Switching"))
    until_closed(c)


@case(6, ["a 101 answer must be HTTP/1.1"], seconds=2)
def http10_upgrade(c, k):
    c.sendall(ok(k).replace(b"HTTP/1.1 101", b"HTTP/1.0 101"))
    until_closed(c)


@case(6, ["missing or wrong Upgrade header"], seconds=2)
def upgrade_list(c, k):
    c.sendall(ok(k).replace(b"Upgrade: websocket", b"Upgrade: websocket, h2c"))
    until_closed(c)


@case(6, ["missing or wrong Upgrade header"], seconds=2)
def bare_101(c, k):
    c.sendall(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
    until_closed(c)


@case(6, ["more than one Sec-WebSocket-Protocol"], seconds=2, args=["-s", "chat"])
def protocol_twice(c, k):
    c.sendall(ok(k, b"Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n"))
    until_closed(c)


@case(6, ["server chose subprotocol 'chat, other', which was not offered"], seconds=2, args=["-s", "chat", "-s", "other"])
def protocol_list(c, k):
    c.sendall(ok(k, b"Sec-WebSocket-Protocol: chat, other\r\n"))
    until_closed(c)


@case(6, ["more than 10 redirects"], seconds=3, args=["-L"])
def redirect_loop(c, k):
    c.sendall(b"HTTP/1.1 302 Found\r\nLocation: /redirect_loop\r\nContent-Length: 0\r\n\r\n")
    until_closed(c, 2)


# Frames after the 101: a header that breaks a rule fails before the payload it declares.
@case(1, ["reserved bits RSV2/RSV3 set"], seconds=2)
def body_after_101(c, k):
    c.sendall(ok(k, b"Content-Length: 5\r\n") + b"hello" + close_frame(1000))
    hold(c)


@case(1, ["fragmented control frame"], seconds=2)
def long_fragmented_close(c, k):
    c.sendall(ok(k) + bytes([0x08, 126, 0xEA, 0x60]) + b"x" * 10)
    hold(c)


@case(1, ["continuation frame without a message"], seconds=2)
def continuation_first(c, k):
    c.sendall(ok(k) + bytes([0x80, 126, 0xEA, 0x60]) + b"x" * 10)
    hold(c)


@case(1, ["invalid frame length"], seconds=2)
def length_top_bit(c, k):
    c.sendall(ok(k) + bytes([0x82, 127]) + struct.pack(">Q", 1 << 63))
    hold(c)


@case(1, ["close frame with a 1-byte payload"], seconds=2)
def one_byte_close(c, k):
    c.sendall(ok(k) + frame(8, b"\x03"))
    hold(c)


@case(1, ["exceeds the limit of 67108864 bytes"], seconds=5)
def endless_fragments(c, k):
    c.sendall(ok(k) + frame(2, b"a" * 1000, fin=False))
    try:
        for _ in range(1000):
            c.sendall(frame(0, b"a" * 100000, fin=False))
    except Exception:
        pass


@case(0, ["hi", "closed 1000"])
def non_minimal_length(c, k):
    c.sendall(ok(k) + bytes([0x81, 126, 0, 2]) + b"hi" + close_frame(1000))
    answer_close(c)


@case(0, ["closed 1000"])
def data_after_close(c, k):
    c.sendall(ok(k) + close_frame(1000) + frame(1, b"late") + frame(9, b"p") + close_frame(1002))
    answer_close(c, echo=False)


# permessage-deflate.
@case(0, ["first message", "second message", "closed 1000"])
def deflate_bfinal(c, k):
    c.sendall(ok(k, b"Sec-WebSocket-Extensions: permessage-deflate\r\n"))
    for text in (b"first message", b"second message"):
        body = deflate_final(text)
        c.sendall(bytes([0xC1, len(body)]) + body)
    c.sendall(close_frame(1000))
    answer_close(c)


@case(0, ["abc"])
def deflate_rfc_padding(c, k):
    # RFC 7692 7.2.3.4's example form: a BFINAL block, then one padding byte.
    c.sendall(ok(k, b"Sec-WebSocket-Extensions: permessage-deflate\r\n"))
    body = deflate_final(b"abc") + b"\x00"
    c.sendall(bytes([0xC1, len(body)]) + body + close_frame(1000))
    answer_close(c)


@case(0, ["[binary 40960000 bytes]", "closed 1000"], seconds=6)
def deflate_many_fragments(c, k):
    # 40 MB inflated from 2,488 small fragments: each append once copied the whole message so far
    # (15 s of CPU before; a quarter of a second now).
    c.sendall(ok(k, b"Sec-WebSocket-Extensions: permessage-deflate\r\n"))
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = (comp.compress(bytes(range(256)) * 160000) + comp.flush(zlib.Z_SYNC_FLUSH))[:-4]
    parts = [body[i:i + 64] for i in range(0, len(body), 64)]
    out = bytearray()
    for i, p in enumerate(parts):
        first, last = i == 0, i == len(parts) - 1
        out += bytes([(0x80 if last else 0) | (0x42 if first else 0), len(p)]) + p
    c.sendall(bytes(out) + close_frame(1000))
    answer_close(c, 20)


@case(1, ["permessage-deflate: corrupt compressed data"], seconds=2)
def deflate_garbage(c, k):
    c.sendall(ok(k, b"Sec-WebSocket-Extensions: permessage-deflate\r\n") + bytes([0xC1, 0x04]) + b"\xff\xff\xff\xff")
    hold(c)


@case(0, ["hello hello hello"])
def deflate_small_window(c, k):
    c.sendall(ok(k, b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9\r\n"))
    comp = zlib.compressobj(6, zlib.DEFLATED, -9)
    body = comp.compress(b"hello hello hello") + comp.flush(zlib.Z_SYNC_FLUSH)
    body = body[:-4]
    c.sendall(bytes([0xC1, len(body)]) + body + close_frame(1000))
    answer_close(c)


# TLS.
@case(1, ["invalid frame length"], seconds=2, tls=True)
def bad_frame_held(c, k):
    c.sendall(ok(k) + bytes([0x82, 127]) + struct.pack(">Q", 1 << 63))
    hold(c)


@case(1, ["(DECRYPTION_FAILED_OR_BAD_RECORD_MAC)"], seconds=2, tls=True)
def broken_record(c, k):
    c.sendall(ok(k))
    time.sleep(0.2)
    os.write(c.fileno(), b"\x17\x03\x03\x00\x10" + b"\x00" * 16)
    hold(c, 5)


@case(1, ["closed 1006 connection closed without a close frame"], seconds=2, tls=True)
def close_notify_after_101(c, k):
    c.sendall(ok(k))
    time.sleep(0.2)
    c.unwrap()
    hold(c, 5)


@case(0, ["closed 1000"], seconds=8, tls=True)
def close_without_tcp_end(c, k):
    # The server's close comes, but neither TCP's end nor a TLS close_notify: the client's close
    # timeout (5 s) is the whole wait, not 5 s more for close_notify.
    c.sendall(ok(k) + close_frame(1000))
    hold(c)


def serve(listener, tls_context, stop):
    while not stop.is_set():
        try:
            c, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=handle, args=(c, tls_context), daemon=True).start()


def handle(c, tls_context):
    try:
        if tls_context:
            c = tls_context.wrap_socket(c, server_side=True)
        d = b""
        while b"\r\n\r\n" not in d:
            x = c.recv(4096)
            if not x:
                return
            d += x
        head = d.split(b"\r\n\r\n")[0]
        path = head.split(b" ")[1].decode().lstrip("/")
        key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key")][0]
        name = ("tls-" if tls_context else "") + path
        if name in CASES:
            CASES[name][0](c, key)
    except Exception:
        pass
    finally:
        try:
            c.close()
        except Exception:
            pass


def listen():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    return s


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    netstack = sys.argv[1]
    wanted = sys.argv[2:] or sorted(CASES)
    unknown = [w for w in wanted if w not in CASES]
    if unknown:
        print("hostile_peers: unknown cases: " + ", ".join(unknown), file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="netstack-hostile-")
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
    tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls_context.load_cert_chain(cert, key)
    stop = threading.Event()
    plain, secure = listen(), listen()
    for listener, ctx in ((plain, None), (secure, tls_context)):
        threading.Thread(target=serve, args=(listener, ctx, stop), daemon=True).start()

    def run(name):
        _, args, status, words, seconds, tls = CASES[name]
        port = (secure if tls else plain).getsockname()[1]
        path = name[4:] if tls else name
        url = f"{'wss' if tls else 'ws'}://127.0.0.1:{port}/{path}"
        cmd = [netstack, "connect", "--no-color", "-w", "0.5", *args, *(["--ca", cert] if tls else []), url]
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace", timeout=30)
            rc, out = p.returncode, p.stdout + p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out = "timeout", ""
        took = time.monotonic() - t0
        problems = []
        if rc != status:
            problems.append(f"exit {rc}, expected {status}")
        problems += [f"no '{w}'" for w in words if w not in out]
        if ".cc:" in out or "/Sources/" in out:
            problems.append("a source path in the output")
        seconds *= float(os.environ.get("NETSTACK_HOSTILE_SLOWDOWN", "1"))
        if took > seconds:
            problems.append(f"took {took:.1f} s, at most {seconds:g} expected")
        return name, took, rc, problems, out

    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        for name, took, rc, problems, out in pool.map(run, wanted):
            verdict = "ok" if not problems else "FAIL: " + "; ".join(problems)
            print(f"{name:28} exit {str(rc):7} {took:5.1f} s  {verdict}")
            if problems:
                failed += 1
                print("    " + out.strip().replace("\n", "\n    "))
    stop.set()
    print(f"hostile peers: {len(wanted) - failed} ok, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
