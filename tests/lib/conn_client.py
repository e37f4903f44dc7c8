#!/usr/bin/env python3
"""conn_client.py - TCP connection life cycles with a ground truth, for httpmon's tests.

Each mode opens connections to one ADDR:PORT the way a life-cycle test needs
them and records what it sent and received in client.py's JSON format
(source, per_port, total; counts, status classes, bytes, first-byte latency),
plus "unanswered" per port (requests sent whose answer the client never got
because it gave up first) and a few counts of its own:

  keepalive      --connections K connections one after the other, each with
                 --count N requests (paths from --paths in turn), waiting for
                 every response (Content-Length framing), --interval-ms
                 between requests, --hold-ms idle after the last response;
                 then a normal close (shutdown, wait for the server's FIN) or,
                 with --abort, an abortive one (SO_LINGER {1, 0}: RST).
                 --half-close: one request, then shutdown(SHUT_WR) at once,
                 and the response is read up to the server's FIN.
  pending-rst    one request (--paths) on a new connection; after --wait-ms,
                 with no answer yet, the connection is reset (SO_LINGER
                 {1, 0}): requests 1, responses 0, unanswered 1.
  connect-only   --connections K connections that send nothing: handshake,
                 FIN, the server's FIN.
  keepalive-probe  one connection that sends nothing but TCP keepalive
                 probes (pure ACKs; TCP_KEEPIDLE 1 s, TCP_KEEPINTVL 1 s) for
                 --hold-ms, then closes normally; "keepalive_probes" is what
                 the namespace's TcpExt TCPKeepAlive counter grew by.
  refused        --connections K connects to a port nothing listens on
                 (SYN answered by RST); "refused" counts them.
  crossing-fin   one request with Connection: close (--paths, e.g.
                 /delay/200), then --filler datagrams of 1200 bytes (UDP to
                 the target's address, port 9) and at once shutdown(SHUT_WR);
                 then the response is read up to the server's FIN.  Behind a
                 rate limit on the client's interface (tc tbf) the fillers
                 hold our FIN back until after the server's own FIN was sent
                 and received: the two FINs cross (a simultaneous close, both
                 ends go through CLOSING to TIME_WAIT).

--events FILE gets a line "sent US" (CLOCK_REALTIME microseconds, taken just
before the send) for each request and "answered US" for each response, as
they happen.  "http_connections" counts connections that carried a request.
Exit status 0 when everything went as the mode says, 1 otherwise (the JSON is
still written), 2 on bad usage.
"""

import argparse
import json
import socket
import struct
import sys
import time

from client import MAX_HEAD, STATUS_CLASSES as CLASSES, parse_target as parse_addr


class Failure(Exception):
    pass


def parse_target(text):
    """client.py's parse_target, with the socket family in place of the IP version."""
    host, port, version = parse_addr(text)
    return host, port, socket.AF_INET6 if version == 6 else socket.AF_INET


def new_agg():
    return {"requests": 0, "responses": 0, "unanswered": 0,
            "status": {c: 0 for c in CLASSES}, "bytes_in": 0, "bytes_out": 0,
            "lat": [], "lat_ok": [], "lat_fail": []}


def lat_json(samples_ns):
    if not samples_ns:
        return {"count": 0, "sum_us": 0, "avg": None, "min": None, "max": None}
    s = sum(samples_ns)
    return {"count": len(samples_ns), "sum_us": s / 1000,
            "avg": round(s / len(samples_ns) / 1000, 3),
            "min": min(samples_ns) / 1000, "max": max(samples_ns) / 1000}


def finish_agg(a):
    out = {k: a[k] for k in ("requests", "responses", "unanswered", "status",
                             "bytes_in", "bytes_out")}
    out["latency_us"] = lat_json(a["lat"])
    out["latency_ok_us"] = lat_json(a["lat_ok"])
    out["latency_fail_us"] = lat_json(a["lat_fail"])
    return out


def keepalive_probes_sent():
    """The network namespace's TcpExt TCPKeepAlive counter (probes sent)."""
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            row = dict(zip(names.split()[1:], values.split()[1:]))
            return int(row["TCPKeepAlive"])
    raise Failure("no TcpExt line in /proc/net/netstat")


class Run:
    def __init__(self, args):
        self.args = args
        self.host, self.port, self.family = args.target
        self.agg = new_agg()
        self.errors = []
        self.counts = {"connections": 0, "http_connections": 0, "refused": 0,
                       "keepalive_probes": 0}
        self.events = open(args.events, "a") if args.events else None
        self.deadline = time.monotonic() + args.max_seconds

    def event(self, what, us):
        if self.events:
            self.events.write(f"{what} {us}\n")
            self.events.flush()

    def remaining(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Failure(f"--max-seconds {self.args.max_seconds} exceeded")
        return min(left, self.args.timeout)

    def source(self):
        """The local address the kernel picks for the target (UDP connect sends nothing)."""
        s = socket.socket(self.family, socket.SOCK_DGRAM)
        try:
            s.connect((self.host, self.port))
            return s.getsockname()[0]
        finally:
            s.close()

    def connect(self):
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.remaining())
        sock.connect((self.host, self.port))
        self.counts["connections"] += 1
        return sock

    def request_bytes(self, index, close=False):
        hostport = f"[{self.host}]:{self.port}" if self.family == socket.AF_INET6 \
            else f"{self.host}:{self.port}"
        path = self.args.paths[index % len(self.args.paths)]
        extra = "Connection: close\r\n" if close else ""
        return (f"GET {path} HTTP/1.1\r\nHost: {hostport}\r\n"
                f"User-Agent: httpmon-test\r\n{extra}\r\n").encode()

    def send_request(self, sock, raw, first):
        """Sends one request; returns its send time (monotonic ns)."""
        if first:
            self.counts["http_connections"] += 1
        t_send = time.monotonic_ns()
        self.event("sent", time.time_ns() // 1000)
        sock.settimeout(self.remaining())
        sock.sendall(raw)
        self.agg["requests"] += 1
        self.agg["bytes_in"] += len(raw)
        return t_send

    def read_response(self, sock, t_send):
        """Reads one response framed by Content-Length; records it."""
        buf, t_first = b"", None
        while b"\r\n\r\n" not in buf:
            if len(buf) > MAX_HEAD:
                raise Failure("response head longer than 64 KiB")
            sock.settimeout(self.remaining())
            data = sock.recv(65536)
            if not data:
                raise Failure("connection closed before the response")
            if t_first is None:
                t_first = time.monotonic_ns()
            buf += data
        head_len = buf.index(b"\r\n\r\n") + 4
        lines = buf[:head_len].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise Failure(f"bad status line {lines[0]!r}")
        status = int(parts[1])
        if status < 200:
            raise Failure(f"unexpected interim response {status}")
        length = 0
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep and name.strip().lower() == "content-length":
                length = int(value.strip())
        total = head_len + length
        while len(buf) < total:
            sock.settimeout(self.remaining())
            data = sock.recv(65536)
            if not data:
                raise Failure("connection closed inside the response body")
            buf += data
        if len(buf) != total:
            raise Failure(f"{len(buf) - total} bytes after the response")
        self.event("answered", time.time_ns() // 1000)
        lat = t_first - t_send
        self.agg["responses"] += 1
        self.agg["status"][f"{status // 100}xx"] += 1
        self.agg["bytes_out"] += total
        self.agg["lat"].append(lat)
        self.agg["lat_ok" if status < 500 else "lat_fail"].append(lat)

    def wait_eof(self, sock):
        """After our FIN: waits for the server's (nothing else may come)."""
        sock.settimeout(self.remaining())
        data = sock.recv(65536)
        if data:
            raise Failure(f"{len(data)} unexpected bytes before the server's FIN")

    def close_normally(self, sock):
        sock.shutdown(socket.SHUT_WR)
        self.wait_eof(sock)
        sock.close()

    @staticmethod
    def abort(sock):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()

    # --- modes ---------------------------------------------------------------

    def keepalive(self):
        a = self.args
        index = 0
        for _ in range(a.connections):
            sock = self.connect()
            try:
                for k in range(a.count):
                    if k and a.interval_ms:
                        time.sleep(a.interval_ms / 1000)
                    t = self.send_request(sock, self.request_bytes(index), k == 0)
                    index += 1
                    if a.half_close:
                        sock.shutdown(socket.SHUT_WR)
                    self.read_response(sock, t)
                if a.hold_ms:
                    time.sleep(a.hold_ms / 1000)
                if a.abort:
                    self.abort(sock)
                elif a.half_close:
                    self.wait_eof(sock)
                    sock.close()
                else:
                    self.close_normally(sock)
            finally:
                sock.close()

    def pending_rst(self):
        sock = self.connect()
        try:
            self.send_request(sock, self.request_bytes(0), True)
            time.sleep(self.args.wait_ms / 1000)
            sock.setblocking(False)  # a socket timeout would make recv() wait for data
            try:
                data = sock.recv(1, socket.MSG_PEEK)
            except BlockingIOError:
                data = None
            if data is not None:
                raise Failure("the answer (or the server's FIN) came before the reset")
            self.agg["unanswered"] += 1
            self.abort(sock)
        finally:
            sock.close()

    def connect_only(self):
        for _ in range(self.args.connections):
            sock = self.connect()
            try:
                self.close_normally(sock)
            finally:
                sock.close()

    def keepalive_probe(self):
        before = keepalive_probes_sent()
        sock = self.connect()
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 5)
            time.sleep(self.args.hold_ms / 1000)
            self.counts["keepalive_probes"] = keepalive_probes_sent() - before
            self.close_normally(sock)
        finally:
            sock.close()

    def refused(self):
        for _ in range(self.args.connections):
            sock = socket.socket(self.family, socket.SOCK_STREAM)
            sock.settimeout(self.remaining())
            try:
                sock.connect((self.host, self.port))
            except ConnectionRefusedError:
                self.counts["refused"] += 1
            else:
                raise Failure(f"connect to port {self.port} was accepted")
            finally:
                sock.close()

    def crossing_fin(self):
        sock = self.connect()
        filler = socket.socket(self.family, socket.SOCK_DGRAM)
        try:
            self.counts["local_port"] = sock.getsockname()[1]
            t = self.send_request(sock, self.request_bytes(0, close=True), True)
            for _ in range(self.args.filler):
                filler.sendto(b"f" * 1200, (self.host, 9))
            sock.shutdown(socket.SHUT_WR)
            self.read_response(sock, t)
            self.wait_eof(sock)
        finally:
            filler.close()
            sock.close()

    def run(self):
        start = time.monotonic()
        try:
            {"keepalive": self.keepalive, "pending-rst": self.pending_rst,
             "connect-only": self.connect_only, "keepalive-probe": self.keepalive_probe,
             "refused": self.refused, "crossing-fin": self.crossing_fin}[self.args.mode]()
        except (Failure, OSError) as e:
            self.errors.append(f"{self.args.mode}: {e}")
        per_port = {}
        if self.agg["requests"]:
            per_port[str(self.port)] = finish_agg(self.agg)
        doc = {"source": self.source(), "mode": self.args.mode, "per_port": per_port,
               "total": finish_agg(self.agg), "elapsed_s": round(time.monotonic() - start, 3),
               "errors": self.errors}
        doc.update(self.counts)
        return doc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("keepalive", "pending-rst", "connect-only",
                                     "keepalive-probe", "refused", "crossing-fin"))
    ap.add_argument("--target", required=True, metavar="ADDR:PORT")
    ap.add_argument("--paths", default="/", help="comma-separated paths, used in turn")
    ap.add_argument("--count", type=int, default=1, help="requests per connection")
    ap.add_argument("--connections", type=int, default=1)
    ap.add_argument("--interval-ms", type=float, default=0)
    ap.add_argument("--hold-ms", type=float, default=0)
    ap.add_argument("--wait-ms", type=float, default=300)
    ap.add_argument("--abort", action="store_true", help="close with RST (SO_LINGER {1, 0})")
    ap.add_argument("--half-close", action="store_true",
                    help="shutdown(SHUT_WR) right after the (one) request")
    ap.add_argument("--filler", type=int, default=2,
                    help="crossing-fin: datagrams sent ahead of our FIN (default 2)")
    ap.add_argument("--events", metavar="FILE")
    ap.add_argument("--out", metavar="FILE")
    ap.add_argument("--timeout", type=float, default=10.0, help="per socket operation")
    ap.add_argument("--max-seconds", type=float, default=30.0)
    args = ap.parse_args()
    try:
        args.target = parse_target(args.target)
    except ValueError as e:
        ap.error(str(e))
    args.paths = [p for p in args.paths.split(",") if p]
    if not args.paths or any(not p.startswith("/") for p in args.paths):
        ap.error("--paths must be absolute paths")
    if args.count < 1 or args.connections < 1:
        ap.error("--count and --connections must be at least 1")
    if args.half_close and (args.count != 1 or args.abort):
        ap.error("--half-close sends one request per connection and closes normally")

    doc = Run(args).run()
    text = json.dumps(doc, indent=1, sort_keys=True)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    for e in doc["errors"]:
        print(f"conn_client.py: {e}", file=sys.stderr)
    return 1 if doc["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
