#!/usr/bin/env python3
"""client.py - the ground-truth HTTP/1.1 load client for httpmon's tests.

Raw sockets, so it knows exactly which bytes it sent and received.  N requests
are spread over C concurrent connection slots (slot j talks to target
j % len(targets)); each slot either keeps one connection alive for all its
requests (default, optionally pipelining K requests per write) or, with
--close, sends "Connection: close" and opens a new connection per request.
Responses are framed properly (status line, headers, then Content-Length,
chunked or close-delimited body; no body for HEAD, 1xx, 204 and 304), so each
response's exact end is known.

Per request it records the target port, the final status, the exact request
bytes sent, the exact response bytes received (interim 1xx responses included),
and the first-byte latency: from just before the send() whose data holds the
request's first byte to just after the recv() that returns the first byte of
its response (an interim 1xx response's, if one comes first) (time.monotonic_ns, the clock of bpf_ktime_get_ns).

Output (stdout, or --out FILE) uses the monitor's definitions: bytes_in =
request bytes (client to server), bytes_out = response bytes.
  {"source": "10.231.5.11",
   "per_port": {"8080": {"requests", "responses", "status": {"1xx".."5xx"},
                         "bytes_in", "bytes_out",
                         "latency_us": {"count", "sum_us", "avg", "min", "max"},
                         "latency_ok_us": {...}, "latency_fail_us": {...}}},
   "total": {...same...}, "elapsed_s": ..., "errors": [...]}
latency_ok is responses with status < 500, latency_fail those >= 500.

--duration SECONDS stops sending new requests after SECONDS and finishes the
ones in flight: a load of fixed length in which every request is answered.
"connections" counts the connections opened.

Exit status: 0 when every request got a well-formed response, 1 on any
protocol error, timeout or connection failure (the JSON is still written), 2
on bad usage.  Bounded by --max-seconds overall and --timeout per connection.
"""

import argparse
import errno
import ipaddress
import json
import selectors
import socket
import sys
import time

STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
MAX_HEAD = 64 * 1024
RECV_SIZE = 256 * 1024


class ProtocolError(Exception):
    pass


def parse_target(text):
    """'1.2.3.4:80' or '[v6]:80' -> (host, port); numeric addresses only."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
    if not sep:
        raise ValueError(f"bad target {text!r}: want ADDR:PORT or [V6ADDR]:PORT")
    addr = ipaddress.ip_address(host)
    port = int(port)
    if not 0 < port < 65536:
        raise ValueError(f"bad port in {text!r}")
    return str(addr), port, addr.version


class Request:
    __slots__ = ("port", "method", "raw", "t_send", "t_first", "status", "nrecv", "done")

    def __init__(self, port, method, raw):
        self.port, self.method, self.raw = port, method, raw
        self.t_send = self.t_first = self.status = None
        self.nrecv = 0
        self.done = False


class ResponseParser:
    """Incremental HTTP/1.x response framer for one connection.

    feed(data, now) consumes bytes and attributes each to the oldest request
    still waiting (responses come back in request order).  A request is done
    when its final (non-1xx) response has been read to its end.
    """

    def __init__(self):
        self.buf = b""
        self.state = "head"   # head | body | chunk_size | chunk_data | chunk_crlf | trailer | eof
        self.remaining = 0
        self.status = None

    def feed(self, data, now, queue, eof=False):
        """Consumes data; returns the requests finished by it."""
        finished = []
        self.buf += data
        while True:
            if not queue:
                if self.buf:
                    raise ProtocolError(f"{len(self.buf)} bytes received with no request waiting")
                break
            req = queue[0]
            if self.buf and req.t_first is None:
                req.t_first = now  # its response starts in the data of this recv()
            if self.state == "head":
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(self.buf) > MAX_HEAD:
                        raise ProtocolError("response head longer than 64 KiB")
                    break
                head, self.buf = self.buf[:end + 4], self.buf[end + 4:]
                req.nrecv += len(head)
                self._start(req, head)
            elif self.state == "body":
                n = min(self.remaining, len(self.buf))
                req.nrecv += n
                self.buf = self.buf[n:]
                self.remaining -= n
                if self.remaining:
                    break
                self.state = "head"
            elif self.state == "chunk_size":
                end = self.buf.find(b"\r\n")
                if end < 0:
                    if len(self.buf) > 1024:
                        raise ProtocolError("chunk size line too long")
                    break
                line, self.buf = self.buf[:end + 2], self.buf[end + 2:]
                req.nrecv += len(line)
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size line {line!r}") from None
                self.remaining = size
                self.state = "chunk_data" if size else "trailer"
            elif self.state == "chunk_data":
                n = min(self.remaining, len(self.buf))
                req.nrecv += n
                self.buf = self.buf[n:]
                self.remaining -= n
                if self.remaining:
                    break
                self.state = "chunk_crlf"
            elif self.state == "chunk_crlf":
                if len(self.buf) < 2:
                    break
                if self.buf[:2] != b"\r\n":
                    raise ProtocolError("chunk not followed by CRLF")
                req.nrecv += 2
                self.buf = self.buf[2:]
                self.state = "chunk_size"
            elif self.state == "trailer":
                end = self.buf.find(b"\r\n")
                if end < 0:
                    break
                line, self.buf = self.buf[:end + 2], self.buf[end + 2:]
                req.nrecv += len(line)
                if end == 0:
                    self.state = "head"
            elif self.state == "eof":
                req.nrecv += len(self.buf)
                self.buf = b""
                if not eof:
                    break
                self.state = "head"
            if self.state == "head" and self.status is not None:
                # A message ended.  Interim 1xx: the final response follows.
                if self.status >= 200:
                    req.status, req.done = self.status, True
                    finished.append(queue.pop(0))
                self.status = None
                continue
        return finished

    def _start(self, req, head):
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit() \
                or len(parts[1]) != 3:
            raise ProtocolError(f"bad status line {lines[0]!r}")
        self.status = int(parts[1])
        length, chunked = None, False
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise ProtocolError(f"bad header line {line!r}")
            name, value = name.strip().lower(), value.strip()
            if name == "content-length":
                if not value.isdigit() or (length is not None and int(value) != length):
                    raise ProtocolError(f"bad Content-Length {value!r}")
                length = int(value)
            elif name == "transfer-encoding":
                chunked = value.lower().split(",")[-1].strip() == "chunked"
        if self.status < 200 or self.status in (204, 304) or req.method == "HEAD":
            self.state = "head"
        elif chunked:
            self.state = "chunk_size"
        elif length is not None:
            self.remaining, self.state = length, "body" if length else "head"
        else:
            self.state = "eof"


class Slot:
    """One concurrent connection slot: a target and the requests it must send."""

    def __init__(self, index, target, count, first_index):
        self.index, self.target = index, target
        self.todo = count          # requests still to be written
        self.next_index = first_index
        self.sock = None
        self.connecting = False
        self.out = b""
        self.out_starts = []       # (offset in out, Request) not yet given t_send
        self.queue = []            # requests written (or being written), awaiting responses
        self.parser = None
        self.last_progress = 0


class Client:
    def __init__(self, args, targets):
        self.args, self.targets = args, targets
        self.sel = selectors.DefaultSelector()
        self.records = []
        self.errors = []
        self.stop_ns = None
        self.nconnects = 0
        self.source = args.source
        self.paths = args.paths
        self.body = b"x" * args.body_bytes if args.method == "POST" else b""
        n, c = args.requests, args.connections
        self.slots, first = [], 0
        for j in range(c):
            count = n // c + (1 if j < n % c else 0)
            self.slots.append(Slot(j, targets[j % len(targets)], count, first))
            first += count

    def request_bytes(self, slot, index):
        host, port, version = slot.target
        hostport = f"[{host}]:{port}" if version == 6 else f"{host}:{port}"
        path = self.paths[index % len(self.paths)]
        lines = [f"{self.args.method} {path} HTTP/1.1", f"Host: {hostport}",
                 "User-Agent: httpmon-test"]
        if self.args.method == "POST":
            lines.append(f"Content-Length: {len(self.body)}")
        if self.args.close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body

    # --- connection life cycle -------------------------------------------

    def connect(self, slot, now):
        host, port, version = slot.target
        family = socket.AF_INET6 if version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.args.source:
            sock.bind((self.args.source, 0))
        sock.setblocking(False)
        err = sock.connect_ex((host, port))
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            raise ProtocolError(f"connect to {host}:{port}: {errno.errorcode.get(err, err)}")
        slot.sock, slot.connecting, slot.parser = sock, True, ResponseParser()
        self.nconnects += 1
        slot.last_progress = now
        self.sel.register(sock, selectors.EVENT_WRITE, slot)

    def close(self, slot):
        if slot.sock is not None:
            self.sel.unregister(slot.sock)
            slot.sock.close()
            slot.sock = None

    def queue_batch(self, slot):
        """Writes the slot's next batch: one request, or K pipelined ones."""
        k = 1 if self.args.close else min(self.args.pipeline, slot.todo)
        for _ in range(k):
            raw = self.request_bytes(slot, slot.next_index)
            req = Request(slot.target[1], self.args.method, raw)
            slot.out_starts.append((len(slot.out), req))
            slot.out += raw
            slot.queue.append(req)
            slot.next_index += 1
            slot.todo -= 1

    def start_slot(self, slot, now):
        """Gives an idle slot its next batch (opening a connection if needed)."""
        if self.stop_ns is not None and now >= self.stop_ns:
            slot.todo = 0  # --duration is over: no new request
        if slot.todo == 0:
            self.close(slot)
            return
        if slot.sock is None:
            self.connect(slot, now)
        self.queue_batch(slot)
        if not slot.connecting:
            self.sel.modify(slot.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, slot)

    # --- events ----------------------------------------------------------

    def on_writable(self, slot):
        if slot.connecting:
            err = slot.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise ProtocolError(f"connect to {slot.target[0]}:{slot.target[1]}: "
                                    f"{errno.errorcode.get(err, err)}")
            slot.connecting = False
            if self.source is None:
                self.source = slot.sock.getsockname()[0]
        if slot.out:
            t = time.monotonic_ns()
            try:
                n = slot.sock.send(slot.out)
            except BlockingIOError:
                n = 0
            for _, req in [s for s in slot.out_starts if s[0] < n]:
                req.t_send = t
            slot.out_starts = [(off - n, r) for off, r in slot.out_starts if off >= n]
            slot.out = slot.out[n:]
            slot.last_progress = t
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if slot.out else 0)
        self.sel.modify(slot.sock, events, slot)

    def on_readable(self, slot):
        try:
            data = slot.sock.recv(RECV_SIZE)
        except BlockingIOError:
            return
        except ConnectionError as e:
            raise ProtocolError(f"port {slot.target[1]}: {e.strerror or e}") from None
        now = time.monotonic_ns()
        slot.last_progress = now
        finished = slot.parser.feed(data, now, slot.queue, eof=not data)
        for req in finished:
            self.records.append(req)
        if not data:
            if slot.queue:
                raise ProtocolError(f"port {slot.target[1]}: connection closed with "
                                    f"{len(slot.queue)} request(s) unanswered")
            self.close(slot)
        if not slot.queue and not slot.out:
            if self.args.close:
                self.close(slot)
            self.start_slot(slot, now)

    def run(self):
        start = time.monotonic_ns()
        deadline = start + int(self.args.max_seconds * 1e9)
        if self.args.duration is not None:
            self.stop_ns = start + int(self.args.duration * 1e9)
        idle_limit = int(self.args.timeout * 1e9)
        try:
            for slot in self.slots:
                self.start_slot(slot, start)
            while self.sel.get_map():
                for key, events in self.sel.select(timeout=0.2):
                    slot = key.data
                    if events & selectors.EVENT_WRITE:
                        self.on_writable(slot)
                    if events & selectors.EVENT_READ and slot.sock is not None:
                        self.on_readable(slot)
                now = time.monotonic_ns()
                if now > deadline:
                    raise ProtocolError(f"--max-seconds {self.args.max_seconds} exceeded")
                for slot in self.slots:
                    if slot.sock is not None and now - slot.last_progress > idle_limit:
                        raise ProtocolError(f"port {slot.target[1]}: no progress for "
                                            f"{self.args.timeout} s")
        except (ProtocolError, OSError) as e:
            self.errors.append(str(e))
        finally:
            for slot in self.slots:
                self.close(slot)
        self.elapsed = (time.monotonic_ns() - start) / 1e9

    # --- summary -----------------------------------------------------------

    def unanswered(self):
        """Requests written (fully or in part) but not answered: only after an error."""
        return [r for s in self.slots for r in s.queue if r.t_send is not None]

    def summary(self):
        per_port = {}
        for req in self.records + self.unanswered():
            agg = per_port.setdefault(str(req.port), new_agg())
            add_request(agg, req)
        total = new_agg()
        for agg in per_port.values():
            merge_agg(total, agg)
        return {"source": self.source,
                "per_port": {p: finish_agg(a) for p, a in sorted(per_port.items())},
                "total": finish_agg(total),
                "elapsed_s": round(self.elapsed, 3),
                "connections": self.nconnects,
                "errors": self.errors}


def new_lat():
    return {"count": 0, "sum_ns": 0, "min_ns": None, "max_ns": None}


def new_agg():
    return {"requests": 0, "responses": 0, "status": {c: 0 for c in STATUS_CLASSES},
            "bytes_in": 0, "bytes_out": 0,
            "lat": new_lat(), "lat_ok": new_lat(), "lat_fail": new_lat()}


def add_lat(lat, ns):
    lat["count"] += 1
    lat["sum_ns"] += ns
    lat["min_ns"] = ns if lat["min_ns"] is None else min(lat["min_ns"], ns)
    lat["max_ns"] = ns if lat["max_ns"] is None else max(lat["max_ns"], ns)


def merge_lat(a, b):
    if b["count"]:
        a["count"] += b["count"]
        a["sum_ns"] += b["sum_ns"]
        a["min_ns"] = b["min_ns"] if a["min_ns"] is None else min(a["min_ns"], b["min_ns"])
        a["max_ns"] = b["max_ns"] if a["max_ns"] is None else max(a["max_ns"], b["max_ns"])


def add_request(agg, req):
    agg["requests"] += 1
    agg["bytes_in"] += len(req.raw)
    agg["bytes_out"] += req.nrecv
    if req.done:
        agg["responses"] += 1
        agg["status"][f"{req.status // 100}xx"] += 1
        ns = req.t_first - req.t_send
        add_lat(agg["lat"], ns)
        add_lat(agg["lat_ok" if req.status < 500 else "lat_fail"], ns)


def merge_agg(a, b):
    for k in ("requests", "responses", "bytes_in", "bytes_out"):
        a[k] += b[k]
    for c in STATUS_CLASSES:
        a["status"][c] += b["status"][c]
    for k in ("lat", "lat_ok", "lat_fail"):
        merge_lat(a[k], b[k])


def lat_json(lat):
    if not lat["count"]:
        return {"count": 0, "sum_us": 0, "avg": None, "min": None, "max": None}
    return {"count": lat["count"], "sum_us": lat["sum_ns"] / 1000,
            "avg": round(lat["sum_ns"] / lat["count"] / 1000, 3),
            "min": lat["min_ns"] / 1000, "max": lat["max_ns"] / 1000}


def finish_agg(a):
    out = {k: a[k] for k in ("requests", "responses", "status", "bytes_in", "bytes_out")}
    out["latency_us"] = lat_json(a["lat"])
    out["latency_ok_us"] = lat_json(a["lat_ok"])
    out["latency_fail_us"] = lat_json(a["lat_fail"])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", required=True, metavar="ADDR:PORT[,ADDR:PORT...]")
    ap.add_argument("--requests", type=int, required=True, metavar="N")
    ap.add_argument("--connections", type=int, default=1, metavar="C")
    ap.add_argument("--pipeline", type=int, default=1, metavar="K",
                    help="requests per write on a keep-alive connection (default 1)")
    ap.add_argument("--paths", default="/", help="comma-separated paths, used in turn")
    ap.add_argument("--method", default="GET", choices=("GET", "HEAD", "POST"))
    ap.add_argument("--body-bytes", type=int, default=16, help="POST body size (default 16)")
    ap.add_argument("--close", action="store_true",
                    help="one connection per request, with Connection: close")
    ap.add_argument("--out", metavar="FILE", help="write the JSON here instead of stdout")
    ap.add_argument("--max-seconds", type=float, default=60.0)
    ap.add_argument("--duration", type=float, metavar="SECONDS",
                    help="send no new request after SECONDS; the ones in flight are "
                         "finished (--requests stays the upper bound)")
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="seconds a connection may make no progress (default 10)")
    ap.add_argument("--source", metavar="ADDR", help="local address to bind")
    args = ap.parse_args()

    try:
        targets = [parse_target(t) for t in args.target.split(",") if t]
        if args.source:
            ipaddress.ip_address(args.source)
    except ValueError as e:
        ap.error(str(e))
    if args.duration is not None and not 0 < args.duration < args.max_seconds:
        ap.error("need 0 < --duration < --max-seconds")
    if args.requests < 0 or not 1 <= args.connections <= 1024 or args.pipeline < 1:
        ap.error("need --requests >= 0, 1 <= --connections <= 1024, --pipeline >= 1")
    if args.connections < len(targets):
        ap.error("need at least one connection per target")
    if len({t[2] for t in targets}) != 1:
        ap.error("all targets must be of one address family")
    if args.close and args.pipeline > 1:
        ap.error("--pipeline needs keep-alive connections (drop --close)")
    args.paths = [p for p in args.paths.split(",") if p]
    if not args.paths or any(not p.startswith("/") for p in args.paths):
        ap.error("--paths must be absolute paths")

    client = Client(args, targets)
    client.run()
    doc = client.summary()
    text = json.dumps(doc, indent=1, sort_keys=True)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    for e in client.errors:
        print(f"client.py: {e}", file=sys.stderr)
    return 1 if client.errors else 0


if __name__ == "__main__":
    sys.exit(main())
