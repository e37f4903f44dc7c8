#!/usr/bin/env bash
# test_readers.sh - hm-stat and hm-reset against map sets made by mkmaps on a
# private bpffs instance; no classifier needed.  The expected numbers come from
# the per-CPU values mkmaps reports having written.
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"

hm_require_root
hm_require_cmds gcc python3 setpriv mountpoint umount
hm_require_build hm-stat hm-reset

tmp=$(mktemp -d /tmp/hm-readers.XXXXXX)
fs=$tmp/fs
bin=$tmp/bin
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	mountpoint -q "$fs" && umount "$fs"
	[ -n "${cgdir:-}" ] && rmdir "$cgdir" "${cgdir%/*}" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
chmod 0755 "$tmp"
mkdir "$fs" "$bin"

if ! mount -t bpf bpf "$fs" 2>"$tmp/mount.err"; then
	hm_skip "$(basename "$0")" "cannot mount bpffs: $(cat "$tmp/mount.err")"
	exit 77
fi
install -m 0755 "$HM_BUILD/hm-stat" "$HM_BUILD/hm-reset" "$bin/"
hm_check "mkmaps builds" gcc -O1 -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE \
	-I "$HM_ROOT/kern" -I "$HM_ROOT/pin" "$HM_ROOT/tests/unit/mkmaps.c" "$HM_ROOT/pin/hm_pin.c" \
	-o "$bin/mkmaps" -lbpf ||
	hm_done

layout=$(sed -n 's/^#define HM_LAYOUT_VERSION \([0-9]*\).*/\1/p' "$HM_ROOT/kern/httpmon.h")

# mkset NAME [mkmaps options]: a map set in $fs/NAME, truth in $tmp/NAME.json.
mkset() {
	local name=$1
	shift
	mkdir "$fs/$name" && "$bin/mkmaps" "$fs/$name" "$@" >"$tmp/$name.json"
}

# pycheck MODE ARGS...: runs the checker below; each of its lines is a result.
pycheck() {
	local status name detail
	python3 - "$@" <"$tmp/check.py" >"$tmp/py.out" 2>&1 ||
		hm_not_ok "checker $1 ran" "$(cat "$tmp/py.out")"
	while IFS=$'\t' read -r status name detail; do
		case $status in
		ok) hm_ok "$name" ;;
		fail) hm_not_ok "$name" "$detail" ;;
		esac
	done <"$tmp/py.out"
}

cat >"$tmp/check.py" <<'EOF'
import ipaddress, json, re, sys

mode, args = sys.argv[1], sys.argv[2:]

def result(name, cond, detail=""):
    print("ok\t%s" % name if cond else "fail\t%s\t%s" % (name, detail))

LATS = ("lat", "lat_ok", "lat_fail")

def total(percpu):
    """Sum of per-CPU hm_stats; latency min/max only from CPUs with samples."""
    s = {"requests": 0, "responses": 0, "unanswered": 0, "status": [0] * 5,
         "bytes_in": 0, "bytes_out": 0}
    for l in LATS:
        s[l] = {"count": 0, "sum_ns": 0, "min_ns": None, "max_ns": None}
    for c in percpu:
        for f in ("requests", "responses", "unanswered", "bytes_in", "bytes_out"):
            s[f] += c[f]
        s["status"] = [a + b for a, b in zip(s["status"], c["status"])]
        for l in LATS:
            if c[l]["count"] == 0:
                continue
            t = s[l]
            t["count"] += c[l]["count"]
            t["sum_ns"] += c[l]["sum_ns"]
            t["min_ns"] = c[l]["min_ns"] if t["min_ns"] is None else min(t["min_ns"], c[l]["min_ns"])
            t["max_ns"] = c[l]["max_ns"] if t["max_ns"] is None else max(t["max_ns"], c[l]["max_ns"])
    return s

def nonzero(s):
    return any(s[f] for f in ("requests", "responses", "unanswered", "bytes_in", "bytes_out")) \
        or any(s["status"]) or any(s[l]["count"] for l in LATS)

def ip_text(b):
    a = ipaddress.IPv6Address(bytes(b))
    return str(a.ipv4_mapped) if a.ipv4_mapped else str(a)

def port_of(b):
    return int.from_bytes(bytes(b[0:2]), sys.byteorder)

def expected_row(s):
    lat = {}
    for l, name in zip(LATS, ("latency_us", "latency_ok_us", "latency_fail_us")):
        t = s[l]
        if t["count"]:
            lat[name] = {"avg": t["sum_ns"] / t["count"] / 1e3,
                         "min": t["min_ns"] / 1e3, "max": t["max_ns"] / 1e3}
        else:
            lat[name] = {"avg": None, "min": None, "max": None}
    row = {"requests": s["requests"], "responses": s["responses"],
           "unanswered": s["unanswered"],
           "status": dict(zip(("1xx", "2xx", "3xx", "4xx", "5xx"), s["status"])),
           "success_rate": (s["responses"] - s["status"][4]) / s["responses"]
                           if s["responses"] else None,
           "response_rate": s["responses"] / s["requests"] if s["requests"] else None,
           "bytes_in": s["bytes_in"], "bytes_out": s["bytes_out"]}
    row.update(lat)
    return row

def close(want, got, tol):
    if want is None or got is None:
        return want is None and got is None
    return isinstance(got, (int, float)) and abs(want - got) <= tol

def row_diff(want, got):
    """Differences between an expected and a printed row, as text."""
    d = []
    for f in ("requests", "responses", "unanswered", "bytes_in", "bytes_out", "status"):
        if got.get(f) != want[f]:
            d.append("%s: want %r got %r" % (f, want[f], got.get(f)))
    for f in ("success_rate", "response_rate"):
        if not close(want[f], got.get(f, "missing"), 0.00005 + 1e-9):
            d.append("%s: want %r got %r" % (f, want[f], got.get(f)))
    for l in ("latency_us", "latency_ok_us", "latency_fail_us"):
        for f in ("avg", "min", "max"):
            w, g = want[l][f], got.get(l, {}).get(f, "missing")
            if not close(w, g, 0.05 + 1e-9):
                d.append("%s.%s: want %r got %r" % (l, f, w, g))
    return d

def keyname(view, key):
    b = bytes.fromhex(key)
    if view == "clients":
        return (ip_text(b),)
    if view == "ports":
        return (port_of(b),)
    return (port_of(b[16:]), ip_text(b[:16]))

def row_key(view, r):
    return {"clients": lambda: (r.get("ip"),), "ports": lambda: (r.get("port"),),
            "port_clients": lambda: (r.get("port"), r.get("ip"))}[view]()

OTHER = {"clients": ("other",), "ports": ("other",), "port_clients": ("other", "other")}

def expected_views(truth):
    views = {}
    for i, view in enumerate(("clients", "ports", "port_clients")):
        rows = {keyname(view, e["key"]): expected_row(total(e["percpu"]))
                for e in truth[view]}
        ovf = total(truth["overflow"][i]["percpu"])
        if nonzero(ovf):
            rows[OTHER[view]] = expected_row(ovf)
        views[view] = rows
    return views

def counter_names():
    text = open(args[0]).read()
    text = text[text.index("#define HM_MONITOR_COUNTERS"):]
    return re.findall(r'X\(\w+,\s*"(\w+)"', text)

if mode == "json":
    hdr, truth_file, got_file = args[0], args[1], args[2]
    truth = json.load(open(truth_file))
    try:
        got = json.load(open(got_file))
        result("json: output parses", True)
    except ValueError as e:
        result("json: output parses", False, str(e))
        sys.exit(0)
    result("json: schema 1", got.get("schema") == 1, repr(got.get("schema")))
    want = expected_views(truth)
    for view in ("clients", "ports", "port_clients"):
        rows = got.get(view, [])
        gotkeys = [row_key(view, r) for r in rows]
        result("json: %s has exactly the written keys" % view,
               sorted(map(str, gotkeys)) == sorted(map(str, want[view])),
               "want %s got %s" % (sorted(map(str, want[view])), gotkeys))
        diffs = []
        for r in rows:
            k = row_key(view, r)
            if k in want[view]:
                diffs += ["%s %s" % (k, d) for d in row_diff(want[view][k], r)]
        result("json: %s sums, rates and latency match the per-CPU values" % view,
               not diffs, "; ".join(diffs))
        order = [r["requests"] for r in rows if row_key(view, r) != OTHER[view]]
        last_other = all(row_key(view, r) != OTHER[view] for r in rows[:-1])
        result("json: %s sorted by requests, other last" % view,
               order == sorted(order, reverse=True) and last_other, repr(gotkeys))

    c = {row_key("clients", r): r for r in got.get("clients", [])}
    v4 = c.get(("10.0.0.2",), {})
    raw = [e for e in truth["clients"] if keyname("clients", e["key"]) == ("10.0.0.2",)]
    split = truth["ncpus"] > 1 and raw and \
        raw[0]["percpu"][0]["lat"]["max_ns"] > raw[0]["percpu"][truth["cpu_b"]]["lat"]["max_ns"] and \
        raw[0]["percpu"][0]["lat"]["min_ns"] > raw[0]["percpu"][truth["cpu_b"]]["lat"]["min_ns"]
    if truth["ncpus"] > 1:
        result("json: latency min from one CPU, max from another",
               split and v4.get("latency_us", {}).get("min") == 1001.2
               and v4.get("latency_us", {}).get("max") == 9876.0, repr(v4.get("latency_us")))
    else:
        print("ok\tjson: latency split over CPUs (one CPU here: not exercised)")
    v6 = c.get(("2001:db8::1:0:0:1",), {})
    result("json: IPv6 in RFC 5952 text, CPU without samples ignored for min",
           ("::1",) in c and ("fe80::1",) in c and v6.get("latency_us", {}).get("min") == 0.7,
           repr(sorted(c)))
    nr = c.get(("fe80::1",), {})
    result("json: null rate and latency without a denominator",
           nr.get("success_rate", 0) is None and nr.get("response_rate") == 0
           and nr.get("latency_us") == {"avg": None, "min": None, "max": None}, repr(nr))
    result("json: overflow rows shown as other only where nonzero",
           ("other",) in c and ("other", "other") in
           [row_key("port_clients", r) for r in got.get("port_clients", [])]
           and ("other",) not in [row_key("ports", r) for r in got.get("ports", [])])

    mon = got.get("monitor", {})
    names = counter_names()
    wmon = {n: truth["monitor"].get(n, 0) for n in names}
    wmon["conns_live"] = truth["conns_live"]
    result("json: monitor has every counter with per-CPU sums and conns_live",
           mon == wmon, "want %r got %r" % (wmon, mon))

elif mode == "table":
    truth_file, table_file = args
    truth = json.load(open(truth_file))
    lines = open(table_file).read().splitlines()
    want = expected_views(truth)["clients"]
    result("table: header line first", bool(lines) and lines[0].startswith("httpmon "),
           lines[0] if lines else "empty")
    head = lines[1].split() if len(lines) > 1 else []
    cols = ["IP", "REQS", "RESPS", "SUCC%", "2XX", "3XX", "4XX", "5XX", "UNANS",
            "AVG_MS", "MIN_MS", "MAX_MS", "BYTES_IN", "BYTES_OUT"]
    result("table: column headings", head == cols, repr(head))
    rows = {l.split()[0]: dict(zip(cols, l.split())) for l in lines[2:]
            if len(l.split()) == len(cols)}
    bad = []
    for k, w in want.items():
        r = rows.get(k[0])
        if not r:
            bad.append("%s missing" % k[0])
            continue
        for col, f in (("REQS", "requests"), ("RESPS", "responses"),
                       ("UNANS", "unanswered"), ("BYTES_IN", "bytes_in"),
                       ("BYTES_OUT", "bytes_out")):
            if r[col] != str(w[f]):
                bad.append("%s %s=%s want %s" % (k[0], col, r[col], w[f]))
        lat = w["latency_us"]
        for col, f in (("AVG_MS", "avg"), ("MIN_MS", "min"), ("MAX_MS", "max")):
            wv = "-" if lat[f] is None else "%.3f" % (lat[f] / 1e3)
            if r[col] != wv and not (lat[f] is not None and abs(float(r[col]) - lat[f] / 1e3) <= 0.0005 + 1e-9):
                bad.append("%s %s=%s want %s" % (k[0], col, r[col], wv))
    result("table: one row per client with its numbers", not bad, "; ".join(bad))
    t = rows.get("total", {})
    result("table: total row sums every row",
           t.get("REQS") == str(sum(w["requests"] for w in want.values()))
           and t.get("BYTES_OUT") == str(sum(w["bytes_out"] for w in want.values())), repr(t))
    mon = {}
    if "monitor:" in lines:
        for l in lines[lines.index("monitor:") + 1:]:
            p = l.split()
            if len(p) >= 2:
                mon[p[0]] = p[1]
    wmon = {k: str(v) for k, v in truth["monitor"].items() if v}
    wmon["conns_live"] = str(truth["conns_live"])
    result("table: monitor section lists the nonzero counters", mon == wmon,
           "want %r got %r" % (wmon, mon))

elif mode == "reset":
    truth_file, got_file = args
    truth = json.load(open(truth_file))
    got = json.load(open(got_file))
    result("reset: no rows left in any view",
           got["clients"] == [] and got["ports"] == [] and got["port_clients"] == [],
           repr({k: len(got[k]) for k in ("clients", "ports", "port_clients")}))
    mon = dict(got["monitor"])
    live = mon.pop("conns_live", None)
    result("reset: monitor counters zero", set(mon.values()) == {0}, repr(mon))
    result("reset: connection state kept", live == truth["conns_live"], repr(live))

elif mode == "order":
    got = json.load(open(args[0]))
    ips = [ipaddress.IPv6Address(r["ip"]) if ":" in r["ip"]
           else ipaddress.IPv6Address("::ffff:" + r["ip"])
           for r in got["clients"] if r["ip"] != "other"]
    result("--sort ip: clients ascending by address", ips == sorted(ips), repr(ips))

elif mode == "top":
    got = json.load(open(args[0]))
    lens = {k: len(got[k]) for k in ("clients", "ports", "port_clients")}
    result("--top 1: one row per view plus the other rows",
           lens == {"clients": 2, "ports": 1, "port_clients": 2}
           and got["clients"][-1]["ip"] == "other", repr(lens))

elif mode in ("hist", "csv", "prom", "cleared", "routes", "hosts"):
    import csv, math

    def header_int(name):
        return int(re.search(r"#define %s (\d+)" % name, open(args[0]).read()).group(1))

    SUBBITS, MINS, MAXS = (header_int(n) for n in
                           ("HM_HIST_SUB_BITS", "HM_HIST_MIN_SHIFT", "HM_HIST_MAX_SHIFT"))
    SUB = 1 << SUBBITS
    NB = 2 + (MAXS - MINS) * SUB

    def bucket(ns):
        if ns < 1 << MINS:
            return 0
        if ns >= 1 << MAXS:
            return NB - 1
        k = ns.bit_length() - 1
        return 1 + (k - MINS) * SUB + ((ns >> (k - SUBBITS)) & (SUB - 1))

    def lower(b):
        if b == 0:
            return 0
        if b >= NB - 1:
            return 1 << MAXS
        k, j = MINS + (b - 1) // SUB, (b - 1) % SUB
        return (1 << k) + (j << (k - SUBBITS))

    def expected_quantile(samples, per10k, bounds):
        """The documented rule: nearest rank, bucket midpoint, clamped to bounds."""
        n = len(samples)
        if not n:
            return None
        rank = max(1, min(n, (n * per10k + 9999) // 10000))
        b = bucket(sorted(samples)[rank - 1])
        if b == NB - 1:
            v = bounds[1] if bounds else lower(b)
        else:
            v = lower(b) + (lower(b + 1) - lower(b)) // 2
        if bounds:
            v = min(max(v, bounds[0]), bounds[1])
        return v

    QS = (("p50", 5000), ("p90", 9000), ("p99", 9900), ("p99_9", 9990))
    truth = json.load(open(args[1]))
    hists = {}
    for h in truth.get("hists", []) + truth.get("route_hists", []) + truth.get("host_hists", []):
        if "route" in h:
            key = ("route", h["route"])
        elif "host" in h:
            key = ("host", h["host"])
        else:
            key = ("port", h["port"]) if h["map"] == "hm_hist_ports" else ("row", h["row"])
        hists[key + (h["family"],)] = [s for cpu in h["percpu_samples"] for s in cpu]

    def route_text(label):
        """The documented encoding: bytes outside printable ASCII as %XX."""
        return "".join(chr(c) if 0x20 < c < 0x7f else "%%%02X" % c for c in label)

    METHODS = ["", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"]
    route_keys = {0: (None, "_other"), 1: (None, "_unknown")}
    for n in truth.get("route_names", []):
        route_keys[n["id"]] = (METHODS[n["method"]], route_text(bytes.fromhex(n["label_hex"])))

    # Host ids and (host, route) pair ids as the readers must name them.
    host_keys = {0: "_other", 1: "_unknown", 2: "_none"}
    for n in truth.get("host_names", []):
        host_keys[n["id"]] = n["name"]
    pair_keys = {0: ("_other", None, "_other")}
    for n in truth.get("host_route_names", []):
        pair_keys[n["id"]] = (host_keys.get(n["host"], "_id_%d" % n["host"]),) + \
            route_keys.get(n["route"], (None, "_id_%d" % n["route"]))

    def prom_unescape(v):
        return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), v)

def check_quantiles(where, got, samples, bounds):
    bad = []
    for name, q in QS:
        want = expected_quantile(samples, q, bounds)
        g = got.get(name, "missing")
        if want is None:
            if g is not None:
                bad.append("%s %s: want null got %r" % (where, name, g))
            continue
        if not isinstance(g, (int, float)) or abs(g - want / 1e3) > 0.05 + 1e-9:
            bad.append("%s %s: want %.1f got %r" % (where, name, want / 1e3, g))
            continue
        exact = sorted(samples)[max(1, min(len(samples), (len(samples) * q + 9999) // 10000)) - 1]
        if (1 << MINS) <= exact < (1 << MAXS) and abs(g * 1e3 - exact) > exact / 32 + 50:
            bad.append("%s %s: %r us is more than 1/32 from the sample %d ns" % (where, name, g, exact))
    return bad

def sparse(samples):
    counts = {}
    for s in samples:
        counts[bucket(s)] = counts.get(bucket(s), 0) + 1
    return [[None if b == NB - 1 else round(lower(b + 1) / 1e3, 3), n]
            for b, n in sorted(counts.items())]

if mode == "hist":
    got = json.load(open(args[2]))
    ports = {r["port"]: r for r in got["ports"]}
    bad = []
    for port in (8080, 443):
        row = ports[port]
        lat = row["latency_us"]
        samples = hists[("port", port, 0)]
        # the stats row and the histogram hold the same samples: clamped
        bounds = (round(lat["min"] * 1e3), round(lat["max"] * 1e3)) if lat["min"] is not None else None
        bad += check_quantiles("port %d latency_us" % port, lat, samples, bounds)
        bad += check_quantiles("port %d latency_last_us" % port, row["latency_last_us"],
                               hists.get(("port", port, 1), []), None)
    result("percentiles: port rows follow the documented rule and error bound",
           not bad, "; ".join(bad))
    bad = []
    for port in (8080, 443):
        for fam, name in ((0, "first"), (1, "last")):
            want = hists.get(("port", port, fam))
            h = ports[port]["latency_hist"][name]
            if want is None:  # a port with a histogram has both families
                ok = h == {"count": 0, "sum_us": 0.0, "buckets": []}
            else:
                ok = h is not None and h["count"] == len(want) and h["buckets"] == sparse(want) \
                    and abs(h["sum_us"] - sum(want) / 1e3) <= 0.05
            if not ok:
                bad.append("port %d %s: want %r got %r" % (port, name, want and sparse(want), h))
    result("histogram: sparse [upper_us, count] pairs of the non-empty buckets, "
           "an empty family as such", not bad,
           "; ".join(bad))
    tot = got.get("total", {})
    samples = hists[("row", 0, 0)]
    bad = check_quantiles("total latency_us", tot.get("latency_us", {}), samples, None)
    bad += check_quantiles("total latency_last_us", tot.get("latency_last_us", {}),
                           hists[("row", 0, 1)], None)
    sums = {f: sum(r[f] for r in got["ports"]) for f in ("requests", "responses", "bytes_out")}
    result("total: counts of every port row, percentiles of the total histogram "
           "(overflow bucket: 68.7 s without bounds)",
           not bad and all(tot.get(f) == v for f, v in sums.items())
           and tot.get("latency_hist", {}).get("first", {}).get("buckets") == sparse(samples),
           "; ".join(bad) + " " + repr({f: tot.get(f) for f in sums}))
    other = got.get("ports_other_latency", {})
    bad = check_quantiles("ports_other_latency", other.get("latency_us", {}),
                          hists[("row", 1, 0)], None)
    result("ports_other_latency: the ports overflow histogram", not bad, "; ".join(bad))
    leaks = [r for v in ("clients", "port_clients") for r in got[v]
             if "p50" in r["latency_us"] or "latency_hist" in r]
    result("percentiles: none in client and port,client rows (no histograms there)",
           not leaks, repr(leaks[:1]))

elif mode == "csv":
    got = json.load(open(args[2]))
    bad = []
    for view, jname, keys in (("client", "clients", ("ip",)), ("port", "ports", ("port",)),
                              ("port,client", "port_clients", ("port", "ip")),
                              ("route", "routes", ("method", "route")),
                              ("host", "hosts", ("host",)),
                              ("host,route", "host_routes", ("host", "method", "route"))):
        text = open(args[3] + "." + view).read()
        rows = list(csv.DictReader(text.splitlines()))
        if not text.startswith(",".join(keys) + ",requests,"):
            bad.append("%s: header %r" % (view, text.splitlines()[0]))
        jrows = {tuple("" if r[k] is None else str(r[k]) for k in keys): r for r in got[jname]}
        if sorted(tuple(r[k] for k in keys) for r in rows) != sorted(jrows):
            bad.append("%s: keys %r vs %r" % (view, [tuple(r[k] for k in keys) for r in rows],
                                              sorted(jrows)))
            continue
        for r in rows:
            j = jrows[tuple(r[k] for k in keys)]
            want = {"requests": j["requests"], "responses": j["responses"],
                    "unanswered": j["unanswered"], "bytes_in": j["bytes_in"],
                    "bytes_out": j["bytes_out"], "success_rate": j["success_rate"],
                    "response_rate": j["response_rate"]}
            for c in ("1xx", "2xx", "3xx", "4xx", "5xx"):
                want["status_" + c] = j["status"][c]
            for jl, cl in (("latency_us", "latency"), ("latency_ok_us", "latency_ok"),
                           ("latency_fail_us", "latency_fail"),
                           ("latency_last_us", "latency_last")):
                for f in ("avg", "min", "max", "p50", "p90", "p99", "p99_9"):
                    col = "%s_%s_us" % (cl, f)
                    if col in r:
                        want[col] = j[jl].get(f)
            for col, w in want.items():
                cell = r.get(col)
                g = None if cell in ("", None) else float(cell)
                if (w is None) != (g is None) or (w is not None and abs(w - g) > 1e-9):
                    bad.append("%s %s %s: csv %r json %r" % (view, tuple(r[k] for k in keys),
                                                            col, cell, w))
    result("csv: one header line, the rows of each view, equal to the JSON", not bad,
           "; ".join(bad[:5]))

elif mode == "prom":
    got = json.load(open(args[2]))
    text = open(args[3]).read()
    # le values per histogram with +Inf; the default: 289 bounds
    n_le = int(args[4]) if len(args) > 4 else 290
    if n_le != 290:
        plain_result = result
        def result(name, cond, detail=""):
            plain_result(name.replace("prometheus:", "prometheus, %d le values:" % n_le, 1),
                         cond, detail)
    samples, types, helped, order_bad, source_bad = {}, {}, set(), [], []
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helped.add(line.split()[2])
            continue
        if line.startswith("# TYPE "):
            types[line.split()[2]] = line.split()[3]
            continue
        m = line_re.match(line)
        if not m:
            order_bad.append("unparsed: " + line)
            continue
        name, labels, value = m.groups()
        fam = re.sub(r"_(bucket|sum|count)$", "", name) if re.sub(r"_(bucket|sum|count)$", "", name) in types and types[re.sub(r"_(bucket|sum|count)$", "", name)] == "histogram" else name
        if fam not in types or fam not in helped:
            order_bad.append("sample before HELP/TYPE: " + line)
        labs = [(k, prom_unescape(v)) for k, v in label_re.findall(labels or "")]
        if name != "httpmon_info" and [v for k, v in labs if k == "source"] != [got["source"]]:
            source_bad.append(line)
        samples[(name, tuple(sorted((k, v) for k, v in labs if k != "source")))] = float(value)
    result("prometheus: every line parses, HELP and TYPE before each family",
           not order_bad, "; ".join(order_bad[:3]))
    result("prometheus: every series but httpmon_info labelled source=\"%s\"" % got["source"],
           not source_bad, "; ".join(source_bad[:3]))

    def val(name, **labels):
        return samples.get((name, tuple(sorted(labels.items()))))

    bad = []
    for r in got["ports"]:
        p = str(r["port"])
        if val("httpmon_requests_total", port=p) != r["requests"] or \
           val("httpmon_bytes_out_total", port=p) != r["bytes_out"] or \
           val("httpmon_unanswered_total", port=p) != r["unanswered"] or \
           any(val("httpmon_responses_total", port=p, **{"class": c}) != r["status"][c]
               for c in r["status"]):
            bad.append("port " + p)
    for r in got["clients"]:
        if val("httpmon_client_requests_total", ip=r["ip"]) != r["requests"] or \
           val("httpmon_client_bytes_in_total", ip=r["ip"]) != r["bytes_in"]:
            bad.append("client " + r["ip"])
    for r in got["routes"]:
        lab = {"method": r["method"] or "", "route": r["route"]}
        if val("httpmon_route_requests_total", **lab) != r["requests"] or \
           val("httpmon_route_responses_total", **dict(lab, **{"class": "4xx"})) != r["status"]["4xx"]:
            bad.append("route %r" % (lab,))
    for r in got["hosts"]:
        if val("httpmon_host_requests_total", host=r["host"]) != r["requests"] or \
           val("httpmon_host_bytes_out_total", host=r["host"]) != r["bytes_out"] or \
           val("httpmon_host_responses_total", host=r["host"], **{"class": "5xx"}) != r["status"]["5xx"]:
            bad.append("host %r" % r["host"])
    for r in got["host_routes"]:
        lab = {"host": r["host"], "method": r["method"] or "", "route": r["route"]}
        if val("httpmon_host_route_requests_total", **lab) != r["requests"] or \
           val("httpmon_host_route_unanswered_total", **lab) != r["unanswered"] or \
           val("httpmon_host_route_responses_total", **dict(lab, **{"class": "5xx"})) != r["status"]["5xx"]:
            bad.append("host,route %r" % (lab,))
    if not got["hosts"] or not got["host_routes"]:
        bad.append("no host rows in the JSON")
    for k, v in got["monitor"].items():
        n = "httpmon_monitor_%s" % k if k == "conns_live" else "httpmon_monitor_%s_total" % k
        if val(n) != v:
            bad.append("monitor " + k)
    result("prometheus: counters per port (by class), per client, per host, per host and "
           "route and of the monitor equal the JSON", not bad, ", ".join(bad))

    bad = []
    for (name, fam) in (("httpmon_request_duration_seconds", 0),
                        ("httpmon_response_complete_duration_seconds", 1)):
        series = [(("port", "8080"),), (("port", "443"),), ()] if fam == 0 else [(("port", "8080"),), ()]
        for lab in series:
            key = ("port", int(lab[0][1]), fam) if lab else ("row", 0, fam)
            want = hists.get(key, [])
            les = sorted(((dict(l)["le"], v) for (n, l), v in samples.items()
                          if n == name + "_bucket" and tuple(x for x in l if x[0] != "le") == lab),
                         key=lambda x: math.inf if x[0] == "+Inf" else float(x[0]))
            if len(les) != n_le or les[-1][0] != "+Inf":
                bad.append("%s%r: %d le values" % (name, lab, len(les)))
            for le, v in les[:-1]:
                ns = round(float(le) * 1e9)
                if lower(bucket(ns)) != ns or v != sum(1 for s in want if s < ns):
                    bad.append("%s%r le=%s: %r, want %d" % (name, lab, le, v,
                                                           sum(1 for s in want if s < ns)))
            if [v for _, v in les] != sorted(v for _, v in les) or les[-1][1] != len(want) or \
               samples.get((name + "_count", lab)) != len(want) or \
               abs(samples.get((name + "_sum", lab), -1) - sum(want) / 1e9) > 1e-9:
                bad.append("%s%r: count/sum/+Inf" % (name, lab))
    for rid in (2, 4):
        method, route = route_keys[rid]
        lab = (("method", method or ""), ("route", route))
        if samples.get(("httpmon_route_request_duration_seconds_count", lab)) != \
           len(hists[("route", rid, 0)]) or \
           samples.get(("httpmon_route_request_duration_seconds_bucket",
                        tuple(sorted(lab + (("le", "+Inf"),))))) != \
           len(hists[("route", rid, 0)]):
            bad.append("route %d histogram" % rid)
    for hid in (3,):
        lab = (("host", host_keys[hid]),)
        if samples.get(("httpmon_host_request_duration_seconds_count", lab)) != \
           len(hists[("host", hid, 0)]):
            bad.append("host %d histogram" % hid)
    if samples.get(("httpmon_host_request_duration_seconds_count", (("host", "_overflow"),))) != \
       len(hists[("row", 3, 0)]):
        bad.append("hosts overflow histogram")
    ovf = val("httpmon_request_duration_seconds_count", port="other")
    result("prometheus: histograms cumulative and exact at every le (each a fine bucket "
           "boundary), _count, _sum in seconds, total without a port label, other row",
           not bad and ovf == len(hists[("row", 1, 0)]), "; ".join(bad[:4]) + " other=%r" % ovf)
    typed = {n: t for n, t in types.items() if n.startswith("httpmon_")}
    result("prometheus: counters end in _total, port, route and host histograms",
           all(n.endswith("_total") for n, t in typed.items() if t == "counter")
           and sorted(n for n, t in typed.items() if t == "histogram") == sorted(
           ["httpmon_request_duration_seconds", "httpmon_response_complete_duration_seconds",
            "httpmon_route_request_duration_seconds",
            "httpmon_route_response_complete_duration_seconds"] + \
           (["httpmon_host_request_duration_seconds",
             "httpmon_host_response_complete_duration_seconds"] if "host_hists" in truth else [])),
           repr(typed))

elif mode == "routes":
    got = json.load(open(args[2]))
    want = {}
    for e in truth["routes"]:
        want[route_keys[int.from_bytes(bytes.fromhex(e["key"]), sys.byteorder)]] = \
            expected_row(total(e["percpu"]))
    rows = got.get("routes", [])
    keys = [(r["method"], r["route"]) for r in rows]
    result("routes: one row per named route, _unknown and _other, labels encoded",
           sorted(map(str, keys)) == sorted(map(str, want)) and keys[-1] == (None, "_other"),
           "want %r got %r" % (sorted(want, key=str), keys))
    diffs = []
    for r in rows:
        k = (r["method"], r["route"])
        if k in want:
            diffs += ["%s %s" % (k, d) for d in row_diff(want[k], r)]
    result("routes: sums, rates and latency match the per-CPU values", not diffs,
           "; ".join(diffs))
    bad = []
    by_key = {(r["method"], r["route"]): r for r in rows}
    for rid in (2, 4):
        r = by_key[route_keys[rid]]
        samples = hists[("route", rid, 0)]
        lat = r["latency_us"]
        # mkmaps keeps a route's samples equal to its latency count unless a CPU is missing
        bounds = (round(lat["min"] * 1e3), round(lat["max"] * 1e3)) \
            if len(samples) == r["responses"] else None
        bad += check_quantiles("route %d" % rid, lat, samples, bounds)
    none = [k for k, r in by_key.items() if k[1] in ("_other", "_unknown", "/api/orders")
            and r["latency_us"]["p50"] is not None]
    other = got.get("routes_other_latency", {})
    bad += check_quantiles("routes_other_latency", other.get("latency_us", {}),
                           hists[("row", 2, 0)], None)
    result("routes: percentiles per route (clamped where the row holds the same samples), "
           "none without a histogram, routes_other_latency", not bad and not none,
           "; ".join(bad) + repr(none))

elif mode == "hosts":
    got = json.load(open(args[2]))
    for view, jname, keyof, names, truth_rows in (
            ("hosts", "hosts", lambda r: r["host"], host_keys, truth["hosts"]),
            ("host,route", "host_routes", lambda r: (r["host"], r["method"], r["route"]),
             pair_keys, truth["host_routes"])):
        want = {}
        for e in truth_rows:
            want[names[int.from_bytes(bytes.fromhex(e["key"]), sys.byteorder)]] = \
                expected_row(total(e["percpu"]))
        rows = got.get(jname, [])
        keys = [keyof(r) for r in rows]
        other = names[0]
        result("%s: one row per named id and fixed name (_none, _unknown), unnamed ids as "
               "_id_N, _other last" % view,
               sorted(map(str, keys)) == sorted(map(str, want)) and keys and keys[-1] == other,
               "want %r got %r" % (sorted(want, key=str), keys))
        diffs = []
        for r in rows:
            if keyof(r) in want:
                diffs += ["%s %s" % (keyof(r), d) for d in row_diff(want[keyof(r)], r)]
        result("%s: sums of both generations and CPUs, rates and latency" % view, not diffs,
               "; ".join(diffs))
        order = [r["requests"] for r in rows if keyof(r) != other]
        result("%s: sorted by requests" % view, order == sorted(order, reverse=True), repr(keys))
    by_host = {r["host"]: r for r in got.get("hosts", [])}
    bad = []
    r = by_host.get("a.test", {})
    samples = hists[("host", 3, 0)]
    lat = r.get("latency_us", {})
    bounds = (round(lat["min"] * 1e3), round(lat["max"] * 1e3)) \
        if lat.get("min") is not None and len(samples) == r["responses"] else None
    bad += check_quantiles("host a.test", lat, samples, bounds)
    bad += check_quantiles("host _none last", by_host.get("_none", {}).get("latency_last_us", {}),
                           hists[("host", 2, 1)], None)
    if by_host.get("big.test", {}).get("latency_us", {}).get("p50", "missing") is not None or \
       by_host.get("big.test", {}).get("latency_hist") != {"first": None, "last": None}:
        bad.append("big.test (id 40) has percentiles or a histogram of its own")
    bad += check_quantiles("hosts_other_latency",
                           got.get("hosts_other_latency", {}).get("latency_us", {}),
                           hists[("row", 3, 0)], None)
    leaks = [r for r in got.get("host_routes", []) if "p50" in r["latency_us"] or "latency_hist" in r]
    result("hosts: percentiles per host with a histogram (ids below 32), none beyond, "
           "hosts_other_latency; none in host,route rows", not bad and not leaks,
           "; ".join(bad) + repr(leaks[:1]))

elif mode == "source":
    # every object that is a row says the source, and the document does
    want, got_file = args[0], args[1]
    got = json.load(open(got_file))
    bad = [] if got.get("source") == want else ["top level: %r" % got.get("source")]
    for k, v in got.items():
        if isinstance(v, list):
            bad += ["%s row %r" % (k, r.get("source")) for r in v if r.get("source") != want]
    if got.get("total", {}).get("source") != want:
        bad.append("total")
    rows = sum(len(v) for v in got.values() if isinstance(v, list))
    result("json: \"source\": \"%s\" at the top, in the total and in each of %d rows" % (want, rows),
           not bad and rows > 0, "; ".join(bad[:5]))
    result("json: a processes array exactly when the source is socket",
           ("processes" in got) == (want == "socket"), repr(sorted(got)))

elif mode == "procs":
    truth_file, got_file, prom_file, cgpath = args
    truth = json.load(open(truth_file))
    got = json.load(open(got_file))
    import struct

    def pkey(hexkey):
        gen, role, _, pid, cg, comm = struct.unpack("<BBHIQ16s", bytes.fromhex(hexkey))
        return pid, comm.rstrip(b"\0").decode(), cg

    paths = {truth["cgroup_id"]: cgpath, truth["root_cgroup_id"]: "/",
             truth["gone_cgroup_id"]: None}
    if cgpath == "-none-":  # no cgroup2 mount: no path is known
        paths = dict.fromkeys(paths)
    want = {}
    for e in truth["processes"]:
        want[pkey(e["key"])] = expected_row(total(e["percpu"]))
    want[(None, "_other", None)] = expected_row(total(truth["process_overflow"][0]["percpu"]))
    rows = got.get("processes", [])
    keys = [(r.get("pid"), r.get("comm"), r.get("cgroup_id")) for r in rows]
    result("--by process: one row per named process and the _other row, last",
           sorted(map(str, keys)) == sorted(map(str, want)) and keys and keys[-1][1] == "_other",
           "want %r got %r" % (sorted(want, key=str), keys))
    diffs = []
    for r in rows:
        k = (r.get("pid"), r.get("comm"), r.get("cgroup_id"))
        if k in want:
            diffs += ["%s %s" % (k, d) for d in row_diff(want[k], r)]
    result("--by process: sums of both generations and CPUs, rates and latency", not diffs,
           "; ".join(diffs))
    stray = total(truth["process_stray"][0]["percpu"])["requests"]
    result("--by process: a row no name points at is not shown (total %d requests)" %
           sum(r["requests"] for r in rows),
           sum(r["requests"] for r in rows) == sum(w["requests"] for w in want.values()),
           "stray row has %d" % stray)
    bad = []
    for r in rows:
        if r.get("comm") == "_other":
            if (r.get("pid"), r.get("role"), r.get("cgroup_id"), r.get("cgroup")) != (None,) * 4:
                bad.append("_other: %r" % r)
            continue
        if r.get("role") != "server":
            bad.append("%s role %r" % (r["pid"], r.get("role")))
        if r.get("cgroup") != paths.get(r.get("cgroup_id"), "?"):
            bad.append("%s cgroup %r want %r" % (r["pid"], r.get("cgroup"),
                                                  paths.get(r.get("cgroup_id"))))
    result("--by process: role, and the cgroup path of each id (%s, /, null when gone)" %
           (cgpath or "no cgroup2"), not bad, "; ".join(bad))

    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    series = {}
    for line in open(prom_file).read().splitlines():
        m = line_re.match(line)
        if m and m.group(1).startswith("httpmon_process_"):
            labs = tuple(sorted(label_re.findall(m.group(2) or "")))
            if (m.group(1), labs) in series:
                series[(m.group(1), labs)] = None  # a duplicate series
            else:
                series[(m.group(1), labs)] = float(m.group(3))
    agg = {}
    for (pid, comm, cg), w in want.items():
        lab = (("cgroup", (paths.get(cg) or "") if comm != "_other" else ""), ("comm", comm),
               ("role", "server" if comm != "_other" else ""), ("source", "socket"))
        a = agg.setdefault(lab, {"requests": 0, "bytes_out": 0, "5xx": 0})
        a["requests"] += w["requests"]
        a["bytes_out"] += w["bytes_out"]
        a["5xx"] += w["status"]["5xx"]
    bad = []
    for lab, a in agg.items():
        for name, v in (("httpmon_process_requests_total", a["requests"]),
                        ("httpmon_process_bytes_out_total", a["bytes_out"])):
            if series.get((name, lab)) != v:
                bad.append("%s%r: %r want %r" % (name, dict(lab), series.get((name, lab)), v))
        l5 = tuple(sorted(lab + (("class", "5xx"),)))
        if series.get(("httpmon_process_responses_total", l5)) != a["5xx"]:
            bad.append("5xx %r" % dict(lab))
    n = len([k for k in series if k[0] == "httpmon_process_requests_total"])
    result("prometheus: process series per (comm, cgroup, role), the two nginx pids summed, "
           "no duplicate series (%d series)" % n,
           not bad and n == len(agg) and None not in series.values(), "; ".join(bad[:4]))

elif mode == "prom_all":
    both, packet, socket = (open(f).read().splitlines() for f in args)
    def sample_lines(lines):
        return [l for l in lines if l and not l.startswith("#") and not l.startswith("httpmon_info")]
    types = [l for l in both if l.startswith("# TYPE ")]
    result("--source all: one HELP and TYPE per family",
           len(types) == len(set(types)) and
           len([l for l in both if l.startswith("# HELP ")]) == len(types), "")
    result("--source all: the packet and the socket series, as each source alone prints them",
           sorted(sample_lines(both)) == sorted(sample_lines(packet) + sample_lines(socket)),
           "%d lines, %d + %d alone" % (len(sample_lines(both)), len(sample_lines(packet)),
                                         len(sample_lines(socket))))
    result("--source all: both sources present, httpmon_info once",
           any('source="packet"' in l for l in both) and any('source="socket"' in l for l in both)
           and len([l for l in both if l.startswith("httpmon_info{")]) == 1, "")

elif mode == "cleared":
    before, removed, after = (json.load(open(f)) for f in args[2:5])
    strip = lambda d: {v: d[v] for v in ("clients", "ports", "port_clients", "routes", "total",
                                         "ports_other_latency", "routes_other_latency",
                                         "hosts", "host_routes", "hosts_other_latency")}
    result("--reset: prints what was there (equal to a plain read just before)",
           strip(before) == strip(removed), "")
    mon = dict(after["monitor"])
    live = mon.pop("conns_live")
    result("--reset: afterwards no rows, empty histograms, monitor zero, connections kept",
           after["clients"] == [] and after["ports"] == [] and after["port_clients"] == []
           and after["routes"] == [] and after["total"]["latency_hist"]["first"]["count"] == 0
           and after["hosts"] == [] and after["host_routes"] == []
           and after["hosts_other_latency"]["latency_hist"]["first"]["count"] == 0
           and after["routes_other_latency"]["latency_hist"]["first"]["count"] == 0
           and after["ports_other_latency"]["latency_hist"]["first"]["count"] == 0
           and set(mon.values()) == {0} and live == removed["monitor"]["conns_live"],
           repr(after)[:600])
EOF

hdr=$HM_ROOT/kern/httpmon.h
stat=$bin/hm-stat
reset=$bin/hm-reset

# --- a full map set -----------------------------------------------------------
if mkset good; then
	hm_ok "mkmaps creates and fills a map set"
else
	hm_not_ok "mkmaps creates and fills a map set" "$(cat "$tmp/good.json")"
	hm_done
fi
hm_note "$(python3 -c 'import json,sys; print("%d possible CPUs" % json.load(open(sys.argv[1]))["ncpus"])' "$tmp/good.json")"

hm_run "$stat" --pin-path "$fs/good" --json
[ "$rc" -eq 0 ]
hm_judge $? "hm-stat --json exits 0" "exit $rc: $err"
printf '%s\n' "$out" >"$tmp/good.out.json"
pycheck json "$hdr" "$tmp/good.json" "$tmp/good.out.json"
if python3 -m json.tool "$tmp/good.out.json" >/dev/null 2>&1 &&
	{ ! command -v jq >/dev/null || jq -e .schema "$tmp/good.out.json" >/dev/null; }; then
	hm_ok "json: parses with json.tool and jq"
else
	hm_not_ok "json: parses with json.tool and jq"
fi

hm_run "$stat" --pin-path "$fs/good"
printf '%s\n' "$out" >"$tmp/good.table"
[ "$rc" -eq 0 ]
hm_judge $? "hm-stat table exits 0" "exit $rc: $err"
pycheck table "$tmp/good.json" "$tmp/good.table"

hm_run "$stat" --pin-path "$fs/good" --by port
if [ "$rc" -eq 0 ] && grep -Eq '^PORT +REQS' <<<"$out" && grep -Eq '^8080 +13 ' <<<"$out" &&
	grep -Eq '^443 +4 ' <<<"$out"; then
	hm_ok "--by port: one row per port"
else
	hm_not_ok "--by port: one row per port" "exit $rc" "$out"
fi
hm_run "$stat" --pin-path "$fs/good" --by port,client
if [ "$rc" -eq 0 ] && grep -Eq '^PORT +IP +REQS' <<<"$out" &&
	grep -Eq '^8080 +10\.0\.0\.2 +10 ' <<<"$out" && grep -Eq '^other +other +2 ' <<<"$out"; then
	hm_ok "--by port,client: port and client columns, other row"
else
	hm_not_ok "--by port,client: port and client columns, other row" "exit $rc" "$out"
fi

"$stat" --pin-path "$fs/good" --json --sort ip >"$tmp/order.json" 2>&1
pycheck order "$tmp/order.json"
"$stat" --pin-path "$fs/good" --json --top 1 >"$tmp/top.json" 2>&1
pycheck top "$tmp/top.json"

hm_run env HTTPMON_PIN_PATH="$fs/good" "$stat" --json
[ "$rc" -eq 0 ] && [ "$out" = "$(cat "$tmp/good.out.json")" ]
hm_judge $? "HTTPMON_PIN_PATH selects the pin directory" "exit $rc: $err"

hm_run "$stat" --help
[ "$rc" -eq 0 ] && grep -q '^Exit status:' <<<"$out" && grep -q '^Examples:' <<<"$out" &&
	grep -q 'hm-stat --json | jq' <<<"$out"
hm_judge $? "hm-stat --help: usage, exit status, examples" "exit $rc"
hm_run "$stat" --version
[ "$rc" -eq 0 ] && [[ $out =~ ^hm-stat\ [0-9][^\ ]*\ \(map\ layout\ $layout\)$ ]]
hm_judge $? "hm-stat --version names the map layout" "$out"

# --- non-root readers ----------------------------------------------------------
mkset perm >/dev/null
chown root:root "$fs/perm"/hm_*
chmod 0640 "$fs/perm"/hm_*
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
hm_expect_fail "non-root without read access: exit 5, says why" 5 \
	'hm-stat: cannot read .*/perm/hm_[a-z_]+: Permission denied \(run as root, or give your group read access' \
	"${nobody[@]}" "$stat" --pin-path "$fs/perm"
gid=$(( 40000 + $$ % 20000 ))
chgrp "$gid" "$fs/perm"/hm_*
hm_run setpriv --reuid=65534 --regid=65534 --groups="$gid" "$stat" --pin-path "$fs/perm" --json
printf '%s\n' "$out" >"$tmp/perm.out.json"
if [ "$rc" -eq 0 ] && python3 -c '
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
sys.exit(a["clients"] != b["clients"] or a["monitor"] != b["monitor"])' \
	"$tmp/perm.out.json" "$tmp/good.out.json"; then
	hm_ok "non-root in the pins' group reads the same numbers"
else
	hm_not_ok "non-root in the pins' group reads the same numbers" "exit $rc: $err"
fi
hm_expect_fail "hm-reset with read-only access: exit 5" 5 \
	'hm-reset: cannot open .*/perm/hm_[a-z_]+ for writing: Permission denied' \
	setpriv --reuid=65534 --regid=65534 --groups="$gid" "$reset" --pin-path "$fs/perm"

# --- refusals ---------------------------------------------------------------------
hm_expect_fail "missing directory: exit 3" 3 \
	"^hm-stat: no httpmon maps in $fs/nowhere \(is the monitor loaded\? run: hm-load IFACE\)$" \
	"$stat" --pin-path "$fs/nowhere"
mkdir "$fs/empty"
hm_expect_fail "directory without maps: exit 3" 3 "no httpmon maps in $fs/empty" \
	"$stat" --pin-path "$fs/empty"
mkset partial --omit hm_ports >/dev/null
hm_expect_fail "partial map set: exit 3 naming the missing map" 3 \
	"incomplete httpmon map set in $fs/partial: missing hm_ports " \
	"$stat" --pin-path "$fs/partial"
mkset newer --layout 99 >/dev/null
hm_expect_fail "layout version 99: exit 4" 4 \
	"maps in $fs/newer have layout version 99, this hm-stat reads version $layout: use tools of the same release" \
	"$stat" --pin-path "$fs/newer"
hm_expect_fail "hm-reset refuses layout version 99: exit 4" 4 "layout version 99" \
	"$reset" --pin-path "$fs/newer"
mkset badsize --bad-value hm_clients >/dev/null
hm_expect_fail "wrong value size: exit 4" 4 "map hm_clients in $fs/badsize has value size [0-9]+, this hm-stat expects [0-9]+" \
	"$stat" --pin-path "$fs/badsize"
mkset unstamped --layout 0 --empty >/dev/null
hm_run "$stat" --pin-path "$fs/unstamped"
[ "$rc" -eq 0 ] && grep -q '^no HTTP traffic seen yet$' <<<"$out"
hm_judge $? "unstamped, empty map set: 'no HTTP traffic seen yet', exit 0" "exit $rc: $err" "$out"
# Every view and format sorts its (empty) rows: nothing to sort is no error.
bad=()
for args in "--by client" "--by port" "--by port,client" "--by route" "--by iface" "--by host" \
	"--by host,route" "--json" "--format csv --by route" "--format csv --by host,route" \
	"--format prometheus" "--reset --json" "--watch 1 --count 1" "--watch 1 --count 1 --by host" \
	"--hist --by host"; do
	# shellcheck disable=SC2086 # args is a word list
	hm_run "$stat" --pin-path "$fs/unstamped" $args
	[ "$rc" -eq 0 ] && [ -z "$err" ] || bad+=("$args: exit $rc: $err")
done
[ ${#bad[@]} -eq 0 ]
hm_judge $? "empty map set: every view and format (json, csv, prometheus, --reset, --watch) exits 0 quietly" \
	"${bad[@]}"
hm_expect_fail "unknown option: exit 2" 2 "^hm-stat: unknown option '--frobnicate'; see hm-stat --help$" \
	"$stat" --frobnicate
hm_expect_fail "bad --top number: exit 2" 2 "^hm-stat: .*'12x'.*; see hm-stat --help$" \
	"$stat" --top 12x
hm_expect_fail "bad --sort field: exit 2" 2 "see hm-stat --help" "$stat" --sort speed
hm_expect_fail "hm-reset unknown option: exit 2" 2 "^hm-reset: unknown option '-x'; see hm-reset --help$" \
	"$reset" -x

# --- percentiles, histograms and the export formats ---------------------------------
"$stat" --pin-path "$fs/good" --json >"$tmp/good.hist.json" 2>&1
pycheck hist "$hdr" "$tmp/good.json" "$tmp/good.hist.json"

pycheck routes "$hdr" "$tmp/good.json" "$tmp/good.hist.json"
hm_run "$stat" --pin-path "$fs/good" --by route
[ "$rc" -eq 0 ] && grep -Eq '^METHOD +ROUTE +REQS .* P50_MS +P90_MS +P99_MS +P99\.9_MS' <<<"$out" &&
	grep -Eq '^GET +/api/users/\{id\} +6 +6 ' <<<"$out" &&
	grep -Eq '^GET +/weird%20"label",x\\%FF +2 ' <<<"$out" &&
	grep -B1 -E '^ +total ' <<<"$out" | grep -Eq '^ +_other +3 '
hm_judge $? "--by route: method and route columns, encoded label, _other last" "exit $rc: $err" "$out"

pycheck hosts "$hdr" "$tmp/good.json" "$tmp/good.hist.json"
hm_run "$stat" --pin-path "$fs/good" --by host
[ "$rc" -eq 0 ] && grep -Eq '^HOST +REQS .* P50_MS +P90_MS +P99_MS +P99\.9_MS' <<<"$out" &&
	grep -Eq '^a\.test +6 +6 ' <<<"$out" && grep -Eq '^_none +1 +1 ' <<<"$out" &&
	grep -B1 -E '^total ' <<<"$out" | grep -Eq '^_other +2 '
hm_judge $? "--by host: host column, percentiles, _none, _other last" "exit $rc: $err" "$out"
hm_run "$stat" --pin-path "$fs/good" --by host,route
[ "$rc" -eq 0 ] && grep -Eq '^HOST +METHOD +ROUTE +REQS ' <<<"$out" &&
	! grep -q 'P50_MS' <<<"$out" &&
	grep -Eq '^a\.test +GET +/api/users/\{id\} +4 +4 ' <<<"$out" &&
	grep -Eq '^_id_77 +GET +/api/users/\{id\} +2 ' <<<"$out" &&
	grep -B1 -E '^total ' <<<"$out" | grep -Eq '^_other +_other +5 '
hm_judge $? "--by host,route: host, method and route columns, no percentiles, _other last" \
	"exit $rc: $err" "$out"
hm_run "$stat" --pin-path "$fs/good" --by route,host --top 1
[ "$rc" -eq 0 ] && grep -Eq '^a\.test +GET ' <<<"$out" && ! grep -q '^_id_77' <<<"$out" &&
	grep -Eq '^_other +_other +5 ' <<<"$out" && grep -q '(2 of 5 rows shown' <<<"$out"
hm_judge $? "--by route,host --top 1: the busiest pair and the _other row" "exit $rc: $err" "$out"
hm_run "$stat" --pin-path "$fs/good" --hist a.test --by host
[ "$rc" -eq 0 ] && grep -q '^host a\.test: 6 responses, avg 3\.146 ms, min 1\.001 ms, max 9\.876 ms$' <<<"$out" &&
	[ "$(grep -c '^host ' <<<"$out")" = 1 ]
hm_judge $? "--hist NAME --by host: that host's chart alone" "exit $rc: $err" "$out"
hm_run "$stat" --pin-path "$fs/good" --hist --by host
[ "$rc" -eq 0 ] && grep -q '^host a\.test: 6 responses' <<<"$out" &&
	grep -q '^hosts beyond the first 32 (one shared histogram): 3 responses' <<<"$out" &&
	! grep -q '^host big\.test' <<<"$out"
hm_judge $? "--hist --by host: a chart per host with a histogram, then the shared one" \
	"exit $rc: $err" "$out"

csv_ok=1
for by in client port port,client route host host,route; do
	"$stat" --pin-path "$fs/good" --format csv --by "$by" >"$tmp/good.csv.$by" 2>"$tmp/stderr" || csv_ok=0
done
[ "$csv_ok" -eq 1 ]
hm_judge $? "hm-stat --format csv exits 0 for every view" "$(cat "$tmp/stderr")"
pycheck csv "$hdr" "$tmp/good.json" "$tmp/good.hist.json" "$tmp/good.csv"

hm_run "$stat" --pin-path "$fs/good" --format prometheus
printf '%s\n' "$out" >"$tmp/good.prom"
[ "$rc" -eq 0 ] && [ -z "$err" ]
hm_judge $? "hm-stat --format prometheus exits 0 quietly" "exit $rc: $err"
pycheck prom "$hdr" "$tmp/good.json" "$tmp/good.hist.json" "$tmp/good.prom"
# Two bounds per power of two over the kernel's whole range: 26 * 2 + 1 and +Inf.
hm_run "$stat" --pin-path "$fs/good" --format prometheus --buckets 2 \
	--bucket-range 0.000001024:68.719476736
printf '%s\n' "$out" >"$tmp/good2.prom"
[ "$rc" -eq 0 ] && [ -z "$err" ]
hm_judge $? "hm-stat --format prometheus --buckets 2 --bucket-range ... exits 0 quietly" "exit $rc: $err"
pycheck prom "$hdr" "$tmp/good.json" "$tmp/good.hist.json" "$tmp/good2.prom" 54
if command -v promtool >/dev/null; then
	if promtool check metrics <"$tmp/good.prom" >"$tmp/promtool.out" 2>&1; then
		hm_ok "promtool check metrics accepts the output"
	else
		hm_not_ok "promtool check metrics accepts the output" "$(head -20 "$tmp/promtool.out")"
	fi
else
	hm_skip "promtool check metrics accepts the output" "promtool not installed (Debian package prometheus)"
fi

hm_run "$stat" --pin-path "$fs/good" --by port --latency last
[ "$rc" -eq 0 ] && grep -q 'latency to the last response byte' <<<"$out" &&
	grep -Eq '^PORT +REQS .* P50_MS +P90_MS +P99_MS +P99\.9_MS' <<<"$out" &&
	grep -Eq '^8080 +13 .* +- +- +- +2\.949 +5\.112 ' <<<"$out"
hm_judge $? "--by port --latency last: the last-byte family, its percentiles" "exit $rc: $err" "$out"

# --- --output: atomic replacement ---------------------------------------------------
mkdir "$tmp/out"
echo old >"$tmp/out/httpmon.prom"
ino=$(stat -c %i "$tmp/out/httpmon.prom")
hm_run "$stat" --pin-path "$fs/good" --format prometheus --output "$tmp/out/httpmon.prom"
[ "$rc" -eq 0 ] && [ -z "$out$err" ] && cmp -s "$tmp/out/httpmon.prom" "$tmp/good.prom" &&
	[ "$(stat -c %a "$(realpath "$tmp/out/httpmon.prom")")" = 644 ] &&
	[ "$(stat -c %i "$tmp/out/httpmon.prom")" != "$ino" ] && [ "$(ls -A "$tmp/out")" = httpmon.prom ]
hm_judge $? "--output: the file is replaced by a new one (rename), mode 0644, no temporary file left" \
	"exit $rc: $err" "$(ls -lia "$tmp/out")"
# A reader racing 40 rewrites must only ever see a whole file (8 in the
# sanitizer pass, HM_SAN_QUICK=1: there each rewrite is slower, and the
# rename is the kernel's).
rewrites=$([ -n "${HM_SAN_QUICK:-}" ] && echo 8 || echo 40)
(for _ in $(seq "$rewrites"); do "$stat" --pin-path "$fs/good" --format prometheus --output "$tmp/out/httpmon.prom"; done) &
writer=$!
torn=0 reads=0
while kill -0 "$writer" 2>/dev/null && [ "$reads" -lt 20000 ]; do
	reads=$((reads + 1))
	cmp -s "$tmp/out/httpmon.prom" "$tmp/good.prom" || torn=$((torn + 1))
done
wait "$writer"
[ "$torn" -eq 0 ] && [ "$(ls -A "$tmp/out")" = httpmon.prom ]
hm_judge $? "--output: $reads reads during $rewrites rewrites never saw a partial file" "$torn torn reads"
hm_expect_fail "--output into a missing directory: exit 1, one line" 1 \
	"^hm-stat: cannot create a temporary file for $tmp/nodir/x.prom: No such file or directory$" \
	"$stat" --pin-path "$fs/good" --format prometheus --output "$tmp/nodir/x.prom"
hm_run "$stat" --pin-path "$fs/nowhere" --output "$tmp/out/httpmon.prom"
[ "$rc" -eq 3 ] && cmp -s "$tmp/out/httpmon.prom" "$tmp/good.prom" && [ "$(ls -A "$tmp/out")" = httpmon.prom ]
hm_judge $? "--output: a failed read leaves the old file alone" "exit $rc: $err"

# --- option conflicts ------------------------------------------------------------------
hm_expect_fail "--count without --watch: exit 2" 2 "^hm-stat: --count needs --watch; see hm-stat --help$" \
	"$stat" --count 2
hm_expect_fail "--watch with --format json: exit 2" 2 "^hm-stat: --watch shows a table" \
	"$stat" --watch 1 --format json
hm_expect_fail "--watch 0: exit 2" 2 "^hm-stat: bad --watch interval '0'" "$stat" --watch 0
hm_expect_fail "--json with --format csv: exit 2" 2 "^hm-stat: --json and --format csv contradict" \
	"$stat" --json --format csv
hm_expect_fail "unknown --format: exit 2" 2 "^hm-stat: unknown --format 'xml'" "$stat" --format xml
hm_expect_fail "--watch with --reset: exit 2" 2 "do not go together" "$stat" --watch 1 --reset
hm_expect_fail "--buckets 3: exit 2" 2 "^hm-stat: bad --buckets '3' \\(rows or bounds per power of two: 1, 2, 4, 8 or 16\\)" \
	"$stat" --buckets 3 --format prometheus
hm_expect_fail "--buckets without --format prometheus or --hist: exit 2" 2 \
	"^hm-stat: --buckets shapes --format prometheus and --hist" "$stat" --buckets 4
for r in 1:0.5 0.0000001:1 1:100 x:1 0.001; do
	hm_expect_fail "--bucket-range $r: exit 2" 2 "^hm-stat: bad --bucket-range '$r' \\(LOW:HIGH in seconds" \
		"$stat" --format prometheus --bucket-range "$r"
done
hm_expect_fail "--bucket-range without --format prometheus: exit 2" 2 \
	"^hm-stat: --bucket-range shapes --format prometheus" "$stat" --bucket-range 0.001:1
hm_expect_fail "--hist with --format json: exit 2" 2 "^hm-stat: --hist prints charts; it takes no --format" \
	"$stat" --hist --format json
hm_expect_fail "--hist with --watch: exit 2" 2 "^hm-stat: --hist prints charts; it takes no --watch" \
	"$stat" --hist --watch 1
hm_expect_fail "--hist --by client: exit 2" 2 "^hm-stat: --hist: only ports, routes and hosts have histograms" \
	"$stat" --hist --by client
hm_expect_fail "--hist 70000: exit 2" 2 "^hm-stat: bad --hist port '70000' \\(1 to 65535\\)" "$stat" --hist 70000
hm_expect_fail "--hist 8080 --by route: exit 2" 2 "^hm-stat: --hist 8080 names a port; it takes no --by route" \
	"$stat" --hist 8080 --by route
hm_run "$stat" --pin-path "$fs/good" --format json
[ "$rc" -eq 0 ] && [ "$out" = "$(cat "$tmp/good.hist.json")" ]
hm_judge $? "--format json prints what --json prints" "exit $rc: $err"

# --- --watch --------------------------------------------------------------------------
hm_run timeout 20 "$stat" --pin-path "$fs/good" --watch 1 --count 2 --by port
[ "$rc" -eq 0 ] && [ "$(grep -c '^httpmon HTTP rates by server port over' <<<"$out")" -eq 2 ] &&
	[ "$(grep -c '^no HTTP traffic in this interval$' <<<"$out")" -eq 2 ] && ! grep -q $'\e' <<<"$out"
hm_judge $? "--watch 1 --count 2, not a terminal: two plain blocks, exit 0" "exit $rc: $err" "$out"
if command -v script >/dev/null; then
	hm_run timeout 20 script -qfec "$stat --pin-path $fs/good --watch 1 --count 1" /dev/null
	[ "$rc" -eq 0 ] && grep -qF $'\e[H\e[2J' <<<"$out" && grep -q 'httpmon HTTP rates' <<<"$out"
	hm_judge $? "--watch on a terminal clears and redraws the screen" "exit $rc" "$out"
else
	hm_skip "--watch on a terminal clears and redraws the screen" "script not installed"
fi
for sig in INT TERM; do
	timeout 20 "$stat" --pin-path "$fs/good" --watch 1 >"$tmp/watch.$sig" 2>&1 &
	pid=$!
	sleep 1.5
	kill -"$sig" "$pid"
	wait "$pid"
	rc=$?
	[ "$rc" -eq 0 ] && [ "$(grep -c '^httpmon HTTP rates' "$tmp/watch.$sig")" -eq 1 ] &&
		tail -n 1 "$tmp/watch.$sig" | grep -q '^  [a-z_]* *[0-9]*$'
	hm_judge $? "--watch ends cleanly on SIG$sig: exit 0, whole blocks" "exit $rc" "$(cat "$tmp/watch.$sig")"
done
mkset gone >/dev/null
timeout 20 "$stat" --pin-path "$fs/gone" --watch 1 >"$tmp/watch.gone" 2>&1 &
pid=$!
sleep 0.5
rm -f "$fs/gone"/hm_*
wait "$pid"
rc=$?
[ "$rc" -eq 3 ] && grep -q "^hm-stat: the maps in $fs/gone were removed (monitor detached)$" "$tmp/watch.gone"
hm_judge $? "--watch: pins removed meanwhile: says so, exit 3" "exit $rc" "$(cat "$tmp/watch.gone")"
mkset again >/dev/null
timeout 20 "$stat" --pin-path "$fs/again" --watch 1 --count 2 >"$tmp/watch.again" 2>&1 &
pid=$!
sleep 0.5
rm -f "$fs/again"/hm_*
"$bin/mkmaps" "$fs/again" >/dev/null
wait "$pid"
rc=$?
[ "$rc" -eq 0 ] && grep -q "^hm-stat: warning: the maps in $fs/again were replaced (monitor reloaded): rates start again$" "$tmp/watch.again" &&
	[ "$(grep -c '^httpmon HTTP rates' "$tmp/watch.again")" -eq 2 ]
hm_judge $? "--watch: pins replaced meanwhile: says so, reopens, goes on" "exit $rc" "$(cat "$tmp/watch.again")"

# --- hm-stat --reset --------------------------------------------------------------------
mkset rs >/dev/null
"$stat" --pin-path "$fs/rs" --json >"$tmp/rs.before.json"
chown "root:$gid" "$fs/rs"/hm_*
chmod 0640 "$fs/rs"/hm_*
hm_expect_fail "--reset with read-only access: exit 5" 5 \
	'hm-stat: cannot open .*/rs/hm_[a-z_]+ for writing: Permission denied' \
	setpriv --reuid=65534 --regid=65534 --groups="$gid" "$stat" --pin-path "$fs/rs" --reset
hm_run "$stat" --pin-path "$fs/rs" --reset --json
printf '%s\n' "$out" >"$tmp/rs.removed.json"
[ "$rc" -eq 0 ]
hm_judge $? "hm-stat --reset --json exits 0" "exit $rc: $err"
"$stat" --pin-path "$fs/rs" --json >"$tmp/rs.after.json"
pycheck cleared "$hdr" "$tmp/good.json" "$tmp/rs.before.json" "$tmp/rs.removed.json" "$tmp/rs.after.json"
# entries MAP: the number of keys bpftool lists in pinned map MAP of set $1.
entries() { bpftool -j map dump pinned "$fs/$1/$2" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'; }
if command -v bpftool >/dev/null; then
	[ "$(entries rs hm_route_ids)" = 3 ]
	hm_judge $? "--reset keeps the route labels (hm_route_ids)" "$(entries rs hm_route_ids) entries"
else
	hm_skip "--reset keeps the route labels (hm_route_ids)" "bpftool not installed"
fi
hm_run "$stat" --pin-path "$fs/rs" --reset
[ "$rc" -eq 0 ] && grep -q '^httpmon HTTP stats by client at .*, cleared$' <<<"$out" &&
	grep -q '^no HTTP traffic seen yet$' <<<"$out"
hm_judge $? "--reset on cleared maps: the header says cleared, no traffic" "exit $rc: $err" "$out"

# --- hm-reset ---------------------------------------------------------------------
hm_run "$reset" --pin-path "$fs/good"
[ "$rc" -eq 0 ] && [ -z "$out$err" ]
hm_judge $? "hm-reset exits 0 quietly" "exit $rc" "$out" "$err"
"$stat" --pin-path "$fs/good" --json >"$tmp/reset.json" 2>&1
pycheck reset "$tmp/good.json" "$tmp/reset.json"
# seq SET SLOT: entry SLOT of hm_seq in set SET.
seq() {
	bpftool -j map dump pinned "$fs/$1/hm_seq" | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    e = e.get("formatted", e)
    k, v = e["key"], e["value"]
    k = k if isinstance(k, int) else int.from_bytes(bytes(int(b, 16) for b in k), "little")
    v = v if isinstance(v, int) else int.from_bytes(bytes(int(b, 16) for b in v), "little")
    if k == int(sys.argv[1]):
        print(v)' "$2"
}
if command -v bpftool >/dev/null; then
	[ "$(entries good hm_route_ids)" = 3 ] && [ "$(entries good hm_row_ids)" = 0 ] &&
		[ "$(entries good hm_host_ids)" = 3 ] && [ "$(entries good hm_hr_ids)" = 4 ] &&
		[ "$(jq '.routes | length' "$tmp/reset.json")" = 0 ] &&
		[ "$(jq '.hosts + .host_routes | length' "$tmp/reset.json")" = 0 ]
	hm_judge $? "hm-reset keeps the route labels and host names, removes every row of both generations" \
		"route ids $(entries good hm_route_ids), host ids $(entries good hm_host_ids), row ids $(entries good hm_row_ids)"
	hm_run "$reset" --pin-path "$fs/good" --routes
	[ "$rc" -eq 0 ] && [ "$(entries good hm_route_ids)" = 0 ] && [ "$(seq good 8)" = 0 ] && # 8: HM_SEQ_ROUTES
		[ "$(entries good hm_host_ids)" = 0 ] && [ "$(entries good hm_hr_ids)" = 0 ]
	hm_judge $? "hm-reset --routes forgets the route labels, host names and pairs, and zeroes the route counter" \
		"exit $rc: $err; route ids $(entries good hm_route_ids), host ids $(entries good hm_host_ids), counter $(seq good 8)"
else
	hm_skip "hm-reset keeps the route labels" "bpftool not installed"
fi
hm_run "$stat" --pin-path "$fs/good"
[ "$rc" -eq 0 ] && grep -q '^no HTTP traffic seen yet$' <<<"$out"
hm_judge $? "after reset the table says no traffic" "exit $rc" "$out"
hm_run "$reset" --help
[ "$rc" -eq 0 ] && grep -q '^Exit status:' <<<"$out" && grep -q '^Examples:' <<<"$out"
hm_judge $? "hm-reset --help: exit status, examples" "exit $rc"

# --- the socket source ------------------------------------------------------------
# A socket set (mkmaps --sockets) in the sockets/ subdirectory of a packet set,
# and one alone; its processes are in a cgroup made here, the root cgroup and
# one that is gone.
cg2=$(awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo)
if [ -n "$cg2" ] && mkdir "$cg2/hm-rd-$$" 2>/dev/null; then
	cgdir=$cg2/hm-rd-$$/web.service
	mkdir "$cgdir"
	cgid=$(stat -c %i "$cgdir") rootid=$(stat -c %i "$cg2") cgpath=/hm-rd-$$/web.service
else
	hm_note "no cgroup2 mount to make a cgroup in: cgroup paths are checked as unknown"
	cgid=11 rootid=12 cgpath=-none-
fi
sockset() { # sockset NAME: NAME/sockets, truth in $tmp/NAME.sock.json
	mkdir -p "$fs/$1/sockets" &&
		"$bin/mkmaps" "$fs/$1/sockets" --sockets --cgroup-id "$cgid" --root-cgroup-id "$rootid" \
			>"$tmp/$1.sock.json"
}
mkset both >/dev/null && sockset both
hm_judge $? "mkmaps --sockets builds a socket set next to a packet set" "$(cat "$tmp/both.sock.json")"
mkdir "$fs/sonly" && sockset sonly

hm_run "$stat" --pin-path "$fs/both" --source socket --json
printf '%s\n' "$out" >"$tmp/sock.json"
[ "$rc" -eq 0 ] && [ -z "$err" ]
hm_judge $? "--source socket --json exits 0 quietly" "exit $rc: $err"
pycheck json "$hdr" "$tmp/both.sock.json" "$tmp/sock.json"
pycheck source socket "$tmp/sock.json"
pycheck routes "$hdr" "$tmp/both.sock.json" "$tmp/sock.json"
pycheck hosts "$hdr" "$tmp/both.sock.json" "$tmp/sock.json"
hm_run "$stat" --pin-path "$fs/both" --source socket
{ sed -n 1p <<<"$out" | grep -qxF "source: socket ($fs/both/sockets)"; } &&
	sed -n 2p <<<"$out" | grep -q "^httpmon HTTP stats by client at .* (maps in $fs/both/sockets)$"
hm_judge $? "--source socket table: a first line names the source and its directory" "$out"
sed 1d <<<"$out" >"$tmp/sock.table"
pycheck table "$tmp/both.sock.json" "$tmp/sock.table"
csv_ok=1
for by in client port port,client route host host,route process; do
	"$stat" --pin-path "$fs/both" --source socket --format csv --by "$by" >"$tmp/sock.csv.$by" \
		2>"$tmp/stderr" || csv_ok=0
done
[ "$csv_ok" -eq 1 ] && [ "$(sed -n 1p "$tmp/sock.csv.process")" = \
	"$(sed -n 1p "$tmp/sock.csv.client" | sed 's/^ip,/pid,comm,role,cgroup_id,cgroup,/')" ] &&
	! grep -hv -e ',source$' -e ',socket$' "$tmp"/sock.csv.*
hm_judge $? "--source socket --format csv: every view, a last column source=socket; --by process: pid, comm, role, cgroup_id, cgroup" \
	"$(cat "$tmp/stderr")" "$(head -3 "$tmp/sock.csv.process")"
pycheck csv "$hdr" "$tmp/both.sock.json" "$tmp/sock.json" "$tmp/sock.csv"
hm_run "$stat" --pin-path "$fs/both" --source socket --format prometheus
printf '%s\n' "$out" >"$tmp/sock.prom"
[ "$rc" -eq 0 ] && [ -z "$err" ]
hm_judge $? "--source socket --format prometheus exits 0 quietly" "exit $rc: $err"
pycheck prom "$hdr" "$tmp/both.sock.json" "$tmp/sock.json" "$tmp/sock.prom"
pycheck procs "$tmp/both.sock.json" "$tmp/sock.json" "$tmp/sock.prom" "$cgpath"

hm_run "$stat" --pin-path "$fs/both" --source socket --by process
[ "$rc" -eq 0 ] && grep -Eq '^PID +COMM +ROLE +CGROUP_ID +CGROUP +REQS +RESPS ' <<<"$out" &&
	grep -Eq "^1001 +nginx +server +$cgid +${cgpath//-none-/-} +8 +7 " <<<"$out" &&
	grep -Eq "^2001 +python3 +server +$rootid +(/|-) +4 " <<<"$out" &&
	grep -Eq '^3001 +gone +server +[0-9]+ +- +1 +0 ' <<<"$out" &&
	grep -B1 -E '^ +total ' <<<"$out" | grep -Eq '^- +_other +- +- +- +8 '
hm_judge $? "--by process table: pid, comm, role, cgroup id and path, _other last" "exit $rc: $err" "$out"
hm_run "$stat" --pin-path "$fs/both" --source socket --by process --sort bytes_out --top 2
[ "$rc" -eq 0 ] && [ "$(grep -Ec '^[0-9]+ ' <<<"$out")" = 2 ] &&
	grep -A1 -E '^PID ' <<<"$out" | grep -Eq '^1001 +nginx .* 6800$' &&
	grep -Eq '^2001 +python3 .* 4000$' <<<"$out" && grep -q '(3 of 5 rows shown' <<<"$out"
hm_judge $? "--by process --sort bytes_out --top 2: the two with most bytes out, and _other" \
	"exit $rc: $err" "$out"
bad=()
for by in client port port,client route iface host host,route process; do
	for args in "" "--json" "--format csv" "--format prometheus" "--watch 1 --count 1"; do
		# shellcheck disable=SC2086 # args is a word list
		hm_run "$stat" --pin-path "$fs/both" --source socket --by "$by" $args
		[ "$rc" -eq 0 ] && [ -z "$err" ] || bad+=("--by $by $args: exit $rc: $err")
	done
done
hm_run "$stat" --pin-path "$fs/both" --source socket --hist --by port
[ "$rc" -eq 0 ] && grep -q '^port 8080: ' <<<"$out" || bad+=("--hist --by port: exit $rc: $err")
hm_run "$stat" --pin-path "$fs/both" --source socket --watch 1 --count 1 --by process
sed -n 1p <<<"$out" | grep -qxF "source: socket ($fs/both/sockets)" &&
	grep -q '^httpmon HTTP rates by process over' <<<"$out" || bad+=("--watch: $out")
[ ${#bad[@]} -eq 0 ]
hm_judge $? "--source socket: every view in every format, --hist and --watch exit 0 quietly" "${bad[@]}"

# The packet set next to a socket set reads as it always did.
hm_run "$stat" --pin-path "$fs/both" --json
[ "$rc" -eq 0 ] && [ "$out" = "$(cat "$tmp/good.out.json")" ]
hm_judge $? "packet set next to a socket set: the same JSON as alone" "exit $rc: $err"
pycheck source packet "$tmp/good.out.json"
hm_run "$stat" --pin-path "$fs/both"
[ "$rc" -eq 0 ] && [ "$(sed 1d <<<"$out")" = "$(sed 1d "$tmp/good.table")" ] &&
	sed -n 1p <<<"$out" | grep -q '^httpmon HTTP stats by client at'
hm_judge $? "packet set next to a socket set: the same table, no source line" "exit $rc: $err" "$out"
hm_run "$stat" --pin-path "$fs/both" --source packet --format prometheus
[ "$rc" -eq 0 ] && [ "$out" = "$(cat "$tmp/good.prom")" ] && ! grep -q httpmon_process_ <<<"$out"
hm_judge $? "--source packet --format prometheus: as without --source, no process families" "exit $rc: $err"

hm_run "$stat" --pin-path "$fs/both/sockets" --by process --json
[ "$rc" -eq 0 ] && [ "$out" = "$("$stat" --pin-path "$fs/both" --source socket --by process --json)" ]
hm_judge $? "--pin-path naming the sockets/ directory itself reads it as the socket source" "exit $rc: $err"
hm_run "$stat" --pin-path "$fs/sonly"
[ "$rc" -eq 0 ] && sed -n 1p <<<"$out" | grep -qxF "source: socket ($fs/sonly/sockets)"
hm_judge $? "no packet set, a socket set: hm-stat reads the socket set" "exit $rc: $err" "$out"
hm_run "$stat" --pin-path "$fs/sonly" --by process --json
[ "$rc" -eq 0 ] && [ "$(jq -r '.source, (.processes | length)' <<<"$out" | tr '\n' ' ')" = "socket 5 " ]
hm_judge $? "no packet set: --by process needs no --source" "exit $rc: $err"

# --- --source all: one exposition for node_exporter ---------------------------------
hm_run "$stat" --pin-path "$fs/both" --source all --format prometheus
printf '%s\n' "$out" >"$tmp/all.prom"
[ "$rc" -eq 0 ] && [ -z "$err" ]
hm_judge $? "--source all --format prometheus exits 0 quietly" "exit $rc: $err"
pycheck prom_all "$tmp/all.prom" "$tmp/good.prom" "$tmp/sock.prom"
if command -v promtool >/dev/null; then
	if promtool check metrics <"$tmp/all.prom" >"$tmp/promtool.out" 2>&1; then
		hm_ok "promtool check metrics accepts --source all"
	else
		hm_not_ok "promtool check metrics accepts --source all" "$(head -20 "$tmp/promtool.out")"
	fi
else
	hm_skip "promtool check metrics accepts --source all" "promtool not installed (Debian package prometheus)"
fi
hm_run "$stat" --pin-path "$fs/sonly" --source all --format prometheus
[ "$rc" -eq 0 ] && grep -q 'source="socket"' <<<"$out" && ! grep -q 'source="packet"' <<<"$out"
hm_judge $? "--source all with only a socket set: its series alone" "exit $rc: $err"

# --- --source refusals -----------------------------------------------------------------
hm_expect_fail "unknown --source: exit 2" 2 "^hm-stat: unknown --source 'pcap' \\(packet, socket, all\\); see hm-stat --help$" \
	"$stat" --pin-path "$fs/both" --source pcap
for f in "" "--json" "--format csv"; do
	# shellcheck disable=SC2086 # f is a word list
	hm_expect_fail "--source all ${f:-(table)}: exit 2" 2 \
		"^hm-stat: --source all puts both sources in one Prometheus exposition; it takes --format prometheus; see hm-stat --help$" \
		"$stat" --pin-path "$fs/both" --source all $f
done
hm_expect_fail "--source socket without a socket set: exit 3, says to load it" 3 \
	"^hm-stat: no socket-source maps in $fs/good/sockets \\(is the socket source loaded\\? run: hm-load --sockets\\)$" \
	"$stat" --pin-path "$fs/good" --source socket
mkdir -p "$fs/sockpart/sockets" && "$bin/mkmaps" "$fs/sockpart/sockets" --sockets --omit hm_procs >/dev/null
hm_expect_fail "socket set without its process rows: exit 3, incomplete, names the map" 3 \
	"^hm-stat: incomplete httpmon map set in $fs/sockpart/sockets: missing hm_procs \\(reload the monitor: hm-load --sockets\\)$" \
	"$stat" --pin-path "$fs/sockpart" --source socket
hm_expect_fail "--source all without either set: exit 3" 3 "^hm-stat: no httpmon maps in $fs/nowhere or $fs/nowhere/sockets " \
	"$stat" --pin-path "$fs/nowhere" --source all --format prometheus
hm_expect_fail "--by process --source packet: exit 2" 2 \
	"^hm-stat: --by process: process rows come from the socket source \\(--source socket\\); the packet source has none; see hm-stat --help$" \
	"$stat" --pin-path "$fs/both" --source packet --by process
hm_expect_fail "--by process on the packet set (the default): exit 2" 2 \
	"^hm-stat: --by process: process rows come from the socket source" \
	"$stat" --pin-path "$fs/both" --by process

# --- resets of the socket set ------------------------------------------------------------
# procrow SET ID: requests in entry ID of SET's hm_procs, summed over CPUs.
procrow() {
	bpftool -j map lookup pinned "$fs/$1/sockets/hm_procs" key $(printf '%d %d %d %d' \
		$(($2 & 255)) $(($2 >> 8 & 255)) 0 0) | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(int.from_bytes(bytes(int(b, 16) for b in v["value"][:8]), "little")
          for v in d.get("values", d.get("formatted", {}).get("values", []))))'
}
if command -v bpftool >/dev/null; then
	[ "$(entries both/sockets hm_proc_ids)" = 5 ] && [ "$(seq both/sockets 12)" = 3 ] &&
		[ "$(seq both/sockets 13)" = 3 ] && [ "$(procrow both $((1024 + 9)))" = 9 ] # 12, 13: HM_SEQ_PROCS(0), (1)
	hm_judge $? "socket set before the reset: 5 process names, both id counters at 3, the unnamed row" \
		"names $(entries both/sockets hm_proc_ids), counters $(seq both/sockets 12) $(seq both/sockets 13)"
fi
hm_run "$stat" --pin-path "$fs/both" --source socket --reset --json
printf '%s\n' "$out" >"$tmp/sock.removed.json"
"$stat" --pin-path "$fs/both" --source socket --json >"$tmp/sock.after.json"
[ "$rc" -eq 0 ] && python3 - "$tmp/sock.json" "$tmp/sock.removed.json" "$tmp/sock.after.json" <<'PY'
import json, sys
before, removed, after = (json.load(open(f)) for f in sys.argv[1:])
views = ("clients", "ports", "port_clients", "routes", "hosts", "host_routes", "processes")
assert all(before[v] == removed[v] for v in views), "removed differs"
assert before["monitor"] == removed["monitor"]
assert all(after[v] == [] for v in views), "rows left"
mon = dict(after["monitor"]); live = mon.pop("conns_live")
assert set(mon.values()) == {0} and live == before["monitor"]["conns_live"]
PY
hm_judge $? "--source socket --reset: prints what was there, leaves no rows, monitor zero, connections kept" \
	"exit $rc: $err" "$(head -c 600 "$tmp/sock.after.json")"
if command -v bpftool >/dev/null; then
	[ "$(entries both/sockets hm_proc_ids)" = 0 ] && [ "$(seq both/sockets 12)" = 0 ] &&
		[ "$(seq both/sockets 13)" = 0 ] && [ "$(procrow both 1)" = 0 ] &&
		[ "$(procrow both $((1024 + 1)))" = 0 ] && [ "$(procrow both 1024)" = 0 ] &&
		[ "$(procrow both 0)" = 0 ] && [ "$(procrow both $((1024 + 9)))" = 9 ]
	hm_judge $? "socket reset: the named process rows, the overflow rows, the names and id counters of each generation cleared; the unnamed row untouched" \
		"names $(entries both/sockets hm_proc_ids), counters $(seq both/sockets 12) $(seq both/sockets 13), rows $(procrow both 1) $(procrow both 1025) $(procrow both 1024) $(procrow both 0) $(procrow both 1033)"
else
	hm_skip "socket reset clears the process names and id counters" "bpftool not installed"
fi
hm_run "$stat" --pin-path "$fs/both" --json
[ "$rc" -eq 0 ] && [ "$out" = "$(cat "$tmp/good.out.json")" ]
hm_judge $? "--source socket --reset leaves the packet set alone" "exit $rc: $err"

mkset both2 >/dev/null && sockset both2
hm_run "$stat" --pin-path "$fs/both2" --source all --format prometheus --reset
[ "$rc" -eq 0 ] && [ "$(printf '%s\n' "$out")" = "$(cat "$tmp/all.prom")" ] &&
	[ "$("$stat" --pin-path "$fs/both2" --json | jq '.clients | length')" = 0 ] &&
	[ "$("$stat" --pin-path "$fs/both2" --source socket --json | jq '.processes + .clients | length')" = 0 ]
hm_judge $? "--source all --reset: prints both sets and clears both" "exit $rc: $err"

mkset both3 >/dev/null && sockset both3
hm_run "$reset" --pin-path "$fs/both3" -v
[ "$rc" -eq 0 ] && grep -q "counters in $fs/both3 reset" <<<"$err" &&
	grep -q "counters in $fs/both3/sockets reset" <<<"$err" &&
	[ "$("$stat" --pin-path "$fs/both3" --json | jq '.clients + .ports | length')" = 0 ] &&
	[ "$("$stat" --pin-path "$fs/both3" --source socket --json | jq '.processes + .clients | length')" = 0 ]
hm_judge $? "hm-reset resets the packet set and the socket set" "exit $rc: $err"
hm_run "$reset" --pin-path "$fs/sonly"
[ "$rc" -eq 0 ] && [ -z "$out$err" ] &&
	[ "$("$stat" --pin-path "$fs/sonly" --json | jq '.processes | length')" = 0 ]
hm_judge $? "hm-reset with only a socket set: resets it quietly" "exit $rc: $err"
hm_expect_fail "hm-reset without either set: exit 3" 3 \
	"^hm-reset: no httpmon maps in $fs/nowhere \\(is the monitor loaded\\? run: hm-load IFACE\\)$" \
	"$reset" --pin-path "$fs/nowhere"

hm_done
