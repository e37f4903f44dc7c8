#!/usr/bin/env python3
"""report.py - scripts/bench.sh's rounds -> the table (stdout) and the JSON.

Input: one line per round, words key=value, written by bench.sh:
  kind      tput (bpf stats off), cost (stats on: runtime_HOOK, runs_HOOK per
            attached program, in ns and runs during the round), profile (perf
            samples in profile_file)
  variant, config (base, empty, tc, xdp, ...), n (pair or round number),
  threads, connections, seconds, load1, cpu_busy, steal (share of all CPUs'
  time during the round), wrk's figures (requests, duration_us, lat_*_us,
  err_*), and after a monitored round hm-stat's totals (hm_requests,
  hm_responses, hm_unanswered) and self-metrics (mon_*).

Statistics.  Throughput varies by about 12% from run to run on small VMs,
so the rounds of every configuration are interleaved and every figure is a
ratio within one pair (the rounds with the same n): monitored / none (the
base round) and monitored / empty (the empty TC program's round); the
empty program's own cost is empty / none.  The report gives the median of
those ratios, their min-max and IQR, and a confidence interval of the
median from order statistics (about 98% for 10 pairs; none below 6 pairs).

test_run.  With --testrun FILE (scripts/bench/testrun.c --json) the
microbenchmark's figures go into the JSON as "testrun" and into the table:
ns per run of httpmon, of the cost floor and of the empty program on a
request and a response frame, and httpmon / floor net of the empty program.

Accuracy.  wrk's "requests" counts responses it completed before it stopped.
Every one of them crossed the monitored interface, request and response, so
a monitor that misses nothing has hm_requests >= wrk and hm_responses >= wrk
("missed" is wrk minus what the monitor counted, when positive).  It may see
more: requests still in flight when wrk stopped (wrk sends one request per
connection at a time, so at most one per connection) and the answers nginx
still sent to them.  The check per round: missed == 0, 0 <= hm_requests -
wrk <= connections, hm_responses <= hm_requests.
"""
import argparse
import json
import math
import re
import statistics
import sys
from collections import Counter, defaultdict

THROUGHPUT_RATIO_TARGET = 0.98
NET_NS_PER_RUN_TARGET = 150.0
# monitor / empty TC program: the worst case (tiny keep-alive responses) and bulk.
VS_EMPTY_TARGETS = {"keepalive": 0.97, "large": 0.99}
# test_run: httpmon's net cost over the floor's.
TESTRUN_RATIO_TARGET = 1.4
SATURATION_VARIANTS = ("keepalive", "close", "large")
# Self-metrics that mean something was not parsed or not counted.
LOSS_COUNTERS = ("conn_create_failed", "seq_gaps", "parse_budget", "load_errors", "truncated",
                 "unparseable", "bad_length", "pipeline_overflow", "clients_full", "ports_full",
                 "port_clients_full", "orphan_responses")


def num(v):
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


def read_rounds(path):
    rounds = []
    with open(path) as f:
        for line in f:
            words = line.split()
            if words:
                rounds.append({k: num(v) for k, _, v in (w.partition("=") for w in words)})
    return rounds


def quantile(xs, q):
    """Linear interpolation between order statistics (numpy's default)."""
    s = sorted(xs)
    if not s:
        return None
    pos = (len(s) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def median_ci(xs, level=0.95):
    """Distribution-free CI of the median: [x(k), x(n-k+1)], k the largest
    with P(Binomial(n, 1/2) < k) <= (1 - level) / 2.  None when n is too small."""
    n = len(xs)
    s = sorted(xs)
    cum, k = 0.0, 0
    for j in range(n + 1):
        cum += math.comb(n, j) / 2 ** n
        if cum > (1 - level) / 2:
            k = j
            break
    if k < 1:
        return None
    coverage = 1 - 2 * sum(math.comb(n, j) for j in range(k)) / 2 ** n
    return {"low": s[k - 1], "high": s[n - k], "coverage": round(coverage, 4)}


def summary(xs, digits=4):
    if not xs:
        return None
    r = lambda v: None if v is None else round(v, digits)
    out = {"n": len(xs), "median": r(statistics.median(xs)), "min": r(min(xs)), "max": r(max(xs)),
           "q1": r(quantile(xs, 0.25)), "q3": r(quantile(xs, 0.75))}
    ci = median_ci(xs)
    if ci:
        out["ci_median"] = {"low": r(ci["low"]), "high": r(ci["high"]), "coverage": ci["coverage"]}
    return out


def rps(r):
    return r["requests"] / (r["duration_us"] / 1e6)


def accuracy_of(r):
    wrk, req, resp = r["requests"], r["hm_requests"], r["hm_responses"]
    missed = max(0, wrk - req) + max(0, wrk - resp)
    in_flight = req - wrk
    loss = {k: r.get("mon_" + k, 0) for k in LOSS_COUNTERS if r.get("mon_" + k, 0)}
    ok = missed == 0 and 0 <= in_flight <= r["connections"] and resp <= req
    return {"kind": r["kind"], "n": r["n"], "wrk_responses": wrk, "hm_requests": req,
            "hm_responses": resp, "hm_unanswered": r.get("hm_unanswered", 0),
            "requests_minus_wrk": in_flight, "responses_minus_wrk": resp - wrk,
            "missed": missed, "connections": r["connections"], "ok": ok,
            "self_metrics_nonzero": loss}


BPF_SYM = re.compile(r"^bpf_prog_([0-9a-f]+)_(\w+)")


def parse_profile(path, ranges=None):
    """perf script -F ip,sym of a -a -g cpu-clock recording: one block of
    frames per sample (leaf first).  Samples with an httpmon entry point
    (hm_tc_*, hm_xdp*) in their stack are the monitor's; with ranges (JIT
    address ranges of the benchmark's own programs, from jitlines) only
    those inside them: other tests on the machine may run programs of the
    same names."""
    try:
        text = open(path).read()
    except OSError:
        return None
    total = 0
    entries = Counter()
    leaves = Counter()
    for block in text.split("\n\n"):
        frames = []
        for line in block.splitlines():
            parts = line.split(None, 1)
            if len(parts) == 2 and re.fullmatch(r"[0-9a-f]+", parts[0]):
                sym = re.sub(r"\+0x[0-9a-f]+$", "", parts[1].strip())
                frames.append((int(parts[0], 16), sym))
        if not frames:
            continue
        total += 1
        entry = None
        for addr, sym in frames:
            m = BPF_SYM.match(sym)
            if m and re.match(r"hm_(tc|xdp)", m.group(2)) and (
                    not ranges or any(lo <= addr < hi for lo, hi in ranges)):
                entry = m.group(2)
        if entry is None:
            continue
        entries[entry] += 1
        m = BPF_SYM.match(frames[0][1])
        leaves[(m.group(2) + " (BPF)") if m else frames[0][1]] += 1
    inside = sum(entries.values())
    return {
        "samples": total,
        "monitor_samples": inside,
        "monitor_share_of_cpu": round(inside / total, 4) if total else None,
        "by_entry": {k: round(v / inside, 4) for k, v in entries.most_common()} if inside else {},
        "top": [{"symbol": s, "share": round(c / inside, 4)} for s, c in leaves.most_common(12)]
        if inside else [],
    }


def parse_lines(path):
    """jitlines' output: samples per source line of the programs, callees
    (helpers, map code) included in the line that called them."""
    try:
        rows = open(path).read().splitlines()
    except OSError:
        return None
    m = re.match(r"total (\d+) unmatched (\d+)", rows[0] if rows else "")
    if not m:
        return None
    total, unmatched = int(m.group(1)), int(m.group(2))
    lines, funcs, ranges = [], Counter(), []
    for row in rows[1:]:
        parts = row.split("\t", 3)
        if parts[0] == "range" and len(parts) == 4:
            ranges.append((int(parts[1], 16), int(parts[2], 16)))
            continue
        if parts[0] == "func" and len(parts) == 3:
            funcs[parts[1]] += int(parts[2])
            continue
        if len(parts) < 3:
            continue
        hits = int(parts[0])
        lines.append({"samples": hits, "function": parts[1], "line": parts[2],
                      "source": parts[3].strip() if len(parts) > 3 else ""})
    matched = total - unmatched
    if not matched:
        return None
    lines.sort(key=lambda x: -x["samples"])
    for x in lines:
        x["share"] = round(x["samples"] / matched, 4)
    return {"samples": matched, "unmatched": unmatched, "ranges": ranges,
            "by_function": {f: round(c / matched, 4) for f, c in funcs.most_common()},
            "top_lines": lines[:30]}


# Placements measured to show what they cost, which hm-load warns against:
# XDP on the veth that receives bulk traffic drops packets before any
# program sees them (its ring overflows), so the monitor sees gaps.  Their
# accuracy is reported but does not decide the exit status.
ADVISED_AGAINST = ("xdp-cl",)

# Cost-only configurations: the empty programs whose ns per run is the floor.
FLOOR_CONFIGS = ("empty", "empty-xdp", "noop-cl", "empty-sock")  # noop-cl: throughput only
# The socket source (hm-load --sockets) against no monitor, tiny keep-alive responses.
SOCK_THROUGHPUT_TARGET = 0.95


def floor_config(config, hook):
    """Where the floor of CONFIG's program on HOOK was measured: the empty TC
    program for tc hooks, the empty XDP program behind libxdp's dispatcher
    (on the server's veth) for XDP.  noop-cl is not a floor: on the veth
    that receives the downloads it sees only what its ring did not drop."""
    if config in ("sock", "sock-old"):
        return "empty-sock"
    return "empty-xdp" if hook == "xdp" else "empty"


def pair_ratios(pairs):
    """Ratios of the rounds m to the rounds b of the same pairs, (b, m)."""
    return {
        "ratio_requests_per_s": summary([rps(m) / rps(b) for b, m in pairs]),
        "ratio_mbytes_per_s": summary([(m["bytes"] / m["duration_us"]) /
                                       (b["bytes"] / b["duration_us"]) for b, m in pairs]),
        "ratio_latency_p50": summary([m["lat_p50_us"] / b["lat_p50_us"] for b, m in pairs]),
        "ratio_latency_p99": summary([m["lat_p99_us"] / b["lat_p99_us"] for b, m in pairs]),
        "added_latency_mean_us": summary([m["lat_mean_us"] - b["lat_mean_us"] for b, m in pairs], 2),
        "ratio_cpu_per_request": summary([cpu_per_request(m) / cpu_per_request(b)
                                          for b, m in pairs]),
    }


NPROC = 1  # set from the run's meta before the analysis


def cpu_per_request(r):
    """CPU time of the whole machine per completed request, in microseconds: nginx,
    wrk, the kernel and the monitor's programs, wherever they ran."""
    return r["cpu_busy"] * NPROC * r["duration_us"] / max(1, r["requests"])


def analyse(rounds, meta):
    variants = []
    for r in rounds:
        if r["variant"] not in variants:
            variants.append(r["variant"])
    out = {}
    for v in variants:
        vr = [r for r in rounds if r["variant"] == v]
        tput = [r for r in vr if r["kind"] == "tput"]
        configs, cost_configs = [], []
        for r in vr:
            lst = configs if r["kind"] == "tput" else cost_configs if r["kind"] == "cost" else []
            if r["config"] not in lst:
                lst.append(r["config"])
        monitored = [c for c in configs + cost_configs
                     if c != "base" and c not in FLOOR_CONFIGS]
        monitored = list(dict.fromkeys(monitored))
        first = vr[0]
        res = {"threads": first["threads"], "connections": first["connections"],
               "seconds": first["seconds"], "configs": {}}
        base = {r["n"]: r for r in tput if r["config"] == "base"}
        empty = {r["n"]: r for r in tput if r["config"] == "empty"}
        for c in configs:
            rs = [r for r in tput if r["config"] == c]
            if not rs:
                continue
            e = {"rounds": len(rs),
                 "requests_per_s": summary([rps(r) for r in rs], 1),
                 "mbytes_per_s": summary([r["bytes"] / r["duration_us"] for r in rs], 1),
                 "latency_p50_us": summary([r["lat_p50_us"] for r in rs], 1),
                 "latency_p99_us": summary([r["lat_p99_us"] for r in rs], 1),
                 "latency_mean_us": summary([r["lat_mean_us"] for r in rs], 2),
                 "cpu_busy": summary([r["cpu_busy"] for r in rs], 3),
                 "cpu_us_per_request": summary([cpu_per_request(r) for r in rs], 2),
                 "veth_drops": summary([r.get("veth_drops", 0) for r in rs], 0),
                 "errors": sum(r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"]
                               + r["err_status"] for r in rs)}
            # against no monitor (empty / none for the empty program itself)
            pairs = [(base[r["n"]], r) for r in rs if r["n"] in base]
            if c != "base" and pairs:
                e.update(pair_ratios(pairs))
            # against the empty program in the same pair
            pairs = [(empty[r["n"]], r) for r in rs if r["n"] in empty]
            if c not in ("base", "empty") and pairs:
                e["vs_empty"] = pair_ratios(pairs)
            leaks = [r.get("stats_leak_ns", 0) for r in rs]
            if any(leaks):
                e["warning"] = "bpf run-time statistics were on during throughput rounds " \
                               "(enabled by another process): these rounds paid for them"
            res["configs"][c] = e
        # BPF cost: ns per run over all hooks of a round, then the median of rounds.
        cost = {}
        for c in cost_configs:
            rs = [r for r in vr if r["kind"] == "cost" and r["config"] == c]
            if not rs:
                continue
            hooks = sorted({k[len("runs_"):] for r in rs for k in r if k.startswith("runs_")})
            per_round = [sum(r.get("runtime_" + h, 0) for h in hooks) /
                         max(1, sum(r.get("runs_" + h, 0) for h in hooks)) for r in rs]
            per_txn = [sum(r.get("runs_" + h, 0) for h in hooks) / max(1, r["requests"]) for r in rs]
            cost[c] = {"rounds": len(rs), "ns_per_run": summary(per_round, 1),
                       "runs_per_transaction": summary(per_txn, 3),
                       "by_hook": {h: {"ns_per_run": summary(
                           [r.get("runtime_" + h, 0) / max(1, r.get("runs_" + h, 0)) for r in rs], 1),
                           "runs_per_transaction": summary(
                           [r.get("runs_" + h, 0) / max(1, r["requests"]) for r in rs], 3)}
                           for h in hooks}}
        # Net of the floor hook by hook: sum over hooks of (ns/run - the
        # floor's ns/run on that hook) x runs per transaction.
        for c in monitored:
            if c not in cost:
                continue
            gross_txn = net_txn = 0.0
            complete = True
            for h, x in cost[c]["by_hook"].items():
                ns, runs = x["ns_per_run"]["median"], x["runs_per_transaction"]["median"]
                fl = cost.get(floor_config(c, h), {}).get("by_hook", {}).get(h, {})
                if not fl:
                    complete = False
                    continue
                x["floor_ns_per_run"] = fl["ns_per_run"]["median"]
                x["net_ns_per_run"] = round(ns - x["floor_ns_per_run"], 1)
                gross_txn += ns * runs
                net_txn += (ns - x["floor_ns_per_run"]) * runs
            runs = cost[c]["runs_per_transaction"]["median"]
            if complete and runs:
                cost[c]["floor_ns_per_run"] = round((gross_txn - net_txn) / runs, 1)
                cost[c]["net_ns_per_run"] = round(net_txn / runs, 1)
                cost[c]["net_ns_per_transaction"] = round(net_txn, 1)
                cost[c]["gross_ns_per_transaction"] = round(gross_txn, 1)
        res["cost"] = cost
        # Accuracy: every monitored round, whatever its kind.
        acc = {}
        for c in monitored:
            checks = [accuracy_of(r) for r in vr if r["config"] == c and "hm_requests" in r]
            if checks:
                acc[c] = {"rounds": len(checks), "ok": all(x["ok"] for x in checks),
                          "missed": sum(x["missed"] for x in checks),
                          "requests_minus_wrk": [min(x["requests_minus_wrk"] for x in checks),
                                                 max(x["requests_minus_wrk"] for x in checks)],
                          "responses_minus_wrk": [min(x["responses_minus_wrk"] for x in checks),
                                                  max(x["responses_minus_wrk"] for x in checks)],
                          "unanswered": sum(x["hm_unanswered"] for x in checks),
                          "veth_drops": sum(r.get("veth_drops", 0) for r in vr
                                            if r["config"] == c and "hm_requests" in r),
                          "hm_stat_read_us": summary([r["hm_stat_us"] for r in vr if r["config"] == c
                                                      and "hm_stat_us" in r], 0),
                          "self_metrics_nonzero": dict(sum((Counter(x["self_metrics_nonzero"])
                                                            for x in checks), Counter())),
                          "per_round": checks}
        res["accuracy"] = acc
        prof = {}
        for r in vr:
            if r["kind"] == "profile" and "profile_file" in r:
                bl = parse_lines(r["profile_lines"]) if "profile_lines" in r else None
                p = parse_profile(r["profile_file"], bl.pop("ranges") if bl else None)
                if p:
                    if bl:
                        p["by_source_line"] = bl
                    prof[r["config"]] = p
        res["profile"] = prof
        out[v] = res
    return out


def targets(res, meta, testrun=None):
    t = []
    for v, r in res.items():
        tc = r["configs"].get("tc", {})
        if v in SATURATION_VARIANTS and "ratio_requests_per_s" in tc:
            m = tc["ratio_requests_per_s"]["median"]
            t.append({"target": "throughput ratio >= %.2f" % THROUGHPUT_RATIO_TARGET, "variant": v,
                      "config": "tc", "value": m, "met": m >= THROUGHPUT_RATIO_TARGET,
                      "missed_by": None if m >= THROUGHPUT_RATIO_TARGET
                      else round(THROUGHPUT_RATIO_TARGET - m, 4)})
        sock = r["configs"].get("sock", {})
        if v == "keepalive" and "ratio_requests_per_s" in sock:
            m = sock["ratio_requests_per_s"]["median"]
            t.append({"target": "socket source: throughput ratio >= %.2f" % SOCK_THROUGHPUT_TARGET,
                      "variant": v, "config": "sock", "value": m,
                      "met": m >= SOCK_THROUGHPUT_TARGET,
                      "missed_by": None if m >= SOCK_THROUGHPUT_TARGET
                      else round(SOCK_THROUGHPUT_TARGET - m, 4)})
        goal = VS_EMPTY_TARGETS.get(v)
        if goal and "vs_empty" in tc:
            m = tc["vs_empty"]["ratio_requests_per_s"]["median"]
            t.append({"target": "throughput vs the empty program >= %.2f" % goal, "variant": v,
                      "config": "tc", "value": m, "met": m >= goal,
                      "missed_by": None if m >= goal else round(goal - m, 4)})
        c = r["cost"].get("tc", {})
        if "net_ns_per_run" in c:
            n = c["net_ns_per_run"]
            t.append({"target": "BPF cost <= %d ns per run net of the empty program"
                      % NET_NS_PER_RUN_TARGET, "variant": v, "config": "tc", "value": n,
                      "met": n <= NET_NS_PER_RUN_TARGET,
                      "missed_by": None if n <= NET_NS_PER_RUN_TARGET
                      else round(n - NET_NS_PER_RUN_TARGET, 1)})
        for cfg, a in r["accuracy"].items():
            t.append({"target": "zero requests missed", "variant": v, "config": cfg,
                      "value": a["missed"], "met": a["ok"],
                      "missed_by": None if a["ok"] else a["missed"],
                      "counts_for_exit_status": cfg not in ADVISED_AGAINST})
    for frame in ("request", "response"):
        m = (testrun or {}).get("ratio_net", {}).get(frame)
        if m is not None:
            t.append({"target": "test_run: httpmon net <= %.1fx the floor's" % TESTRUN_RATIO_TARGET,
                      "variant": frame, "config": "httpmon", "value": m,
                      "met": m <= TESTRUN_RATIO_TARGET,
                      "missed_by": None if m <= TESTRUN_RATIO_TARGET
                      else round(m - TESTRUN_RATIO_TARGET, 3)})
    return t


def fmt(x, spec="{:,.0f}"):
    return "-" if x is None else spec.format(x)


def span(s, spec="{:.3f}"):
    if not s:
        return "-"
    return (spec + " [" + spec + "-" + spec + "]").format(s["median"], s["min"], s["max"])


def testrun_table(tr):
    """The test_run microbenchmark's lines of the table."""
    lines = ["test_run (BPF_PROG_TEST_RUN on CPU %s, %s exchanges per program, ns per run: the "
             "median of %s batch means; net: minus the empty program)" % (
                 tr.get("cpu", "?"), fmt(tr.get("runs")), tr.get("batches", "?"))]
    if tr.get("bpf_stats_enabled") == 1:
        lines.append("  kernel.bpf_stats_enabled was 1: every run also paid for the statistics")
    lines.append("%-9s %12s %12s %14s %14s" % ("PROGRAM", "REQ_%dB" % tr.get("request_bytes", 0),
                                            "RESP_%dB" % tr.get("response_bytes", 0),
                                            "REQ_NET", "RESP_NET"))
    for p in ("httpmon", "floor", "empty"):
        x = tr.get(p, {})
        lines.append("%-9s %12s %12s %14s %14s" % (
            p, fmt(x.get("request_ns"), "{:,.1f}"), fmt(x.get("response_ns"), "{:,.1f}"),
            fmt(x.get("request_net_ns"), "{:,.1f}"), fmt(x.get("response_net_ns"), "{:,.1f}")))
    r = tr.get("ratio_net", {})
    lines.append("httpmon / floor, net of the empty program: request %s, response %s" % (
        fmt(r.get("request"), "{:.2f}"), fmt(r.get("response"), "{:.2f}")))
    return lines


def table(res, tg, meta, testrun=None):
    lines = []
    w = lines.append
    w("httpmon overhead benchmark, %s (%s CPUs, %s, kernel %s)" % (
        meta.get("start", "?"), meta.get("nproc", "?"), meta.get("cpu", "?"), meta.get("kernel", "?")))
    w("command: %s; load average %s at start, %s at end; %s, nginx %s, %s" % (
        meta.get("command"), meta.get("load_start"), meta.get("load_end"), meta.get("hm_version"),
        meta.get("nginx"), meta.get("wrk")))
    w("RATIO columns: monitored / none (the base round of the same pair), median [min-max] of the "
      "pairs; for empty (an empty TC program on the same hooks) empty / none. "
      "BUSY: all CPUs; CPU_US/REQ: busy CPU time of the machine per request, and its RATIO "
      "to none; DROPS: packets the veth pair dropped per round")
    w("")
    hdr = "%-9s %-10s %8s %-20s %6s %7s %-17s %7s %-17s %4s %10s %-20s %6s" % (
        "VARIANT", "CONF", "REQ/S", "RATIO", "MB/S", "P50_US", "P50_RATIO", "P99_US", "P99_RATIO",
        "BUSY", "CPU_US/REQ", "CPU_RATIO", "DROPS")
    w(hdr)
    for v, r in res.items():
        for c, e in r["configs"].items():
            w("%-9s %-10s %8s %-20s %6s %7s %-17s %7s %-17s %3s%% %10s %-20s %6s" % (
                v, c, fmt(e["requests_per_s"]["median"]), span(e.get("ratio_requests_per_s")),
                fmt(e["mbytes_per_s"]["median"]),
                fmt(e["latency_p50_us"]["median"]), span(e.get("ratio_latency_p50"), "{:.2f}"),
                fmt(e["latency_p99_us"]["median"]), span(e.get("ratio_latency_p99"), "{:.2f}"),
                fmt(e["cpu_busy"]["median"] * 100),
                fmt(e.get("cpu_us_per_request", {}).get("median"), "{:.2f}"),
                span(e.get("ratio_cpu_per_request")), fmt(e["veth_drops"]["median"])))
        if "xdp" not in r["configs"]:
            w("%-9s %-7s %s" % (v, "xdp", meta.get("xdp_note", "not available")))
    if meta.get("xdp") == "1":
        w("(%s)" % meta.get("xdp_note"))
    w("")
    w("against the empty TC program: monitored / empty, the empty program's round of the same pair, "
      "median [min-max] of the pairs")
    w("%-9s %-7s %-20s %-17s %-17s %s" % (
        "VARIANT", "CONF", "REQ/S_RATIO", "P50_RATIO", "P99_RATIO", "ADDED_MEAN_US"))
    for v, r in res.items():
        for c, e in r["configs"].items():
            x = e.get("vs_empty")
            if not x:
                continue
            a = x.get("added_latency_mean_us")
            w("%-9s %-7s %-20s %-17s %-17s %s" % (
                v, c, span(x.get("ratio_requests_per_s")), span(x.get("ratio_latency_p50"), "{:.2f}"),
                span(x.get("ratio_latency_p99"), "{:.2f}"),
                "-" if not a else "%+.1f [%+.1f to %+.1f]" % (a["median"], a["min"], a["max"])))
    w("")
    single = res.get("single", {}).get("configs", {})
    added = [(c, e["added_latency_mean_us"]) for c, e in single.items() if "added_latency_mean_us" in e]
    for c, a in added:
        w("single connection, %s: latency added per request %+.1f us (pairs: %+.1f to %+.1f); "
          "base mean %.1f us" % (c, a["median"], a["min"], a["max"],
                                 single["base"]["latency_mean_us"]["median"]))
    if added:
        w("")
    w("%-9s %-9s %8s %6s %8s %8s %10s %9s  %s" % (
        "VARIANT", "CONF", "NS/RUN", "FLOOR", "NET", "RUNS/TXN", "NET_NS/TXN", "GROSS/TXN",
        "BY HOOK: ns/run (- floor) x runs/txn"))
    for v, r in res.items():
        for c, e in r["cost"].items():
            hooks = ", ".join("%s %.0f%s x %.2f" % (
                h, x["ns_per_run"]["median"],
                " (-%.0f)" % x["floor_ns_per_run"] if "floor_ns_per_run" in x else "",
                x["runs_per_transaction"]["median"]) for h, x in e["by_hook"].items())
            w("%-9s %-9s %8s %6s %8s %8s %10s %9s  %s" % (
                v, c, fmt(e["ns_per_run"]["median"], "{:,.0f}"),
                fmt(e.get("floor_ns_per_run"), "{:,.0f}"), fmt(e.get("net_ns_per_run"), "{:,.0f}"),
                fmt(e["runs_per_transaction"]["median"], "{:.2f}"),
                fmt(e.get("net_ns_per_transaction"), "{:,.0f}"),
                fmt(e.get("gross_ns_per_transaction"), "{:,.0f}"), hooks))
    if testrun:
        w("")
        for line in testrun_table(testrun):
            w(line)
    w("")
    w("accuracy (hm-stat against wrk's completed responses, every monitored round):")
    for v, r in res.items():
        for c, a in r["accuracy"].items():
            note = ""
            if a["self_metrics_nonzero"]:
                note = "; self-metrics: " + ", ".join(
                    "%s %d" % kv for kv in sorted(a["self_metrics_nonzero"].items()))
            if a.get("veth_drops"):
                note += "; the veths dropped %d packets in these rounds" % a["veth_drops"]
            if a.get("hm_stat_read_us"):
                note += "; hm-stat --json took %.1f ms" % (a["hm_stat_read_us"]["median"] / 1000)
            w("  %-9s %-6s %s: %d rounds, %d missed, requests - wrk %d..%d, responses - wrk %d..%d "
              "(<= %d in flight), unanswered %d%s" % (
                  v, c, "ok  " if a["ok"] else "FAIL", a["rounds"], a["missed"],
                  a["requests_minus_wrk"][0], a["requests_minus_wrk"][1],
                  a["responses_minus_wrk"][0], a["responses_minus_wrk"][1],
                  r["connections"], a["unanswered"], note))
    w("")
    w("targets:")
    for t in tg:
        if t["met"]:
            verdict = "met"
        elif t["target"].startswith("throughput vs"):
            verdict = "MISSED by %.3f (%.1f%% of the empty program's)" % (
                t["missed_by"], t["missed_by"] * 100)
        elif t["target"].startswith("test_run"):
            verdict = "MISSED by %.2f (%.2fx the floor)" % (t["missed_by"], t["value"])
        elif t["target"].startswith("throughput"):
            verdict = "MISSED by %.3f (%.1f%% of the base)" % (t["missed_by"], t["missed_by"] * 100)
        elif t["target"].startswith("BPF"):
            verdict = "MISSED by %.1f ns (%.1fx the target)" % (
                t["missed_by"], t["value"] / NET_NS_PER_RUN_TARGET)
        else:
            verdict = "MISSED: %s" % t["missed_by"]
            if not t.get("counts_for_exit_status", True):
                verdict += " (a placement hm-load warns against: not in the exit status)"
        w("  %-52s %-9s %-6s %10s  %s" % (t["target"], t["variant"], t["config"],
                                           fmt(t["value"], "{:,.3f}" if isinstance(t["value"], float)
                                               and t["value"] < 10 else "{:,}"), verdict))
    profs = [(v, c, p) for v, r in res.items() for c, p in r["profile"].items()]
    if profs:
        w("")
        w("profile (perf, cpu-clock, all CPUs, one monitored round per variant): where the "
          "monitor's time goes")
        for v, c, p in profs:
            if not p["monitor_samples"]:
                w("  %-9s %-6s no samples in httpmon's programs (%d samples)" % (v, c, p["samples"]))
                continue
            w("  %-9s %-6s %.1f%% of all CPU time in httpmon's programs (%s); of that:" % (
                v, c, p["monitor_share_of_cpu"] * 100,
                ", ".join("%s %.0f%%" % (k, s * 100) for k, s in p["by_entry"].items())))
            w("      " + ", ".join("%s %.0f%%" % (x["symbol"], x["share"] * 100) for x in p["top"][:8]))
            bl = p.get("by_source_line")
            if bl:
                w("      by function (callees included): " + ", ".join(
                    "%s %.0f%%" % (f, s * 100) for f, s in list(bl["by_function"].items())[:6]))
                w("      by source line (callees included):")
                for x in bl["top_lines"][:10]:
                    w("        %4.1f%%  %-22s %s" % (x["share"] * 100, x["line"], x["source"][:70]))
    return "\n".join(lines)


def markdown(doc):
    """The README's tables, from a bench.json: one row per variant and
    configuration of the live rounds (the empty program's row gives empty /
    none), then the test_run microbenchmark's when it ran."""
    out = []
    w = out.append
    sp = lambda s, d: "%.*f (%.*f-%.*f)" % (d, s["median"], d, s["min"], d, s["max"]) if s else "-"
    w("| variant | config | req/s (no monitor) | req/s / none | req/s / empty | p50 / none "
      "| p50 / empty | p99 / none | p99 / empty | BPF ns/run, net | runs/txn | BPF ns/txn, net "
      "| missed; extra requests |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for v, r in doc["variants"].items():
        base = r["configs"].get("base", {})
        for c, e in r["configs"].items():
            if c == "base":
                continue
            cost = r["cost"].get(c, {}) if c != "empty" else {}
            acc = r["accuracy"].get(c)
            ve = e.get("vs_empty", {})
            w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                v, c, fmt(base.get("requests_per_s", {}).get("median")),
                sp(e.get("ratio_requests_per_s"), 2), sp(ve.get("ratio_requests_per_s"), 2),
                sp(e.get("ratio_latency_p50"), 2), sp(ve.get("ratio_latency_p50"), 2),
                sp(e.get("ratio_latency_p99"), 2), sp(ve.get("ratio_latency_p99"), 2),
                fmt(cost.get("net_ns_per_run")),
                fmt(cost.get("runs_per_transaction", {}).get("median"), "{:.2f}"),
                fmt(cost.get("net_ns_per_transaction")),
                "%d; %d-%d" % (acc["missed"], acc["requests_minus_wrk"][0], acc["requests_minus_wrk"][1])
                if acc else "-"))
    tr = doc.get("testrun")
    if tr:
        w("")
        w("| frame | httpmon ns/run | floor ns/run | empty ns/run | httpmon, net | floor, net "
          "| httpmon / floor, net |")
        w("| --- | --- | --- | --- | --- | --- | --- |")
        for k in ("request", "response"):
            w("| %s (%d bytes) | %s | %s | %s | %s | %s | %s |" % (
                k, tr.get(k + "_bytes", 0),
                fmt(tr["httpmon"].get(k + "_ns"), "{:,.0f}"), fmt(tr["floor"].get(k + "_ns"), "{:,.0f}"),
                fmt(tr["empty"].get(k + "_ns"), "{:,.0f}"),
                fmt(tr["httpmon"].get(k + "_net_ns"), "{:,.0f}"),
                fmt(tr["floor"].get(k + "_net_ns"), "{:,.0f}"),
                fmt(tr.get("ratio_net", {}).get(k), "{:.2f}")))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds")
    ap.add_argument("--json", required=True, help="output; with --markdown, the input")
    ap.add_argument("--meta", nargs="*", default=[])
    ap.add_argument("--markdown", action="store_true", help="print the README's tables of --json")
    ap.add_argument("--testrun", help="the test_run microbenchmark's JSON (testrun --json)")
    a = ap.parse_args()
    if a.markdown:
        with open(a.json) as f:
            print(markdown(json.load(f)))
        return 0
    if not a.rounds:
        ap.error("--rounds is required")
    meta = dict(m.partition("=")[::2] for m in a.meta)
    rounds = read_rounds(a.rounds)
    if not rounds:
        print("report.py: no rounds in %s" % a.rounds, file=sys.stderr)
        return 1
    testrun = None
    if a.testrun:
        try:
            with open(a.testrun) as f:
                testrun = json.load(f)
        except (OSError, ValueError) as e:
            print("report.py: cannot read the test_run results %s: %s" % (a.testrun, e),
                  file=sys.stderr)
            return 1
    global NPROC
    NPROC = int(meta.get("nproc") or 1)
    res = analyse(rounds, meta)
    tg = targets(res, meta, testrun)
    accuracy_ok = all(t["met"] for t in tg
                      if t["target"] == "zero requests missed" and t["counts_for_exit_status"])
    doc = {"schema": 1, "meta": meta, "accuracy_ok": accuracy_ok, "targets": tg,
           "variants": res, "testrun": testrun, "rounds": [{k: v for k, v in r.items() if not k.startswith("profile_")}
                                       for r in rounds]}
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(table(res, tg, meta, testrun))
    print("\nJSON: %s" % a.json)
    return 0 if accuracy_ok else 3


if __name__ == "__main__":
    sys.exit(main())
