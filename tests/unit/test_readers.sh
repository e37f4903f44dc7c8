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
hm_check "mkmaps builds" gcc -O1 -Wall -Wextra -Werror -std=gnu11 \
	-I "$HM_ROOT/kern" "$HM_ROOT/tests/unit/mkmaps.c" -o "$bin/mkmaps" -lbpf ||
	hm_done

layout=$(sed -n 's/^#define HM_LAYOUT_VERSION \([0-9]*\).*/\1/p' "$HM_ROOT/kern/httpmon.h")

# mkset NAME [mkmaps options]: a map set in $fs/NAME, truth in $tmp/NAME.json.
mkset() {
	local name=$1
	shift
	mkdir "$fs/$name" && "$bin/mkmaps" "$fs/$name" "$@" >"$tmp/$name.json"
}

# judge NAME [DETAIL...]: ok when the command just before succeeded.
judge() {
	local status=$? name=$1
	shift
	if [ "$status" -eq 0 ]; then hm_ok "$name"; else hm_not_ok "$name" "$@"; fi
}

# run CMD...: sets rc, out (stdout) and err (stderr).
run() {
	out=$("$@" 2>"$tmp/stderr")
	rc=$?
	err=$(cat "$tmp/stderr")
}

# expect_fail NAME RC REGEX CMD...: CMD exits RC with one stderr line matching REGEX.
expect_fail() {
	local name=$1 want=$2 re=$3
	shift 3
	run "$@"
	if [ "$rc" -eq "$want" ] && [[ $err =~ $re ]] && [ "$(wc -l <<<"$err")" -eq 1 ]; then
		hm_ok "$name"
	else
		hm_not_ok "$name" "command: $*" "exit $rc, wanted $want; stderr matching: $re" \
			"stderr: $err"
	fi
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

run "$stat" --pin-path "$fs/good" --json
[ "$rc" -eq 0 ]
judge "hm-stat --json exits 0" "exit $rc: $err"
printf '%s\n' "$out" >"$tmp/good.out.json"
pycheck json "$hdr" "$tmp/good.json" "$tmp/good.out.json"
if python3 -m json.tool "$tmp/good.out.json" >/dev/null 2>&1 &&
	{ ! command -v jq >/dev/null || jq -e .schema "$tmp/good.out.json" >/dev/null; }; then
	hm_ok "json: parses with json.tool and jq"
else
	hm_not_ok "json: parses with json.tool and jq"
fi

run "$stat" --pin-path "$fs/good"
printf '%s\n' "$out" >"$tmp/good.table"
[ "$rc" -eq 0 ]
judge "hm-stat table exits 0" "exit $rc: $err"
pycheck table "$tmp/good.json" "$tmp/good.table"

run "$stat" --pin-path "$fs/good" --by port
if [ "$rc" -eq 0 ] && grep -Eq '^PORT +REQS' <<<"$out" && grep -Eq '^8080 +13 ' <<<"$out" &&
	grep -Eq '^443 +4 ' <<<"$out"; then
	hm_ok "--by port: one row per port"
else
	hm_not_ok "--by port: one row per port" "exit $rc" "$out"
fi
run "$stat" --pin-path "$fs/good" --by port,client
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

run env HTTPMON_PIN_PATH="$fs/good" "$stat" --json
[ "$rc" -eq 0 ] && [ "$out" = "$(cat "$tmp/good.out.json")" ]
judge "HTTPMON_PIN_PATH selects the pin directory" "exit $rc: $err"

run "$stat" --help
[ "$rc" -eq 0 ] && grep -q '^Exit status:' <<<"$out" && grep -q '^Examples:' <<<"$out" &&
	grep -q 'hm-stat --json | jq' <<<"$out"
judge "hm-stat --help: usage, exit status, examples" "exit $rc"
run "$stat" --version
[ "$rc" -eq 0 ] && [[ $out =~ ^hm-stat\ [0-9][^\ ]*\ \(map\ layout\ $layout\)$ ]]
judge "hm-stat --version names the map layout" "$out"

# --- non-root readers ----------------------------------------------------------
mkset perm >/dev/null
chown root:root "$fs/perm"/hm_*
chmod 0640 "$fs/perm"/hm_*
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
expect_fail "non-root without read access: exit 5, says why" 5 \
	'hm-stat: cannot read .*/perm/hm_[a-z_]+: Permission denied \(run as root, or give your group read access' \
	"${nobody[@]}" "$stat" --pin-path "$fs/perm"
gid=$(( 40000 + $$ % 20000 ))
chgrp "$gid" "$fs/perm"/hm_*
run setpriv --reuid=65534 --regid=65534 --groups="$gid" "$stat" --pin-path "$fs/perm" --json
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
expect_fail "hm-reset with read-only access: exit 5" 5 \
	'hm-reset: cannot open .*/perm/hm_[a-z_]+ for writing: Permission denied' \
	setpriv --reuid=65534 --regid=65534 --groups="$gid" "$reset" --pin-path "$fs/perm"

# --- refusals ---------------------------------------------------------------------
expect_fail "missing directory: exit 3" 3 \
	"^hm-stat: no httpmon maps in $fs/nowhere \(is the monitor loaded\? run: hm-load IFACE\)$" \
	"$stat" --pin-path "$fs/nowhere"
mkdir "$fs/empty"
expect_fail "directory without maps: exit 3" 3 "no httpmon maps in $fs/empty" \
	"$stat" --pin-path "$fs/empty"
mkset partial --omit hm_ports >/dev/null
expect_fail "partial map set: exit 3 naming the missing map" 3 \
	"incomplete httpmon map set in $fs/partial: missing hm_ports " \
	"$stat" --pin-path "$fs/partial"
mkset newer --layout 99 >/dev/null
expect_fail "layout version 99: exit 4" 4 \
	"maps in $fs/newer have layout version 99, this hm-stat reads version $layout: use tools of the same release" \
	"$stat" --pin-path "$fs/newer"
expect_fail "hm-reset refuses layout version 99: exit 4" 4 "layout version 99" \
	"$reset" --pin-path "$fs/newer"
mkset badsize --bad-value hm_clients >/dev/null
expect_fail "wrong value size: exit 4" 4 "map hm_clients in $fs/badsize has value size [0-9]+, this hm-stat expects [0-9]+" \
	"$stat" --pin-path "$fs/badsize"
mkset unstamped --layout 0 --empty >/dev/null
run "$stat" --pin-path "$fs/unstamped"
[ "$rc" -eq 0 ] && grep -q '^no HTTP traffic seen yet$' <<<"$out"
judge "unstamped, empty map set: 'no HTTP traffic seen yet', exit 0" "exit $rc: $err" "$out"
expect_fail "unknown option: exit 2" 2 "^hm-stat: unknown option '--frobnicate'; see hm-stat --help$" \
	"$stat" --frobnicate
expect_fail "bad --top number: exit 2" 2 "^hm-stat: .*'12x'.*; see hm-stat --help$" \
	"$stat" --top 12x
expect_fail "bad --sort field: exit 2" 2 "see hm-stat --help" "$stat" --sort speed
expect_fail "hm-reset unknown option: exit 2" 2 "^hm-reset: unknown option '-x'; see hm-reset --help$" \
	"$reset" -x

# --- hm-reset ---------------------------------------------------------------------
run "$reset" --pin-path "$fs/good"
[ "$rc" -eq 0 ] && [ -z "$out$err" ]
judge "hm-reset exits 0 quietly" "exit $rc" "$out" "$err"
"$stat" --pin-path "$fs/good" --json >"$tmp/reset.json" 2>&1
pycheck reset "$tmp/good.json" "$tmp/reset.json"
run "$stat" --pin-path "$fs/good"
[ "$rc" -eq 0 ] && grep -q '^no HTTP traffic seen yet$' <<<"$out"
judge "after reset the table says no traffic" "exit $rc" "$out"
run "$reset" --help
[ "$rc" -eq 0 ] && grep -q '^Exit status:' <<<"$out" && grep -q '^Examples:' <<<"$out"
judge "hm-reset --help: exit status, examples" "exit $rc"

hm_done
