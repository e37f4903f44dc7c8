#!/usr/bin/env python3
"""sock_server.py - an HTTP/1.1 test server whose every system call is known,
with its own record of each exchange: the ground truth for the socket source.

One process, one thread, a selector loop over blocking sockets (accept and
read when readable; writes block until done).  Keep-alive with
Content-Length on every response; pipelined requests are answered in order;
a request with "Connection: close" is answered with it and the connection
closed.  Request bodies (Content-Length) are read and counted.

Modes (--mode), so each family of calls is covered:
  plain  reads alternate os.read() (read(2)) and socket.recv() (recvfrom(2));
         writes alternate os.write() (write(2)) and socket.send()
         (sendto(2)), headers and body in one buffer;
  vec    reads alternate os.readv() (readv(2)) and socket.recvmsg_into()
         (recvmsg(2)), each into two buffers, the first --iov-first bytes
         long (default 7) so a request line spans two iovec pieces; writes alternate os.writev()
         and socket.sendmsg() with the headers and the body as separate
         buffers.

Answers, by the last path segment (any prefix, query ignored):
  ok        200, 100 bytes       big    200, 48 KiB
  missing   404, 20 bytes        fail   500, 30 bytes
  slow      200, 10 bytes after sleeping 3 ms
  empty     200, no body (Content-Length: 0)
  file      200, 20000 bytes: the headers written as the mode writes, the
            body with os.sendfile() (sendfile(2)) from a file
  spliced   200, 20000 bytes: the body with os.splice() (splice(2)) from a
            pipe
  nocontent 204, no Content-Length, no body
  chunked   200, Transfer-Encoding: chunked, three chunks and the last one,
            each in a write of its own
  dribble   200, 50 bytes: the head written a line per write, the body in
            two writes
  drop      no answer: the connection is closed (recorded with status 0)
  anything else: 404, 9 bytes
HEAD is answered like GET without the body.  A request with "Expect:
100-continue" whose body has not come yet gets "HTTP/1.1 100 Continue"
first (its bytes count as the request's response bytes; its time is not
the response's).  --read-size N makes every read ask for at most N bytes
(plain mode), so requests come in many reads.  --first-read N
--pause-ms MS: the first read of each request (nothing of it in hand yet)
asks for N bytes only, and the next read comes MS ms later: the request's
first bytes were returned that long before the rest.  --first-write N
--pause-ms MS: each response's first write holds its first N bytes, the
next one comes MS ms later (TCP_NODELAY: each goes out at once).
  echo      200, the request body's length in decimal

The record (--record FILE, JSON lines, appended and flushed per response):
  {"port", "pid", "method", "path", "status", "req_bytes", "resp_bytes",
   "t_read_ns", "t_write_ns", "latency_ns"}
t_read_ns is time.monotonic_ns() right after the read that returned the
request's first byte returned; t_write_ns right before the first write of
its response was called; resp_bytes is what the writes of that response
returned (a response whose write failed is recorded with status 0: not
answered).  At exit (SIGTERM), --totals FILE gets per port the bytes every
read returned and every write wrote: {"PORT": {"read": N, "written": N}}.

Usage: sock_server.py --listen 127.0.0.1:18111 [--listen ...] --mode plain
                      --record FILE --totals FILE
Prints "ready PID" on stdout once it listens.
"""

import argparse
import json
import os
import selectors
import signal
import socket
import sys
import tempfile
import time

BODIES = {
    "ok": (200, b"o" * 100),
    "big": (200, bytes(i % 251 for i in range(48 * 1024))),
    "missing": (404, b"m" * 20),
    "fail": (500, b"f" * 30),
    "slow": (200, b"s" * 10),
    "dribble": (200, b"d" * 50),
    "chunked": (200, b""),  # its chunks are written apart
    "nocontent": (204, b""),
    "empty": (200, b""),
}
FILE_BODY = bytes((i * 7) % 256 for i in range(20000))
REASONS = {200: "OK", 204: "No Content", 404: "Not Found", 500: "Internal Server Error"}
MAX_HEAD = 64 * 1024


class Conn:
    def __init__(self, sock, port):
        self.sock = sock
        self.fd = sock.fileno()
        self.port = port
        self.buf = bytearray()
        self.chunks = []  # [bytes left in buf from that read, its time]
        self.nreads = 0
        self.nwrites = 0
        self.continued = 0  # bytes of a 100 Continue sent for the request in buf


class Server:
    def __init__(self, args):
        self.mode = args.mode
        self.read_size = args.read_size
        self.first_read = args.first_read
        self.first_write = args.first_write
        self.iov_first = args.iov_first
        self.pause = args.pause_ms / 1000
        self.sel = selectors.DefaultSelector()
        self.record = open(args.record, "a", buffering=1)
        self.totals_path = args.totals
        self.totals = {}
        self.pid = os.getpid()
        self.file = tempfile.TemporaryFile()
        self.file.write(FILE_BODY)
        self.file.flush()
        for spec in args.listen:
            host, _, port = spec.rpartition(":")
            ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind((host, int(port)))
            ls.listen(128)
            self.sel.register(ls, selectors.EVENT_READ, ("listen", int(port)))
            self.totals[int(port)] = {"read": 0, "written": 0}

    # -- the system calls -------------------------------------------------
    def read(self, c):
        if self.first_read and not c.buf:
            data = os.read(c.fd, self.first_read)
            if data:
                c.chunks.append([len(data), time.monotonic_ns()])
                c.buf += data
                self.totals[c.port]["read"] += len(data)
                time.sleep(self.pause)
            else:
                return data
        if self.mode == "plain":
            if c.nreads % 2 == 0:
                data = os.read(c.fd, self.read_size)
            else:
                data = c.sock.recv(self.read_size)
        else:
            b1, b2 = bytearray(self.iov_first), bytearray(65536 - self.iov_first)
            if c.nreads % 2 == 0:
                n = os.readv(c.fd, [b1, b2])
            else:
                n, _, _, _ = c.sock.recvmsg_into([b1, b2])
            data = bytes((b1 + b2)[:n])
        c.nreads += 1
        return data

    def write(self, c, head, body, how=None):
        """Writes head + body (how: "sendfile" or "splice" for the body); returns the bytes written."""
        if how:
            done = self.write(c, head, b"")
            if how == "sendfile":
                off = 0
                while off < len(body):
                    off += os.sendfile(c.fd, self.file.fileno(), off, len(body) - off)
            else:
                r, w = os.pipe()
                try:
                    os.write(w, body)
                    off = 0
                    while off < len(body):
                        off += os.splice(r, c.fd, len(body) - off)
                finally:
                    os.close(r)
                    os.close(w)
            return done + off
        done = 0
        total = len(head) + len(body)
        while done < total:
            if self.mode == "plain":
                if c.nwrites % 2 == 0:
                    n = os.write(c.fd, (head + body)[done:])
                else:
                    n = c.sock.send((head + body)[done:])
                c.nwrites += 1
            else:
                rest = [head[done:], body[max(0, done - len(head)):]] if done < len(head) \
                    else [body[done - len(head):]]
                rest = [r for r in rest if r] or [b""]
                if c.nwrites % 2 == 0:
                    n = os.writev(c.fd, rest)
                else:
                    n = c.sock.sendmsg(rest)
                c.nwrites += 1
            done += n
        return done

    # -- HTTP -------------------------------------------------------------
    def take(self, c, n):
        """Consumes n bytes of c.buf; returns the time of the read that returned the first."""
        t = c.chunks[0][1]
        del c.buf[:n]
        while n > 0:
            k = min(n, c.chunks[0][0])
            c.chunks[0][0] -= k
            n -= k
            if c.chunks[0][0] == 0:
                c.chunks.pop(0)
        return t

    def serve(self, c):
        """Answers every complete request in c.buf; False when the connection is to close."""
        while True:
            end = c.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(c.buf) > MAX_HEAD:
                    return False
                return True
            head = bytes(c.buf[:end]).decode("latin-1")
            lines = head.split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            hdrs = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                hdrs[k.strip().lower()] = v.strip()
            clen = int(hdrs.get("content-length", "0"))
            total = end + 4 + clen
            if len(c.buf) < total:
                if hdrs.get("expect", "").lower() == "100-continue" and not c.continued:
                    c.continued = self.write(c, b"HTTP/1.1 100 Continue\r\n\r\n", b"")
                    self.totals[c.port]["written"] += c.continued
                return True
            body_in = bytes(c.buf[end + 4:total])
            t_read = self.take(c, total)
            path = target.split("?", 1)[0]
            name = path.rstrip("/").rsplit("/", 1)[-1]
            how = None
            if name == "drop":  # no answer: the connection is closed
                self.record.write(json.dumps({
                    "port": c.port, "pid": self.pid, "method": method, "path": path,
                    "status": 0, "req_bytes": total, "resp_bytes": 0}) + "\n")
                return False
            if name == "echo":
                status, body = 200, str(len(body_in)).encode()
            elif name in ("file", "spliced"):
                status, body = 200, FILE_BODY
                how = "sendfile" if name == "file" else "splice"
            else:
                status, body = BODIES.get(name, (404, b"not found"))
            if name == "slow":
                time.sleep(0.003)
            close = hdrs.get("connection", "").lower() == "close"
            framing = f"Content-Length: {len(body)}\r\n"
            if name == "nocontent":
                status, body, framing = 204, b"", ""
            elif name == "chunked":
                framing = "Transfer-Encoding: chunked\r\n"
            rh = (f"HTTP/1.1 {status} {REASONS[status]}\r\n"
                  f"Content-Type: application/octet-stream\r\n" + framing
                  + ("Connection: close\r\n" if close else "") + "\r\n").encode()
            if method == "HEAD":
                body, how = b"", None
            t_write = time.monotonic_ns()
            try:
                n0 = 0
                if self.first_write:
                    n0 = self.write(c, rh[:self.first_write], b"")
                    time.sleep(self.pause)
                    rh = rh[self.first_write:]
                if name == "chunked" and method != "HEAD":
                    n = self.write(c, rh, b"")
                    for piece in (b"a" * 10, b"b" * 300, b"c" * 5000):
                        n += self.write(c, b"%x\r\n" % len(piece) + piece + b"\r\n", b"")
                    n += self.write(c, b"0\r\n\r\n", b"")
                elif name == "dribble" and method != "HEAD":
                    n = 0
                    for line in rh.split(b"\r\n")[:-1]:
                        n += self.write(c, line + b"\r\n", b"")
                    n += self.write(c, body[:20], b"") + self.write(c, body[20:], b"")
                else:
                    n = self.write(c, rh, body, how)
                n += n0
            except OSError:
                n = 0
            self.totals[c.port]["written"] += n
            n += c.continued
            c.continued = 0
            self.record.write(json.dumps({
                "port": c.port, "pid": self.pid, "method": method, "path": path,
                "status": status if n else 0, "req_bytes": total, "resp_bytes": n,
                "t_read_ns": t_read, "t_write_ns": t_write,
                "latency_ns": t_write - t_read}) + "\n")
            if close or n == 0:
                return False

    def run(self):
        print(f"ready {self.pid}", flush=True)
        while True:
            for key, _ in self.sel.select():
                kind, port = key.data if isinstance(key.data, tuple) else ("conn", None)
                if kind == "listen":
                    s, _ = key.fileobj.accept()
                    s.setblocking(True)
                    if self.first_write:  # each part of a response its own segment, at once
                        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self.sel.register(s, selectors.EVENT_READ, Conn(s, port))
                    continue
                c = key.data
                try:
                    data = self.read(c)
                except OSError:
                    data = b""
                if data:
                    c.chunks.append([len(data), time.monotonic_ns()])
                    c.buf += data
                    self.totals[c.port]["read"] += len(data)
                if not data or not self.serve(c):
                    self.sel.unregister(c.sock)
                    c.sock.close()

    def write_totals(self):
        if self.totals_path:
            with open(self.totals_path, "w") as f:
                json.dump({str(p): v for p, v in self.totals.items()}, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", action="append", required=True)
    ap.add_argument("--mode", choices=("plain", "vec"), default="plain")
    ap.add_argument("--record", required=True)
    ap.add_argument("--totals")
    ap.add_argument("--read-size", type=int, default=65536)
    ap.add_argument("--first-read", type=int, default=0)
    ap.add_argument("--first-write", type=int, default=0)
    ap.add_argument("--iov-first", type=int, default=7)
    ap.add_argument("--pause-ms", type=float, default=0)
    args = ap.parse_args()
    srv = Server(args)

    def stop(*_):
        srv.write_totals()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    srv.run()


if __name__ == "__main__":
    sys.exit(main())
