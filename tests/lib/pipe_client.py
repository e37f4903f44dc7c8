#!/usr/bin/env python3
"""pipe_client.py - a pipelining HTTP/1.1 client that counts every byte it
sends and receives: ground truth for the socket source's tests.

On each of --conns connections (one after the other) it sends --n GET
requests for the --paths in turn (cycling) in one sendall(), then reads the
--n responses (status line, headers, Content-Length body), then closes.
The requests carry a Host header and nothing else; a response's body is
framed by Content-Length or chunked (no body for 1xx, 204, 304).

Its record (--out FILE, JSON lines, one per request, appended):
  {"port", "path", "status", "req_bytes", "resp_bytes"}
req_bytes: the request's bytes as sent; resp_bytes: its response's bytes as
received, headers and body.  Exits 1 when a response is missing or
malformed.

With --split K --pause-ms MS it sends each request alone instead (no
pipelining, TCP_NODELAY): its first K bytes, then MS ms later the rest,
then reads its response; the record then also holds the client's clock
(time.monotonic_ns): "t_first_sent" (before the send of the first bytes),
"t_last_sent" (after the send of the rest) and "t_first_recv" (when the
first response bytes came).

With --abandon, each connection carries one request, and the client
closes it at once without reading (its record has status 0): the server
answers a connection its client has closed.

Usage: pipe_client.py --target 127.0.0.1:18111 --paths /a/ok,/a/big
                      [--n 8] [--conns 2] [--split K --pause-ms MS | --abandon]
                      --out FILE
"""

import argparse
import json
import socket
import sys
import time


def recv(sock):
    data = sock.recv(65536)
    if not data:
        raise EOFError("connection closed inside a chunked body")
    return data


def read_response(sock, buf):
    """(status, bytes, rest of buf) of the next response in sock's stream."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise EOFError("connection closed before a response's headers")
        buf += data
    end = buf.index(b"\r\n\r\n") + 4
    head = buf[:end].decode("latin-1").split("\r\n")
    status = int(head[0].split(" ")[1])
    clen = None
    chunked = False
    for line in head[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            clen = int(v.strip())
        if k.strip().lower() == "transfer-encoding" and v.strip().lower() == "chunked":
            chunked = True
    if status in (204, 304) or status < 200:
        clen = 0
    elif chunked:
        pos = end
        while True:  # the chunks as they are on the wire: size line, data, CRLF
            while b"\r\n" not in buf[pos:]:
                buf += recv(sock)
            eol = buf.index(b"\r\n", pos)
            size = int(buf[pos:eol].split(b";")[0], 16)
            pos = eol + 2 + size + 2
            while len(buf) < pos:
                buf += recv(sock)
            if size == 0:
                break
        clen = pos - end
    if clen is None:
        raise ValueError("a response without Content-Length")
    while len(buf) < end + clen:
        data = sock.recv(65536)
        if not data:
            raise EOFError("connection closed inside a body")
        buf += data
    return status, end + clen, buf[end + clen:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", required=True)
    ap.add_argument("--paths", required=True)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--conns", type=int, default=2)
    ap.add_argument("--out", required=True)
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--split", type=int, default=0)
    ap.add_argument("--abandon", action="store_true")
    ap.add_argument("--pause-ms", type=float, default=20)
    args = ap.parse_args()
    host, _, port = args.target.rpartition(":")
    port = int(port)
    paths = args.paths.split(",")
    k = 0
    with open(args.out, "a") as out:
        for _ in range(args.conns):
            sock = socket.create_connection((host, port), timeout=args.timeout)
            if args.abandon:
                path = paths[k % len(paths)]
                k += 1
                r = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
                sock.sendall(r)
                sock.close()
                out.write(json.dumps({"port": port, "path": path, "status": 0,
                                      "req_bytes": len(r), "resp_bytes": 0}) + "\n")
                time.sleep(0.05)
                continue
            if args.split:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                buf = b""
                for _ in range(args.n):
                    path = paths[k % len(paths)]
                    k += 1
                    r = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
                    t0 = time.monotonic_ns()
                    sock.sendall(r[:args.split])
                    time.sleep(args.pause_ms / 1000)
                    sock.sendall(r[args.split:])
                    t1 = time.monotonic_ns()
                    buf = sock.recv(65536)
                    t2 = time.monotonic_ns()
                    if not buf:
                        raise EOFError("connection closed before a response")
                    status, n, buf = read_response(sock, buf)
                    out.write(json.dumps({"port": port, "path": path, "status": status,
                                          "req_bytes": len(r), "resp_bytes": n,
                                          "t_first_sent": t0, "t_last_sent": t1,
                                          "t_first_recv": t2}) + "\n")
                sock.close()
                continue
            reqs = []
            for _ in range(args.n):
                path = paths[k % len(paths)]
                k += 1
                reqs.append((path, f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()))
            sock.sendall(b"".join(r for _, r in reqs))
            buf = b""
            for path, r in reqs:
                status, n, buf = read_response(sock, buf)
                out.write(json.dumps({"port": port, "path": path, "status": status,
                                      "req_bytes": len(r), "resp_bytes": n}) + "\n")
            if buf:
                print(f"pipe_client: {len(buf)} bytes after the last response", file=sys.stderr)
                return 1
            sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
