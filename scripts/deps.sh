#!/usr/bin/env bash
# deps.sh - install the Debian packages httpmon's build and tests need.
#
# Idempotent: checks every package with dpkg-query first and only runs
# `apt-get update` + `apt-get install -y` when something is missing, so a
# second run on a ready machine does nothing and prints nothing.
# Needs root (or sudo) only when it has to install.
set -euo pipefail

PACKAGES=(
	# BPF object: compiler, llvm-strip/objdump, libbpf headers, skeletons
	clang llvm libbpf-dev bpftool
	# the fuzzer's runtime (libFuzzer, sanitizers)
	libclang-rt-14-dev
	# user-space tools, and their sanitizer build (make san)
	gcc make pkg-config libelf-dev zlib1g-dev libxdp-dev libasan8 libubsan1
	# attach and inspect: ip/tc, xdp-loader, nsenter (util-linux)
	iproute2 xdp-tools util-linux ethtool
	# tests and the lab; ps, sysctl and /etc/services, which minimal roots lack
	python3 python3-yaml jq curl procps netbase
	# docs, packaging and the compose check: man pages, completion, unit file
	groff-base man-db bash-completion docker-compose systemd
	# the C style check (tests/packaging/test_format.sh)
	clang-format
	# make deb and its test; make dist (git archive)
	build-essential debhelper lintian git
	# the exports' and the fleet's tests: promtool, node_exporter, Prometheus
	prometheus prometheus-node-exporter
	# make bench and its smoke test: a real origin, the load, the profile
	nginx-light wrk linux-perf
	# the edge tests: a real forward proxy (CONNECT), a real websocket
	# implementation (upgrades), a capture for byte truth
	tinyproxy python3-websockets tcpdump
)

missing=()
for pkg in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$pkg")
done

[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing ${missing[*]}"
SUDO=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "deps.sh: need root (or sudo) to install packages" >&2; exit 1; }
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# apt's chatter goes to a log that is shown only when something fails.
if ! { $SUDO apt-get update -qq && \
       $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
	cat "$log" >&2
	echo "deps.sh: apt-get failed" >&2
	exit 1
fi
# On a host booted with systemd the Prometheus and nginx packages start their
# daemons; the tests and the bench run their own, in their own namespaces or
# on a free loopback port.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
	$SUDO systemctl disable --now prometheus prometheus-node-exporter nginx tinyproxy >/dev/null 2>&1 || true
fi
echo "deps.sh: done"
