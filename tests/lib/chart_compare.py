#!/usr/bin/env python3
"""chart_compare.py - hm-stat --hist charts against the clients' own latencies.

  chart_compare.py --chart FILE --expected C1.json [C2.json...]
                   [--family first|last] [--marks p50,p90,p99] [--charts N]

FILE is what `hm-stat --hist` printed; C*.json come from latency_client.py
("samples": [port, status, first_ns, last_ns, path] per answered request).
Each chart's title names what it draws - "every response", "port N" or
"route [METHOD ]LABEL" (LABEL: the request path without its query, as
hm-load's default grouping path:2 makes it for one- and two-segment paths) -
and selects the clients' samples of it.  Then, per chart:

  count  the title's response count and the sum of the rows' counts both
         equal the number of responses the clients got;
  marks  every percentile in --marks marks exactly one row, and that row's
         bounds hold the clients' own nearest-rank percentile of the family
         (their clock holds the monitor's, so the test's delays must keep
         each percentile well inside one row; the test's job).

--charts N: the file must hold exactly N charts.  Prints one line per check;
exits 1 when one fails, 2 on unreadable input.
"""

import argparse
import json
import math
import re
import sys

TITLE = re.compile(r"^(\S.*?): (\d+) responses?(?:,|$)")
KIND = re.compile(r"^(?:every response|port (\d+)|route (?:([A-Z]+) )?(\S+))$")
ROW = re.compile(r"^\s*(\S+) -> (\S+)\s+: (\d+)\s+\|[* ]*\|(.*)$")
HEADER = re.compile(r"^\s*(usecs|msecs)\s+: count")
PER10K = {"p50": 5000, "p90": 9000, "p99": 9900}


def nearest_rank(values, per10k):
    values = sorted(values)
    n = len(values)
    return values[max(1, min(n, (n * per10k + 9999) // 10000)) - 1]


def parse(text):
    charts, cur, unit = [], None, None
    for line in text.splitlines():
        m = TITLE.match(line)
        if m:
            k = KIND.match(m.group(1))
            cur = {"title": m.group(1), "known": bool(k), "port": k and k.group(1),
                   "method": k and k.group(2), "route": k and k.group(3),
                   "count": int(m.group(2)), "rows": []}
            charts.append(cur)
            continue
        m = HEADER.match(line)
        if m:
            unit = 1e3 if m.group(1) == "usecs" else 1e6
            continue
        m = ROW.match(line)
        if m and cur is not None:
            lo = 0.0 if m.group(1) == "0" else float(m.group(1)) * unit
            hi = math.inf if m.group(2) == "inf" else float(m.group(2)) * unit
            cur["rows"].append((lo, hi, int(m.group(3)), m.group(4).split()))
    return charts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chart", required=True)
    ap.add_argument("--expected", nargs="+", required=True)
    ap.add_argument("--family", choices=("first", "last"), default="first")
    ap.add_argument("--marks", default="p50,p90,p99")
    ap.add_argument("--charts", type=int)
    a = ap.parse_args()
    try:
        with open(a.chart) as f:
            charts = parse(f.read())
        samples = []
        for path in a.expected:
            with open(path) as f:
                samples += json.load(f)["samples"]
    except (OSError, ValueError, KeyError) as e:
        print(f"chart_compare.py: cannot read the input: {e}", file=sys.stderr)
        return 2
    col = 2 if a.family == "first" else 3
    marks = [m for m in a.marks.split(",") if m]
    failures = 0

    def report(ok, text):
        nonlocal failures
        failures += not ok
        print(("ok " if ok else "FAIL ") + text)

    if a.charts is not None:
        report(len(charts) == a.charts, f"{len(charts)} charts, want {a.charts}")
    if not charts:
        report(False, "no chart in the file")
    for c in charts:
        if not c["known"]:
            report(False, f"{c['title']}: not a chart the clients' samples can select")
            continue
        if c["port"]:
            mine = [s for s in samples if str(s[0]) == c["port"]]
        elif c["route"]:
            mine = [s for s in samples if s[4].split("?")[0] == c["route"]
                    and c["method"] in (None, "GET")]
        else:
            mine = samples
        values = [s[col] for s in mine]
        rows = sum(r[2] for r in c["rows"])
        report(c["count"] == rows == len(values),
               f"{c['title']}: {len(c['rows'])} rows add up to {rows}, title {c['count']}, "
               f"the clients got {len(values)} responses")
        for m in marks:
            holders = [r for r in c["rows"] if m in r[3]]
            if not values or len(holders) != 1:
                report(False, f"{c['title']} {m}: marks {len(holders)} rows")
                continue
            v = nearest_rank(values, PER10K[m])
            lo, hi = holders[0][0], holders[0][1]
            report(lo <= v < hi, f"{c['title']} {m}: the clients' {v / 1e6:.3f} ms lies in the "
                   f"marked row {lo / 1e6:.3f} -> {hi / 1e6:.3f} ms")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
