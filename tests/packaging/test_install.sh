#!/usr/bin/env bash
# test_install.sh - make install / uninstall / dist.
#
# Installs into a temporary DESTDIR and checks: exactly the files the README's
# "Install and operations" section lists, their modes and links, the paths the
# generated unit and pages name (also for another PREFIX and SYSCONFDIR), the
# unit with systemd-analyze verify, the installed completion loaded the way
# bash-completion loads it, and that the installed things work: the installed
# object with plain tc (in a private bpffs, so tc's pins never touch the
# host's /sys/fs/bpf/tc/globals), the installed hm-load, hm-stat, hm-reset and
# httpmon-ctl with a private pin directory, on a veth between two namespaces
# that carries real HTTP.  Then make uninstall must leave no file behind, and
# make dist a tarball of the sources with no build output.
#
# Names: namespaces and links hmi<pid>..., pins /sys/fs/bpf/hmtest-<pid>,
# addresses 10.231.250.1 and .2 inside the namespaces only.
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=tests/lib/netns.sh
. "$HM_LIB/netns.sh"

hm_require_root
hm_require_cmds make ip tc nsenter unshare mount python3 jq curl timeout
hm_require_build hm-load hm-stat hm-reset httpmon.o
hm_bpffs_ensure || { hm_not_ok "bpffs mounted on /sys/fs/bpf"; hm_done; }

ID=$$
NS_S=hmi${ID}s
NS_C=hmi${ID}c
IF_S=hmi${ID}a # server side of the veth: where httpmon attaches
IF_C=hmi${ID}b
PIN=/sys/fs/bpf/hmtest-$ID
SRV=10.231.250.1
CLI=10.231.250.2
TMP=$(mktemp -d /tmp/hmi-install.XXXXXX)
DEST=$TMP/dest
VERSION=$(cat "$HM_ROOT/VERSION")
LAYOUT=$(sed -n 's/^#define HM_LAYOUT_VERSION \([0-9]*\).*/\1/p' "$HM_ROOT/kern/httpmon.h")
ORIGIN_PID=

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	[ -n "$ORIGIN_PID" ] && kill "$ORIGIN_PID" 2>/dev/null
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	hm_blackhole_release "test_install-$ID"
	rm -rf "$PIN" "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
hm_pins_cleanup_stale hmtest-
hm_blackhole_cleanup_stale
# 10.231.250.0/24 goes nowhere from the root namespace while the test runs.
hm_blackhole_claim 250 "test_install-$ID" || { hm_not_ok "blackhole route for 10.231.250.0/24"; hm_done; }

# mk VAR=VALUE... TARGET: make in the repository, quietly; output in $TMP/make.log.
mk() {
	make --no-print-directory -C "$HM_ROOT" BUILD="$HM_BUILD" "$@" >"$TMP/make.log" 2>&1
}

# files DIR: every file and symbolic link below DIR, as absolute paths inside it.
files() {
	(cd "$1" && find . \( -type f -o -type l \) | sed 's|^\.||' | sort)
}

# -- install: the documented files --------------------------------------------------
# The list in the README: the code block after the line that says "installs exactly".
awk '/installs exactly these files/ { want = 1; next }
     want && /^```/ { if (inblock) exit; inblock = 1; next }
     inblock { print $1 }' "$HM_ROOT/README.md" | sort >"$TMP/documented"
if [ ! -s "$TMP/documented" ]; then
	hm_not_ok "the README lists the installed files" "no list after 'installs exactly these files'"
	hm_done
fi

if mk install DESTDIR="$DEST"; then
	hm_ok "make install DESTDIR=... succeeds"
else
	hm_not_ok "make install DESTDIR=... succeeds" "$(tail -20 "$TMP/make.log")"
	hm_done
fi
files "$DEST" >"$TMP/installed"
if diff -u "$TMP/documented" "$TMP/installed" >"$TMP/diff"; then
	hm_ok "make install installs exactly the $(wc -l <"$TMP/documented") files the README lists"
else
	hm_not_ok "make install installs exactly the files the README lists" "$(cat "$TMP/diff")"
fi

SBIN=$DEST/usr/local/sbin
bad=
for f in hm-load hm-stat hm-reset httpmon-ctl; do
	[ "$(stat -c %a "$SBIN/$f" 2>/dev/null)" = 755 ] || bad="$bad $f"
done
while read -r f; do
	[ -L "$DEST$f" ] && continue
	case $f in */sbin/*) continue ;; esac
	[ "$(stat -c %a "$DEST$f")" = 644 ] || bad="$bad $f"
done <"$TMP/installed"
if [ -z "$bad" ]; then
	hm_ok "tools are mode 0755, every other file 0644"
else
	hm_not_ok "tools are mode 0755, every other file 0644" "wrong mode:$bad"
fi
COMPL=$DEST/usr/local/share/bash-completion/completions
bad=
for c in hm-stat hm-reset httpmon-ctl; do
	[ "$(readlink "$COMPL/$c")" = hm-load ] || bad="$bad $c"
done
if [ -z "$bad" ]; then
	hm_ok "completions for hm-stat, hm-reset, httpmon-ctl link to hm-load's"
else
	hm_not_ok "completions link to hm-load's" "not a link to hm-load:$bad"
fi

# -- the installed tools run ---------------------------------------------------------
for t in hm-load hm-stat hm-reset; do
	out=$("$SBIN/$t" --version 2>&1)
	if [ "$out" = "$t $VERSION (map layout $LAYOUT)" ]; then
		hm_ok "installed $t --version: $out"
	else
		hm_not_ok "installed $t --version prints '$t $VERSION (map layout $LAYOUT)'" "got: $out"
	fi
done
out=$("$SBIN/httpmon-ctl" --version 2>&1)
if [ "$out" = "httpmon-ctl $VERSION" ]; then
	hm_ok "installed httpmon-ctl --version: $out"
else
	hm_not_ok "installed httpmon-ctl --version" "got: $out"
fi
for t in hm-load hm-stat hm-reset httpmon-ctl; do
	if "$SBIN/$t" --help >"$TMP/help" 2>&1 && grep -q "$t" "$TMP/help"; then
		hm_ok "installed $t --help"
	else
		hm_not_ok "installed $t --help" "$(head -5 "$TMP/help")"
	fi
done

UNIT=$DEST/usr/local/lib/systemd/system/httpmon.service
want="ExecStart=/usr/local/sbin/httpmon-ctl start
ExecReload=/usr/local/sbin/httpmon-ctl reload
ExecStop=/usr/local/sbin/httpmon-ctl stop"
if [ "$(grep '^Exec' "$UNIT")" = "$want" ] &&
	grep -qx 'Type=oneshot' "$UNIT" && grep -qx 'RemainAfterExit=yes' "$UNIT"; then
	hm_ok "unit: oneshot, RemainAfterExit, httpmon-ctl start/reload/stop in /usr/local/sbin"
else
	hm_not_ok "unit: oneshot, RemainAfterExit, httpmon-ctl start/reload/stop" "$(cat "$UNIT")"
fi
if command -v systemd-analyze >/dev/null; then
	# verify checks that the commands exist: point them into DESTDIR.
	mkdir "$TMP/unit"
	sed "s|=/usr/local/|=$DEST/usr/local/|" "$UNIT" >"$TMP/unit/httpmon.service"
	if MANPATH=$DEST/usr/local/share/man systemd-analyze verify "$TMP/unit/httpmon.service" \
		>"$TMP/verify" 2>&1 && [ ! -s "$TMP/verify" ]; then
		hm_ok "systemd-analyze verify httpmon.service (its man: references included)"
	else
		hm_not_ok "systemd-analyze verify httpmon.service" "$(cat "$TMP/verify")"
	fi
else
	hm_skip "systemd-analyze verify httpmon.service" "systemd-analyze not installed"
fi
TUNIT=$DEST/usr/local/lib/systemd/system/httpmon-textfile.service
want='ExecStart=/usr/local/sbin/hm-stat --format prometheus --source all --output ${HTTPMON_TEXTFILE} $HTTPMON_TEXTFILE_OPTIONS'
if [ "$(grep '^Exec' "$TUNIT")" = "$want" ] && grep -qx 'Type=oneshot' "$TUNIT" &&
	grep -qx 'EnvironmentFile=-/etc/default/httpmon' "$TUNIT"; then
	hm_ok "httpmon-textfile.service: oneshot hm-stat --format prometheus --output, settings from /etc/default/httpmon"
else
	hm_not_ok "httpmon-textfile.service: oneshot hm-stat --format prometheus --output" "$(cat "$TUNIT")"
fi
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$TMP/tunit"
	sed "s|=/usr/local/|=$DEST/usr/local/|" "$TUNIT" >"$TMP/tunit/httpmon-textfile.service"
	cp "$DEST/usr/local/lib/systemd/system/httpmon-textfile.timer" "$TMP/tunit/"
	if MANPATH=$DEST/usr/local/share/man systemd-analyze verify "$TMP/tunit/httpmon-textfile.timer" \
		"$TMP/tunit/httpmon-textfile.service" >"$TMP/verify" 2>&1 && [ ! -s "$TMP/verify" ]; then
		hm_ok "systemd-analyze verify httpmon-textfile.service and .timer"
	else
		hm_not_ok "systemd-analyze verify httpmon-textfile.service and .timer" "$(cat "$TMP/verify")"
	fi
fi
if ! command -v promtool >/dev/null; then
	hm_skip "promtool check rules: the installed rules" "promtool not installed (Debian package prometheus)"
elif promtool check rules "$DEST/usr/local/share/httpmon/httpmon.rules.yml" >"$TMP/rules" 2>&1 &&
	grep -q '^#     - /usr/local/share/httpmon/httpmon.rules.yml$' \
		"$DEST/usr/local/share/httpmon/httpmon.rules.yml"; then
	hm_ok "promtool check rules accepts the installed rules, which name their installed path"
else
	hm_not_ok "promtool check rules: the installed rules" "$(cat "$TMP/rules")"
fi
if grep -q '^CONFIG=${HTTPMON_CONFIG:-/etc/default/httpmon}$' "$SBIN/httpmon-ctl" &&
	! grep -q '@[A-Z]*@' "$SBIN/httpmon-ctl" "$UNIT"; then
	hm_ok "installed httpmon-ctl reads /etc/default/httpmon; no @PLACEHOLDER@ left"
else
	hm_not_ok "installed httpmon-ctl reads /etc/default/httpmon; no @PLACEHOLDER@ left" \
		"$(grep -n '@[A-Z]*@\|^CONFIG=' "$SBIN/httpmon-ctl" "$UNIT")"
fi

if [ -r /usr/share/bash-completion/bash_completion ]; then
	# How bash-completion finds a completion on demand: XDG_DATA_DIRS.
	out=$(XDG_DATA_DIRS=$DEST/usr/local/share bash --norc --noprofile -c '
		. /usr/share/bash-completion/bash_completion
		for t in hm-load hm-stat hm-reset httpmon-ctl; do
			__load_completion "$t" && complete -p "$t"
		done' 2>&1)
	if [ "$(grep -c '^complete -F' <<<"$out")" -eq 4 ]; then
		hm_ok "bash-completion loads the installed completion for all four tools"
	else
		hm_not_ok "bash-completion loads the installed completion for all four tools" "$out"
	fi
else
	hm_skip "bash-completion loads the installed completion" "bash-completion not installed"
fi

# -- another PREFIX and SYSCONFDIR -----------------------------------------------------
DEST2=$TMP/dest2
if mk install DESTDIR="$DEST2" PREFIX=/opt/hmi SYSCONFDIR=/opt/hmi/etc; then
	sed 's|^/usr/local/|/opt/hmi/|; s|^/etc/|/opt/hmi/etc/|' "$TMP/documented" | sort >"$TMP/documented2"
	files "$DEST2" >"$TMP/installed2"
	if diff -u "$TMP/documented2" "$TMP/installed2" >"$TMP/diff"; then
		hm_ok "PREFIX=/opt/hmi SYSCONFDIR=/opt/hmi/etc: the same files under the new directories"
	else
		hm_not_ok "PREFIX=/opt/hmi SYSCONFDIR=/opt/hmi/etc: the same files" "$(cat "$TMP/diff")"
	fi
	if grep -qx 'ExecStart=/opt/hmi/sbin/httpmon-ctl start' "$DEST2/opt/hmi/lib/systemd/system/httpmon.service" &&
		grep -q '^CONFIG=${HTTPMON_CONFIG:-/opt/hmi/etc/default/httpmon}$' "$DEST2/opt/hmi/sbin/httpmon-ctl" &&
		grep -q '/opt/hmi/lib/httpmon/httpmon.o' "$DEST2/opt/hmi/share/man/man8/hm-load.8" &&
		grep -q '/opt/hmi/etc/default/httpmon' "$DEST2/opt/hmi/share/man/man8/httpmon-ctl.8" &&
		! grep -rq '/usr/local/lib\|/usr/local/share' "$DEST2/opt/hmi/share/man" "$DEST2/opt/hmi/lib/systemd"; then
		hm_ok "the unit, httpmon-ctl and the man pages name /opt/hmi paths"
	else
		hm_not_ok "the unit, httpmon-ctl and the man pages name /opt/hmi paths"
	fi
	if mk uninstall DESTDIR="$DEST2" PREFIX=/opt/hmi SYSCONFDIR=/opt/hmi/etc &&
		[ -z "$(files "$DEST2")" ]; then
		hm_ok "make uninstall with the same PREFIX and SYSCONFDIR removes every file"
	else
		hm_not_ok "make uninstall with the same PREFIX and SYSCONFDIR removes every file" \
			"$(files "$DEST2")" "$(tail -5 "$TMP/make.log")"
	fi
else
	hm_not_ok "make install PREFIX=/opt/hmi SYSCONFDIR=/opt/hmi/etc" "$(tail -20 "$TMP/make.log")"
fi

# -- the installed object and tools on a real link ---------------------------------
setup_net() {
	ip netns add "$NS_S" && ip netns add "$NS_C" &&
		ip -n "$NS_S" link set lo up && ip -n "$NS_C" link set lo up &&
		ip -n "$NS_S" link add "$IF_S" type veth peer name "$IF_C" netns "$NS_C" &&
		ip -n "$NS_S" addr add "$SRV/24" dev "$IF_S" &&
		ip -n "$NS_C" addr add "$CLI/24" dev "$IF_C" &&
		ip -n "$NS_S" link set "$IF_S" up && ip -n "$NS_C" link set "$IF_C" up
}
if setup_net 2>"$TMP/net.err"; then
	hm_ok "namespaces $NS_S and $NS_C joined by the veth $IF_S/$IF_C"
else
	hm_not_ok "namespaces and veth" "$(cat "$TMP/net.err")"
	hm_done
fi
hm_origin_up "$NS_S" "$TMP/origin.out" --seed 3 --listen "$SRV:8080"

# requests N: N GETs from the client namespace on one connection; prints the statuses.
requests() {
	local args=() i
	for ((i = 0; i < $1; i++)); do args+=(-o /dev/null "http://$SRV:8080/"); done
	ip netns exec "$NS_C" curl -s --max-time 20 -w '%{http_code}\n' "${args[@]}"
}

# Plain tc with the installed object, in a mount namespace of its own with a
# fresh bpffs on /sys/fs/bpf: tc pins in that instance's tc/globals, and the
# installed hm-stat finds them there with no options.
OBJ=$DEST/usr/local/lib/httpmon/httpmon.o
cat >"$TMP/plain_tc.sh" <<EOF
set -e
mount -t bpf bpf /sys/fs/bpf
nsenter --net=/run/netns/$NS_S tc qdisc add dev $IF_S clsact
nsenter --net=/run/netns/$NS_S tc filter add dev $IF_S ingress bpf da obj $OBJ sec tc/ingress
nsenter --net=/run/netns/$NS_S tc filter add dev $IF_S egress bpf da obj $OBJ sec tc/egress
nsenter --net=/run/netns/$NS_S tc filter show dev $IF_S ingress >$TMP/tc.filters
ls /sys/fs/bpf/tc/globals >$TMP/tc.pins
EOF
declare -f requests >>"$TMP/plain_tc.sh"
cat >>"$TMP/plain_tc.sh" <<EOF
NS_C=$NS_C SRV=$SRV
requests 6 >$TMP/tc.codes
sleep 0.3
$SBIN/hm-stat --json >$TMP/tc.json
nsenter --net=/run/netns/$NS_S tc qdisc del dev $IF_S clsact
EOF
if unshare --mount --propagation private bash "$TMP/plain_tc.sh" >"$TMP/tc.log" 2>&1; then
	hm_ok "plain tc loads the installed object $OBJ (tc/ingress, tc/egress)"
	if grep -q hm_tc_ingress "$TMP/tc.filters" && grep -qx hm_clients "$TMP/tc.pins"; then
		hm_ok "tc attached hm_tc_ingress and pinned the maps in its private tc/globals"
	else
		hm_not_ok "tc attached hm_tc_ingress and pinned the maps" "$(cat "$TMP/tc.filters" "$TMP/tc.pins")"
	fi
	n=$(jq '[.clients[] | select(.ip == "'"$CLI"'") | .requests] | add // 0' "$TMP/tc.json" 2>/dev/null)
	if [ "$n" = 6 ] && [ "$(grep -c . "$TMP/tc.codes")" = 6 ]; then
		hm_ok "installed hm-stat with no options reads tc's pins: 6 requests from $CLI"
	else
		hm_not_ok "installed hm-stat reads tc's pins: 6 requests from $CLI" "requests: $n" \
			"$(head -c 1500 "$TMP/tc.json")"
	fi
else
	hm_not_ok "plain tc loads the installed object" "$(tail -20 "$TMP/tc.log")"
fi

# The installed hm-load, hm-stat, hm-reset with a private pin directory.
in_srv() { nsenter --net="/run/netns/$NS_S" -- "$@"; }
if in_srv "$SBIN/hm-load" --pin-path "$PIN" "$IF_S" >"$TMP/load.log" 2>&1; then
	hm_ok "installed hm-load attaches to $IF_S with --pin-path $PIN"
	requests 10 >"$TMP/codes"
	sleep 0.3
	if "$SBIN/hm-stat" --pin-path "$PIN" --json >"$TMP/stat.json" 2>"$TMP/stat.err"; then
		got=$(jq -c '[.clients[] | select(.ip == "'"$CLI"'") | .requests, .responses, .status["5xx"]]' "$TMP/stat.json")
		want=$(jq -nc --argjson n5 "$(grep -c '^5' "$TMP/codes")" '[10, 10, $n5]')
		if [ "$got" = "$want" ]; then
			hm_ok "installed hm-stat --pin-path: 10 requests, 10 responses, the 5xx curl saw"
		else
			hm_not_ok "installed hm-stat --pin-path counts the traffic" "got $got, wanted $want"
		fi
	else
		hm_not_ok "installed hm-stat --pin-path $PIN" "$(cat "$TMP/stat.err")"
	fi
	if "$SBIN/hm-reset" --pin-path "$PIN" >"$TMP/reset.log" 2>&1 &&
		[ "$("$SBIN/hm-stat" --pin-path "$PIN" --json | jq '.clients | length')" = 0 ]; then
		hm_ok "installed hm-reset --pin-path clears the rows"
	else
		hm_not_ok "installed hm-reset --pin-path clears the rows" "$(cat "$TMP/reset.log")"
	fi
	if in_srv "$SBIN/hm-load" --detach --pin-path "$PIN" "$IF_S" >"$TMP/detach.log" 2>&1 &&
		[ -z "$(in_srv tc filter show dev "$IF_S" ingress)" ] &&
		[ -z "$(ls -A "$PIN" 2>/dev/null)" ]; then
		hm_ok "installed hm-load --detach removes the filters and the pins"
	else
		hm_not_ok "installed hm-load --detach removes the filters and the pins" \
			"$(cat "$TMP/detach.log")" "$(ls -A "$PIN" 2>&1)"
	fi
else
	hm_not_ok "installed hm-load attaches to $IF_S" "$(cat "$TMP/load.log")"
fi

# httpmon-ctl, as the unit runs it, with a settings file of the test's own.
cat >"$TMP/httpmon.conf" <<EOF
HTTPMON_INTERFACES="$IF_S"
HTTPMON_OPTIONS="--ports 8080"
HTTPMON_PIN_PATH=$PIN
EOF
ctl() { in_srv env HTTPMON_CONFIG="$TMP/httpmon.conf" "$SBIN/httpmon-ctl" "$@"; }
if ctl start >"$TMP/ctl.log" 2>&1 && [ "$(ctl status 2>&1)" = "$IF_S: attached" ]; then
	hm_ok "installed httpmon-ctl start attaches; status: '$IF_S: attached'"
else
	hm_not_ok "installed httpmon-ctl start attaches" "$(cat "$TMP/ctl.log")" "$(ctl status 2>&1)"
fi
if ctl reload >"$TMP/ctl.log" 2>&1 && ctl stop >>"$TMP/ctl.log" 2>&1; then
	st=$(ctl status 2>&1)
	rc=$?
	if [ "$rc" = 3 ] && [ "$st" = "$IF_S: not attached" ] && [ -z "$(ls -A "$PIN" 2>/dev/null)" ]; then
		hm_ok "installed httpmon-ctl reload, stop: detached, pins gone, status exits 3"
	else
		hm_not_ok "installed httpmon-ctl stop detaches" "status ($rc): $st" "$(ls -A "$PIN" 2>&1)"
	fi
else
	hm_not_ok "installed httpmon-ctl reload and stop" "$(cat "$TMP/ctl.log")"
fi
if ! ctl stop >"$TMP/ctl.log" 2>&1; then
	hm_not_ok "httpmon-ctl stop when nothing is attached succeeds" "$(cat "$TMP/ctl.log")"
else
	hm_ok "httpmon-ctl stop when nothing is attached succeeds"
fi

# -- uninstall ----------------------------------------------------------------------
echo '# changed by the administrator' >>"$DEST/etc/default/httpmon"
mk install DESTDIR="$DEST"
if grep -q 'changed by the administrator' "$DEST/etc/default/httpmon"; then
	hm_ok "make install keeps an existing /etc/default/httpmon"
else
	hm_not_ok "make install keeps an existing /etc/default/httpmon"
fi
if mk uninstall DESTDIR="$DEST" && [ "$(files "$DEST")" = /etc/default/httpmon ]; then
	hm_ok "make uninstall removes every file but the changed /etc/default/httpmon"
else
	hm_not_ok "make uninstall removes every file but the changed settings" "left: $(files "$DEST")" \
		"$(tail -5 "$TMP/make.log")"
fi
rm -f "$DEST/etc/default/httpmon"
if mk install DESTDIR="$DEST" && mk uninstall DESTDIR="$DEST" && [ -z "$(files "$DEST")" ]; then
	hm_ok "make install, then make uninstall: no file left in DESTDIR"
else
	hm_not_ok "make install, then make uninstall: no file left" "left: $(files "$DEST")"
fi
if [ ! -e "$DEST/usr/local/lib/httpmon" ] && [ ! -e "$DEST/usr/local/share/doc/httpmon" ]; then
	hm_ok "make uninstall removes httpmon's own directories"
else
	hm_not_ok "make uninstall removes httpmon's own directories" "$(cd "$DEST" && find . -path '*httpmon*')"
fi

# -- dist ---------------------------------------------------------------------------
if ! git -C "$HM_ROOT" rev-parse --verify -q HEAD >/dev/null 2>&1; then
	hm_skip "make dist" "not a git checkout"
	hm_done
fi
TARBALL=$HM_BUILD/httpmon-$VERSION.tar.gz
rm -f "$TARBALL"
if mk dist && [ -s "$TARBALL" ]; then
	hm_ok "make dist writes build/httpmon-$VERSION.tar.gz"
else
	hm_not_ok "make dist writes build/httpmon-$VERSION.tar.gz" "$(tail -10 "$TMP/make.log")"
	hm_done
fi
mkdir "$TMP/unpack"
if tar -xzf "$TARBALL" -C "$TMP/unpack" && [ "$(ls "$TMP/unpack")" = "httpmon-$VERSION" ]; then
	hm_ok "the tarball unpacks into httpmon-$VERSION/"
else
	hm_not_ok "the tarball unpacks into httpmon-$VERSION/" "$(ls "$TMP/unpack")"
fi
SRC=$TMP/unpack/httpmon-$VERSION
absent=
for f in Makefile README.md VERSION kern/httpmon.bpf.c kern/httpmon.h user/hm-load/main.c \
	user/hm-stat/main.c user/hm-reset/main.c user/lib/hm_common.c pin/hm_pin.c; do
	[ -f "$SRC/$f" ] || absent="$absent $f"
done
if [ -z "$absent" ]; then
	hm_ok "the tarball holds the Makefile, README.md, VERSION, kern/, user/, pin/"
else
	hm_not_ok "the tarball holds the sources" "missing:$absent"
fi
built=$(cd "$SRC" && find . -name build -o -name '*.o' -o -name '*.skel.h' -o -type f \( -name 'hm-load' \
	-o -name 'hm-stat' -o -name 'hm-reset' -o -name test_parse \) -o -name '*.tar.gz' -o -name .git)
if [ -z "$built" ]; then
	hm_ok "the tarball holds no build output"
else
	hm_not_ok "the tarball holds no build output" "$built"
fi
if [ "$(git -C "$HM_ROOT" archive HEAD | tar -t | grep -v '/$' | sort | md5sum)" = \
	"$(cd "$SRC" && find . -type f -o -type l | sed 's|^\./||' | sort | md5sum)" ]; then
	hm_ok "the tarball holds exactly the files committed at HEAD"
else
	hm_not_ok "the tarball holds exactly the files committed at HEAD"
fi
hm_done
