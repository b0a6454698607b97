"""Echo server on Python `websockets` for the interop tests.

Usage: websockets_echo_server.py [--no-compression]
Prints `PORT <n>` once listening on 127.0.0.1; echoes every message with its type;
`/close` closes with 4000 "python bye" right away. Stops when stdin closes.
"""
import asyncio
import sys

from websockets.asyncio.server import serve


async def handler(ws):
    if ws.request.path == "/close":
        await ws.close(4000, "python bye")
        return
    async for message in ws:
        await ws.send(message)


async def main():
    compression = None if "--no-compression" in sys.argv else "deflate"
    async with serve(handler, "127.0.0.1", 0, compression=compression, max_size=16 * 1024 * 1024) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


asyncio.run(main())
