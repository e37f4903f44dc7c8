#!/usr/bin/env bash
# test_tool_input.sh - hm-load, hm-stat and hm-reset on bad command lines.
#
# Every bad --ports list gets one printable line naming the element and exit
# status 2; ranges A-B are accepted and land in hm_config bit for bit (read
# back with bpftool).  Every option the tools' --help lists is tried without
# its value (or, for those that take none, with one): the message names the
# option as given, never another one.  Unknown and ambiguous options are
# named as such.
#
# Names: namespace hmti<pid> with veths hmti<pid>a/b, pins in
# /sys/fs/bpf/hmti-<pid>.  No addresses are configured.
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"

hm_require_root
hm_require_cmds ip nsenter bpftool jq
hm_require_build hm-load hm-stat hm-reset
hm_bpffs_ensure || { hm_not_ok "bpffs mounted on /sys/fs/bpf"; hm_done; }

ID=$$
NS=hmti$ID
IF_A=hmti${ID}a
IF_B=hmti${ID}b
PIN=/sys/fs/bpf/hmti-$ID
LOAD=$HM_BUILD/hm-load

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	ip netns del "$NS" 2>/dev/null
	rm -rf "$PIN"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
hm_pins_cleanup_stale hmti-
for ns in $(ip netns list | awk '/^hmti[0-9]+( |$)/ { print $1 }'); do
	kill -0 "${ns#hmti}" 2>/dev/null || ip netns del "$ns"
done
if ! { ip netns add "$NS" && ip -n "$NS" link add "$IF_A" type veth peer name "$IF_B" &&
	ip -n "$NS" link set "$IF_A" up && ip -n "$NS" link set "$IF_B" up; } 2>/dev/null; then
	hm_not_ok "namespace $NS with a veth pair"
	hm_done
fi
# shellcheck disable=SC2317 # called through hm_run
in_ns() { nsenter --net="/run/netns/$NS" -- "$@"; }
# Whatever a command line does by mistake, it does it in our namespace and pin directory.
export HTTPMON_PIN_PATH=$PIN

# -- --ports ---------------------------------------------------------------------------
# bad_ports NAME LIST WHAT: one line, exit 2, the element named (WHAT: a regex).
bad_ports() {
	hm_run in_ns "$LOAD" --ports "$2" "$IF_A"
	if [ "$rc" -eq 2 ] && [ "$(wc -l <<<"$err")" -eq 1 ] && [[ $err =~ $3 ]] &&
		! LC_ALL=C grep -q '[^[:print:]]' <<<"$err" && [ ! -e "$PIN" ]; then
		hm_ok "$1"
	else
		hm_not_ok "$1" "exit $rc, wanted 2; stderr matching: $3" "stderr: $err"
	fi
}
# shellcheck disable=SC2001 # a character class, not one string
elem_re() { # the message for a bad element $1 of list $2 (both literal)
	local e l
	e=$(sed 's/[][\\.*^$+?(){}|]/\\&/g' <<<"$1")
	l=$(sed 's/[][\\.*^$+?(){}|]/\\&/g' <<<"$2")
	echo "^hm-load: invalid element '$e' in --ports '$l' \(ports 1-65535 or ranges A-B with A <= B, comma-separated\); see hm-load --help$"
}
for case in '70000|70000|70000' '0|0|0' 'a,b|a|a,b' '-1|-1|-1' '65536|65536|65536' \
	'100-1|100-1|100-1' '1-2-3|1-2-3|1-2-3' '80 |80 |80 ' '8080,x9|x9|8080,x9' \
	'1-70000|1-70000|1-70000'; do
	IFS='|' read -r list elem _ <<<"$case"
	bad_ports "--ports '$list': exit 2, one line naming '$elem'" "$list" "$(elem_re "$elem" "$list")"
done
for list in '80,' ',80' '1,,2'; do
	bad_ports "--ports '$list': exit 2, one line saying an element is empty" "$list" \
		"^hm-load: empty element in --ports '$list' \(ports 1-65535 or ranges A-B, comma-separated\); see hm-load --help$"
done
bad_ports "--ports '': exit 2, one line asking for a port" "" \
	"^hm-load: --ports needs at least one port; see hm-load --help$"

# The filter hm-load wrote, from hm_config's raw bytes: the port bitmap is
# its last member (65536 bits, little-endian words), flags its second u32.
# Prints the watched ports, comma-separated, or "all" without the filter flag.
pinned_ports() {
	bpftool -j map lookup pinned "$PIN/hm_config" key 0 0 0 0 | python3 -c '
import json, sys
v = bytes(int(b, 16) for b in json.load(sys.stdin)["value"])
bitmap = v[-8192:]
if not int.from_bytes(v[4:8], "little") & 1:
    print("all")
else:
    print(",".join(str(p) for p in range(65536) if bitmap[p // 8] >> (p % 8) & 1))'
}
hm_run in_ns "$LOAD" --ports 1-100,8080,65535,8000-8002,90 "$IF_A"
want=$( (seq 1 100; echo 8080; echo 65535; seq 8000 8002) | sort -n | paste -sd,)
got=$(pinned_ports 2>&1)
[ "$rc" -eq 0 ] && [ "$got" = "$want" ]
hm_judge $? "--ports 1-100,8080,65535,8000-8002,90: exit 0, hm_config watches exactly those ports" \
	"exit $rc: $err" "want $want" "got  $got"
hm_run in_ns "$LOAD" --ports 8080,70000 "$IF_A"
[ "$rc" -eq 2 ] && [ "$(pinned_ports 2>&1)" = "$want" ]
hm_judge $? "--ports 8080,70000 on a loaded set: exit 2, the filter is left as it was" "exit $rc: $err"
hm_run in_ns "$LOAD" --ports 65535 "$IF_A"
[ "$rc" -eq 0 ] && [ "$(pinned_ports 2>&1)" = 65535 ]
hm_judge $? "--ports 65535: exit 0, only port 65535 is watched" "exit $rc: $err" "$(pinned_ports 2>&1)"
# --no-hosts and --hosts flip one flag of hm_config, live; both at once contradict.
pinned_flags() {
	bpftool -j map lookup pinned "$PIN/hm_config" key 0 0 0 0 |
		python3 -c 'import json, sys; v = json.load(sys.stdin)["value"]; print(int(v[4], 16))'
}
hm_run in_ns "$LOAD" --no-hosts "$IF_A"
[ "$rc" -eq 0 ] && [ $(($(pinned_flags) & 2)) -eq 2 ] && [ $(($(pinned_flags) & 1)) -eq 1 ]
hm_judge $? "--no-hosts: exit 0, hm_config says no hosts, the port filter kept" "exit $rc: $err"
hm_run in_ns "$LOAD" --hosts --no-hosts "$IF_A"
[ "$rc" -eq 2 ] && [ "$(wc -l <<<"$err")" -eq 1 ] && [[ $err == *contradict* ]] &&
	[ $(($(pinned_flags) & 2)) -eq 2 ]
hm_judge $? "--hosts --no-hosts: exit 2, one line, the setting left as it was" "exit $rc: $err"
hm_run in_ns "$LOAD" --hosts "$IF_A"
[ "$rc" -eq 0 ] && [ $(($(pinned_flags) & 2)) -eq 0 ]
hm_judge $? "--hosts: exit 0, hosts read again" "exit $rc: $err"
hm_run in_ns "$LOAD" --pin-path "$PIN" --detach --all
[ "$rc" -eq 0 ] && [ ! -e "$PIN" ]
hm_judge $? "--detach --all: exit 0, pins gone" "exit $rc: $err"

# -- options without their value, values for options that take none ------------------------
# help_options TOOL: "SHORT NAME ARG" per option line of TOOL --help's Options
# section (SHORT "-" when none, ARG "-" when it takes no value); options with
# an optional value (--xdp[=MODE], --hist [WHICH]) are left out.
help_options() {
	"$1" --help | sed -n '/^Options:/,/^[A-Z]/p' | while IFS= read -r line; do
		[[ $line =~ ^\ {2,6}(-([A-Za-z]),\ )?--([a-z0-9-]+)(\[|\ \[|\ ([A-Z][A-Z:]*)(\ |$)|\ |$) ]] ||
			continue
		[[ ${BASH_REMATCH[4]} == *"["* ]] && continue
		echo "${BASH_REMATCH[2]:--} ${BASH_REMATCH[3]} ${BASH_REMATCH[5]:--}"
	done
}
for tool in hm-load hm-stat hm-reset; do
	bin=$HM_BUILD/$tool
	help_options "$bin" >"/tmp/hmti-$ID.opts"
	nval=0 nnone=0 bad_val=() bad_none=()
	while read -r short name arg; do
		if [ "$arg" != - ]; then
			nval=$((nval + 1))
			hm_run in_ns "$bin" "--$name"
			[ "$rc" -eq 2 ] && [ "$err" = "$tool: option '--$name' needs a value; see $tool --help" ] ||
				bad_val+=("--$name: exit $rc: $err")
			if [ "$short" != - ]; then
				hm_run in_ns "$bin" "-$short"
				[ "$rc" -eq 2 ] && [ "$err" = "$tool: option '-$short' needs a value; see $tool --help" ] ||
					bad_val+=("-$short: exit $rc: $err")
			fi
		else
			nnone=$((nnone + 1))
			hm_run in_ns "$bin" "--$name=1"
			[ "$rc" -eq 2 ] && [ "$err" = "$tool: option '--$name' takes no value; see $tool --help" ] ||
				bad_none+=("--$name=1: exit $rc: $err")
		fi
	done <"/tmp/hmti-$ID.opts"
	rm -f "/tmp/hmti-$ID.opts"
	[ "$nval" -gt 0 ] && [ ${#bad_val[@]} -eq 0 ]
	hm_judge $? "$tool: each of its $nval options that need a value, given none: \"option '--NAME' needs a value\", exit 2" \
		"${bad_val[@]}"
	[ "$nnone" -gt 0 ] && [ ${#bad_none[@]} -eq 0 ]
	hm_judge $? "$tool: each of its $nnone options that take no value, given one: \"option '--NAME' takes no value\", exit 2" \
		"${bad_none[@]}"
	hm_expect_fail "$tool -x: exit 2, unknown option '-x'" 2 "^$tool: unknown option '-x'; see $tool --help$" \
		in_ns "$bin" -x
	hm_expect_fail "$tool --frobnicate=3: exit 2, unknown option '--frobnicate'" 2 \
		"^$tool: unknown option '--frobnicate'; see $tool --help$" in_ns "$bin" --frobnicate=3
done
hm_expect_fail "hm-load --all -xv: exit 2, the unknown letter named" 2 \
	"^hm-load: unknown option '-x'; see hm-load --help$" in_ns "$LOAD" --all -xv
hm_expect_fail "hm-load --gr (--group or --group-by): exit 2, ambiguous" 2 \
	"^hm-load: option '--gr' is ambiguous \(an abbreviation of more than one option\); see hm-load --help$" \
	in_ns "$LOAD" --gr x "$IF_A"
hm_expect_fail "hm-load --pin (abbreviation) without its value: exit 2, names --pin-path" 2 \
	"^hm-load: option '--pin-path' needs a value; see hm-load --help$" in_ns "$LOAD" --pin
[ ! -e "$PIN" ]
hm_judge $? "... and none of these command lines created a pin directory" "$(ls -la "$PIN" 2>&1)"

hm_done
