#!/usr/bin/env python3
"""Drives `netstack connect URL` in a pseudo-terminal as a user would: types a message, a binary
message (shown back as a hex dump), a /ping,
the up arrow and Enter (the /ping again, from history), then /quit. Prints one JSON object:
{"status": exit status, "transcript": everything the terminal showed}.

    drive.py NETSTACK URL HISTORY_FILE [nocolor]"""
import json
import os
import pty
import select
import sys
import time


def main():
    binary, url, history = sys.argv[1:4]
    env = dict(os.environ, NETSTACK_HISTORY=history, TERM="xterm")
    env.pop("NO_COLOR", None)
    if len(sys.argv) > 4 and sys.argv[4] == "nocolor":
        env["NO_COLOR"] = "1"
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(binary, [binary, "connect", url], env)
    out = bytearray()

    def read_until(token, count=1, timeout=15):
        deadline = time.time() + timeout
        while out.count(token) < count:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
            if not ready:
                raise SystemExit("timed out waiting for %r; the terminal showed %r" % (token, bytes(out)))
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out.extend(data)

    def send(text):
        os.write(fd, text.encode())

    read_until(b"> ")
    send("hello\r")
    read_until(b"< hello")
    send("/binary 48 69 00 ff\r")
    read_until(b"|Hi..|")
    send("/ping\r")
    read_until(b"pong after")
    send("\x1b[A")          # up arrow: the last line from history
    time.sleep(0.2)
    send("\r")
    read_until(b"pong after", count=2)
    send("/quit\r")
    read_until(b"closed 1000")
    deadline = time.time() + 15
    status = None
    while time.time() < deadline:
        try:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                data = os.read(fd, 4096)
                if data:
                    out.extend(data)
        except OSError:
            pass
        done, code = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(code)
            break
    print(json.dumps({"status": status, "transcript": out.decode("utf-8", "replace")}))


if __name__ == "__main__":
    main()
