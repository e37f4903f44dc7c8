#!/usr/bin/env python3
"""sockh_server.py - an HTTP/1.1 server (or a line-protocol peer) whose
system calls the test chooses, and which records what it read and wrote.

The socket-source tests (tests/e2e/test_sockets_*.sh) run it to make a
process read and write HTTP in a known way.  --read picks the call that
reads: recv of up to 64 KiB, read (os.read: read(2)), recv(1) (one byte at a time), readv into 1,024
buffers of 1-3 bytes, readv0 (readv into an empty buffer, then 64 KiB),
recvmsg_into over four buffers, or peek (a recv with
MSG_PEEK before each recv), or splice (the head with recv, its length
found with MSG_PEEK, the body with splice(2) from the socket into a pipe).  --write picks the call that writes: sendall,
write1 (one os.write of the whole response), writev1024 (os.writev of exactly
1,024 buffers: the head in pieces of 1-3 bytes, the body in the rest),
sendmsg of four buffers, split (the head, then the body in three sends),
sendfile (the head with send, the body from a file with os.sendfile),
splice (the head with send, the body through a pipe with splice(2)),
sendmmsg (the head with send, the body with libc's sendmmsg(2)) or
nonblock (a non-blocking socket: sends that take part of what they are
given, with --sndbuf to make them short); --nonblock makes write1,
writev1024 and sendmsg do the same, writing what is left after a short
write.  --continue answers "Expect:
100-continue" with an interim 100 before reading the body.  --listen ::
takes IPv6 and v4-mapped IPv4 peers.

--mode http serves keep-alive requests until the peer closes; --mode close
answers one request without a Content-Length and closes (the body ends with
the connection); --mode batch answers every complete request read so far
in one write (batches, batched: how many writes, how many responses in
them); --mode exit3 reads three requests (pipelined), answers the
first and ends the process with os._exit; --mode line answers a line
protocol (one reply line per line read: no HTTP at all).

Answers, by the request's path ("?pad=N": a header of N more bytes; a path
holding "slow" is answered a second late; HEAD gets the head only):
a POST to a path holding "toolarge" 413 at once, its body never read, then
the close ("toolarge-drain": its body read after the 413, the connection
kept); "empty" 204 without a body; "chunked" the body in chunks;
".../bytes/N" N bytes of body, a path holding
"missing" 404, "fail" 500, "moved" 302, anything else 200.  Responses have
a Content-Length unless said otherwise.

Its record (--stats FILE, JSON, rewritten atomically after every response and
every connection's end): pid, comm, cgroup (from /proc/self/cgroup), and the
totals and per route ("METHOD /path") counts of requests read, responses
written, status classes, bytes read and written, and the calls made
(read_calls, empty_reads: reads that returned the end of the stream,
write_calls, short_writes: a write call that took less than it was given,
max_iov: the most buffers one call named).  A request's bytes go to its route when it is complete; bytes of
a request never completed stay in the totals only; an interim 100's go to
its request's route (bytes_out) and to "interim", not to the responses.

Prints "ready PID" when it listens.
"""
import argparse
import ctypes
import json
import os
import select
import socket
import sys
import tempfile
import threading
import time

REASONS = {200: "OK", 204: "No Content", 302: "Found", 404: "Not Found", 413: "Content Too Large",
           500: "Internal Server Error"}


class Record:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.d = {
            "pid": os.getpid(),
            "comm": open("/proc/self/comm").read().strip(),
            "cgroup": self._cgroup(),
            "requests": 0, "responses": 0, "bytes_in": 0, "bytes_out": 0,
            "status": {"1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0},
            "routes": {}, "connections": 0,
            "read_calls": 0, "empty_reads": 0, "write_calls": 0, "peek_calls": 0,
            "sendfile_calls": 0, "splice_calls": 0, "sendmmsg_calls": 0, "interim": 0, "batches": 0, "batched": 0, "short_writes": 0, "max_iov": 0,
        }

    @staticmethod
    def _cgroup():
        try:
            for line in open("/proc/self/cgroup"):
                if line.startswith("0::"):
                    return line[3:].strip()
        except OSError:
            pass
        return None

    def route(self, name):
        return self.d["routes"].setdefault(name, {
            "requests": 0, "responses": 0, "bytes_in": 0, "bytes_out": 0,
            "status": {"1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0}})

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                self.d[k] += v

    def dump(self):
        if not self.path:
            return
        with self.lock:
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.d, f, indent=1, sort_keys=True)
            os.rename(tmp, self.path)


class Conn:
    """One accepted socket, read and written with the chosen calls."""

    def __init__(self, sock, args, rec):
        self.sock, self.args, self.rec = sock, args, rec
        self.fd = sock.fileno()
        self.buf = b""
        self.interim = 0  # bytes of a 100 Continue sent for the request being read
        self.early = False  # answered before its body was read: the connection ends
        self.drain = 0  # body bytes still to read (and drop) after the answer

    def read_some(self):
        how = self.args.read
        if how == "recv":
            data = self.sock.recv(65536)
        elif how == "read":  # read(2), not recvfrom(2)
            data = os.read(self.fd, 65536)
        elif how == "peek":  # a look first (MSG_PEEK moves no byte), then the read
            self.sock.recv(16, socket.MSG_PEEK)
            self.rec.add(peek_calls=1)
            data = self.sock.recv(65536)
        elif how == "recv1":
            data = self.sock.recv(1)
        elif how == "readv1024":
            bufs = [bytearray(1 + i % 3) for i in range(1024)]
            n = os.readv(self.fd, bufs)
            data = b"".join(bytes(b) for b in bufs)[:n]
            with self.rec.lock:
                self.rec.d["max_iov"] = max(self.rec.d["max_iov"], len(bufs))
        elif how == "readv0":  # readv(2) whose first buffer is empty
            bufs = [bytearray(0), bytearray(65536)]
            n = os.readv(self.fd, bufs)
            data = bytes(bufs[1])[:n]
        elif how == "recvmsg":
            bufs = [bytearray(7), bytearray(13), bytearray(29), bytearray(4096)]
            n, _, _, _ = self.sock.recvmsg_into(bufs)
            data = b"".join(bytes(b) for b in bufs)[:n]
            with self.rec.lock:
                self.rec.d["max_iov"] = max(self.rec.d["max_iov"], len(bufs))
        else:
            raise ValueError(how)
        self.rec.add(read_calls=1, bytes_in=len(data), empty_reads=0 if data else 1)
        return data

    def write_all(self, data):
        how = self.args.write
        if how == "sendall":
            self.sock.sendall(data)
            self.rec.add(write_calls=1, bytes_out=len(data))
            return
        if how == "split":  # the head, then the body in three calls
            head_end = data.index(b"\r\n\r\n") + 4
            body = data[head_end:]
            third = len(body) // 3 + 1
            for piece in [data[:head_end]] + [body[i:i + third] for i in range(0, len(body), third)]:
                self.sock.sendall(piece)
                self.rec.add(write_calls=1, bytes_out=len(piece))
            return
        if how == "sendfile":  # the head with send, the body from a file with sendfile(2)
            head_end = data.index(b"\r\n\r\n") + 4
            self.sock.sendall(data[:head_end])
            self.rec.add(write_calls=1, bytes_out=head_end)
            body = data[head_end:]
            if body:
                with tempfile.TemporaryFile() as f:
                    f.write(body)
                    f.flush()
                    off = 0
                    while off < len(body):
                        n = os.sendfile(self.fd, f.fileno(), off, len(body) - off)
                        self.rec.add(write_calls=1, sendfile_calls=1, bytes_out=n)
                        off += n
            return
        if how == "splice":  # the head with send, the body through a pipe with splice(2)
            head_end = data.index(b"\r\n\r\n") + 4
            self.sock.sendall(data[:head_end])
            self.rec.add(write_calls=1, bytes_out=head_end)
            body = memoryview(data)[head_end:]
            r, w = os.pipe()
            try:
                off = 0
                while off < len(body):
                    k = os.write(w, body[off:off + 32768])
                    left = k
                    while left:
                        n = os.splice(r, self.fd, left)
                        self.rec.add(write_calls=1, splice_calls=1, bytes_out=n)
                        left -= n
                    off += k
            finally:
                os.close(r)
                os.close(w)
            return
        if how == "sendmmsg":  # the head with send, the body with sendmmsg(2) (libc, ctypes)
            head_end = data.index(b"\r\n\r\n") + 4
            self.sock.sendall(data[:head_end])
            self.rec.add(write_calls=1, bytes_out=head_end)
            off = head_end
            while off < len(data):
                n = sendmmsg(self.fd, data[off:off + 65536])
                self.rec.add(write_calls=1, sendmmsg_calls=1, bytes_out=n)
                off += n
            return
        if how == "nonblock":  # non-blocking, a small send buffer: short writes
            self.sock.setblocking(False)
            try:
                off = 0
                while off < len(data):
                    try:
                        n = self.sock.send(data[off:])
                    except BlockingIOError:
                        select.select([], [self.sock], [], 5)
                        continue
                    self.rec.add(write_calls=1, bytes_out=n)
                    off += n
                    if off < len(data):
                        self.rec.add(short_writes=1)
            finally:
                self.sock.setblocking(True)
            return
        if how == "write1":
            pieces = [data]
        elif how == "writev1024":
            pieces = split_1024(data)
        elif how == "sendmsg":
            third = max(1, len(data) // 3)
            pieces = [data[:5], data[5:third], data[third:2 * third], data[2 * third:]]
            pieces = [p for p in pieces if p]
        else:
            raise ValueError(how)
        total = len(data)
        if self.args.nonblock:
            self.sock.setblocking(False)
        try:
            self._write_pieces(how, pieces, total)
        finally:
            self.sock.setblocking(True)

    def _write_pieces(self, how, pieces, total):
        while pieces:
            with self.rec.lock:
                self.rec.d["max_iov"] = max(self.rec.d["max_iov"], len(pieces))
            try:
                if how == "write1":
                    n = os.write(self.fd, pieces[0])
                elif how == "writev1024":
                    n = os.writev(self.fd, pieces)
                else:
                    n = self.sock.sendmsg(pieces)
            except BlockingIOError:
                select.select([], [self.sock], [], 5)
                continue
            self.rec.add(write_calls=1, bytes_out=n)
            total -= n
            if total:
                self.rec.add(short_writes=1)
            # drop what was written
            while n and pieces:
                if n >= len(pieces[0]):
                    n -= len(pieces[0])
                    pieces.pop(0)
                else:
                    pieces[0] = pieces[0][n:]
                    n = 0

    def next_request(self, wait=True):
        """(method, path, raw bytes) of the next complete request, or None at
        EOF (wait False: None unless one is complete in what was read).  A
        POST to a path holding "toolarge" is returned as soon as its head is
        in, with what was read of its body (self.early set)."""
        if not wait and not self.complete():
            return None
        if self.args.read == "splice" and not self.buf:
            return self.splice_request()
        while True:
            # Empty lines before a request line are skipped (RFC 9112 2.2).
            while self.buf[:1] in (b"\r", b"\n") and self.buf:
                self.buf = self.buf[1:]
            if b"\r\n\r\n" in self.buf:
                break
            data = self.read_some()
            if not data:
                return None
            self.buf += data
        head = self.buf.split(b"\r\n\r\n", 1)[0]
        lines = head.split(b"\r\n")
        method, path = lines[0].split(b" ")[:2]
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        body_end = len(head) + 4 + length
        if b"toolarge" in path and length:
            # Answered at once; "drain" in the path: the body read after the answer.
            raw = self.buf[:body_end]
            self.buf = self.buf[body_end:]
            if b"drain" in path:
                self.drain = length - (len(raw) - len(head) - 4)
            else:
                self.early = True
            return method.decode(), path.decode(), raw
        if (self.args.continue_ and len(self.buf) < body_end and
                b"expect: 100-continue" in head.lower()):
            interim = b"HTTP/1.1 100 Continue\r\n\r\n"
            self.write_all(interim)
            self.interim = len(interim)
            self.rec.add(interim=1)
        while len(self.buf) < body_end:
            data = self.read_some()
            if not data:
                return None
            self.buf += data
        raw = self.buf[:body_end]
        self.buf = self.buf[body_end:]
        return method.decode(), path.decode(), raw


    def splice_request(self):
        """A request whose head is taken with recv (its length found with
        MSG_PEEK first, so no body byte comes with it) and whose body is
        moved with splice(2) into a pipe, then drained."""
        while True:
            peek = self.sock.recv(65536, socket.MSG_PEEK)
            self.rec.add(peek_calls=1)
            if not peek:
                return None
            if b"\r\n\r\n" in peek:
                break
            time.sleep(0.01)
        hlen = peek.index(b"\r\n\r\n") + 4
        head = b""
        while len(head) < hlen:
            data = self.sock.recv(hlen - len(head))
            self.rec.add(read_calls=1, bytes_in=len(data), empty_reads=0 if data else 1)
            if not data:
                return None
            head += data
        lines = head[:-4].split(b"\r\n")
        method, path = lines[0].split(b" ")[:2]
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        body = b""
        if length:
            r, w = os.pipe()
            try:
                while len(body) < length:
                    n = os.splice(self.fd, w, min(65536, length - len(body)))
                    self.rec.add(splice_calls=1, bytes_in=n, empty_reads=0 if n else 1)
                    if not n:
                        return None
                    got = b""
                    while len(got) < n:
                        got += os.read(r, n - len(got))
                    body += got
            finally:
                os.close(r)
                os.close(w)
        return method.decode(), path.decode(), head + body

    def complete(self):
        """Does what was read hold a complete request?"""
        if b"\r\n\r\n" not in self.buf:
            return False
        head = self.buf.split(b"\r\n\r\n", 1)[0]
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        return len(self.buf) >= len(head) + 4 + length


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.POINTER(_Iovec)), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", _Msghdr), ("len", ctypes.c_uint)]


_libc = ctypes.CDLL(None, use_errno=True)


def sendmmsg(fd, data):
    """data sent with one sendmmsg(2) call of one message; the bytes it took."""
    buf = ctypes.create_string_buffer(bytes(data), len(data))
    iov = _Iovec(ctypes.cast(buf, ctypes.c_void_p), len(data))
    msg = _Mmsghdr()
    msg.hdr.iov = ctypes.pointer(iov)
    msg.hdr.iovlen = 1
    if _libc.sendmmsg(fd, ctypes.byref(msg), 1, 0) != 1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return msg.len


def split_1024(data):
    """data as exactly 1,024 buffers: the head in pieces of 1-3 bytes, the body in the rest."""
    head_end = data.index(b"\r\n\r\n") + 4
    head, body = data[:head_end], data[head_end:]
    pieces, i, k = [], 0, 0
    while i < len(head):
        n = 1 + k % 3
        pieces.append(head[i:i + n])
        i += n
        k += 1
    left = 1024 - len(pieces)
    if left < 1 or len(body) < left:
        raise ValueError("writev1024: %d head pieces, %d body bytes" % (len(pieces), len(body)))
    step = len(body) // left
    for j in range(left):
        pieces.append(body[j * step:(j + 1) * step] if j < left - 1 else body[j * step:])
    assert len(pieces) == 1024 and b"".join(pieces) == data
    return pieces


def response(path, close=False, method="GET"):
    code, body = 200, ("hello %s\n" % path).encode()
    extra = ""
    if "toolarge" in path:
        code, body, extra = 413, b"too large\n", "Connection: close\r\n"
    elif "empty" in path:
        code, body = 204, b""
    elif "/bytes/" in path:
        n = int(path.split("/bytes/")[1].split("/")[0].split("?")[0])
        body = (b"0123456789abcdef" * (n // 16 + 1))[:n]
    elif "missing" in path:
        code, body = 404, b"not here\n"
    elif "fail" in path:
        code, body = 500, b"failed\n"
    elif "moved" in path:
        code, body = 302, b"elsewhere\n"
    pad = ""
    if "pad=" in path:  # ?pad=N: a header of N more bytes
        pad = "X-Pad: %s\r\n" % ("p" * int(path.split("pad=")[1].split("&")[0]))
    if close:
        length = "Connection: close\r\n"
    elif code == 204:
        length = ""
    elif "chunked" in path:  # the body in chunks of up to 700 bytes
        length = "Transfer-Encoding: chunked\r\n"
        body = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 700]), body[i:i + 700])
                        for i in range(0, len(body), 700)) + b"0\r\n\r\n"
    else:
        length = "Content-Length: %d\r\n" % len(body)
    head = ("HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n%s%s"
            "X-Server: sockh\r\n%s\r\n" % (code, REASONS[code], length, extra, pad)).encode()
    if method == "HEAD":
        body = b""
    return code, head + body


def count_request(rec, method, path, raw):
    name = "%s %s" % (method, path.split("?")[0])
    with rec.lock:
        rec.d["requests"] += 1
        r = rec.route(name)
        r["requests"] += 1
        r["bytes_in"] += len(raw)
    return name


def count_response(rec, name, code, data, interim=0):
    cls = "%dxx" % (code // 100)
    with rec.lock:
        rec.d["responses"] += 1
        rec.d["status"][cls] += 1
        r = rec.route(name)
        r["responses"] += 1
        r["status"][cls] += 1
        r["bytes_out"] += len(data) + interim


def rec_close(conn):
    return conn.args.mode == "close"


def serve_http(conn, rec):
    while True:
        req = conn.next_request()
        if req is None:
            return
        method, path, raw = req
        name = count_request(rec, method, path, raw)
        if "slow" in path:  # answered a second later
            time.sleep(1)
        code, data = response(path, close=rec_close(conn), method=method)
        conn.write_all(data)
        count_response(rec, name, code, data, conn.interim)
        conn.interim = 0
        rec.dump()
        if rec_close(conn) or conn.early:
            return  # the body ends where the connection does, or was never read
        while conn.drain:
            data = conn.read_some()
            if not data:
                return
            conn.buf += data
            take = min(conn.drain, len(conn.buf))
            conn.buf = conn.buf[take:]
            conn.drain -= take


def serve_batch(conn, rec):
    """Every complete request read so far answered in one write."""
    while True:
        req = conn.next_request()
        if req is None:
            return
        reqs = [req]
        while True:
            more = conn.next_request(wait=False)
            if more is None:
                break
            reqs.append(more)
        out, done = b"", []
        for method, path, raw in reqs:
            name = count_request(rec, method, path, raw)
            code, data = response(path, method=method)
            out += data
            done.append((name, code, data))
        conn.write_all(out)
        rec.add(batches=1, batched=len(reqs))
        for name, code, data in done:
            count_response(rec, name, code, data)
        rec.dump()


def serve_exit3(conn, rec):
    got = []
    while len(got) < 3:
        req = conn.next_request()
        if req is None:
            break
        got.append((count_request(rec, *req), req[1]))
    if got:
        name, path = got[0]
        code, data = response(path)
        conn.write_all(data)
        count_response(rec, name, code, data)
    rec.dump()
    sys.stdout.flush()
    os._exit(0)  # the other requests stay unanswered; the kernel closes the socket


def serve_line(conn, rec):
    n = 0
    while True:
        while b"\n" not in conn.buf:
            data = conn.read_some()
            if not data:
                return
            conn.buf += data
        line, conn.buf = conn.buf.split(b"\n", 1)
        n += 1
        if line.startswith(b"{"):
            reply = b'{"ok": true, "n": %d}\n' % n
        else:
            reply = b"250 ok %d\r\n" % n
        conn.write_all(reply)


def handle(sock, args, rec):
    rec.add(connections=1)
    conn = Conn(sock, args, rec)
    try:
        {"http": serve_http, "close": serve_http, "exit3": serve_exit3,
         "line": serve_line, "batch": serve_batch}[args.mode](conn, rec)
    except (ConnectionError, OSError):
        pass
    finally:
        sock.close()
        rec.dump()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", choices=["http", "close", "exit3", "line", "batch"], default="http")
    ap.add_argument("--read", choices=["recv", "read", "recv1", "readv1024", "readv0", "recvmsg", "peek",
                             "splice"],
                    default="recv")
    ap.add_argument("--write", choices=["sendall", "write1", "writev1024", "sendmsg", "split",
                                        "sendfile", "splice", "sendmmsg", "nonblock"],
                    default="sendall")
    ap.add_argument("--continue", dest="continue_", action="store_true",
                    help="answer Expect: 100-continue with an interim 100 before the body")
    ap.add_argument("--sndbuf", type=int, help="SO_SNDBUF of accepted sockets")
    ap.add_argument("--nonblock", action="store_true",
                    help="write1, writev1024, sendmsg on a non-blocking socket: short writes "
                    "go on with what is left (with writev1024, fewer buffers)")
    ap.add_argument("--stats", help="the record, JSON")
    args = ap.parse_args()
    rec = Record(args.stats)
    family = socket.AF_INET6 if ":" in args.listen else socket.AF_INET
    lsock = socket.socket(family, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        lsock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # v4-mapped peers too
    lsock.bind((args.listen, args.port))
    lsock.listen(64)
    rec.dump()
    print("ready %d" % os.getpid(), flush=True)
    while True:
        sock, _ = lsock.accept()
        if args.sndbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, args.sndbuf)
        threading.Thread(target=handle, args=(sock, args, rec), daemon=True).start()


if __name__ == "__main__":
    main()
