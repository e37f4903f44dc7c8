#!/usr/bin/env python3
"""sockh_client.py - clients for the socket-source tests that curl cannot be:
each prints one JSON line of what it sent and received (its ground truth).

  pipeline3 --port P PATH1 PATH2 PATH3
      one connection, three GET requests in one write (pipelined), then reads
      until the server closes: {"sent", "received", "responses"} (responses:
      status lines read).
  pipeline --port P [--half-close] PATH...
      one connection, a GET per PATH, all in one write (then, with
      --half-close, shutdown(SHUT_WR): the server reads the end); reads as many
      responses (each with a Content-Length) and closes: {"sent", "received",
      "responses", "statuses"}.
  crlf --port P
      one connection: an empty line, then a GET; a POST whose body is
      followed by an empty line; a GET: {"sent", "received", "responses",
      "statuses"}.
  line --port P --lines N [--styles LIST]
      one connection per style, N lines each: json ({"op": ...}), smtp
      ("EHLO host", "NOOP n"), memcache ("get keyN", "set keyN 0 0 5"),
      redis inline ("PING", "GET keyN"); default json,smtp; each line waits
      for its reply line:
      {"sent", "received", "replies"}.
  mid --port P --body N --ready FILE --go FILE [--go2 FILE]
      one keep-alive connection: a GET answered; then a POST of an N-byte body
      whose head and first quarter are sent, "part1" written to FILE (--ready),
      and, once the file --go exists, the rest in three pieces; its response
      read, "posted" to FILE; with --go2, once that file exists, one more GET
      (/mid/joined) on the same connection ("joined": its bytes and status);
      then "done" to FILE.  The body holds five request lines
      ("GET /mid/phantom HTTP/1.1") inside the pieces, none at a piece's
      start; its other bytes start no token.  --body at most 240000 (pieces
      under 64 KiB).  {"sent", "received", "statuses"}.
"""
import argparse
import json
import os
import socket
import sys
import time


def read_response(sock, buf):
    """(status, raw, rest) of one response with a Content-Length from sock."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed in a response head")
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(rest) < length:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed in a response body")
        rest += data
    status = int(head.split(b" ")[1])
    end = len(head) + 4 + length
    return status, buf[:end], buf[end:]


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=20)


def pipeline3(a):
    s = connect(a.port)
    req = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p in a.paths)
    s.sendall(req)
    got = b""
    while True:
        data = s.recv(65536)
        if not data:
            break
        got += data
    s.close()
    return {"sent": len(req), "received": len(got), "responses": got.count(b"HTTP/1.1 ")}


def pipeline(a):
    s = connect(a.port)
    req = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p in a.paths)
    s.sendall(req)
    if a.half_close:
        s.shutdown(socket.SHUT_WR)
    buf, received, statuses = b"", 0, []
    for _ in a.paths:
        st, raw, buf = read_response(s, buf)
        statuses.append(st)
        received += len(raw)
    s.close()
    return {"sent": len(req), "received": received, "responses": len(statuses),
            "statuses": statuses}


LINES = {
    "json": lambda i: b'{"op": "ping", "n": %d}\n' % i,
    "smtp": lambda i: b"EHLO host%d\n" % i if i == 0 else b"NOOP %d\n" % i,
    "memcache": lambda i: b"get key%d\r\n" % i if i % 2 == 0 else b"set key%d 0 0 5\r\n" % i,
    "redis": lambda i: b"PING\r\n" if i == 0 else b"GET key%d\r\n" % i,
}


def crlf(a):
    """Empty lines where RFC 9112 2.2 says a server should ignore them."""
    s = connect(a.port)
    sent = received = 0
    statuses = []
    buf = b""
    reqs = [
        # before the first request line of a connection
        b"\r\nGET /crlf/first HTTP/1.1\r\nHost: x\r\n\r\n",
        # after a POST's body, as old browsers send it
        b"POST /crlf/post HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\r\n",
        b"GET /crlf/after HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    for req in reqs:
        s.sendall(req)
        sent += len(req)
        st, raw, buf = read_response(s, buf)
        statuses.append(st)
        received += len(raw)
        time.sleep(0.05)
    s.close()
    return {"sent": sent, "received": received, "responses": len(statuses), "statuses": statuses}


def line(a):
    out = {"sent": 0, "received": 0, "replies": 0}
    for style in a.styles.split(","):
        s = connect(a.port)
        f = s.makefile("rb")
        for i in range(a.lines):
            msg = LINES[style](i)
            s.sendall(msg)
            out["sent"] += len(msg)
            reply = f.readline()
            if not reply:
                raise ConnectionError("no reply")
            out["received"] += len(reply)
            out["replies"] += 1
        f.close()
        s.close()
    return out


def mid(a):
    s = connect(a.port)
    sent = received = 0
    statuses = []
    req = b"GET /mid/first HTTP/1.1\r\nHost: x\r\n\r\n"
    s.sendall(req)
    sent += len(req)
    st, raw, buf = read_response(s, b"")
    statuses.append(st)
    received += len(raw)
    # The body: bytes that start no token (so no offset of it starts a
    # message), with five request lines inside, each in the middle of a piece.
    n = a.body
    q = n // 4
    body = bytearray((b"<>{}()[]\n" * (n // 9 + 1))[:n])
    fake = b"GET /mid/phantom HTTP/1.1\r\nHost: x\r\n\r\n"
    for k in range(5):
        at = (k % 4) * q + q // 2 + k * 101
        body[at:at + len(fake)] = fake
    body = bytes(body)
    head = b"POST /mid/post HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    s.sendall(head + body[:q])
    sent += len(head) + q
    with open(a.ready, "w") as f:
        f.write("part1\n")
    deadline = time.time() + 30
    while not os.path.exists(a.go):
        if time.time() > deadline:
            raise TimeoutError("no go file")
        time.sleep(0.05)
    # Each piece after a pause: the server, waiting in its read, takes it from its start.
    for k in (1, 2, 3):
        piece = body[k * q:(k + 1) * q] if k < 3 else body[3 * q:]
        s.sendall(piece)
        sent += len(piece)
        time.sleep(0.1)
    st, raw, buf = read_response(s, buf)
    statuses.append(st)
    received += len(raw)
    with open(a.ready, "a") as f:
        f.write("posted\n")
    # Then, once --go2 exists, one more request on the same connection.
    joined = {}
    if a.go2:
        deadline = time.time() + 30
        while not os.path.exists(a.go2):
            if time.time() > deadline:
                raise TimeoutError("no go2 file")
            time.sleep(0.05)
        req = b"GET /mid/joined HTTP/1.1\r\nHost: x\r\n\r\n"
        s.sendall(req)
        st, raw, buf = read_response(s, buf)
        joined = {"sent": len(req), "received": len(raw), "status": st}
    s.close()
    with open(a.ready, "a") as f:
        f.write("done\n")
    return {"sent": sent, "received": received, "statuses": statuses, "joined": joined}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pipeline3")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("paths", nargs=3)
    p = sub.add_parser("pipeline")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--half-close", action="store_true", help="shutdown(SHUT_WR) after the requests")
    p.add_argument("paths", nargs="+")
    p = sub.add_parser("crlf")
    p.add_argument("--port", type=int, required=True)
    p = sub.add_parser("line")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--lines", type=int, default=5)
    p.add_argument("--styles", default="json,smtp", help="of " + ",".join(LINES))
    p = sub.add_parser("mid")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--body", type=int, default=200000)
    p.add_argument("--ready", required=True)
    p.add_argument("--go", required=True)
    p.add_argument("--go2")
    a = ap.parse_args()
    out = {"pipeline3": pipeline3, "pipeline": pipeline, "crlf": crlf, "line": line,
           "mid": mid}[a.cmd](a)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
