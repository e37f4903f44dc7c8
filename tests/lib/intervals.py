#!/usr/bin/env python3
"""intervals.py - check a series of hm-stat --reset --json intervals.

Each snapshot is one interval: what `hm-stat --reset` read and cleared.  Two
kinds of checks, each printed as one JSON line {"check", "ok", "detail"}:

  consistent   every snapshot agrees with itself: the client rows, the port
               rows, the port/client rows and the interface rows each sum to
               the total row (requests, responses, unanswered, status
               classes, bytes in and out), and the route rows' requests sum
               to the total's requests;
  histograms   in every snapshot the total first-byte histogram holds one
               sample per timed response (responses less orphan_responses
               and gap_untimed), the port histograms plus
               ports_other_latency hold as many, and each route with a
               histogram holds one per response of its own;
  exact        (with --expected) the intervals summed equal the clients'
               truth (client.py-format files): the total, each client (by its
               "source" address) and each port; unanswered = 0; the
               last-byte histograms summed hold one sample per response;
  connections  (with --expected) conns_opened and conns_closed summed over
               the intervals each equal the connections the clients opened
               (their "connections"), and orphan_responses sums to 0
               (retransmissions and gaps, from real loss on the veths under
               saturation, are reported, not judged);
  subset       (with --subset-expected) the named clients' rows summed over
               the intervals equal their truth exactly (clients whose whole
               traffic lies inside the series), and for --within clients
               the sums are at most their truth, field by field.

Usage: intervals.py --snapshots S1.json S2.json ... [--expected C.json ...]
                    [--subset-expected C.json ...] [--within C.json ...]
Exit status 0 when every check holds, 1 otherwise, 2 on unreadable input.
"""

import argparse
import json
import sys

FIELDS = ("requests", "responses", "unanswered", "bytes_in", "bytes_out")
CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


def counts(row):
    """The additive counts of a row (hm-stat or client.py), as a flat dict."""
    c = {f: int(row.get(f) or 0) for f in FIELDS}
    status = row.get("status") or {}
    for k in CLASSES:
        c[k] = int(status.get(k) or 0)
    return c


def zero():
    return {f: 0 for f in FIELDS + CLASSES}


def add(a, b):
    for k in a:
        a[k] += b[k]
    return a


def total_of(rows):
    t = zero()
    for r in rows:
        add(t, counts(r))
    return t


def diff(a, b, keys=None):
    return {k: (a[k], b[k]) for k in (keys or a) if a[k] != b[k]}


def hist_count(obj, family="first"):
    h = (obj or {}).get("latency_hist") or {}
    fam = h.get(family)
    return None if fam is None else int(fam.get("count") or 0)


def truth_row(doc):
    c = counts(doc["total"])
    c["unanswered"] = c["requests"] - c["responses"]
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--snapshots", nargs="+", required=True)
    ap.add_argument("--expected", nargs="*", default=[])
    ap.add_argument("--subset-expected", nargs="*", default=[])
    ap.add_argument("--within", nargs="*", default=[])
    args = ap.parse_args()
    try:
        snaps = []
        for p in args.snapshots:
            with open(p) as f:
                snaps.append((p, json.load(f)))
        load = lambda paths: [json.load(open(p)) for p in paths]  # noqa: E731
        expected, subset, within = (load(args.expected), load(args.subset_expected),
                                    load(args.within))
    except (OSError, ValueError) as e:
        print(f"intervals.py: {e}", file=sys.stderr)
        return 2

    results = []

    def report(check, problems, summary):
        results.append({"check": check, "ok": not problems,
                        "detail": problems[:8] + ([f"... {len(problems) - 8} more"]
                                                  if len(problems) > 8 else []) or [summary]})

    # -- consistent -----------------------------------------------------------
    problems = []
    for path, s in snaps:
        total = counts(s.get("total") or {})
        for view in ("clients", "ports", "port_clients", "ifaces"):
            d = diff(total_of(s.get(view) or []), total)
            if d:
                problems.append(f"{path}: {view} rows summed differ from the total: "
                                f"{ {k: f'{a} vs {b}' for k, (a, b) in d.items()} }")
        rreq = sum(int(r.get("requests") or 0) for r in s.get("routes") or [])
        if rreq != total["requests"]:
            problems.append(f"{path}: route requests {rreq} vs total {total['requests']}")
    report("consistent", problems, f"{len(snaps)} snapshots: clients = ports = port_clients "
           "= ifaces = total, route requests = total requests")

    # -- histograms -----------------------------------------------------------
    problems = []
    for path, s in snaps:
        t = s.get("total") or {}
        mon = s.get("monitor") or {}
        timed = (int(t.get("responses") or 0) - int(mon.get("orphan_responses") or 0)
                 - int(mon.get("gap_untimed") or 0))
        n = hist_count(t)
        if n != timed:
            problems.append(f"{path}: total histogram holds {n} samples, {timed} timed responses")
        ports = sum(hist_count(r) or 0 for r in s.get("ports") or [])
        ports += hist_count(s.get("ports_other_latency")) or 0
        if ports != n:
            problems.append(f"{path}: port histograms + ports_other hold {ports}, total {n}")
        for r in s.get("routes") or []:
            rn = hist_count(r)
            if rn is not None and rn != int(r.get("responses") or 0):
                problems.append(f"{path}: route {r.get('method')} {r.get('route')}: histogram "
                                f"{rn}, responses {r.get('responses')}")
    report("histograms", problems, f"{len(snaps)} snapshots: one first-byte sample per timed "
           "response, in total, ports and routes")

    # -- exact -----------------------------------------------------------------
    if expected:
        problems = []
        got = zero()
        for _, s in snaps:
            add(got, counts(s.get("total") or {}))
        want = zero()
        for doc in expected:
            add(want, truth_row(doc))
        d = diff(got, want)
        if d:
            mon = {}
            for _, s in snaps:
                for k in ("retrans_segments", "seq_gaps", "hole_bytes", "gap_unanswered"):
                    mon[k] = mon.get(k, 0) + int((s.get("monitor") or {}).get(k) or 0)
            problems.append(f"total: intervals summed vs clients' truth: "
                            f"{ {k: f'{a} vs {b}' for k, (a, b) in d.items()} } (monitor: {mon})")
        by_ip, want_ip = {}, {}
        by_port, want_port = {}, {}
        for _, s in snaps:
            for r in s.get("clients") or []:
                add(by_ip.setdefault(str(r.get("ip")), zero()), counts(r))
            for r in s.get("ports") or []:
                add(by_port.setdefault(str(r.get("port")), zero()), counts(r))
        for doc in expected:
            add(want_ip.setdefault(str(doc["source"]), zero()), truth_row(doc))
            for port, row in doc["per_port"].items():
                c = counts(row)
                c["unanswered"] = c["requests"] - c["responses"]
                add(want_port.setdefault(str(port), zero()), c)
        for name, g, w in (("client", by_ip, want_ip), ("port", by_port, want_port)):
            for key in sorted(set(g) | set(w)):
                d = diff(g.get(key, zero()), w.get(key, zero()))
                if d:
                    problems.append(f"{name} {key}: intervals summed vs truth: "
                                    f"{ {k: f'{a} vs {b}' for k, (a, b) in d.items()} }")
        routes = zero()
        for _, s in snaps:
            add(routes, total_of(s.get("routes") or []))
        d = diff(routes, want)
        if d:
            problems.append(f"route rows: intervals summed vs clients' truth: "
                            f"{ {k: f'{a} vs {b}' for k, (a, b) in d.items()} }")
        for fam in ("first", "last"):
            n = sum(hist_count(s.get("total") or {}, fam) or 0 for _, s in snaps)
            if n != want["responses"]:
                problems.append(f"{fam}-byte histograms summed hold {n} samples, "
                                f"{want['responses']} responses")
        report("exact", problems, f"{len(snaps)} intervals summed = the clients' truth: "
               f"{want['requests']} requests, {want['responses']} responses, "
               f"{want['bytes_in']} bytes in, {want['bytes_out']} out, per client, port and "
               "route, and the histograms")

        problems = []
        conns = sum(int(doc.get("connections") or 0) for doc in expected)
        mon = {}
        for _, s in snaps:
            for k, v in (s.get("monitor") or {}).items():
                if isinstance(v, int) and k != "conns_live":
                    mon[k] = mon.get(k, 0) + v
        for k in ("conns_opened", "conns_closed"):
            if mon.get(k, 0) != conns:
                problems.append(f"{k} summed {mon.get(k, 0)}, the clients opened {conns}")
        if mon.get("orphan_responses", 0):
            problems.append(f"orphan_responses summed {mon['orphan_responses']}, want 0")
        # Real loss on the veths under saturation is no monitor error: said, not judged.
        seen = ", ".join(f"{k} {mon.get(k, 0)}" for k in
                         ("retrans_segments", "seq_gaps", "hole_bytes", "gap_untimed"))
        if problems:
            problems.append(f"(also: {seen})")
        report("connections", problems, f"conns_opened = conns_closed = {conns} connections, "
               f"no orphan responses ({seen})")

    # -- subset ------------------------------------------------------------------
    if subset or within:
        problems = []
        by_ip = {}
        for _, s in snaps:
            for r in s.get("clients") or []:
                add(by_ip.setdefault(str(r.get("ip")), zero()), counts(r))
        for doc in subset:
            ip = str(doc["source"])
            d = diff(by_ip.get(ip, zero()), truth_row(doc))
            if d:
                problems.append(f"client {ip}: intervals summed vs its truth: "
                                f"{ {k: f'{a} vs {b}' for k, (a, b) in d.items()} }")
        for doc in within:
            ip = str(doc["source"])
            g, w = by_ip.get(ip, zero()), truth_row(doc)
            over = {k: f"{g[k]} > {w[k]}" for k in g if k != "unanswered" and g[k] > w[k]}
            if over:
                problems.append(f"client {ip}: intervals summed exceed its truth: {over}")
        report("subset", problems, "clients inside the series exact, the others within truth")

    for r in results:
        print(json.dumps(r))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
