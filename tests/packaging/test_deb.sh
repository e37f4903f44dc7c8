#!/usr/bin/env bash
# test_deb.sh - the Debian package: build, lint, install, run, purge.
#
# make deb builds build/httpmon_VERSION_ARCH.deb with dpkg-buildpackage from
# debian/ (debhelper).  Then:
#   - its control fields: the version of VERSION and debian/changelog, the
#     dependencies on the libbpf and libxdp runtime packages (libbpf1,
#     libxdp1) and iproute2;
#   - its files: the tools in /usr/sbin, the object in /usr/lib/httpmon, the
#     man pages, the systemd units, the bash completion, the settings (a
#     conffile), the rules and the examples;
#   - lintian reports nothing but the tags debian/httpmon.lintian-overrides
#     explains, each override with its reason above it;
#   - dpkg -i installs it on this machine; the installed hm-load names
#     /usr/lib/httpmon/httpmon.o, which exists, and man finds the pages;
#   - scripts/lab.sh --installed runs the demo lab with the installed
#     hm-load and hm-stat (namespaces hm-fd<pid>*, 10.231.241.0/24,
#     blackholed in the root namespace meanwhile): hm-stat must equal the
#     clients' own counts;
#   - dpkg --purge leaves the file system as it found it: the list of files,
#     links and directories under /etc, /lib, /usr and /var/lib (but apt's
#     and dpkg's databases, except dpkg's per-package files) before the
#     install and after the purge must be the same.
# Skipped when httpmon is already installed (the test does not touch an
# installation it did not make) or the build tools are missing.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$HM_LIB/fleet.sh"

hm_require_root
hm_require_cmds make dpkg dpkg-buildpackage dh lintian python3 jq nsenter tc timeout
hm_bpffs_ensure || { hm_not_ok "bpffs mounted"; hm_done; }
if dpkg-query -W -f='${db:Status-Status}' httpmon 2>/dev/null | grep -qx installed; then
	hm_skip "$(basename "$0")" "a httpmon package is installed already; this test leaves it alone"
	exit 77
fi

VERSION=$(cat "$HM_ROOT/VERSION")
ARCH=$(dpkg --print-architecture)
DEB=$HM_BUILD/httpmon_${VERSION}_$ARCH.deb
TMP=$(mktemp -d /tmp/hmtest-deb.XXXXXX)
INSTALLED=0

cleanup() {
	[ "$INSTALLED" -eq 1 ] && dpkg --purge httpmon >/dev/null 2>&1
	hm_blackhole_del
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# -- build and inspect -------------------------------------------------------------
rm -f "$DEB"
if make --no-print-directory -C "$HM_ROOT" BUILD="$HM_BUILD" deb >"$TMP/make.log" 2>&1 && [ -s "$DEB" ]; then
	hm_ok "make deb builds $(basename "$DEB") (dpkg-buildpackage, debhelper)"
else
	hm_not_ok "make deb builds httpmon_${VERSION}_$ARCH.deb" "$(tail -30 "$TMP/make.log")"
	hm_done
fi
field() { dpkg-deb -f "$DEB" "$1"; }
depends=$(field Depends)
if [ "$(field Package)" = httpmon ] && [ "$(field Version)" = "$VERSION" ] &&
	[ "$(cd "$HM_ROOT" && dpkg-parsechangelog -S Version)" = "$VERSION" ] &&
	[[ $depends =~ (^|, )libbpf1( |,|$) ]] && [[ $depends =~ (^|, )libxdp1( |,|$) ]] &&
	[[ $depends =~ (^|, )iproute2(,|$) ]]; then
	hm_ok "control: httpmon $VERSION (= VERSION, debian/changelog), Depends: $depends"
else
	hm_not_ok "control: name, version, Depends on libbpf1, libxdp1 and iproute2" \
		"$(dpkg-deb -f "$DEB")"
fi

dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\./|/|; s|/$||' | sed '/^$/d' | sort >"$TMP/contents"
missing=
for f in /usr/sbin/hm-load /usr/sbin/hm-stat /usr/sbin/hm-reset /usr/sbin/httpmon-ctl \
	/usr/lib/httpmon/httpmon.o /usr/share/man/man8/hm-load.8.gz /usr/share/man/man8/hm-stat.8.gz \
	/usr/share/man/man8/hm-reset.8.gz /usr/share/man/man8/httpmon-ctl.8.gz \
	/lib/systemd/system/httpmon.service /lib/systemd/system/httpmon-textfile.service \
	/lib/systemd/system/httpmon-textfile.timer /usr/share/bash-completion/completions/hm-load \
	/usr/share/bash-completion/completions/hm-stat /etc/default/httpmon \
	/usr/share/httpmon/httpmon.rules.yml /usr/share/doc/httpmon/examples/httpmon.cron \
	/usr/share/doc/httpmon/examples/httpmon-daemonset.yaml /usr/share/doc/httpmon/copyright; do
	grep -qx "$f" "$TMP/contents" || missing="$missing $f"
done
conffiles=$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles 2>/dev/null)
if [ -z "$missing" ] && [ "$conffiles" = /etc/default/httpmon ]; then
	hm_ok "files: tools in /usr/sbin, object in /usr/lib/httpmon, man pages, units, completion, rules, examples; /etc/default/httpmon a conffile"
else
	hm_not_ok "the package's files" "missing:$missing" "conffiles: $conffiles"
fi

OVERRIDES=$HM_ROOT/debian/httpmon.lintian-overrides
lintian --display-info --pedantic "$DEB" >"$TMP/lintian" 2>"$TMP/lintian.err"
lrc=$?
tags=$(grep -E '^[EWIPX]: ' "$TMP/lintian")
if [ "$lrc" -eq 0 ] && [ -z "$tags" ]; then
	hm_ok "lintian --display-info --pedantic: no tag beyond the $(grep -c '^httpmon: ' "$OVERRIDES") explained overrides"
else
	hm_not_ok "lintian reports nothing beyond the explained overrides" "exit $lrc" "$tags" \
		"$(grep -v 'root privileges' "$TMP/lintian.err")"
fi
if awk '/^httpmon: / { if (prev !~ /^#/) bad = 1 } { prev = $0 } END { exit bad }' "$OVERRIDES"; then
	hm_ok "every lintian override has its reason in a comment above it"
else
	hm_not_ok "every lintian override has its reason in a comment above it" "$(cat "$OVERRIDES")"
fi

# -- install --------------------------------------------------------------------------
# What the system holds, but for apt's and dpkg's own records and caches.
snapshot() {
	{
		find /etc /lib /usr /var/lib -xdev \( -path /var/lib/dpkg -o -path /var/lib/apt \
			-o -path /usr/lib/python3 -o -path '*/__pycache__' \) -prune -o -print
		find /var/lib/dpkg/info
	} 2>/dev/null | sort
}
snapshot >"$TMP/before"
if dpkg -i "$DEB" >"$TMP/dpkg.log" 2>&1; then
	INSTALLED=1
	hm_ok "dpkg -i $(basename "$DEB")"
else
	INSTALLED=1
	hm_not_ok "dpkg -i $(basename "$DEB")" "$(tail -20 "$TMP/dpkg.log")"
	hm_done
fi
# The snapshot sees the install: every file of the package appears in it.
snapshot >"$TMP/installed"
comm -13 "$TMP/before" "$TMP/installed" >"$TMP/added"
# (on a merged /usr, /lib is a link and the package's /lib files are in /usr/lib)
if [ -L /lib ]; then usrmerge='s|^/lib/|/usr/lib/|'; else usrmerge=; fi
sed "$usrmerge" "$TMP/contents" | grep -vxF -f "$TMP/before" | grep -vxF -f "$TMP/added" >"$TMP/unseen"
if [ -s "$TMP/added" ] && [ ! -s "$TMP/unseen" ]; then
	hm_ok "the file-system list after dpkg -i holds the package's files ($(wc -l <"$TMP/added") new paths)"
else
	hm_not_ok "the file-system list after dpkg -i holds the package's files" "$(head "$TMP/unseen")"
fi
out=$(/usr/sbin/hm-stat --version 2>&1)
if [ "$out" = "hm-stat $VERSION (map layout $(sed -n 's/^#define HM_LAYOUT_VERSION \([0-9]*\).*/\1/p' "$HM_ROOT/kern/httpmon.h"))" ] &&
	/usr/sbin/hm-load --help | grep -q 'obj /usr/lib/httpmon/httpmon.o sec tc/ingress' &&
	[ -s /usr/lib/httpmon/httpmon.o ] && [ "$(man -w hm-stat 2>/dev/null)" = /usr/share/man/man8/hm-stat.8.gz ] &&
	grep -qx 'ExecStart=/usr/sbin/httpmon-ctl start' /lib/systemd/system/httpmon.service; then
	hm_ok "installed: $out, hm-load names /usr/lib/httpmon/httpmon.o (present), man hm-stat, the unit runs /usr/sbin/httpmon-ctl"
else
	hm_not_ok "the installed tools, object, pages and unit" "hm-stat --version: $out" \
		"$(/usr/sbin/hm-load --help 2>&1 | grep httpmon.o)" "man -w: $(man -w hm-stat 2>&1)"
fi

# -- the lab against the installed tools ---------------------------------------------------
hm_blackhole_add 10.231.241.0/24 || hm_not_ok "blackhole route for 10.231.241.0/24"
if HM_LAB_PREFIX=hm-fd$$ HM_LAB_NET=241 PATH=/usr/sbin:$PATH timeout 300 \
	"$HM_ROOT/scripts/lab.sh" --installed --requests 100 >"$TMP/lab.log" 2>&1 &&
	grep -q '^==> monitor: /usr/sbin/hm-load ' "$TMP/lab.log" &&
	grep -q "^==> hm-stat equals the clients' own counts" "$TMP/lab.log"; then
	hm_ok "scripts/lab.sh --installed: /usr/sbin/hm-load and hm-stat count exactly what the clients got"
	grep -E '^total ' "$TMP/lab.log" | head -1 | sed 's/^/#   /'
else
	hm_not_ok "scripts/lab.sh --installed with the package's tools" "$(tail -30 "$TMP/lab.log")"
fi
hm_blackhole_del

# -- purge ------------------------------------------------------------------------------
if dpkg --purge httpmon >"$TMP/purge.log" 2>&1; then
	INSTALLED=0
	hm_ok "dpkg --purge httpmon"
else
	hm_not_ok "dpkg --purge httpmon" "$(tail -20 "$TMP/purge.log")"
fi
snapshot >"$TMP/after"
if [ -z "$(dpkg-query -W -f='${db:Status-Status}' httpmon 2>/dev/null | grep -x installed)" ] &&
	diff "$TMP/before" "$TMP/after" >"$TMP/diff"; then
	hm_ok "after the purge the file system lists what it did before ($(wc -l <"$TMP/before") paths)"
else
	hm_not_ok "after the purge the file system lists what it did before" "$(head -30 "$TMP/diff")"
fi

hm_done
