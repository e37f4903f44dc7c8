#!/usr/bin/env python3
"""edge_client.py - HTTP exchanges at the edges of HTTP/1.x, with a byte-exact truth.

One TCP connection per run, raw sockets: every byte sent and received on it is
counted, so the truth covers what no HTTP client library reports (the bytes of
a CONNECT tunnel).  Modes:

  connect   --target PROXY:PORT --authority HOST:PORT [--paths P1,P2,...]
            [--after PATHS]
            Sends "CONNECT HOST:PORT HTTP/1.1" to the proxy.  On a 2xx answer
            the connection is a tunnel to HOST:PORT: the --paths are sent
            through it as GET requests, one after the other on one
            keep-alive connection to the origin, each answer read to its end;
            then the client half-closes and reads until the proxy closes.
            On any other answer the refusal is read to its end (its
            Content-Length, or the proxy's close); if the proxy keeps the
            connection open, the --after paths are sent on it as ordinary
            requests (origin-form, Host: HOST:PORT) and their answers read.
  sequence  --target ADDR:PORT --req SPEC [--req SPEC...]
            Sends the requests in turn on one keep-alive connection, each
            after the previous answer was read to its end.  SPEC is
            "METHOD TARGET" with optional header lines after "|", e.g.
            "GET /|Connection: Upgrade|Upgrade: websocket".  A CONNECT here
            must be refused (a 2xx would make it a tunnel: use connect).
  v09       --target ADDR:PORT --line "GET /"
            Sends LINE and CRLF, a version-less (HTTP/0.9 style) request,
            and reads the answer until the server closes.

Output (stdout or --out FILE): client.py's format, so compare.py reads it:
  {"source", "per_port": {PORT: {"requests", "responses", "status":
  {"1xx".."5xx"}, "bytes_in", "bytes_out", "latency_us"...}}, "total",
  "elapsed_s", "errors"}
where bytes_in is every byte this client sent on the connection and
bytes_out every byte it received, and requests/responses are the HTTP/1.x
messages it exchanged with the server it connected to (connect: the CONNECT
and, after a refusal, the --after requests; the tunnelled exchange is listed
apart under "tunnel", since the proxy only relays it).  Also "status_codes"
(the final statuses in order), "closed_by_server" (the server closed first)
and, for connect, "connect_status".

Exit status 0 when every request got a well-formed answer (v09: the server
answered and closed), 1 otherwise (the JSON is still written), 2 on bad usage.
"""

import argparse
import json
import socket
import sys
import time

from client import (ProtocolError, Request, ResponseParser, add_request, finish_agg, new_agg,
                    parse_target)


class Conn:
    """A socket that counts every byte it sends and receives."""

    def __init__(self, target, timeout):
        host, port, version = target
        family = socket.AF_INET6 if version == 6 else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.connect((host, port))
        self.source = self.sock.getsockname()[0]
        self.sent = self.received = 0
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)
        self.sent += len(data)

    def recv(self):
        data = self.sock.recv(1 << 18)
        self.received += len(data)
        if not data:
            self.eof = True
        return data

    def close(self):
        self.sock.close()


def request_bytes(method, target, host, headers=()):
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "User-Agent: httpmon-test"]
    lines += list(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def exchange(conn, req, parser):
    """Sends req.raw and reads until its final answer ended; timing as client.py."""
    req.t_send = time.monotonic_ns()
    conn.send(req.raw)
    queue = [req]
    while queue:
        data = conn.recv()
        now = time.monotonic_ns()
        parser.feed(data, now, queue, eof=not data)
        if not data and queue:
            raise ProtocolError(f"{req.method} {req.raw.split(b' ')[1].decode()}: "
                                "connection closed before the answer ended")


def read_head(conn, buf=b""):
    """Reads up to the end of a response head; returns (head, rest)."""
    while b"\r\n\r\n" not in buf:
        data = conn.recv()
        if not data:
            raise ProtocolError("connection closed inside a response head")
        buf += data
        if len(buf) > 65536:
            raise ProtocolError("response head longer than 64 KiB")
    end = buf.index(b"\r\n\r\n") + 4
    return buf[:end], buf[end:]


def drain(conn):
    """Reads until the peer closes."""
    while conn.recv():
        pass


def run_connect(args, target, doc):
    conn = Conn(target, args.timeout)
    doc["source"] = conn.source
    port = target[1]
    agg, tunnel = new_agg(), new_agg()
    records = []
    try:
        raw = request_bytes("CONNECT", args.authority, args.authority)
        creq = Request(port, "CONNECT", raw)
        creq.t_send = time.monotonic_ns()
        conn.send(raw)
        head, rest = read_head(conn)
        creq.t_first = time.monotonic_ns()
        status = int(head.split(b" ", 2)[1])
        doc["connect_status"] = status
        if 200 <= status < 300:
            # A tunnel: the answer has no body (RFC 9110, 9.3.6).
            creq.nrecv, creq.status, creq.done = len(head), status, True
            records.append(creq)
            if rest:
                raise ProtocolError(f"{len(rest)} bytes after the CONNECT answer, before "
                                    "any request went through the tunnel")
            parser = ResponseParser()
            for path in args.paths:
                req = Request(port, "GET", request_bytes("GET", path, args.authority))
                exchange(conn, req, parser)
                add_request(tunnel, req)
                doc["status_codes_tunnel"].append(req.status)
            conn.sock.shutdown(socket.SHUT_WR)
            drain(conn)
            doc["closed_by_server"] = False
        else:
            # A refusal, framed like any answer (Content-Length or close).
            parser = ResponseParser()
            queue = [creq]
            parser.feed(head + rest, creq.t_first, queue)
            while queue:
                data = conn.recv()
                parser.feed(data, time.monotonic_ns(), queue, eof=not data)
                if not data and queue:
                    raise ProtocolError("connection closed inside the refusal")
            records.append(creq)
            if not conn.eof and args.after:
                for path in args.after:
                    req = Request(port, "GET", request_bytes("GET", path, args.authority))
                    exchange(conn, req, parser)
                    records.append(req)
                conn.sock.shutdown(socket.SHUT_WR)
                drain(conn)
                doc["closed_by_server"] = False
            else:
                # The proxy closes after its refusal (Connection: close).
                conn.sock.shutdown(socket.SHUT_WR)
                drain(conn)
                doc["closed_by_server"] = True
    except (ProtocolError, OSError) as e:
        doc["errors"].append(str(e))
    finally:
        conn.close()
    for req in records:
        add_request(agg, req)
        doc["status_codes"].append(req.status)
    # The row is the connection's: every byte sent and received on it.
    agg["bytes_in"], agg["bytes_out"] = conn.sent, conn.received
    doc["tunnel"] = finish_agg(tunnel)
    return agg


def parse_spec(spec):
    parts = spec.split("|")
    words = parts[0].split(" ")
    if len(words) != 2 or not words[0] or not words[1]:
        raise ValueError(f"bad --req {spec!r}: want 'METHOD TARGET[|Header: value...]'")
    return words[0], words[1], parts[1:]


def run_sequence(args, target, doc):
    conn = Conn(target, args.timeout)
    doc["source"] = conn.source
    host, port, version = target
    hostport = f"[{host}]:{port}" if version == 6 else f"{host}:{port}"
    agg, parser = new_agg(), ResponseParser()
    records = []
    try:
        for method, tgt, headers in args.req:
            req = Request(port, method, request_bytes(method, tgt, hostport, headers))
            records.append(req)
            exchange(conn, req, parser)
            if method == "CONNECT" and 200 <= req.status < 300:
                raise ProtocolError("CONNECT was accepted: a tunnel (use the connect mode)")
        conn.sock.shutdown(socket.SHUT_WR)
        drain(conn)
    except (ProtocolError, OSError) as e:
        doc["errors"].append(str(e))
    finally:
        conn.close()
    for req in records:
        if req.t_send is not None:
            add_request(agg, req)
            doc["status_codes"].append(req.status)
    agg["bytes_in"], agg["bytes_out"] = conn.sent, conn.received
    return agg


def run_v09(args, target, doc):
    conn = Conn(target, args.timeout)
    doc["source"] = conn.source
    agg = new_agg()
    try:
        conn.send(args.line.encode("latin-1") + b"\r\n")
        drain(conn)
        if not conn.received:
            raise ProtocolError("the server closed without an answer")
    except (ProtocolError, OSError) as e:
        doc["errors"].append(str(e))
    finally:
        conn.close()
    # One request; its answer has no status line (HTTP/0.9), so no response.
    agg["requests"] = 1
    agg["bytes_in"], agg["bytes_out"] = conn.sent, conn.received
    return agg


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("connect", "sequence", "v09"))
    ap.add_argument("--target", required=True, metavar="ADDR:PORT")
    ap.add_argument("--authority", metavar="HOST:PORT", help="connect: the tunnel's end")
    ap.add_argument("--paths", default="", help="connect: paths requested through the tunnel")
    ap.add_argument("--after", default="",
                    help="connect: paths requested on the connection after a refusal")
    ap.add_argument("--req", action="append", default=[], metavar="SPEC",
                    help="sequence: 'METHOD TARGET[|Header: value...]', repeatable")
    ap.add_argument("--line", help="v09: the request line, without CRLF")
    ap.add_argument("--timeout", type=float, default=10.0, help="per socket operation")
    ap.add_argument("--out", metavar="FILE")
    args = ap.parse_args()

    try:
        target = parse_target(args.target)
        args.paths = [p for p in args.paths.split(",") if p]
        args.after = [p for p in args.after.split(",") if p]
        if args.mode == "connect" and not args.authority:
            raise ValueError("connect needs --authority")
        if args.mode == "sequence":
            if not args.req:
                raise ValueError("sequence needs --req")
            args.req = [parse_spec(s) for s in args.req]
        if args.mode == "v09" and not args.line:
            raise ValueError("v09 needs --line")
    except ValueError as e:
        ap.error(str(e))

    doc = {"source": None, "errors": [], "status_codes": [], "status_codes_tunnel": []}
    t0 = time.monotonic()
    run = {"connect": run_connect, "sequence": run_sequence, "v09": run_v09}[args.mode]
    agg = run(args, target, doc)
    doc["elapsed_s"] = round(time.monotonic() - t0, 3)
    doc["per_port"] = {str(target[1]): finish_agg(agg)}
    doc["total"] = finish_agg(agg)
    text = json.dumps(doc, indent=1, sort_keys=True)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    for e in doc["errors"]:
        print(f"edge_client.py: {e}", file=sys.stderr)
    return 1 if doc["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
