#!/usr/bin/env bash
# bench.sh - httpmon's cost and accuracy at saturation, next to no monitor
# and to an empty program on the same hooks (`make bench`).
#
# First a test_run microbenchmark (scripts/bench/testrun.c, `make
# bench-testrun` alone): ns per program run of httpmon, of a cost floor
# (scripts/bench/floor.bpf.c, the essential work of an exact monitor) and of
# an empty program, on a keep-alive request frame and its response frame.
#
# Then a two-namespace lab: nginx (Debian's, its own prefix and config in a
# temp dir, tiny static files and a 200 KiB one, keep-alive, no access log)
# in the server namespace, wrk in the client namespace, one veth pair
# between them.  The monitor goes on the server-side veth.  Configurations,
# run back to back in one invocation: base (no monitor), empty (an empty TC
# program, scripts/bench/empty.bpf.c, attached with plain tc on ingress and
# egress where httpmon goes: the floor any TC monitor pays), tc (hm-load),
# and xdp (hm-load --xdp) when hm-load's --help offers it; in variant large
# also xdp-cl (hm-load --xdp on the client's veth, which receives the
# downloads) and noop-cl (an XDP program that does nothing there, with
# xdp-loader): XDP on a veth's receiving side costs bulk traffic whatever
# the program does; and sock (hm-load --sockets: the socket source, whose
# programs run in nginx's and wrk's own system calls) when hm-load's --help
# offers it, with empty-sock (scripts/bench/empty_sock.bpf.c: programs that
# do nothing, on the same hooks) as its floor in the cost rounds.
#
# Usage: scripts/bench.sh [--pairs N] [--seconds S] [--variants LIST]
#                         [--cost-rounds N] [--json FILE] [--no-profile]
#                         [--testrun-runs N] [--no-testrun] [--smoke] [-h]
#   --pairs N          throughput rounds per configuration, interleaved
#                      base empty tc[ xdp], [xdp ]tc empty base, ...
#                      (default 10)
#   --seconds S        length of a round (default 3)
#   --variants LIST    any of keepalive,close,large,single (default: all)
#   --cost-rounds N    BPF cost rounds per configuration (default 2)
#   --json FILE        the results as JSON (default build/bench.json)
#   --no-profile       skip the perf profile round of each variant
#   --testrun-runs N   exchanges per program in the test_run
#                      microbenchmark, 50-100000000 (default 200000)
#   --no-testrun       skip the test_run microbenchmark
#   --smoke            2 s rounds, 1 pair, 1 cost round, keepalive, no
#                      profile, 2000 test_run exchanges
# Exit status: 0 done and every accuracy check of tc and xdp held, 1 error,
# 2 bad usage, 3 done but such an accuracy check failed.
# Needs root, nginx, wrk, clang, bpftool; make, gcc and libbpf-dev for
# test_run; xdp-loader (xdp-tools) for the XDP floor; perf for the profile.
# Environment: HM_BUILD the tools' directory (default build/), HM_BENCH_OLD
# another build's directory (an older commit's build/): its hm-load goes in
# the same rounds as configuration tc-old, beside tc (and sock-old beside
# sock, when that build has the socket source), HM_BENCH_KEEP=1
# keeps the temp dir (rounds, perf samples), HM_BENCH_NET=A.B.C the /24
# (default 10.231.240; a blackhole route for it in the root namespace while
# the run lasts).
#
# Variants: keepalive (wrk -t2 -c64, a 3-byte file), close (the same with
# "Connection: close": a new connection per request), large (-t2 -c16, a
# 200 KiB file: GSO super-packets on egress), single (-t1 -c1: latency added
# per request).
#
# Throughput rounds run with kernel.bpf_stats_enabled=0 (so does test_run).
# Every pair of throughput rounds holds base, empty and tc (and xdp): the
# report gives monitor/none and monitor/empty per pair.  Cost rounds run
# with the statistics on and read run_time_ns and run_cnt of the attached
# programs (bpftool); they also measure the empty TC program (for XDP an
# empty XDP program, scripts/bench/empty_xdp.bpf.c, through libxdp's
# dispatcher like hm-load's): httpmon's ns per run is reported net of those
# floors.  After each monitored round hm-stat's request and response totals
# are compared with wrk's count of completed responses.
# scripts/bench/report.py turns the rounds into the table and the JSON.
#
# Everything lives in namespaces hm-be<pid>h (server) and hm-be<pid>c1
# (client), addresses $HM_BENCH_NET.1 and .2 inside them, pins in
# /sys/fs/bpf/hmbench-<pid> (libxdp's in /sys/fs/bpf/hmbench-<pid>-libxdp);
# leftovers of a crashed run are removed by the
# next run (and by the tests' own stale-lab cleanup).
set -uo pipefail
# The whole script is one compound command, read before it runs: editing
# or checking out the file during a run cannot change what runs.
{

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_LIB=$ROOT/scripts/bench
# shellcheck source=../tests/lib/netns.sh
. "$ROOT/tests/lib/netns.sh"
BUILD=${HM_BUILD:-$ROOT/build}

PAIRS=10
SECONDS_PER_ROUND=3
VARIANTS=keepalive,close,large,single
COST_ROUNDS=2
JSON_OUT=$BUILD/bench.json
PROFILE=1
TESTRUN=1
TESTRUN_RUNS=200000
SMOKE=0
WARMUP_SECONDS=1
NET=${HM_BENCH_NET:-10.231.240}
SERVER_IP=$NET.1
CLIENT_IP=$NET.2

# usage: the header from "Usage:" to the first empty comment line.
usage() { sed -n '/^# Usage:/,/^#$/{/^#$/q; s/^# \{0,1\}//; p}' "${BASH_SOURCE[0]}"; }
say() { printf '# %s\n' "$*" >&2; }
die() { printf 'bench.sh: %s\n' "$*" >&2; exit 1; }
posint() { [[ $1 =~ ^[1-9][0-9]{0,3}$ ]]; }

ARGS=("$@")
while [ $# -gt 0 ]; do
	case $1 in
	--pairs) posint "${2:-}" || { echo "bench.sh: --pairs needs a number 1-9999" >&2; exit 2; }
		PAIRS=$2; shift ;;
	--seconds) posint "${2:-}" || { echo "bench.sh: --seconds needs a number 1-9999" >&2; exit 2; }
		SECONDS_PER_ROUND=$2; shift ;;
	--cost-rounds) posint "${2:-}" || { echo "bench.sh: --cost-rounds needs a number 1-9999" >&2; exit 2; }
		COST_ROUNDS=$2; shift ;;
	--variants)
		[[ ${2:-} =~ ^(keepalive|close|large|single)(,(keepalive|close|large|single))*$ ]] ||
			{ echo "bench.sh: --variants takes keepalive,close,large,single" >&2; exit 2; }
		VARIANTS=$2; shift ;;
	--json) [ -n "${2:-}" ] || { echo "bench.sh: --json needs a file" >&2; exit 2; }
		JSON_OUT=$2; shift ;;
	--no-profile) PROFILE=0 ;;
	--testrun-runs)
		if ! [[ ${2:-} =~ ^[1-9][0-9]{1,8}$ ]] || [ "$2" -lt 50 ] || [ "$2" -gt 100000000 ]; then
			echo "bench.sh: --testrun-runs needs a number 50-100000000" >&2
			exit 2
		fi
		TESTRUN_RUNS=$2; shift ;;
	--no-testrun) TESTRUN=0 ;;
	--smoke) SMOKE=1 PAIRS=1 SECONDS_PER_ROUND=2 COST_ROUNDS=1 VARIANTS=keepalive PROFILE=0
		TESTRUN_RUNS=2000 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

if ! [[ $NET =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || [ "${BASH_REMATCH[1]}" -gt 255 ] ||
	[ "${BASH_REMATCH[2]}" -gt 255 ] || [ "${BASH_REMATCH[3]}" -gt 255 ]; then
	echo "bench.sh: HM_BENCH_NET must be the first three numbers of a /24, A.B.C, not '$NET'" >&2
	exit 2
fi
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, BPF): sudo scripts/bench.sh"
for c in nginx wrk clang tc ip nsenter bpftool jq python3 sysctl; do
	command -v "$c" >/dev/null || die "$c is not installed (Debian: nginx-light, wrk, clang, iproute2, util-linux, bpftool, jq, python3)"
done
for f in hm-load hm-stat; do
	[ -x "$BUILD/$f" ] || die "$BUILD/$f is missing: run make"
done
if [ "$TESTRUN" -eq 1 ]; then
	for c in make gcc; do
		command -v "$c" >/dev/null || die "$c is not installed (Debian: make, gcc; or --no-testrun)"
	done
	[ -r "$BUILD/httpmon.o" ] || die "$BUILD/httpmon.o is missing: run make"
fi
if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" != bpf_fs ]; then
	mount -t bpf bpf /sys/fs/bpf || die "cannot mount bpffs on /sys/fs/bpf"
fi

P=$(hm_lab_prefix be)
SNS=${P}h
CNS=${P}c1
IFACE=${P}v1
PIN=/sys/fs/bpf/hmbench-$$
# libxdp's dispatcher pins, private: they are named by ifindex, which
# repeats across network namespaces
export LIBXDP_BPFFS=/sys/fs/bpf/hmbench-$$-libxdp
TMP=$(mktemp -d /tmp/hmbench.XXXXXX)
chmod 0755 "$TMP" # nginx's workers (nobody) read the files below it
ROUNDS=$TMP/rounds.txt
STATS_ORIG=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
PERF_PID=
BLACKHOLE=0

# shellcheck disable=SC2317  # run by the trap
cleanup() {
	trap - EXIT INT TERM
	[ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null && wait "$PERF_PID" 2>/dev/null
	sysctl -qw kernel.bpf_stats_enabled="$STATS_ORIG" 2>/dev/null
	"$TMP/hm-load" --detach --sockets --pin-path "$PIN" >/dev/null 2>&1
	if [ -e "/run/netns/$SNS" ]; then
		in_server "$TMP/hm-load" --detach "$IFACE" --pin-path "$PIN" >/dev/null 2>&1
		[ -s "$TMP/nginx.pid" ] && kill "$(cat "$TMP/nginx.pid")" 2>/dev/null
	fi
	hm_lab_down "$P"
	[ "$BLACKHOLE" -eq 1 ] && ip -4 route del blackhole "$NET.0/24" metric $$ 2>/dev/null
	rm -rf "$PIN" "$LIBXDP_BPFFS"
	if [ -n "${HM_BENCH_KEEP:-}" ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# in_server CMD...: CMD in the server namespace's network only, so that
# /sys/fs/bpf (the pins) stays visible (`ip netns exec` would hide it).
in_server() { nsenter --net="/run/netns/$SNS" -- "$@"; }
# in_side CONFIG CMD...: CMD where CONFIG goes (the *-cl ones: the client).
in_side() {
	local ns=$SNS
	[[ $1 == *-cl ]] && ns=$CNS
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}
# dev_of CONFIG: the interface CONFIG goes on.
dev_of() { if [[ $1 == *-cl ]]; then echo eth0; else echo "$IFACE"; fi; }
in_client() { ip netns exec "$CNS" "$@"; }

# -- the lab --------------------------------------------------------------------
hm_lab_cleanup_stale
for d in /sys/fs/bpf/hmbench-*; do
	[ -d "$d" ] || continue
	pid=${d##*/hmbench-}
	pid=${pid%-libxdp}
	[[ $pid =~ ^[0-9]+$ ]] && ! kill -0 "$pid" 2>/dev/null && { say "removing stale pins $d"; rm -rf "$d"; }
done

# Nothing addressed to the lab can leave the machine from the root
# namespace: a blackhole route for its /24 while the run lasts.  Its metric
# is our pid, so runs that share the /24 keep their own routes; those of
# runs that are gone are removed first.
for m in $(ip -4 route show type blackhole "$NET.0/24" 2>/dev/null | sed -n 's/.* metric \([0-9]*\).*/\1/p'); do
	kill -0 "$m" 2>/dev/null || ip -4 route del blackhole "$NET.0/24" metric "$m" 2>/dev/null
done
ip -4 route add blackhole "$NET.0/24" metric $$ 2>"$TMP/route.err" ||
	die "cannot add a blackhole route for $NET.0/24: $(cat "$TMP/route.err")"
BLACKHOLE=1

# The tools and the empty program are copied / built once, so a rebuild in
# the tree during the run cannot change what is measured.
cp "$BUILD/hm-load" "$BUILD/hm-stat" "$TMP/" || die "cannot copy the tools"
OLD=0
if [ -n "${HM_BENCH_OLD:-}" ]; then
	mkdir -p "$TMP/old" && cp "$HM_BENCH_OLD/hm-load" "$HM_BENCH_OLD/hm-stat" "$TMP/old/" ||
		die "cannot copy the tools of HM_BENCH_OLD=$HM_BENCH_OLD"
	OLD=1
fi
if [ "$TESTRUN" -eq 1 ]; then
	# the floor and the empty program with the Makefile's own rules: the
	# floor is compiled as httpmon is
	cp "$BUILD/httpmon.o" "$TMP/" || die "cannot copy $BUILD/httpmon.o"
	# a make of its own, whatever make runs this script (its flags, its jobserver)
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		make -C "$ROOT" --no-print-directory BUILD="$TMP/testrun" "$TMP/testrun/testrun" \
			"$TMP/testrun/bench_floor.o" "$TMP/testrun/bench_empty.o" >"$TMP/make.log" 2>&1 ||
		die "cannot build the test_run microbenchmark: $(tail -5 "$TMP/make.log")"
fi
clang -O2 -g -target bpf -Wall -Werror -I "/usr/include/$(gcc -print-multiarch 2>/dev/null)" \
	-c "$BENCH_LIB/empty.bpf.c" -o "$TMP/empty.o" 2>"$TMP/clang.err" ||
	die "cannot build scripts/bench/empty.bpf.c: $(cat "$TMP/clang.err")"
clang -O2 -g -target bpf -Wall -Werror -I "/usr/include/$(gcc -print-multiarch 2>/dev/null)" \
	-c "$BENCH_LIB/empty_xdp.bpf.c" -o "$TMP/empty_xdp.o" 2>"$TMP/clang.err" ||
	die "cannot build scripts/bench/empty_xdp.bpf.c: $(cat "$TMP/clang.err")"

mkdir -p "$HM_LAB_RUN" && echo $$ >"$HM_LAB_RUN/$P"
{
	ip netns add "$SNS" && ip netns add "$CNS" &&
		ip -n "$SNS" link set lo up && ip -n "$CNS" link set lo up &&
		ip -n "$SNS" link add "$IFACE" type veth peer name eth0 netns "$CNS" &&
		ip -n "$SNS" addr add "$SERVER_IP/24" dev "$IFACE" &&
		ip -n "$CNS" addr add "$CLIENT_IP/24" dev eth0 &&
		ip -n "$SNS" link set "$IFACE" up && ip -n "$CNS" link set eth0 up &&
		# namespace-local: room for a new connection per request
		ip netns exec "$SNS" sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096 &&
		ip netns exec "$CNS" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
} 2>"$TMP/lab.err" || die "cannot build the lab: $(cat "$TMP/lab.err")"

# -- the origin -----------------------------------------------------------------
mkdir -p "$TMP/www" "$TMP/logs" "$TMP/temp"
printf 'ok\n' >"$TMP/www/small.txt"
head -c 204800 /dev/urandom >"$TMP/www/large.bin"
nginx_v=$(nginx -V 2>&1)
temp_paths="client_body_temp_path $TMP/temp/body;"
for m in proxy fastcgi uwsgi scgi; do
	[[ $nginx_v == *"--without-http_${m}_module"* ]] || temp_paths="$temp_paths
	${m}_temp_path $TMP/temp/$m;"
done
cat >"$TMP/nginx.conf" <<EOF
# written by scripts/bench.sh; nothing under /etc/nginx is read
worker_processes auto;
pid $TMP/nginx.pid;
error_log $TMP/logs/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	default_type application/octet-stream;
	sendfile on;
	tcp_nopush on;
	keepalive_timeout 120s;
	keepalive_requests 100000000;
	$temp_paths
	server {
		listen $SERVER_IP:80 backlog=4096;
		root $TMP/www;
	}
}
EOF
ip netns exec "$SNS" nginx -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/logs/error.log" 2>"$TMP/nginx.err" ||
	die "nginx does not start: $(cat "$TMP/nginx.err" "$TMP/logs/error.log" 2>/dev/null)"
hm_wait_port "$P" "$SERVER_IP" 80 10 || die "nginx does not listen on $SERVER_IP:80"

# -- configurations ---------------------------------------------------------------
# the whole text first: grep -q would stop reading at the first match, and
# pipefail would then see hm-load die of SIGPIPE
HM_LOAD_HELP=$("$TMP/hm-load" --help 2>&1)
SOCK=0
SOCK_NOTE="not available: hm-load --help does not offer --sockets"
if grep -q -- '--sockets' <<<"$HM_LOAD_HELP"; then
	SOCK=1
	SOCK_NOTE="sock: hm-load --sockets (every process of the host; its floor empty-sock: empty programs on the same hooks)"
	gcc -O2 -Wall -o "$TMP/attach_links" "$BENCH_LIB/attach_links.c" -lbpf 2>"$TMP/gcc.err" &&
		clang -O2 -g -target bpf -Wall -Werror -I "/usr/include/$(gcc -print-multiarch 2>/dev/null)" \
			-c "$BENCH_LIB/empty_sock.bpf.c" -o "$TMP/empty_sock.o" 2>>"$TMP/gcc.err" ||
		die "cannot build the socket source's floor: $(cat "$TMP/gcc.err")"
fi
XDP=0
XDP_NOTE="not available: hm-load --help does not offer --xdp"
if grep -q -- '--xdp' <<<"$HM_LOAD_HELP"; then
	XDP=1
	XDP_NOTE="xdp: hm-load --xdp on the server's veth, whose ingress carries the requests; variant large also: xdp-cl, hm-load --xdp on the client's veth, which receives the 200 KiB responses, and noop-cl, an XDP program that does nothing there"
	command -v xdp-loader >/dev/null || say "xdp-loader is not installed (Debian: xdp-tools): no XDP floor, no noop-cl"
fi
# configs_for KIND VARIANT: the configurations of a kind of round, in order.
configs_for() {
	local c=()
	case $1 in
	tput) c=(base empty tc) ;;
	cost) c=(empty tc) ;;
	profile) c=(tc) ;;
	esac
	if [ "$OLD" -eq 1 ]; then
		case $1 in
		tput | cost) c+=(tc-old) ;;
		esac
	fi
	if [ "$SOCK" -eq 1 ]; then
		case $1 in
		tput | profile) c+=(sock) ;;
		cost) c+=(empty-sock sock) ;;
		esac
		if [ "$OLD" -eq 1 ] && "$TMP/old/hm-load" --help 2>&1 | grep -q -- --sockets; then
			case $1 in
			tput | cost) c+=(sock-old) ;;
			esac
		fi
	fi
	if [ "$XDP" -eq 1 ]; then
		case $1 in
		tput | profile) c+=(xdp) ;;
		cost) command -v xdp-loader >/dev/null && c+=(empty-xdp); c+=(xdp) ;;
		esac
		if [ "$2" = large ]; then
			case $1 in
			tput) command -v xdp-loader >/dev/null && c+=(noop-cl); c+=(xdp-cl) ;;
			cost) c+=(xdp-cl) ;;
			profile) c+=(xdp-cl) ;;
			esac
		fi
	fi
	echo "${c[*]}"
}

# attach CONFIG / detach CONFIG: put a configuration on its veth, and take
# it off again so that the next round starts from bare veths (no clsact, no
# XDP).
attach() {
	local dev
	dev=$(dev_of "$1")
	: >"$TMP/attach.log"
	case $1 in
	base) return 0 ;;
	tc) in_side "$1" "$TMP/hm-load" "$dev" --pin-path "$PIN" ;;
	tc-old) in_side "$1" "$TMP/old/hm-load" "$dev" --pin-path "$PIN" ;;
	xdp | xdp-cl) in_side "$1" "$TMP/hm-load" --xdp "$dev" --pin-path "$PIN" ;;
	empty)
		in_side "$1" tc qdisc add dev "$dev" clsact &&
			in_side "$1" tc filter add dev "$dev" ingress bpf da obj "$TMP/empty.o" sec tc &&
			in_side "$1" tc filter add dev "$dev" egress bpf da obj "$TMP/empty.o" sec tc
		;;
	empty-xdp | noop-cl) in_side "$1" xdp-loader load -m native "$dev" "$TMP/empty_xdp.o" ;;
	sock) "$TMP/hm-load" --sockets --pin-path "$PIN" ;;
	sock-old) "$TMP/old/hm-load" --sockets --pin-path "$PIN" ;;
	empty-sock) mkdir -p "$PIN" && "$TMP/attach_links" "$TMP/empty_sock.o" "$PIN/sockets" ;;
	esac >>"$TMP/attach.log" 2>&1 || die "attaching $1 failed: $(cat "$TMP/attach.log")"
}
detach() {
	local dev
	dev=$(dev_of "$1")
	case $1 in
	tc | xdp | xdp-cl) in_side "$1" "$TMP/hm-load" --detach "$dev" --pin-path "$PIN" >/dev/null 2>&1 ||
		say "hm-load --detach $dev failed" ;;
	tc-old) in_side "$1" "$TMP/old/hm-load" --detach "$dev" --pin-path "$PIN" >/dev/null 2>&1 ||
		say "hm-load --detach $dev (old build) failed" ;;
	empty-xdp | noop-cl) in_side "$1" xdp-loader unload "$dev" --all >/dev/null 2>&1 ||
		say "xdp-loader unload $dev failed" ;;
	sock) "$TMP/hm-load" --detach --sockets --pin-path "$PIN" >/dev/null 2>&1 ||
		say "hm-load --detach --sockets failed" ;;
	sock-old) "$TMP/old/hm-load" --detach --sockets --pin-path "$PIN" >/dev/null 2>&1 ||
		say "hm-load --detach --sockets (old build) failed" ;;
	esac
	in_side "$1" tc qdisc del dev "$dev" clsact 2>/dev/null
	in_side "$1" ip link set dev "$dev" xdp off 2>/dev/null
	[ -e "$PIN" ] && rm -rf "$PIN" # also the floor's link pins: its programs detach
	# the programs and maps are freed by deferred work: not in the next round
	[ "$1" = base ] || sleep 0.3
	return 0
}

# prog_ids CONFIG: "ingress ID", "egress ID", "xdp ID" for what is attached
# now (for XDP the program the hook runs: libxdp's dispatcher, whose run
# time includes the programs it calls).
prog_ids() {
	local f
	if [[ $1 == *sock || $1 == sock-old ]]; then
		# the socket source's links, pinned in PIN/sockets: "HOOK ID" by program name
		for f in "$PIN"/sockets/link_*; do
			[ -e "$f" ] || continue
			echo "$(basename "$f" | sed 's/^link_hm_//') $(bpftool link show pinned "$f" -j | jq -r .prog_id)"
		done
		return
	fi
	in_side "$1" bpftool net show dev "$(dev_of "$1")" -j 2>/dev/null | jq -r '.[0] |
		(.tc[]? | "\(.kind | sub("^clsact/"; "")) \(.id)"),
		(.xdp[]? | .. | objects | select(has("id")) | "xdp \(.id)")'
}
# ext_ids CONFIG: programs the hooks run indirectly (hm-load --xdp's
# program behind the dispatcher), for the profile by source line.
ext_ids() {
	case $1 in
	xdp | xdp-cl)
		in_side "$1" "$TMP/hm-load" --status --json --pin-path "$PIN" 2>/dev/null |
			jq -r '.interfaces[]? | .xdp.prog_id? // empty'
		;;
	esac
}
# prog_stats IDS_FILE: "hook run_time_ns run_cnt" per program.
prog_stats() {
	local hook id
	while read -r hook id; do
		bpftool prog show id "$id" -j 2>/dev/null |
			jq -r --arg h "$hook" '"\($h) \(.run_time_ns // 0) \(.run_cnt // 0)"'
	done <"$1"
}

# bpf_frames: from `perf script -F ip,sym` of a -g recording, for every
# sample with a BPF program in its stack, the innermost BPF frame: "ADDR
# leaf" when the sample hit the program itself, "ADDR ret" when it hit a
# helper or kernel function the program called (ADDR is then the return
# address in the program).  Input for jitlines.
bpf_frames() {
	awk 'BEGIN { RS = ""; FS = "\n" }
	{
		first = 1
		for (i = 1; i <= NF; i++) {
			line = $i
			sub(/^[ \t]+/, "", line)
			if (line == "") continue
			split(line, w, " ")
			if (w[2] ~ /^bpf_prog_/) { print w[1], (first ? "leaf" : "ret"); break }
			first = 0
		}
	}'
}

# veth_drops: packets both ends of the veth pair dropped so far (rx + tx;
# a veth with XDP drops what does not fit its ring, before the program).
veth_drops() {
	{
		nsenter --net="/run/netns/$SNS" ip -s -j link show dev "$IFACE"
		nsenter --net="/run/netns/$CNS" ip -s -j link show dev eth0
	} 2>/dev/null | jq -s '[.[][] | .stats64.rx.dropped + .stats64.tx.dropped] | add // 0'
}

# cpu_ticks: busy and total jiffies of all CPUs, and steal.
cpu_ticks() { awk '/^cpu /{b=$2+$3+$4+$7+$8; t=b+$5+$6+$9; print b, t, $9}' /proc/stat; }

# variant_args VARIANT: sets THREADS CONNS URL HDR.
variant_args() {
	HDR=()
	URL=http://$SERVER_IP/small.txt
	case $1 in
	keepalive) THREADS=2 CONNS=64 ;;
	close) THREADS=2 CONNS=64 HDR=(-H 'Connection: close') ;;
	large) THREADS=2 CONNS=16 URL=http://$SERVER_IP/large.bin ;;
	single) THREADS=1 CONNS=1 ;;
	esac
}

# run_wrk SECONDS OUT: wrk with the current variant's arguments; the
# HMBENCH line's fields on OUT.
run_wrk() {
	in_client wrk -t"$THREADS" -c"$CONNS" -d"$1"s --timeout 5s -s "$BENCH_LIB/wrk-report.lua" \
		"${HDR[@]}" "$URL" >"$TMP/wrk.out" 2>&1
	grep -m1 '^HMBENCH ' "$TMP/wrk.out" | cut -d' ' -f2- >"$2"
	[ -s "$2" ] || die "wrk failed: $(tail -5 "$TMP/wrk.out")"
}

# hm_totals: hm-stat's totals (all ports, overflow row included) and its
# self-metrics, as key=value words.
hm_totals() {
	local t0 t1 dir=$PIN stat=$TMP/hm-stat
	# the socket source sees the whole host: only nginx's port is the benchmark's
	case $1 in sock | sock-old) dir=$PIN/sockets ;; esac
	# an older build's maps have its own layout: its own hm-stat reads them
	case $1 in tc-old | sock-old) stat=$TMP/old/hm-stat ;; esac
	t0=$(date +%s%N)
	"$stat" --json --pin-path "$dir" >"$TMP/stat.json" 2>"$TMP/stat.err" ||
		die "hm-stat failed: $(cat "$TMP/stat.err")"
	t1=$(date +%s%N)
	printf "hm_stat_us=%d " $(((t1 - t0) / 1000))
	jq -r '
		[.ports[] | select(.port == 80 or .port == null)] as $p |
		"hm_requests=\([$p[].requests] | add // 0)",
		"hm_responses=\([$p[].responses] | add // 0)",
		"hm_unanswered=\([$p[].unanswered] | add // 0)",
		(.monitor | to_entries[] | "mon_\(.key)=\(.value)")' "$TMP/stat.json" | tr '\n' ' '
}

# round KIND VARIANT CONFIG N: one round; appends a record to $ROUNDS.
#   tput     throughput, bpf stats off
#   cost     bpf stats on, program run times
#   profile  perf samples while the monitor runs (stats off)
round() {
	local kind=$1 variant=$2 config=$3 n=$4 rec t0 t1 load1 drops0 drops1 extra=
	attach "$config"
	prog_ids "$config" >"$TMP/ids"
	if [ "$kind" = cost ]; then
		sysctl -qw kernel.bpf_stats_enabled=1
		prog_stats "$TMP/ids" >"$TMP/before"
	else
		sysctl -qw kernel.bpf_stats_enabled=0
	fi
	if [ "$kind" = profile ]; then
		perf record -a -g -e cpu-clock -F 999 -o "$TMP/perf.data" -- sleep $((SECONDS_PER_ROUND > 2 ? SECONDS_PER_ROUND - 1 : 1)) \
			>/dev/null 2>"$TMP/perf.err" &
		PERF_PID=$!
	fi
	load1=$(cut -d' ' -f1 /proc/loadavg)
	drops0=$(veth_drops)
	t0=$(cpu_ticks)
	run_wrk "$SECONDS_PER_ROUND" "$TMP/wrk.rec"
	t1=$(cpu_ticks)
	drops1=$(veth_drops)
	if [ "$kind" = profile ]; then
		wait "$PERF_PID"
		PERF_PID=
		perf script -i "$TMP/perf.data" -F ip,sym 2>/dev/null >"$TMP/profile.$variant.$config.txt"
		extra="profile_file=$TMP/profile.$variant.$config.txt"
		# by source line, while the programs are still loaded
		if [ -x "$TMP/jitlines" ]; then
			# shellcheck disable=SC2046  # one argument per program id
			bpf_frames <"$TMP/profile.$variant.$config.txt" |
				"$TMP/jitlines" $(awk '{print $2}' "$TMP/ids") $(ext_ids "$config") \
					>"$TMP/lines.$variant.$config.txt" 2>"$TMP/jitlines.err" &&
				extra="$extra profile_lines=$TMP/lines.$variant.$config.txt"
		fi
	fi
	# let the answers to requests in flight when wrk stopped go out
	sleep 0.3
	if [ "$kind" = cost ]; then
		prog_stats "$TMP/ids" >"$TMP/after"
		sysctl -qw kernel.bpf_stats_enabled=0
		extra=$(join <(sort "$TMP/before") <(sort "$TMP/after") |
			awk '{printf "runtime_%s=%d runs_%s=%d ", $1, $4 - $2, $1, $5 - $3}')
	elif [ "$config" != base ] && [ -s "$TMP/ids" ]; then
		# with stats off these stay 0, unless someone else turned stats on
		extra="$extra $(prog_stats "$TMP/ids" | awk '{s += $2} END {printf "stats_leak_ns=%d", s}')"
	fi
	if [[ $config =~ ^(tc|tc-old|xdp|xdp-cl|sock|sock-old)$ ]]; then
		hm_totals "$config" >"$TMP/totals"
		extra="$extra $(cat "$TMP/totals")"
	fi
	rec="kind=$kind variant=$variant config=$config n=$n threads=$THREADS connections=$CONNS"
	rec="$rec seconds=$SECONDS_PER_ROUND load1=$load1 veth_drops=$((drops1 - drops0)) $(cat "$TMP/wrk.rec")"
	rec="$rec $(echo "$t0 $t1" | awk '{printf "cpu_busy=%.4f steal=%.4f", ($4-$1)/($5-$2), ($6-$3)/($5-$2)}')"
	echo "$rec $extra" >>"$ROUNDS"
	detach "$config"
}

# -- the rounds -------------------------------------------------------------------
PERF_OK=0
if [ "$PROFILE" -eq 1 ] && command -v perf >/dev/null &&
	perf record -a -g -e cpu-clock -o "$TMP/perf.test" -- true >/dev/null 2>&1; then
	PERF_OK=1
fi
rm -f "$TMP/perf.test"
if [ "$PERF_OK" -eq 1 ] && ! gcc -O2 -Wall -o "$TMP/jitlines" "$BENCH_LIB/jitlines.c" -lbpf 2>"$TMP/gcc.err"; then
	say "profile by source line not available: $(head -3 "$TMP/gcc.err")"
fi
START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
START_TIME=$(date -u +%Y-%m-%dT%H:%M:%SZ)
say "configurations: $(configs_for tput large); $XDP_NOTE; $SOCK_NOTE"
say "variants $VARIANTS, $PAIRS pairs of ${SECONDS_PER_ROUND}s rounds, $COST_ROUNDS cost rounds; load average $START_LOAD"
sysctl -qw kernel.bpf_stats_enabled=0
[ "$STATS_ORIG" = 0 ] || say "kernel.bpf_stats_enabled was $STATS_ORIG: set to 0 for throughput rounds, restored at exit"
TESTRUN_ARGS=()
if [ "$TESTRUN" -eq 1 ]; then
	say "test_run: httpmon, the floor and the empty program, $TESTRUN_RUNS exchanges each"
	"$TMP/testrun/testrun" --runs "$TESTRUN_RUNS" --json "$TMP/httpmon.o" \
		"$TMP/testrun/bench_floor.o" "$TMP/testrun/bench_empty.o" >"$TMP/testrun.json" \
		2>"$TMP/testrun.err" || die "the test_run microbenchmark failed: $(cat "$TMP/testrun.err")"
	TESTRUN_ARGS=(--testrun "$TMP/testrun.json")
fi
: >"$ROUNDS"
IFS=, read -r -a VARIANT_LIST <<<"$VARIANTS"
for v in "${VARIANT_LIST[@]}"; do
	variant_args "$v"
	say "$v: warm-up"
	run_wrk "$WARMUP_SECONDS" "$TMP/wrk.rec"
	read -r -a configs <<<"$(configs_for tput "$v")"
	for ((i = 1; i <= PAIRS; i++)); do
		say "$v: pair $i/$PAIRS"
		# odd pairs base first, even pairs base last: a drift of the
		# machine's speed during the run does not favour either side
		order=("${configs[@]}")
		if ((i % 2 == 0)); then
			for ((j = ${#configs[@]} - 1, k = 0; j >= 0; j--, k++)); do order[k]=${configs[j]}; done
		fi
		for c in "${order[@]}"; do round tput "$v" "$c" "$i"; done
	done
	for ((i = 1; i <= COST_ROUNDS; i++)); do
		say "$v: cost round $i/$COST_ROUNDS"
		for c in $(configs_for cost "$v"); do round cost "$v" "$c" "$i"; done
	done
	if [ "$PERF_OK" -eq 1 ]; then
		for c in $(configs_for profile "$v"); do
			say "$v: profile ($c)"
			round profile "$v" "$c" 1
		done
	fi
done

mkdir -p "$(dirname "$JSON_OUT")"
python3 "$BENCH_LIB/report.py" --rounds "$ROUNDS" --json "$JSON_OUT" "${TESTRUN_ARGS[@]}" \
	--meta start="$START_TIME" end="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
	nproc="$(nproc)" kernel="$(uname -r)" \
	cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
	load_start="$START_LOAD" load_end="$(cut -d' ' -f1-3 /proc/loadavg)" \
	command="scripts/bench.sh${ARGS[*]:+ ${ARGS[*]}}" smoke="$SMOKE" net="$NET.0/24" \
	xdp="$XDP" xdp_note="$XDP_NOTE" sock="$SOCK" sock_note="$SOCK_NOTE" perf="$PERF_OK" \
	old_build="${HM_BENCH_OLD:-}" \
	hm_version="$("$TMP/hm-load" --version 2>/dev/null | head -1)" \
	git="$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)" \
	nginx="$(nginx -v 2>&1 | sed 's/.*: //')" wrk="$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
exit $?
}
