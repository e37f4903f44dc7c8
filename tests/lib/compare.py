#!/usr/bin/env python3
"""compare.py - compare httpmon's numbers with the clients' ground truth.

Expected values come from one or more client.py JSON files (merged by the
client's source address); actual values from `hm-stat --json` output or
straight from the pinned maps via bpftool.  Counts (requests, responses,
unanswered, status classes, bytes_in, bytes_out) must match exactly;
latency must be plausible against the client's own measurement.

  compare.py check  --expected C1.json [C2.json...] --actual HMSTAT.json
                    [--by auto|client|port|port,client] [--zero]
  compare.py maps   --expected C1.json ... --pin-dir DIR [--zero]
  compare.py origin --expected C1.json ... --origin ORIGIN_STATS.json
  compare.py table  --expected C1.json ... [--by client|port|port,client]
  compare.py rows   --pin-dir DIR --kind client|port|port,client|iface

check/maps/origin print one line per mismatch ("MISMATCH ...") and exit 1
when there is any, 0 when everything matches, 2 when the input cannot be
read.  --zero expects every row to be zero or absent (after hm-reset).

Latency (first request byte to first response byte).  The client starts its
clock before send() and stops it after recv(), so for every request it
measures the monitor's interval plus the veth hops and its own wake-up: the
monitor's avg, min and max may not exceed the client's by more than
--latency-window (default 15%), and the monitor's average must be at least
(1 - window) of the client's wherever the client has --min-samples (default
10) samples; below that the client's scheduling noise dominates.  Both
directions catch unit mistakes.  When the monitor reports a sample count it
must equal the number of responses of that kind.

hm-stat's JSON is read tolerantly, since only the maps are fixed by
kern/httpmon.h: rows are found in a top-level list, or under "rows",
"clients"/"ports"/"port_clients" (or "by_client"...), as a list or as an
object keyed by address/port; a row names its client in "client"/"ip"/
"addr" and its port in "port"; status classes as {"2xx": n} or a list of
five; latency as an object ("latency", "latency_us", "lat", ...) holding
avg/min/max (or count/sum) whose unit comes from a _ns/_us/_ms suffix on the
object or field name.  Anything it cannot place is reported, with the keys
it saw.
"""

import argparse
import ipaddress
import json
import os
import re
import subprocess
import sys

CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
COUNTERS = ("requests", "responses", "unanswered", "bytes_in", "bytes_out")
LAT_KINDS = ("lat", "lat_ok", "lat_fail")
VIEWS = ("client", "port", "port,client")
ROUND_US = 1.0  # slack for values printed rounded to microseconds
VERBOSE = False


class InputError(Exception):
    pass


# ---------------------------------------------------------------- rows ----

def new_row():
    return {"requests": 0, "responses": 0, "unanswered": 0, "bytes_in": 0, "bytes_out": 0,
            "status": {c: 0 for c in CLASSES},
            "lat": new_lat(), "lat_ok": new_lat(), "lat_fail": new_lat()}


def new_lat():
    # count/sum may be None when a source only gives avg/min/max
    return {"count": 0, "sum_us": 0.0, "avg": None, "min": None, "max": None}


def merge_lat(a, b):
    if not b["count"]:
        return
    a["count"] += b["count"]
    a["sum_us"] += b["sum_us"]
    a["avg"] = a["sum_us"] / a["count"]
    a["min"] = b["min"] if a["min"] is None else min(a["min"], b["min"])
    a["max"] = b["max"] if a["max"] is None else max(a["max"], b["max"])


def merge_row(a, b):
    for k in COUNTERS:
        a[k] += b[k]
    for c in CLASSES:
        a["status"][c] += b["status"][c]
    for k in LAT_KINDS:
        merge_lat(a[k], b[k])


def norm_ip(text):
    addr = ipaddress.ip_address(str(text).strip("[]"))
    if addr.version == 6 and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return str(addr)


def key_str(view, key):
    if view == "client":
        return f"client={key}"
    if view == "port":
        return f"port={key}"
    return f"port={key[0]} client={key[1]}"


# ------------------------------------------------------------ expected ----

def load_expected(paths):
    """client.py outputs -> {view: {key: row}}."""
    views = {v: {} for v in VIEWS}
    for path in paths:
        try:
            with open(path) as f:
                doc = json.load(f)
            ip = norm_ip(doc["source"])
            per_port = doc["per_port"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise InputError(f"{path}: not a client.py result ({e})") from None
        for port, agg in per_port.items():
            row = client_row(agg)
            port = int(port)
            for view, key in (("client", ip), ("port", port), ("port,client", (port, ip))):
                merge_row(views[view].setdefault(key, new_row()), row)
    return views


def client_row(agg):
    row = new_row()
    for k in COUNTERS:
        row[k] = agg.get(k, 0)
    for c in CLASSES:
        row["status"][c] = agg["status"][c]
    for kind, name in zip(LAT_KINDS, ("latency_us", "latency_ok_us", "latency_fail_us")):
        lat = agg[name]
        if lat["count"]:
            row[kind] = {"count": lat["count"], "sum_us": lat["sum_us"], "avg": lat["avg"],
                         "min": lat["min"], "max": lat["max"]}
    return row


# ------------------------------------------------------- hm-stat JSON ----

VIEW_CONTAINERS = {
    "client": ("clients", "by_client", "client"),
    "port": ("ports", "by_port", "port"),
    "port,client": ("port_clients", "by_port_client", "by_port,client", "port,client",
                    "port_client", "portclients"),
}
GENERIC_CONTAINERS = ("rows", "entries", "stats", "data", "items", "results")
IP_FIELDS = ("client", "ip", "client_ip", "addr", "address", "saddr", "src")
PORT_FIELDS = ("port", "server_port", "dport")
SPECIAL_ROWS = ("overflow", "other", "others", "total", "_overflow", "(overflow)")


def is_row(obj):
    return isinstance(obj, dict) and any(k in obj for k in ("requests", "reqs"))


def rows_from(container):
    """A list of rows, or a dict of key -> row (key injected as _key)."""
    if isinstance(container, list):
        return [r for r in container if isinstance(r, dict)]
    if isinstance(container, dict):
        if is_row(container):
            return [container]
        out = []
        for k, v in container.items():
            if is_row(v):
                out.append(dict(v, _key=k))
        return out
    return []


def find_rows(doc, view):
    """Rows of one view and the name of the view they belong to."""
    if isinstance(doc, list):
        return rows_from(doc), None
    if not isinstance(doc, dict):
        raise InputError("hm-stat JSON is neither an object nor a list")
    views = [view] if view != "auto" else list(VIEWS)
    for v in views:
        for name in VIEW_CONTAINERS[v]:
            if isinstance(doc.get(name), (list, dict)):
                return rows_from(doc[name]), v
    for name in GENERIC_CONTAINERS:
        if isinstance(doc.get(name), (list, dict)):
            return rows_from(doc[name]), None
    rows = rows_from(doc)
    if rows and not is_row(doc):
        return rows, None
    raise InputError(f"no rows by {view} found in hm-stat JSON "
                     f"(top-level keys: {sorted(doc)})")


def row_key(row):
    """(ip or None, port or None, special-name or None) of an hm-stat row."""
    src = dict(row)
    if isinstance(row.get("key"), dict):
        src.update(row["key"])
    ip = port = None
    for f in IP_FIELDS:
        if f in src and src[f] not in (None, ""):
            ip = src[f]
            break
    for f in PORT_FIELDS:
        if f in src and src[f] not in (None, ""):
            port = src[f]
            break
    if "_key" in src and ip is None and port is None:
        k = str(src["_key"])
        m = re.fullmatch(r"(\d+)[,/ ](.+)|(.+)[,/ ](\d+)", k)
        if m:
            port, ip = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        elif k.isdigit():
            port = k
        else:
            ip = k
    special = None
    if isinstance(ip, str) and ip.lower() in SPECIAL_ROWS:
        special, ip = ip.lower(), None
    elif ip is not None:
        try:
            ip = norm_ip(ip)
        except ValueError:
            raise InputError(f"row address {ip!r} is not an IP address") from None
    if isinstance(port, str) and port.lower() in SPECIAL_ROWS:
        special, port = port.lower(), None
    elif port is not None:
        port = int(port)
    if special is None and row.get("overflow") is True:
        special = "overflow"
    return ip, port, special


UNIT_SCALE = {"ns": 1e-3, "us": 1.0, "usec": 1.0, "ms": 1e3, "msec": 1e3, "s": 1e6}


def unit_of(name):
    m = re.search(r"_(ns|us|usec|ms|msec|s)$", name)
    return m.group(1) if m else None


def parse_lat_obj(obj, unit, where):
    """A latency object -> normalised lat (microseconds)."""
    vals, count, total = {}, None, None
    for k, v in obj.items():
        base = re.sub(r"_(ns|us|usec|ms|msec|s)$", "", k)
        u = unit_of(k) or unit
        if base in ("count", "n", "samples"):
            count = int(v)
            continue
        if base in ("avg", "mean", "min", "max", "sum") and v is not None:
            if u is None:
                raise InputError(f"{where}: latency field {k!r} has no unit (_ns/_us/_ms)")
            vals["avg" if base == "mean" else base] = float(v) * UNIT_SCALE[u]
    if "sum" in vals:
        total = vals["sum"]
    lat = new_lat()
    if count is not None:
        lat["count"] = count
        if total is not None and "avg" not in vals and count:
            vals["avg"] = total / count
    else:
        lat["count"] = None
    lat["sum_us"] = total
    for k in ("avg", "min", "max"):
        lat[k] = vals.get(k)
    return lat


LAT_NAMES = {
    "lat": ("latency", "lat", "latency_first_byte", "first_byte"),
    "lat_ok": ("latency_ok", "lat_ok", "ok_latency"),
    "lat_fail": ("latency_fail", "lat_fail", "fail_latency", "latency_err", "lat_err"),
}
FLAT_LAT = re.compile(r"^(?:(?:avg|mean)_)?(?:lat(?:ency)?_)?(ok_|fail_)?(avg|mean|min|max)"
                      r"(?:_lat(?:ency)?)?_(ns|us|ms)$")


def parse_latency(row, kind, where):
    for name in LAT_NAMES[kind]:
        for k, v in row.items():
            if re.sub(r"_(ns|us|usec|ms|msec|s)$", "", k) == name and isinstance(v, dict):
                return parse_lat_obj(v, unit_of(k), f"{where} {k}")
    # flat fields such as lat_avg_us, lat_ok_max_ms, avg_latency_us
    want = {"lat": None, "lat_ok": "ok_", "lat_fail": "fail_"}[kind]
    obj = {}
    for k, v in row.items():
        m = FLAT_LAT.match(k)
        if m and m.group(1) == want:
            obj[f"{m.group(2)}_{m.group(3)}"] = v
    if obj:
        return parse_lat_obj(obj, None, where)
    return None


def parse_status(row, where):
    st = row.get("status", row.get("status_classes", row.get("codes")))
    out = {}
    if isinstance(st, list) and len(st) == 5:
        return dict(zip(CLASSES, (int(x) for x in st)))
    if isinstance(st, dict):
        for c in CLASSES:
            for k in (c, c.upper(), c[0], f"status_{c}"):
                if k in st:
                    out[c] = int(st[k])
                    break
    else:
        for c in CLASSES:
            for k in (f"status_{c}", c, c.upper(), f"s{c}"):
                if k in row:
                    out[c] = int(row[k])
                    break
    if len(out) != len(CLASSES):
        raise InputError(f"{where}: status classes not found (row keys: {sorted(row)})")
    return out


def hmstat_row(row, where):
    out = new_row()
    for k in COUNTERS:
        if k in row:
            out[k] = int(row[k])
        elif k.startswith("bytes") and isinstance(row.get("bytes"), dict):
            out[k] = int(row["bytes"][k.split("_")[1]])
        else:
            raise InputError(f"{where}: field {k!r} not found (row keys: {sorted(row)})")
    out["status"] = parse_status(row, where)
    for kind in LAT_KINDS:
        out[kind] = parse_latency(row, kind, where)
    return out


def load_hmstat(path, view):
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: {e}") from None
    rows, found_view = find_rows(doc, view)
    table, specials = {}, []
    keys_seen = set()
    for i, row in enumerate(rows):
        ip, port, special = row_key(row)
        where = f"{path} row {i}"
        if special:
            specials.append((special, hmstat_row(row, where)))
            continue
        if ip is not None and port is not None:
            v, key = "port,client", (port, ip)
        elif ip is not None:
            v, key = "client", ip
        elif port is not None:
            v, key = "port", port
        else:
            raise InputError(f"{where}: row names neither a client nor a port "
                             f"(keys: {sorted(row)})")
        keys_seen.add(v)
        table[key] = hmstat_row(row, where)
    if len(keys_seen) > 1:
        raise InputError(f"{path}: rows of several views mixed: {sorted(keys_seen)}")
    got_view = keys_seen.pop() if keys_seen else (found_view or view)
    if view != "auto" and got_view != view:
        raise InputError(f"{path}: expected rows by {view}, found rows by {got_view}")
    return got_view, table, specials


# ---------------------------------------------------------- bpftool maps ----

MAPS = {"client": "hm_clients", "port": "hm_ports", "port,client": "hm_port_clients"}
KINDS = {"client": 0, "port": 1, "port,client": 2, "iface": 3}
ARRAYS = {0: "hm_clients", 1: "hm_ports", 2: "hm_port_clients", 3: "hm_ifaces"}


def capacities():
    """Rows per generation of each kind, from kern/httpmon.h (HM_MAX_*)."""
    hdr = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "kern", "httpmon.h")
    text = open(hdr).read()
    cap = {}
    for kind, name in ((0, "CLIENTS"), (1, "PORTS"), (2, "PORT_CLIENTS"), (3, "IFACES")):
        cap[kind] = int(re.search(r"#define HM_MAX_%s (\d+)" % name, text).group(1))
    return cap


def bpftool_json(args):
    try:
        res = subprocess.run(["bpftool", "-j"] + args, capture_output=True, text=True)
    except OSError as e:
        raise InputError(f"bpftool: {e}") from None
    try:
        doc = json.loads(res.stdout)
    except ValueError:
        doc = None
    if res.returncode != 0 or doc is None or (isinstance(doc, dict) and "error" in doc):
        msg = doc.get("error") if isinstance(doc, dict) else (res.stderr or res.stdout)
        raise InputError(f"bpftool {' '.join(args)}: {str(msg).strip()}")
    return doc


def bpftool_dump(path):
    doc = bpftool_json(["map", "dump", "pinned", path])
    if not isinstance(doc, list):
        raise InputError(f"bpftool map dump pinned {path}: not a list")
    return doc


def array_values(path, index):
    """The per-CPU values of entry index of a pinned per-CPU array (BTF-formatted)."""
    key = [str(b) for b in index.to_bytes(4, sys.byteorder)]
    doc = bpftool_json(["map", "lookup", "pinned", path, "key"] + key)
    if "formatted" not in doc:
        raise InputError(f"{path}: bpftool shows no BTF ('formatted' missing)")
    return doc["formatted"]["values"]


def row_entries(pin_dir, kind):
    """(key, per-CPU values) of every row of a kind, both generations, from
    hm_row_ids and the kind's array; and the overflow rows (key None)."""
    cap = capacities()[kind]
    array = os.path.join(pin_dir, ARRAYS[kind])
    out = []
    for entry in bpftool_dump(os.path.join(pin_dir, "hm_row_ids")):
        if "formatted" not in entry:
            raise InputError("hm_row_ids: bpftool shows no BTF ('formatted' missing)")
        key, val = entry["formatted"]["key"], entry["formatted"]["value"]
        if key["kind"] != kind:
            continue
        out.append((key, array_values(array, key["gen"] * cap + val["id"])))
    for gen in (0, 1):
        out.append((None, array_values(array, gen * cap)))
    return out


def sum_percpu(values):
    """bpftool's per-CPU hm_stats values -> normalised row (microseconds)."""
    row = new_row()
    for v in values:
        s = v["value"]
        for k in COUNTERS:
            row[k] += s[k]
        for i, c in enumerate(CLASSES):
            row["status"][c] += s["status"][i]
        for kind in ("lat_ok", "lat_fail"):
            lat, src = row[kind], s[kind]
            if not src["count"]:
                continue
            merge_lat(lat, {"count": src["count"], "sum_us": src["sum_ns"] / 1e3,
                            "min": src["min_ns"] / 1e3, "max": src["max_ns"] / 1e3})
    # every response's latency: the maps keep it as its two halves
    merge_lat(row["lat"], row["lat_ok"])
    merge_lat(row["lat"], row["lat_fail"])
    return row


def load_maps(pin_dir, view):
    table = {}
    for key, values in row_entries(pin_dir, KINDS[view]):
        if key is None:
            continue
        ip = norm_ip(ipaddress.ip_address(bytes(key["addr"]["a"])))
        k = ip if view == "client" else key["port"] if view == "port" else (key["port"], ip)
        row = sum_percpu(values)
        if k in table:
            merge_row(table[k], row)  # the key in both generations
        else:
            table[k] = row
    return table


def load_overflow(pin_dir):
    rows = []
    for view in VIEWS:
        for key, values in row_entries(pin_dir, KINDS[view]):
            if key is None:
                rows.append((f"{MAPS[view]} overflow row", sum_percpu(values)))
    return rows


# ---------------------------------------------------------- comparison ----

def is_zero(row):
    return (all(row[k] == 0 for k in COUNTERS) and not any(row["status"].values())
            and all(not row[k] or not row[k]["count"] for k in LAT_KINDS))


def compare_counts(where, exp, act, out):
    for k in COUNTERS:
        if exp[k] != act[k]:
            out.append(f"MISMATCH {where} {k}: expected {exp[k]}, got {act[k]}")
    for c in CLASSES:
        if exp["status"][c] != act["status"][c]:
            out.append(f"MISMATCH {where} status {c}: expected {exp['status'][c]}, "
                       f"got {act['status'][c]}")


def compare_latency(where, exp, act, window, min_samples, out, ratios):
    """Monitor latency vs the client's: see the module doc."""
    for kind in LAT_KINDS:
        e, a, name = exp[kind], act[kind], f"{where} {kind}"
        if a is None:
            out.append(f"MISMATCH {name}: no latency in the monitor's output")
            continue
        if a["count"] is not None and a["count"] != e["count"]:
            out.append(f"MISMATCH {name} count: expected {e['count']}, got {a['count']}")
        if not e["count"]:
            continue
        if a["avg"] is None or a["min"] is None or a["max"] is None:
            out.append(f"MISMATCH {name}: avg/min/max missing (got {a})")
            continue
        if not a["min"] - ROUND_US <= a["avg"] <= a["max"] + ROUND_US:
            out.append(f"MISMATCH {name}: not min <= avg <= max "
                       f"({a['min']:.1f} / {a['avg']:.1f} / {a['max']:.1f} us)")
        # Every request's interval on the wire lies inside the client's.
        for k in ("avg", "min", "max"):
            if a[k] > e[k] * (1 + window) + ROUND_US:
                out.append(f"MISMATCH {name} {k}: {a[k]:.1f} us exceeds the client's "
                           f"{e[k]:.1f} us")
        ratio = a["avg"] / e["avg"]
        if VERBOSE:
            print(f"# {name}: n={e['count']} monitor avg {a['avg']:.1f} us, client "
                  f"{e['avg']:.1f} us, ratio {ratio:.3f}, diff {e['avg'] - a['avg']:.1f} us")
        if e["count"] < min_samples:
            continue  # too few samples: the client's scheduling noise dominates
        ratios.append(ratio)
        if ratio < 1 - window:
            out.append(f"MISMATCH {name} avg: {a['avg']:.1f} us, client measured "
                       f"{e['avg']:.1f} us over {e['count']} samples (monitor/client "
                       f"{ratio:.3f}, window {1 - window:.2f}..{1 + window:.2f})")


def compare_tables(view, expected, actual, args, specials=(), ratios=None):
    out = []
    ratios = [] if ratios is None else ratios
    for name, row in specials:
        if not is_zero(row):
            out.append(f"MISMATCH {name} row is not zero: {summary(row)}")
    for key in sorted(set(expected) | set(actual), key=str):
        where = key_str(view, key)
        exp, act = expected.get(key), actual.get(key)
        if args.zero or exp is None:
            if act is not None and not is_zero(act):
                what = "not zero after reset" if args.zero else "unexpected row"
                out.append(f"MISMATCH {where}: {what}: {summary(act)}")
            continue
        if act is None:
            out.append(f"MISMATCH {where}: row missing (expected {summary(exp)})")
            continue
        compare_counts(where, exp, act, out)
        compare_latency(where, exp, act, args.latency_window, args.min_samples, out, ratios)
    return out


def summary(row):
    parts = [f"{k}={row[k]}" for k in ("requests", "responses", "unanswered")]
    parts += [f"{c}={row['status'][c]}" for c in CLASSES if row["status"][c]]
    parts += [f"{k}={row[k]}" for k in ("bytes_in", "bytes_out")]
    return " ".join(parts)


def report(label, mismatches, nrows, ratios=()):
    for m in mismatches:
        print(m)
    lat = (f"; latency avg monitor/client {min(ratios):.3f}..{max(ratios):.3f}"
           if ratios else "")
    if mismatches:
        print(f"{label}: {len(mismatches)} mismatch(es){lat}")
        return 1
    print(f"{label}: {nrows} row(s) match{lat}")
    return 0


# ------------------------------------------------------------ commands ----

def cmd_check(args):
    expected = load_expected(args.expected)
    view, actual, specials = load_hmstat(args.actual, args.by)
    ratios = []
    mism = compare_tables(view, expected[view], actual, args, specials, ratios)
    return report(f"hm-stat by {view}", mism, len(actual), ratios)


def cmd_maps(args):
    expected = load_expected(args.expected)
    rc = 0
    for view in VIEWS:
        actual, ratios = load_maps(args.pin_dir, view), []
        mism = compare_tables(view, expected[view], actual, args, ratios=ratios)
        rc |= report(f"map {MAPS[view]}", mism, len(actual), ratios)
    overflow = load_overflow(args.pin_dir)
    mism = [f"MISMATCH {n}: not zero: {summary(r)}" for n, r in overflow if not is_zero(r)]
    rc |= report("overflow rows (all zero)", mism, len(overflow))
    return rc


def cmd_rows(args):
    """The rows of a kind as bpftool shows them: one JSON object per named row
    and generation ({"key": ..., "values": [per-CPU]}), overflow rows with key null."""
    json.dump([{"key": k, "values": v} for k, v in row_entries(args.pin_dir, KINDS[args.kind])],
              sys.stdout)
    print()
    return 0


def cmd_origin(args):
    expected = load_expected(args.expected)["port,client"]
    try:
        with open(args.origin) as f:
            rows = json.load(f)
        actual = {}
        for r in rows:
            row = new_row()
            for k in ("requests", "responses", "bytes_in", "bytes_out"):
                row[k] = r[k]
            row["status"] = {c: r["status"][c] for c in CLASSES}
            key = (int(r["port"]), norm_ip(r["client"]))
            merge_row(actual.setdefault(key, new_row()), row)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{args.origin}: not an origin.py --stats file ({e})") from None
    mism = []
    for key in sorted(set(expected) | set(actual), key=str):
        exp, act = expected.get(key, new_row()), actual.get(key, new_row())
        compare_counts(key_str("port,client", key), exp, act, mism)
    return report("origin vs clients", mism, len(actual))


def fmt_us(v):
    return "-" if v is None else f"{v / 1000:.3f}"


TABLE_COLS = ("REQS", "RESPS", "SUCC%", "2XX", "3XX", "4XX", "5XX", "UNANS", "AVG_MS",
              "MIN_MS", "MAX_MS", "BYTES_IN", "BYTES_OUT")


def cmd_table(args):
    """The ground truth in hm-stat's columns, so the two tables line up."""
    view = args.by if args.by != "auto" else "client"
    table = load_expected(args.expected)[view]
    head = {"client": ["IP"], "port": ["PORT"], "port,client": ["PORT", "IP"]}[view]
    rows, total = [], new_row()
    for key in sorted(table, key=str):
        merge_row(total, table[key])
        names = list(key) if isinstance(key, tuple) else [key]
        rows.append([str(n) for n in names] + table_cells(table[key]))
    rows.append(["total"] + [""] * (len(head) - 1) + table_cells(total))
    lines = [head + list(TABLE_COLS)] + rows
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for line in lines:
        cells = [c.ljust(w) if i < len(head) else c.rjust(w)
                 for i, (c, w) in enumerate(zip(line, widths))]
        print("  ".join(cells).rstrip())
    return 0


def table_cells(row):
    st, lat = row["status"], row["lat"]
    succ = (f"{100 * (row['responses'] - st['5xx']) / row['responses']:.1f}"
            if row["responses"] else "-")
    return [str(x) for x in (row["requests"], row["responses"], succ, st["2xx"], st["3xx"],
                             st["4xx"], st["5xx"], row["requests"] - row["responses"],
                             fmt_us(lat["avg"]), fmt_us(lat["min"]), fmt_us(lat["max"]),
                             row["bytes_in"], row["bytes_out"])]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--expected", nargs="+", required=True, metavar="CLIENT.json")
    common.add_argument("--latency-window", type=float, default=0.15, metavar="FRACTION")
    common.add_argument("--min-samples", type=int, default=10, metavar="N",
                        help="compare averages of at least N samples (default 10)")
    common.add_argument("-v", "--verbose", action="store_true",
                        help="print the latency of every row next to the client's")
    common.add_argument("--zero", action="store_true",
                        help="expect every row zero or absent (after hm-reset)")
    p = sub.add_parser("check", parents=[common], help="hm-stat --json vs ground truth")
    p.add_argument("--actual", required=True, metavar="HMSTAT.json")
    p.add_argument("--by", default="auto", choices=("auto",) + VIEWS)
    p = sub.add_parser("maps", parents=[common], help="pinned maps (bpftool) vs ground truth")
    p.add_argument("--pin-dir", required=True)
    p = sub.add_parser("origin", parents=[common], help="origin.py --stats vs the clients")
    p.add_argument("--origin", required=True, metavar="STATS.json")
    p = sub.add_parser("table", parents=[common], help="print the ground truth as a table")
    p.add_argument("--by", default="client", choices=("auto",) + VIEWS)
    p = sub.add_parser("rows", help="the pinned rows of a kind, as bpftool shows them (JSON)")
    p.add_argument("--pin-dir", required=True)
    p.add_argument("--kind", required=True, choices=tuple(KINDS))
    args = ap.parse_args()
    global VERBOSE
    VERBOSE = getattr(args, "verbose", False)
    try:
        return {"check": cmd_check, "maps": cmd_maps, "origin": cmd_origin,
                "table": cmd_table, "rows": cmd_rows}[args.cmd](args)
    except InputError as e:
        print(f"compare.py: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
