#!/usr/bin/python3
"""ws_peer.py - a real WebSocket exchange (Debian's python3-websockets) for httpmon's tests.

  ws_peer.py server --listen ADDR:PORT
      An echo server: every message comes back as it was sent (text as text,
      binary as binary).  The text message "ALIGNED N" is answered by N text
      messages of 48 MSS each (the connection's TCP_MAXSEG) built so that,
      wherever TCP cuts the message at a multiple of the MSS from the start
      of its frame, the cut falls at the start of a fake HTTP start line
      (the first message "HTTP/1.1 500 Oops...", the second "GET /
      HTTP/1.1...", the third both in turn, and so on), then by
      "ALIGNED-DONE".
      Prints "ready" once it listens; serves until SIGTERM.
  ws_peer.py client --uri ws://ADDR:PORT/PATH [--rounds N] [--out FILE]
      One connection: the opening handshake (GET with Upgrade: websocket,
      answered 101), then N rounds of messages, each echoed and checked:
      text that looks like HTTP ("GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n",
      "HTTP/1.1 500 Oops\\r\\nContent-Length: 0\\r\\n\\r\\n"), a small text, a
      5,000-byte text of fake responses and a 100,000-byte binary message
      (both larger than the MSS); then "ALIGNED 3"; then the closing
      handshake.  Writes {"messages_sent", "messages_received",
      "payload_sent", "payload_received", "aligned_received", "errors"}.

Compression (permessage-deflate) is off on both sides, so the payload goes
on the wire as written (the client's frames are masked, as RFC 6455 says).
Exit status 0 on success, 1 on any failure (the JSON is still written).
"""

import argparse
import asyncio
import json
import signal
import socket
import sys

import websockets

FAKE_RESPONSE = "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n"
FAKE_REQUEST = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def aligned_message(mss, variant):
    """48 MSS of text with a fake start line at every MSS boundary of its frame.

    Larger than 64 KiB, so that even a GSO super-packet (the monitor's view
    on the server's egress) ends inside it, at a multiple of the MSS."""
    count = 48
    length = count * mss
    hdr = 10  # a frame of more than 65535 payload bytes: 2 bytes + a 64-bit length
    text = bytearray(b"w" * length)
    for k in range(1, count):
        # variant 0: fake responses only, 1: fake requests only, 2: both in turn
        fake = (FAKE_RESPONSE if variant == 0 or (variant == 2 and k % 2) else FAKE_REQUEST).encode()
        off = k * mss - hdr
        text[off:off + len(fake)] = fake
    return text.decode()


async def serve(args):
    host, _, port = args.listen.rpartition(":")
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)

    async def handler(ws):
        sock = ws.transport.get_extra_info("socket")
        async for msg in ws:
            if isinstance(msg, str) and msg.startswith("ALIGNED "):
                mss = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
                for i in range(int(msg.split()[1])):
                    await ws.send(aligned_message(mss, i % 3))
                    await asyncio.sleep(0.05)  # each message leaves as its own write
                await ws.send("ALIGNED-DONE")
            else:
                await ws.send(msg)

    async with websockets.serve(handler, host.strip("[]"), int(port), compression=None,
                                max_size=1 << 20):
        print("ready", flush=True)
        await stop


async def client(args):
    out = {"messages_sent": 0, "messages_received": 0, "payload_sent": 0,
           "payload_received": 0, "aligned_received": 0, "errors": []}
    big_text = FAKE_RESPONSE * (5000 // len(FAKE_RESPONSE) + 1)
    big_bin = ((FAKE_REQUEST + FAKE_RESPONSE) * 1600).encode()[:100_000]
    messages = [FAKE_REQUEST, FAKE_RESPONSE, "hello", big_text[:5000], big_bin]

    def size(m):
        return len(m.encode()) if isinstance(m, str) else len(m)

    try:
        async with websockets.connect(args.uri, compression=None, max_size=1 << 20,
                                      open_timeout=10, close_timeout=10) as ws:
            for _ in range(args.rounds):
                for m in messages:
                    await ws.send(m)
                    out["messages_sent"] += 1
                    out["payload_sent"] += size(m)
                    echo = await asyncio.wait_for(ws.recv(), 10)
                    out["messages_received"] += 1
                    out["payload_received"] += size(echo)
                    if echo != m:
                        raise RuntimeError(f"echo of a {size(m)}-byte message differs")
            await ws.send("ALIGNED 3")
            out["messages_sent"] += 1
            out["payload_sent"] += len("ALIGNED 3")
            while True:
                msg = await asyncio.wait_for(ws.recv(), 10)
                out["messages_received"] += 1
                out["payload_received"] += size(msg)
                if msg == "ALIGNED-DONE":
                    break
                if FAKE_RESPONSE not in msg and FAKE_REQUEST not in msg:
                    raise RuntimeError("an aligned message without its fake start lines")
                out["aligned_received"] += 1
    except (OSError, RuntimeError, asyncio.TimeoutError, websockets.WebSocketException) as e:
        out["errors"].append(f"{type(e).__name__}: {e}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=("server", "client"))
    ap.add_argument("--listen", metavar="ADDR:PORT")
    ap.add_argument("--uri")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.mode == "server":
        if not args.listen:
            ap.error("server needs --listen")
        asyncio.run(serve(args))
        return 0
    if not args.uri:
        ap.error("client needs --uri")
    out = asyncio.run(client(args))
    text = json.dumps(out, indent=1, sort_keys=True)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    for e in out["errors"]:
        print(f"ws_peer.py: {e}", file=sys.stderr)
    return 1 if out["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
