#!/usr/bin/env python3
"""origin.py - the demo origin server for httpmon's lab and tests.

A real HTTP/1.1 server (stdlib only): keep-alive, pipelining, Content-Length
on every response that may carry a body.  Behaviour follows the seed's demo
app: for every request it draws a random integer, sleeps a uniform
min-delay..max-delay (default 0..10) milliseconds, and answers 500 when the
number is divisible by 5, else 200; the body is the number and a newline.
Fixed behaviours for tests, by path:

  /status/NNN   answer status NNN (200..599); body "NNN\\n" where one is allowed
  /delay/MS     sleep MS milliseconds, then 200 with body "MS\\n"
  /bytes/N      200 with N body bytes
  ...?delay=MS  on any path: sleep MS milliseconds first (tests use it to
                keep every latency well above the clients' own overhead)

Every method is answered the same way: GET, HEAD, POST, the WebDAV ones,
QUERY and any other RFC 9110 token (an origin that serves extension
methods), except CONNECT: an origin is no proxy, so CONNECT gets 405 Method
Not Allowed with a body and the connection stays open.  A request with
"Expect: 100-continue" gets "100 Continue" before its body is read (the
stdlib's own handling).

Usage:
  origin.py --listen 10.231.5.1:8080 --listen [fd00:231:5::1]:8888 \\
            [--seed N] [--min-delay-ms 0] [--max-delay-ms 10] [--stats FILE]

Prints "ready" on stdout once every listener is bound and serves until
SIGTERM or SIGINT.  --stats writes, at exit, what the server itself read and
wrote per listening port and client address (exact bytes of each request and
response): a ground truth independent of the client's.
"""

import argparse
import http.server
import ipaddress
import json
import random
import signal
import socket
import socketserver
import sys
import threading
import time

MAX_BYTES = 64 << 20
MAX_DELAY_MS = 60_000
NO_BODY_STATUSES = (204, 304)


def parse_hostport(text):
    """'1.2.3.4:80' or '[v6]:80' -> (host, port, family)."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError(f"bad address {text!r}: want [v6addr]:port")
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            raise ValueError(f"bad address {text!r}: want addr:port")
    addr = ipaddress.ip_address(host)  # numeric only: never a name lookup
    port = int(port)
    if not 0 < port < 65536:
        raise ValueError(f"bad port in {text!r}")
    family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
    return str(addr), port, family


class Stats:
    """Per (listen port, client address) request/byte/status counts."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rows = {}

    def add(self, port, client, status, nin, nout):
        with self.lock:
            row = self.rows.setdefault((port, client), {
                "requests": 0, "responses": 0, "bytes_in": 0, "bytes_out": 0,
                "status": {c: 0 for c in ("1xx", "2xx", "3xx", "4xx", "5xx")}})
            row["requests"] += 1
            row["bytes_in"] += nin
            if status is not None:
                row["responses"] += 1
                row["status"][f"{status // 100}xx"] += 1
                row["bytes_out"] += nout

    def to_json(self):
        with self.lock:
            return [dict(port=p, client=c, **r) for (p, c), r in sorted(self.rows.items())]


class CountingReader:
    """Wraps the handler's rfile and counts the bytes the parser consumed."""

    def __init__(self, raw):
        self.raw = raw
        self.count = 0

    def readline(self, *args):
        data = self.raw.readline(*args)
        self.count += len(data)
        return data

    def read(self, *args):
        data = self.raw.read(*args)
        self.count += len(data)
        return data

    def __getattr__(self, name):
        return getattr(self.raw, name)


class CountingWriter:
    def __init__(self, raw):
        self.raw = raw
        self.count = 0

    def write(self, data):
        self.count += len(data)
        return self.raw.write(data)

    def __getattr__(self, name):
        return getattr(self.raw, name)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "httpmon-origin/1"
    sys_version = ""
    timeout = 60          # idle keep-alive connections are closed after this
    wbufsize = 1 << 16    # status line, headers and a small body leave in one write

    def setup(self):
        super().setup()
        self.rfile = CountingReader(self.rfile)
        self.wfile = CountingWriter(self.wfile)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass

    def handle_one_request(self):
        in0, out0 = self.rfile.count, self.wfile.count
        self._status = None
        super().handle_one_request()
        self.wfile.flush()
        if self.rfile.count > in0:  # a request line was read (not a clean EOF)
            self.server.stats.add(self.server.server_address[1], self.client_address[0],
                                  self._status, self.rfile.count - in0,
                                  self.wfile.count - out0)

    def send_response(self, code, message=None):
        self._status = code
        super().send_response(code, message)

    def _answer(self, status, body):
        head = self.command == "HEAD"
        self.send_response(status)
        if status not in NO_BODY_STATUSES:
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and status not in NO_BODY_STATUSES:
            self.wfile.write(body)

    def _discard_body(self):
        length = self.headers.get("Content-Length")
        if length is not None:
            n = int(length)
            while n > 0:
                chunk = self.rfile.read(min(n, 1 << 16))
                if not chunk:
                    break
                n -= len(chunk)

    def _route(self):
        self._discard_body()
        path, _, query = self.path.partition("?")
        parts = path.strip("/").split("/")
        try:
            for item in query.split("&") if query else ():
                name, _, value = item.partition("=")
                if name == "delay":
                    ms = int(value)
                    if not 0 <= ms <= MAX_DELAY_MS:
                        raise ValueError
                    time.sleep(ms / 1000)
            if len(parts) == 2 and parts[0] == "status":
                status = int(parts[1])
                if not 200 <= status <= 599:
                    raise ValueError
                return self._answer(status, f"{status}\n".encode())
            if len(parts) == 2 and parts[0] == "delay":
                ms = int(parts[1])
                if not 0 <= ms <= MAX_DELAY_MS:
                    raise ValueError
                time.sleep(ms / 1000)
                return self._answer(200, f"{ms}\n".encode())
            if len(parts) == 2 and parts[0] == "bytes":
                n = int(parts[1])
                if not 0 <= n <= MAX_BYTES:
                    raise ValueError
                return self._answer(200, b"x" * n)
        except ValueError:
            return self._answer(400, b"bad parameter\n")
        number, delay = self.server.draw()
        time.sleep(delay)
        self._answer(500 if number % 5 == 0 else 200, f"{number}\n".encode())

    do_GET = do_HEAD = do_POST = _route

    def handle_expect_100(self):
        # The interim response leaves at once: the client waits for it
        # before it sends the body (wfile is buffered).
        ok = super().handle_expect_100()
        self.wfile.flush()
        return ok

    def do_CONNECT(self):
        self._discard_body()
        self.send_response(405)
        self.send_header("Allow", "GET, HEAD, POST")
        self.send_header("Content-Type", "text/plain")
        body = b"not a proxy\n"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def __getattr__(self, name):
        # The stdlib dispatches to do_<METHOD>; any other token method is
        # served like GET instead of 501.
        if name.startswith("do_"):
            return self._route
        raise AttributeError(name)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, family, rng, rng_lock, delay_range, stats):
        self.address_family = family
        self.rng, self.rng_lock, self.delay_range, self.stats = rng, rng_lock, delay_range, stats
        super().__init__(addr, Handler)

    def server_bind(self):
        # HTTPServer.server_bind would resolve our name (getfqdn): a DNS query
        # leaving the namespace.  Bind without it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def draw(self):
        with self.rng_lock:
            return self.rng.randint(0, 1_000_000), self.rng.uniform(*self.delay_range)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", action="append", required=True, metavar="ADDR:PORT",
                    help="address to serve on; repeat for several ([v6]:port for IPv6)")
    ap.add_argument("--seed", type=int, help="seed of the random numbers (default: random)")
    ap.add_argument("--min-delay-ms", type=float, default=0.0,
                    help="random delay lower bound in ms (default 0)")
    ap.add_argument("--max-delay-ms", type=float, default=10.0,
                    help="random delay upper bound in ms (default 10)")
    ap.add_argument("--stats", metavar="FILE", help="write server-side counts as JSON at exit")
    args = ap.parse_args()

    try:
        addrs = [parse_hostport(a) for a in args.listen]
    except ValueError as e:
        ap.error(str(e))
    if not 0 <= args.min_delay_ms <= args.max_delay_ms <= MAX_DELAY_MS:
        ap.error("need 0 <= --min-delay-ms <= --max-delay-ms <= 60000")
    delay_range = (args.min_delay_ms / 1000, args.max_delay_ms / 1000)

    rng, rng_lock, stats = random.Random(args.seed), threading.Lock(), Stats()
    servers = []
    try:
        for host, port, family in addrs:
            servers.append(Server((host, port), family, rng, rng_lock, delay_range, stats))
    except OSError as e:
        print(f"origin.py: cannot listen on {host}:{port}: {e.strerror}", file=sys.stderr)
        return 1

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2},
                                daemon=True) for s in servers]
    for t in threads:
        t.start()
    print("ready", flush=True)
    while not stop.wait(1):
        pass
    for s in servers:
        s.shutdown()
        s.server_close()
    if args.stats:
        with open(args.stats, "w") as f:
            json.dump(stats.to_json(), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
