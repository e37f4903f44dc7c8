#!/usr/bin/env python3
"""latency_compare.py - hm-stat's latency percentiles against the clients' samples.

  latency_compare.py --expected C1.json [C2.json...] --actual HMSTAT.json
                     --delay-mix MS:WEIGHT[,MS:WEIGHT...] [--check p50,p99]
                     [--routes PATH=MS[,PATH=MS...]]

C*.json come from latency_client.py ("samples": [port, status, first_ns,
last_ns, path] per request), HMSTAT.json from `hm-stat --json`.  For every
port, the total and (--routes) the GET route named PATH, whose requests the
origin delays MS ms, for both latency families (first and last response
byte) and the four reported percentiles, with v the monitor's own
nearest-rank sample
(unknown to the test) and r what hm-stat reports (within v/32 of v, its
documented bound):

  upper  r <= c * (1 + 1/32), c the clients' nearest-rank quantile.  The
         client's clock starts before the send() and stops after the recv(),
         so every request's client latency contains the monitor's, and the
         order statistics keep that order: v <= c.
  lower  r >= d * (1 - 1/32), d the quantile of the origin's sleeps
         (--delay-mix): the server answers no sooner, so v >= d.
  gap    for the --check percentiles: c * (1 - 1/32) - r <= allowance, the
         clients' own overhead.  It is measured in this run as the difference
         of the averages (client minus monitor, exact sums on both sides);
         the allowance is 1 ms plus four times that mean, since an overhead
         quantile exceeds its mean.

The delay mix must place each checked percentile well inside one delay mode
(the test's job).  Prints one line per comparison; exits 1 when one fails, 2
on unreadable input.
"""

import argparse
import json
import sys

BUCKET_ERR = 1 / 32
FAMILIES = (("first", "latency_us", 2), ("last", "latency_last_us", 3))
QUANTILES = (("p50", 5000), ("p90", 9000), ("p99", 9900), ("p99_9", 9990))


def nearest_rank(values, per10k):
    values = sorted(values)
    n = len(values)
    return values[max(1, min(n, (n * per10k + 9999) // 10000)) - 1]


def delay_quantile(mix, per10k):
    """Quantile of the sleeps, from their proportions (ms -> ns)."""
    total = sum(w for _, w in mix)
    rank = (total * per10k + 9999) // 10000
    seen = 0
    for ms, w in sorted(mix):
        seen += w
        if seen >= rank:
            return ms * 1_000_000
    return sorted(mix)[-1][0] * 1_000_000


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--expected", nargs="+", required=True)
    ap.add_argument("--actual", required=True)
    ap.add_argument("--delay-mix", required=True)
    ap.add_argument("--check", default="p50,p99")
    ap.add_argument("--routes", default="")
    a = ap.parse_args()
    try:
        mix = [(float(m), int(w)) for m, w in (x.split(":") for x in a.delay_mix.split(","))]
        samples = []
        for path in a.expected:
            with open(path) as f:
                samples += json.load(f)["samples"]
        with open(a.actual) as f:
            stat = json.load(f)
        rows = {"port " + str(r["port"]): r for r in stat["ports"]}
        rows["total"] = stat["total"]
        routes = dict(x.split("=") for x in a.routes.split(",") if x)
        for r in stat.get("routes", []):
            if r["method"] == "GET" and r["route"] in routes:
                rows["route " + r["route"]] = r
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"latency_compare.py: cannot read the input: {e}", file=sys.stderr)
        return 2
    checked = a.check.split(",")
    failures = 0
    series = [("port " + p, lambda s, p=p: str(s[0]) == p, mix)
              for p in sorted({str(s[0]) for s in samples})]
    series.append(("total", lambda s: True, mix))
    for path, ms in sorted(routes.items()):
        series.append(("route " + path, lambda s, path=path: s[4].split("?")[0] == path,
                       [(float(ms), 1)]))
    for key, select, delays in series:
        mine = [s for s in samples if select(s)]
        row = rows.get(key)
        if not mine:
            print(f"FAIL {key}: no client sample")
            failures += 1
            continue
        for fam, obj, col in FAMILIES:
            lat = row.get(obj, {}) if row else {}
            c_avg = sum(s[col] for s in mine) / len(mine)
            m_avg = (lat.get("avg") or 0) * 1e3
            allowance = 1e6 + 4 * max(0.0, c_avg - m_avg)
            for q, per10k in QUANTILES:
                c = nearest_rank([s[col] for s in mine], per10k)
                d = delay_quantile(delays, per10k)
                r = lat.get(q)
                where = f"{key} {fam} {q}"
                if r is None:
                    print(f"FAIL {where}: hm-stat has no value (row {row is not None})")
                    failures += 1
                    continue
                r *= 1e3
                problems = []
                if r > c * (1 + BUCKET_ERR) + 100:
                    problems.append("above the client's (+1/32)")
                if r < d * (1 - BUCKET_ERR):
                    problems.append(f"below the server's delay {d / 1e6:g} ms (-1/32)")
                if q in checked and c * (1 - BUCKET_ERR) - r > allowance:
                    problems.append(f"more than the allowance {allowance / 1e6:.3f} ms under "
                                    "the client's")
                status = "FAIL" if problems else "ok"
                failures += bool(problems)
                print(f"{status} {where}: monitor {r / 1e6:.3f} ms, client {c / 1e6:.3f} ms, "
                      f"delay {d / 1e6:g} ms, client overhead avg {(c_avg - m_avg) / 1e6:.3f} ms"
                      + (" (checked)" if q in checked else "")
                      + (": " + "; ".join(problems) if problems else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
