#!/usr/bin/env python3
"""sock_compare.py - compares hm-stat's JSON for the socket source with the
ground truth the socket tests collected themselves, and prints one line per
check: "ok<TAB>NAME" or "not ok<TAB>NAME<TAB>DETAIL" (the test script turns
them into its ok / not ok lines).

Truth (--truth, repeatable), one request per record:
  FILE            JSON lines {"port", "method"?, "path", "status",
                  "req_bytes", "resp_bytes"} (pipe_client.py's and
                  sock_server.py's records; method defaults to GET)
  curl:FILE       curl -w lines "METHOD CODE SIZE_REQUEST SIZE_UPLOAD
                  SIZE_HEADER SIZE_DOWNLOAD URL": request bytes as sent,
                  response bytes as received (headers, 1xx ones included,
                  and body).  curl counts a body it sends with the headers
                  in both SIZE_REQUEST and SIZE_UPLOAD, one it sends after
                  them (a large one, or after 100 Continue) in SIZE_UPLOAD
                  only: the request's bytes are SIZE_REQUEST, plus
                  SIZE_UPLOAD when SIZE_REQUEST is the smaller.
  nginx:FILE      access log lines "PORT REQUEST_TIME STATUS BYTES_SENT
                  REQUEST_LENGTH METHOD URI" (nginx's own record)

Checks, each on the rows of the given keys only (the socket source sees the
whole host):
  rows: for every --port P, the port row; with --routes, every route of the
    truth (METHOD, path without query: the tests' paths have two plain
    segments, which the default grouping keeps as they are); for every
    --proc PID:PORTS:COMM:CGROUP, the process rows of PID (summed over
    comm and cgroup) against the truth of PORTS, and that PID's rows name
    COMM and CGROUP (a path under the cgroup2 mount).  Compared: requests,
    responses, status classes, unanswered (the requests of the truth
    without a status), bytes_in, bytes_out - exactly.
  latency --record FILE --port P --slack-ms MS [--stats min,avg,max]:
    sock_server.py's own times of port P against the port row's
    latency_us: each of those (p99 too) within [server's - 1 us, server's +
    MS] (p99: the histogram's bucket width more): the socket's interval,
    read return to write call, contains the server's, so it is never
    shorter by more than rounding.
  client-bounds --truth FILE --port P [--slack-ms MS]: pipe_client.py
    --split's own clock: the port's latency min >= the shortest time from
    a request's first byte sent to its last one sent (no one sees the
    answer before the whole request came) - MS, and its max <= the longest
    time from a request's first byte sent to its response's first byte
    received + MS.
  nginx-latency --log FILE --port P --slack-ms MS: the port's average
    socket latency <= the average $request_time + MS (nginx has ms
    resolution; $request_time runs from the request's first read to the
    log line, past the response's first write).
"""

import argparse
import json
import sys
from urllib.parse import urlsplit

FIELDS = ("requests", "responses", "1xx", "2xx", "3xx", "4xx", "5xx", "unanswered",
          "bytes_in", "bytes_out")


def load_truth(specs):
    recs = []
    for spec in specs:
        kind, _, path = spec.partition(":") if spec.split(":", 1)[0] in ("curl", "nginx") \
            else ("jsonl", "", spec)
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                if kind == "jsonl":
                    r = json.loads(line)
                    r.setdefault("method", "GET")
                elif kind == "curl":
                    method, code, sreq, sup, shdr, sdl, url = line.split()
                    u = urlsplit(url)
                    sreq, sup = int(sreq), int(sup)
                    r = {"port": u.port, "method": method, "path": u.path, "status": int(code),
                         "req_bytes": sreq + (sup if sreq < sup else 0),
                         "resp_bytes": int(shdr) + int(sdl)}
                else:
                    port, _rt, status, sent, rlen, method, uri = line.split()
                    r = {"port": int(port), "method": method, "path": uri.split("?")[0],
                         "status": int(status), "req_bytes": int(rlen),
                         "resp_bytes": int(sent), "request_time": float(_rt)}
                recs.append(r)
    return recs


def summarize(recs):
    s = dict.fromkeys(FIELDS, 0)
    for r in recs:
        s["requests"] += 1
        if r["status"]:
            s["responses"] += 1
            s["%dxx" % (r["status"] // 100)] += 1
        else:  # never answered (curl's 000, a server's status 0)
            s["unanswered"] += 1
        s["bytes_in"] += r["req_bytes"]
        s["bytes_out"] += r["resp_bytes"]
    return s


def row_summary(rows):
    s = dict.fromkeys(FIELDS, 0)
    for row in rows:
        for k in ("requests", "responses", "unanswered", "bytes_in", "bytes_out"):
            s[k] += row.get(k) or 0
        for k in ("1xx", "2xx", "3xx", "4xx", "5xx"):
            s[k] += (row.get("status") or {}).get(k) or 0
    return s


def words(s):
    return " ".join(f"{k} {s[k]}" for k in FIELDS)


def say(ok, name, detail=""):
    print(("ok\t%s" % name) if ok else ("not ok\t%s\t%s" % (name, detail)), flush=True)


def compare(name, truth, rows):
    got = row_summary(rows)
    ok = bool(rows) and got == truth
    say(ok, f"{name}: {words(truth)}" if ok else name,
        f"hm-stat: {words(got) if rows else '(no row)'} | truth: {words(truth)}")


def cmd_rows(a, stat):
    recs = load_truth(a.truth)
    for p in a.port:
        t = summarize([r for r in recs if r["port"] == p])
        compare(f"{a.label}: port {p}", t, [r for r in stat.get("ports", []) if r.get("port") == p])
    if a.routes:
        keys = sorted({(r["method"], r["path"]) for r in recs})
        for m, path in keys:
            t = summarize([r for r in recs if (r["method"], r["path"]) == (m, path)])
            rows = [r for r in stat.get("routes", []) if r.get("method") == m and r.get("route") == path]
            compare(f"{a.label}: route {m} {path}", t, rows)
    for spec in a.proc:
        pid, ports, comm, cgroup = spec.split(":", 3)
        ports = {int(p) for p in ports.split(",")}
        t = summarize([r for r in recs if r["port"] in ports])
        if "processes" not in stat:
            say(False, f"{a.label}: process {pid} ({comm})",
                "hm-stat gave no \"processes\" array (--by process)")
            continue
        rows = [r for r in stat["processes"] if r.get("pid") == int(pid)]
        compare(f"{a.label}: process {pid} ({comm}, ports {','.join(map(str, sorted(ports)))})",
                t, rows)
        names = sorted({(r.get("comm"), r.get("role"), str(r.get("cgroup", "")).strip("/"),
                         r.get("cgroup_id")) for r in rows})
        want = [(comm, "server", cgroup.strip("/"), a.cgroup_id)]
        say(names == want, f"{a.label}: process {pid} is comm {comm}, role server, cgroup "
            f"{cgroup} (id {a.cgroup_id})", f"hm-stat: {names} | truth: {want}")


def lat(stat, port):
    rows = [r for r in stat.get("ports", []) if r.get("port") == port]
    return (rows[0].get("latency_us") or {}) if rows else {}


def cmd_latency(a, stat):
    recs = [json.loads(x) for x in open(a.record) if x.strip()]
    us = [r["latency_ns"] / 1000 for r in recs if r["port"] == a.port and r["resp_bytes"]]
    got = lat(stat, a.port)
    if not us or got.get("avg") is None:
        say(False, f"{a.label}: port {a.port} latency", f"server times: {len(us)}, hm-stat: {got}")
        return
    srt = sorted(us)
    want = {"min": srt[0], "max": srt[-1], "avg": sum(us) / len(us),
            "p99": srt[min(len(srt) - 1, int(len(srt) * 0.99))]}
    slack = a.slack_ms * 1000
    keys = a.stats.split(",")
    # p99 is read from the histogram: its buckets are 1/16 of a power of two wide.
    lo = {k: want[k] * (15 / 16 if k == "p99" else 1) - a.floor_us for k in keys}
    hi = {k: want[k] * (17 / 16 if k == "p99" else 1) + slack for k in keys}
    bad = [k for k in keys if got.get(k) is None or not lo[k] <= got[k] <= hi[k]]
    text = ", ".join(f"{k} {got.get(k) or 0:.1f} vs {want[k]:.1f}" for k in keys)
    say(not bad, f"{a.label}: port {a.port} socket latency (us) within [server - {a.floor_us:g} us,"
        f" server + {a.slack_ms:g} ms] of the server's own over {len(us)} requests: {text}",
        f"out of bounds: {bad}: {text}")


def cmd_nginx_latency(a, stat):
    recs = [r for r in load_truth(["nginx:" + a.log]) if r["port"] == a.port]
    got = lat(stat, a.port)
    if not recs or got.get("avg") is None:
        say(False, f"{a.label}: port {a.port} latency", f"log lines: {len(recs)}, hm-stat: {got}")
        return
    avg_rt = sum(r["request_time"] for r in recs) / len(recs) * 1e6
    ok = got["avg"] <= avg_rt + a.slack_ms * 1000
    say(ok, f"{a.label}: port {a.port} average socket latency {got['avg']:.1f} us <= nginx's average"
        f" $request_time {avg_rt:.1f} us + {a.slack_ms:g} ms ({len(recs)} requests)",
        f"socket avg {got['avg']} us, nginx avg {avg_rt:.1f} us")


def cmd_client_bounds(a, stat):
    recs = [r for r in load_truth(a.truth) if r["port"] == a.port and "t_first_recv" in r]
    got = lat(stat, a.port)
    if not recs or got.get("min") is None:
        say(False, f"{a.label}: port {a.port} latency within the client's clock",
            f"client records: {len(recs)}, hm-stat: {got}")
        return
    # No vantage point sees a response before the request's last byte has come.
    low = min(r["t_last_sent"] - r["t_first_sent"] for r in recs) / 1000 - a.slack_ms * 1000
    # The request's first byte leaves after t_first_sent; the response's first byte comes before t_first_recv.
    high = max(r["t_first_recv"] - r["t_first_sent"] for r in recs) / 1000 + a.slack_ms * 1000
    ok = low <= got["min"] and got["max"] <= high
    say(ok, f"{a.label}: port {a.port} latency min {got['min']:.1f} us >= the shortest send of a "
        f"request, first byte to last ({low:.1f} us with slack), max {got['max']:.1f} us <= the "
        f"longest client wait, first byte sent to first byte back ({high:.1f} us with slack)",
        f"min {got['min']} max {got['max']} us; bounds [{low:.1f}, {high:.1f}] us")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("rows")
    r.add_argument("--truth", action="append", default=[])
    r.add_argument("--port", action="append", type=int, default=[])
    r.add_argument("--routes", action="store_true")
    r.add_argument("--proc", action="append", default=[])
    r.add_argument("--cgroup-id", type=int)
    l = sub.add_parser("latency")
    l.add_argument("--record", required=True)
    l.add_argument("--port", type=int, required=True)
    l.add_argument("--slack-ms", type=float, default=1.0)
    l.add_argument("--floor-us", type=float, default=1.0)
    l.add_argument("--stats", default="min,avg,max")
    n = sub.add_parser("nginx-latency")
    n.add_argument("--log", required=True)
    n.add_argument("--port", type=int, required=True)
    n.add_argument("--slack-ms", type=float, default=1.0)
    b = sub.add_parser("client-bounds")
    b.add_argument("--truth", action="append", default=[])
    b.add_argument("--port", type=int, required=True)
    b.add_argument("--slack-ms", type=float, default=0.1)
    for p in (r, l, n, b):
        p.add_argument("--stat", required=True)
        p.add_argument("--label", default="sockets")
    a = ap.parse_args()
    with open(a.stat) as f:
        stat = json.load(f)
    {"rows": cmd_rows, "latency": cmd_latency, "nginx-latency": cmd_nginx_latency,
     "client-bounds": cmd_client_bounds}[a.cmd](a, stat)


if __name__ == "__main__":
    sys.exit(main())
