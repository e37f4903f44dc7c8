#!/usr/bin/env python3
"""conversation.py - one fixed HTTP/1.1 conversation, replayed byte for byte.

Hostile input 19 of the README (tests/e2e/test_linear.sh): the same bytes go through the
monitor once as linear skbs (build/hm_replay, bpf_prog_test_run)
and once over real TCP on a live veth and bridge (non-linear, GSO skbs), and
both must give the counts the conversation itself implies.

File format ("conversation file"), binary-safe, parsed the same way by
tests/tools/replay.c (build/hm_replay):

    # comment lines start with '#'; empty lines are ignored
    C <length>\\n<exactly length bytes>\\n     one write by the client
    S <length>\\n<exactly length bytes>\\n     one write by the server

Records run in order on one keep-alive connection: the client writes each C
record with one sendall() and reads each S record by its exact length; the
server reads each C record by its exact length and writes each S record with
one sendall().  Both check every byte against the file.

Subcommands:
  gen FILE                      write the built-in conversation (deterministic)
  truth FILE                    what the conversation implies, as JSON: requests,
                                responses, unanswered, status classes, bytes_in,
                                bytes_out, latency sample counts (computed by
                                framing the two byte streams, not by the monitor)
  serve FILE --listen A:P       serve one connection (prints "ready" once
                                listening); exit 0 when every byte matched
  client FILE --target A:P      play the client; exit 0 when every byte matched
  live --stat J --clients-map J --ports-map J --ip IP --port N
                                a monitor's row for IP and N from hm-stat --json
                                (counters) and bpftool dumps of hm_clients and
                                hm_ports (latency sample counts), as JSON
  compare A B --name-a X --name-b Y
                                two row documents (truth, hm_replay
                                output, live): equal field by field, or exit 1
  shape J --port N --ifindex I...
                                what tests/tools/skb_shape.bpf.c saw (bpftool
                                dump J) per interface and direction, as JSON
"""

import argparse
import ipaddress
import json
import socket
import sys

CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
# The fields every row document holds (status is a dict of CLASSES).
FIELDS = ("requests", "responses", "unanswered", "status", "bytes_in", "bytes_out",
          "latency_count", "latency_ok_count", "latency_fail_count", "latency_last_count")
# Monitor counters that must be 0 on every path for this conversation.
ZERO_MONITOR = ("orphan_responses", "pipeline_overflow", "interim_responses", "unparseable",
                "truncated", "bad_length", "seq_gaps", "parse_budget", "load_errors",
                "gap_unanswered", "early_responses", "gap_untimed", "te_and_cl",
                "ignored_segments", "conn_create_failed", "idle_unanswered")


class ConvError(Exception):
    pass


# ------------------------------------------------------------ the file ----

def body(n, salt):
    """n deterministic printable bytes (no CR or LF)."""
    return bytes(33 + (i * 131 + salt * 7 + (i >> 7)) % 94 for i in range(n))


def req(method, path, extra=b"", data=b""):
    head = b"%s %s HTTP/1.1\r\nHost: lab\r\nUser-Agent: hm-linear/1\r\nAccept: */*\r\n" % (
        method, path)
    return head + extra + b"\r\n" + data


def resp(code, reason, headers=b"", data=b""):
    return b"HTTP/1.1 %d %s\r\nServer: hm-linear\r\n%s\r\n" % (code, reason, headers) + data


def chunked(sizes, salt):
    out = b""
    for k, n in enumerate(sizes):
        out += b"%x\r\n" % n + body(n, salt + k) + b"\r\n"
    return out + b"0\r\n\r\n"


def conversation():
    """The built-in conversation: a list of ("C" | "S", bytes)."""
    recs = []
    c = lambda b: recs.append(("C", b))  # noqa: E731
    s = lambda b: recs.append(("S", b))  # noqa: E731
    cl = lambda n: b"Content-Length: %d\r\n" % n  # noqa: E731

    # keep-alive GET answered with Content-Length
    c(req(b"GET", b"/"))
    s(resp(200, b"OK", b"Content-Type: text/plain\r\n" + cl(13), b"hello, world\n"))
    # POST with a 5000-byte body (one write, four segments)
    post = body(5000, 1)
    c(req(b"POST", b"/upload", b"Content-Type: application/octet-stream\r\n" + cl(len(post)), post))
    s(resp(201, b"Created", cl(7), b"created"))
    # chunked response of about 20 KB, in two writes cut inside a chunk
    stream = resp(200, b"OK", b"Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n",
                  chunked([1000, 4096, 7, 3000, 8192, 3705], 10))
    c(req(b"GET", b"/stream"))
    s(stream[:9001])
    s(stream[9001:])
    # 404, 500, 301
    c(req(b"GET", b"/missing"))
    s(resp(404, b"Not Found", cl(10), b"not found\n"))
    c(req(b"GET", b"/boom"))
    s(resp(500, b"Internal Server Error", cl(5), b"boom\n"))
    c(req(b"GET", b"/old"))
    s(resp(301, b"Moved Permanently", b"Location: /new\r\n" + cl(0)))
    # HEAD: Content-Length of the 64 KiB body, no body
    c(req(b"HEAD", b"/large"))
    s(resp(200, b"OK", b"Content-Type: application/octet-stream\r\n" + cl(65536)))
    # a pipelined pair in one write, answered in one write
    c(req(b"GET", b"/p1") + req(b"GET", b"/p2"))
    s(resp(200, b"OK", cl(3000), body(3000, 20)) + resp(200, b"OK", cl(2), b"p2"))
    # a 64 KiB response body (GSO super-packets on the live path)
    c(req(b"GET", b"/large"))
    s(resp(200, b"OK", b"Content-Type: application/octet-stream\r\n" + cl(65536),
           body(65536, 30)))
    # one more exchange: framing survived the large body
    c(req(b"GET", b"/after"))
    s(resp(200, b"OK", cl(5), b"after"))
    return recs


def write_file(path, recs):
    with open(path, "wb") as f:
        f.write(b"# httpmon conversation (tests/lib/conversation.py gen)\n")
        for side, data in recs:
            f.write(b"%s %d\n" % (side.encode(), len(data)) + data + b"\n")


def read_file(path):
    data = open(path, "rb").read()
    recs, pos = [], 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:
            raise ConvError(f"{path}: line at byte {pos} has no newline")
        line = data[pos:nl]
        pos = nl + 1
        if not line or line.startswith(b"#"):
            continue
        side, _, n = line.partition(b" ")
        if side not in (b"C", b"S") or not n.isdigit():
            raise ConvError(f"{path}: bad record line {line[:40]!r}")
        n = int(n)
        if pos + n + 1 > len(data) or data[pos + n:pos + n + 1] != b"\n":
            raise ConvError(f"{path}: record of {n} bytes at byte {pos} is cut short")
        recs.append((side.decode(), data[pos:pos + n]))
        pos += n + 1
    if not recs:
        raise ConvError(f"{path}: no records")
    return recs


# ------------------------------------------------------------ the truth ----

def head_of(stream, pos):
    end = stream.find(b"\r\n\r\n", pos)
    if end < 0:
        raise ConvError(f"header block at byte {pos} does not end")
    lines = stream[pos:end].split(b"\r\n")
    headers = {}
    for h in lines[1:]:
        k, sep, v = h.partition(b":")
        if not sep:
            raise ConvError(f"bad header line {h!r}")
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers, end + 4


def body_end(stream, pos, headers):
    """End of the body at pos, from chunked framing or Content-Length."""
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while True:
            nl = stream.find(b"\r\n", pos)
            if nl < 0:
                raise ConvError(f"chunk size line at byte {pos} does not end")
            size = int(stream[pos:nl].split(b";")[0], 16)
            pos = nl + 2
            if size == 0:
                while True:  # trailers, then an empty line
                    nl = stream.find(b"\r\n", pos)
                    if nl < 0:
                        raise ConvError("trailer does not end")
                    line, pos = stream[pos:nl], nl + 2
                    if not line:
                        return pos
            if stream[pos + size:pos + size + 2] != b"\r\n":
                raise ConvError(f"chunk of {size} bytes at byte {pos} not followed by CRLF")
            pos += size + 2
    n = int(headers.get(b"content-length", b"0"))
    if pos + n > len(stream):
        raise ConvError(f"body of {n} bytes at byte {pos} is cut short")
    return pos + n


def truth(recs):
    """Frames both byte streams as HTTP/1.1 and returns the row they imply."""
    cstream = b"".join(d for s, d in recs if s == "C")
    sstream = b"".join(d for s, d in recs if s == "S")
    methods, pos = [], 0
    while pos < len(cstream):
        line, headers, pos = head_of(cstream, pos)
        methods.append(line.split(b" ")[0])
        pos = body_end(cstream, pos, headers)
    status = dict.fromkeys(CLASSES, 0)
    responses = last = fail = pos = 0
    while pos < len(sstream):
        line, headers, pos = head_of(sstream, pos)
        code = int(line.split(b" ")[1])
        if 100 <= code < 200 and code != 101:
            continue  # interim: not a response
        if responses >= len(methods):
            raise ConvError("more responses than requests")
        if methods[responses] != b"HEAD" and code not in (204, 304):
            pos = body_end(sstream, pos, headers)
        status[CLASSES[code // 100 - 1]] += 1
        fail += code >= 500
        last += 1  # every response here has a known end (length, chunked or none)
        responses += 1
    return {"requests": len(methods), "responses": responses,
            "unanswered": len(methods) - responses, "status": status,
            "bytes_in": len(cstream), "bytes_out": len(sstream),
            "latency_count": responses, "latency_ok_count": responses - fail,
            "latency_fail_count": fail, "latency_last_count": last}


# ------------------------------------------------------------ the peers ----

def split_addr(text):
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    return host, int(port), socket.AF_INET6 if ipaddress.ip_address(host).version == 6 \
        else socket.AF_INET


def recv_exact(sock, n, what):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise ConvError(f"{what}: connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def play(sock, recs, me):
    """Runs the conversation as side me ("C" or "S"); returns (sent, received) bytes."""
    sent = got = 0
    for k, (side, data) in enumerate(recs):
        if side == me:
            sock.sendall(data)
            sent += len(data)
        else:
            what = f"record {k} ({side}, {len(data)} bytes)"
            rx = recv_exact(sock, len(data), what)
            if rx != data:
                at = next(i for i in range(len(data)) if rx[i] != data[i])
                raise ConvError(f"{what}: differs from the file at byte {at}")
            got += len(rx)
    return sent, got


def serve(args):
    recs = read_file(args.file)
    host, port, fam = split_addr(args.listen)
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(1)
    ls.settimeout(args.timeout)
    print("ready", flush=True)
    conn, peer = ls.accept()
    conn.settimeout(args.timeout)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sent, got = play(conn, recs, "S")
    extra = conn.recv(1)  # the client closes next: nothing more may come
    if extra:
        raise ConvError("the client sent bytes beyond the conversation")
    conn.close()
    ls.close()
    print(f"server: {got} bytes received, {sent} sent, all as in the file, peer {peer[0]}")


def client(args):
    recs = read_file(args.file)
    host, port, fam = split_addr(args.target)
    sock = socket.socket(fam, socket.SOCK_STREAM)
    sock.settimeout(args.timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.connect((host, port))
    sent, got = play(sock, recs, "C")
    sock.shutdown(socket.SHUT_WR)
    if sock.recv(1):
        raise ConvError("the server sent bytes beyond the conversation")
    sock.close()
    print(f"client: {sent} bytes sent, {got} received, all as in the file")


# ------------------------------------------------------------ monitors ----

def norm_ip(text):
    a = ipaddress.ip_address(text)
    if a.version == 6 and a.ipv4_mapped:
        a = a.ipv4_mapped
    return str(a)


def bpftool_lat_counts(dump, match):
    """Latency sample counts of the rows whose key matches, in compare.py rows
    output (bpftool's BTF-formatted rows: a key in both generations adds up)."""
    counts = None
    for entry in dump:
        if entry.get("key") is None:
            continue  # an overflow row
        if not match(entry["key"]):
            continue
        if counts is None:
            counts = dict.fromkeys(("latency_count", "latency_ok_count", "latency_fail_count",
                                    "latency_last_count"), 0)
        for v in entry["values"]:
            s = v["value"]
            counts["latency_count"] += s["lat_ok"]["count"] + s["lat_fail"]["count"]
            counts["latency_ok_count"] += s["lat_ok"]["count"]
            counts["latency_fail_count"] += s["lat_fail"]["count"]
            counts["latency_last_count"] += s["lat_last"]["count"]
    return counts


def stat_row(row):
    out = {k: row[k] for k in ("requests", "responses", "unanswered", "bytes_in", "bytes_out")}
    out["status"] = {c: row["status"][c] for c in CLASSES}
    return out


def live(args):
    doc = json.load(open(args.stat))
    cmap = json.load(open(args.clients_map))
    pmap = json.load(open(args.ports_map))
    ip = norm_ip(args.ip)
    res = {}
    crow = [r for r in doc["clients"] if r["ip"] != "other" and norm_ip(r["ip"]) == ip]
    prow = [r for r in doc["ports"] if r["port"] == args.port]
    if len(crow) != 1 or len(prow) != 1:
        raise ConvError(f"hm-stat has {len(crow)} rows for client {ip} and {len(prow)} for "
                        f"port {args.port} (want one each)")
    res["client"] = stat_row(crow[0])
    res["client"]["ip"] = ip
    lat = bpftool_lat_counts(
        cmap, lambda k: norm_ip(str(ipaddress.ip_address(bytes(k["addr"]["a"])))) == ip)
    res["client"].update(lat or {})
    res["port"] = stat_row(prow[0])
    res["port"]["port"] = args.port
    res["port"].update(bpftool_lat_counts(pmap, lambda k: k["port"] == args.port) or {})
    # hm-stat's own sample counts: the port row's histograms
    res["port"]["hist_first_count"] = prow[0]["latency_hist"]["first"]["count"]
    res["port"]["hist_last_count"] = prow[0]["latency_hist"]["last"]["count"]
    res["monitor"] = doc["monitor"]
    json.dump(res, sys.stdout)
    print()


def flat(row, prefix=""):
    out = {}
    for k, v in row.items():
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def rows_of(doc):
    """A truth document is one row for both; others have client and port rows."""
    if "client" in doc:
        return {"client": doc["client"], "port": doc["port"]}
    return {"client": doc, "port": doc}


def compare(args):
    a, b = json.load(open(args.a)), json.load(open(args.b))
    ra, rb = rows_of(a), rows_of(b)
    bad, n = [], 0
    for which in ("client", "port"):
        fa, fb = flat(ra[which]), flat(rb[which])
        for f in FIELDS:
            keys = [f"status.{c}" for c in CLASSES] if f == "status" else [f]
            for k in keys:
                n += 1
                if fa.get(k) != fb.get(k):
                    bad.append(f"{which} {k}: {args.name_a} {fa.get(k)}, {args.name_b} {fb.get(k)}")
    # the histogram counts a live document has: one per response, like the samples
    for doc, name in ((a, args.name_a), (b, args.name_b)):
        port = rows_of(doc)["port"]
        for h, f in (("hist_first_count", "latency_count"), ("hist_last_count",
                                                             "latency_last_count")):
            if h in port:
                n += 1
                if port[h] != port.get(f):
                    bad.append(f"{name} port {h} {port[h]} != {f} {port.get(f)}")
        mon = doc.get("monitor")
        if mon is not None:
            for k in ZERO_MONITOR:
                n += 1
                if mon.get(k) != 0:
                    bad.append(f"{name} monitor {k}: {mon.get(k)} (must be 0)")
    if bad:
        print("\n".join(bad))
        sys.exit(1)
    r = ra["client"]
    print(f"{n} fields equal: requests {r['requests']}, responses {r['responses']}, "
          f"unanswered {r['unanswered']}, status {r['status']}, bytes_in {r['bytes_in']}, "
          f"bytes_out {r['bytes_out']}, latency samples {r['latency_count']} "
          f"(ok {r['latency_ok_count']}, fail {r['latency_fail_count']}, last "
          f"{r['latency_last_count']})")


def shape(args):
    dump = json.load(open(args.dump))
    names = dict(x.split("=", 1) for x in args.ifindex)
    out = {}
    for entry in dump:
        k, v = entry["formatted"]["key"], entry["formatted"]["value"]
        name = names.get(str(k["ifindex"]))
        if name is None:
            continue
        d = "from_server" if k["sport"] == args.port else "to_server"
        row = out.setdefault(f"{name}.{d}", dict.fromkeys(
            ("skbs", "nonlinear", "gso", "over_mtu", "bytes", "max_len", "max_linear"), 0))
        for f in row:
            row[f] = max(row[f], v[f]) if f.startswith("max") else row[f] + v[f]
    json.dump(out, sys.stdout, sort_keys=True)
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("gen")
    p.add_argument("file")
    p = sub.add_parser("truth")
    p.add_argument("file")
    for name, opt in (("serve", "--listen"), ("client", "--target")):
        p = sub.add_parser(name)
        p.add_argument("file")
        p.add_argument(opt, required=True)
        p.add_argument("--timeout", type=float, default=10)
    p = sub.add_parser("live")
    p.add_argument("--stat", required=True)
    p.add_argument("--clients-map", required=True)
    p.add_argument("--ports-map", required=True)
    p.add_argument("--ip", required=True)
    p.add_argument("--port", type=int, required=True)
    p = sub.add_parser("compare")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--name-a", default="a")
    p.add_argument("--name-b", default="b")
    p = sub.add_parser("shape")
    p.add_argument("dump")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ifindex", nargs="+", default=[], metavar="INDEX=NAME")
    args = ap.parse_args()
    try:
        if args.cmd == "gen":
            write_file(args.file, conversation())
            if read_file(args.file) != conversation():
                raise ConvError("the file does not read back as written")
        elif args.cmd == "truth":
            json.dump(truth(read_file(args.file)), sys.stdout)
            print()
        else:
            {"serve": serve, "client": client, "live": live, "compare": compare,
             "shape": shape}[args.cmd](args)
    except (ConvError, OSError, ValueError, KeyError) as e:
        print(f"conversation.py {args.cmd}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
