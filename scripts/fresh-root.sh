#!/usr/bin/env bash
# fresh-root.sh - the README's Quick start on a bare Debian (`make check-fresh`).
#
# Builds a Debian bookworm root with debootstrap --variant=minbase (nothing
# but the required packages: no make, sudo, git, procps or netbase), copies
# this source tree into it (/root/httpmon, without build/ and .git), and
# runs in it, as root in a chroot, the two commands of the README's Quick
# start exactly as written there: the first must install what it needs and
# run the demo lab, the second must run the whole test suite and end with
# "N passed, 0 failed".  Prints how long each step took and the result line
# of each command; exits 0 when both succeed.
#
# Usage: scripts/fresh-root.sh [--keep] [--dir DIR] [--mirror URL]
#   --keep        leave the root in place (printed at the end) to look at
#   --dir DIR     build the root in DIR (empty or absent; default: a new
#                 directory under /var/tmp)
#   --mirror URL  the Debian mirror (default http://deb.debian.org/debian)
# Needs root, network access to the mirror and the debootstrap package
# (installed with apt-get when missing).  Takes 10 to 20 minutes.
#
# What the chroot gets, as a booted machine or a privileged container would
# have it: /proc, /sys, bpffs on /sys/fs/bpf, cgroup2, a /dev of its own
# (tmpfs with the usual nodes and devpts), tmpfs on /run and /tmp, and the
# root directory as a mount point (ip netns exec remounts / as a slave).
# Network namespaces and BPF work from the chroot as root; the chroot shares
# the host's network namespace, where the tests add only blackhole routes.
# One thing a bare root lacks is added, as chroot builders (pbuilder,
# mmdebstrap) do: /usr/sbin/policy-rc.d refusing to start services, so that
# packages such as prometheus install without starting a daemon on the host's
# network.  On exit every process left in the root is killed and everything
# is unmounted (then the root removed unless --keep).
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEEP=0
DIR=
MIRROR=http://deb.debian.org/debian
SUITE=bookworm

usage() { sed -n 's/^# \{0,1\}//; 14,20p' "${BASH_SOURCE[0]}"; }
say() { printf '==> %s\n' "$*"; }
die() { printf 'fresh-root.sh: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--keep) KEEP=1 ;;
	--dir) DIR=${2:?--dir needs a directory}; shift ;;
	--mirror) MIRROR=${2:?--mirror needs a URL}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, mounts, chroot)"
if [ -z "$DIR" ]; then
	DIR=$(mktemp -d /var/tmp/httpmon-fresh.XXXXXX)
	chmod 0755 "$DIR" # a root directory is 0755: users in the chroot must get through it
else
	mkdir -p "$DIR"
	[ -z "$(ls -A "$DIR")" ] || die "--dir $DIR is not empty"
	DIR=$(cd "$DIR" && pwd)
fi
LOGS=$DIR.logs
mkdir -p "$LOGS"

# The Quick start commands: the lines of the first code block after
# "## Quick start" in the README, as they are written.
mapfile -t COMMANDS < <(awk '/^## Quick start/ { q = 1 }
	q && /^```/ { if (inblock) exit; inblock = 1; next }
	inblock && NF { print }' "$SRC/README.md")
[ "${#COMMANDS[@]}" -eq 2 ] || die "expected two commands in the README's Quick start, found ${#COMMANDS[@]}"

# Processes whose root directory is inside $DIR.
chroot_pids() {
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		case $r in "$DIR" | "$DIR"/*) echo "${p#/proc/}" ;; esac
	done
}

mounted() { findmnt -rn -o TARGET | grep -E "^$DIR(/|\$)" | sort -r; }

cleanup() {
	local rc=$? i pids m
	trap - EXIT INT TERM
	for i in 1 2 3 4 5; do
		pids=$(chroot_pids)
		[ -z "$pids" ] && break
		# shellcheck disable=SC2086  # a list of pids
		kill $([ "$i" -ge 3 ] && echo -KILL) $pids 2>/dev/null || true
		sleep 1
	done
	for m in $(mounted); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	if [ -n "$(mounted)" ]; then
		echo "fresh-root.sh: still mounted, $DIR left in place:" >&2
		mounted >&2
	elif [ "$KEEP" -eq 0 ]; then
		rm -rf "$DIR"
	else
		say "the root is in $DIR"
	fi
	say "logs in $LOGS"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# elapsed START: seconds since START, as "Nm Ss".
elapsed() { local s=$((SECONDS - $1)); printf '%dm %02ds' $((s / 60)) $((s % 60)); }

if ! command -v debootstrap >/dev/null; then
	say "installing debootstrap"
	apt-get install -y -qq --no-install-recommends debootstrap >"$LOGS/apt.log" 2>&1 ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends debootstrap; } \
			>>"$LOGS/apt.log" 2>&1 || die "cannot install debootstrap (see $LOGS/apt.log)"
fi

t=$SECONDS
say "debootstrap --variant=minbase $SUITE $DIR $MIRROR"
debootstrap --variant=minbase "$SUITE" "$DIR" "$MIRROR" >"$LOGS/debootstrap.log" 2>&1 ||
	die "debootstrap failed: $(tail -3 "$LOGS/debootstrap.log")"
say "debootstrap: $(elapsed "$t"), $(chroot "$DIR" dpkg-query -W | wc -l) packages;" \
	"absent: $(for c in make sudo git ps sysctl; do chroot "$DIR" sh -c "command -v $c" >/dev/null || printf '%s ' "$c"; done)"

printf '#!/bin/sh\n# fresh-root.sh: no service starts in this chroot\nexit 101\n' >"$DIR/usr/sbin/policy-rc.d"
chmod 0755 "$DIR/usr/sbin/policy-rc.d"

mkdir -p "$DIR/root/httpmon"
tar -C "$SRC" -c --exclude=./build --exclude=./.git . | tar -C "$DIR/root/httpmon" -x

mount --bind "$DIR" "$DIR"
mount -t proc proc "$DIR/proc"
mount -t sysfs sysfs "$DIR/sys"
mount -t bpf bpf "$DIR/sys/fs/bpf"
mount -t cgroup2 cgroup2 "$DIR/sys/fs/cgroup" 2>/dev/null || true
mount -t tmpfs -o mode=0755,size=16m devtmp "$DIR/dev"
for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
	IFS=: read -r name major minor <<<"$n"
	mknod -m 0666 "$DIR/dev/$name" c "$major" "$minor"
done
mkdir "$DIR/dev/pts" "$DIR/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$DIR/dev/pts"
ln -s pts/ptmx "$DIR/dev/ptmx"
mount -t tmpfs -o mode=1777 shm "$DIR/dev/shm"
ln -s /proc/self/fd "$DIR/dev/fd"
ln -s /proc/self/fd/0 "$DIR/dev/stdin"
ln -s /proc/self/fd/1 "$DIR/dev/stdout"
ln -s /proc/self/fd/2 "$DIR/dev/stderr"
mount -t tmpfs -o mode=0755 run "$DIR/run"
mount -t tmpfs -o mode=1777 tmp "$DIR/tmp"

# in_root CMD: CMD with sh in the chroot, in the tree, with a login's clean
# environment.
in_root() {
	chroot "$DIR" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/sh -c "cd /root/httpmon && $1"
}

rc=0
n=0
for cmd in "${COMMANDS[@]}"; do
	n=$((n + 1))
	t=$SECONDS
	say "as root in the chroot, verbatim: $cmd"
	if in_root "$cmd" </dev/null >"$LOGS/command$n.log" 2>&1; then
		status=0
	else
		status=$?
	fi
	last=$(grep -E '^[0-9]+ passed, [0-9]+ failed|^==> hm-stat (equals|differs)' "$LOGS/command$n.log" | tail -1)
	say "exit $status after $(elapsed "$t"): ${last:-$(tail -1 "$LOGS/command$n.log")}"
	if [ "$status" -ne 0 ]; then
		rc=1
		grep -E '^FAIL ' "$LOGS/command$n.log" | sed 's/^/    /' || tail -20 "$LOGS/command$n.log" | sed 's/^/    /'
	fi
done
if [ "$rc" -eq 0 ]; then
	say "both Quick start commands succeeded on a fresh $SUITE minbase root"
else
	say "a Quick start command failed on a fresh $SUITE minbase root (logs in $LOGS)"
fi
exit "$rc"
