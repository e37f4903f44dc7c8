#!/usr/bin/env bash
# test_bootstrap.sh - scripts/bootstrap.sh, the README's Quick start.
#
# The Quick start's two lines call it; make check-fresh runs them on a bare
# debootstrap root (it needs the Debian mirror, so it is not part of this
# suite).  Here, on this machine: as root it runs deps.sh and then make with
# its arguments (make -n lab: the lab's commands, nothing run); as a user it
# runs itself again through sudo (a stand-in sudo records how), and without
# sudo it says what to do and exits 1; with no target it exits 2; and it is
# POSIX sh (dash -n, shellcheck -s sh).
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"

hm_require_root
hm_require_cmds make runuser

BOOT=$HM_ROOT/scripts/bootstrap.sh
TMP=$(mktemp -d /tmp/hmb-boot.XXXXXX)
chmod 0755 "$TMP"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM

quick=$(awk '/^## Quick start/ { q = 1 } q && /^```/ { if (b) exit; b = 1; next } b && NF' \
	"$HM_ROOT/README.md" | sed 's/ *#.*//')
if [ "$quick" = "sh scripts/bootstrap.sh lab
sh scripts/bootstrap.sh test" ]; then
	hm_ok "the README's Quick start is 'sh scripts/bootstrap.sh lab' and '... test'"
else
	hm_not_ok "the README's Quick start calls scripts/bootstrap.sh" "$quick"
fi

# As root: deps.sh (nothing missing here), then make -n lab from the tree's root.
if out=$(cd /tmp && sh "$BOOT" -n lab 2>&1) && grep -q 'scripts/lab.sh' <<<"$out"; then
	hm_ok "as root: deps.sh, then make in the tree (make -n lab prints scripts/lab.sh)"
else
	hm_not_ok "as root: deps.sh, then make in the tree" "$out"
fi

hm_run sh "$BOOT"
[ "$rc" -eq 2 ] && [[ $err == usage:* ]]
hm_judge $? "no target: usage on stderr, exit 2" "exit $rc: $err"

# As a user: a copy the user can read (the tree may be in root's home), and a
# stand-in sudo that records its arguments.
mkdir -p "$TMP/bin" "$TMP/tree/scripts"
cp "$BOOT" "$TMP/tree/scripts/"
chmod -R go+rX "$TMP/tree"
UBOOT=$TMP/tree/scripts/bootstrap.sh
cat >"$TMP/bin/sudo" <<EOF
#!/bin/sh
printf '%s\n' "\$@" >$TMP/sudo.args
EOF
chmod 0755 "$TMP/bin/sudo"
touch "$TMP/sudo.args"
chmod 0666 "$TMP/sudo.args"
if runuser -u nobody -- env PATH="$TMP/bin:/usr/bin:/bin" sh "$UBOOT" lab >"$TMP/out" 2>&1 &&
	[ "$(cat "$TMP/sudo.args")" = "--
sh
$UBOOT
lab" ]; then
	hm_ok "as a user: runs itself again with sudo (sudo -- sh .../scripts/bootstrap.sh lab)"
else
	hm_not_ok "as a user: runs itself again with sudo" "$(cat "$TMP/out")" "args: $(cat "$TMP/sudo.args")"
fi
hm_run runuser -u nobody -- env PATH=/usr/bin:/bin sh "$UBOOT" lab
if ! command -v sudo >/dev/null || [ "$(command -v sudo)" != /usr/bin/sudo ]; then
	[ "$rc" -eq 1 ] && [[ $err == *"run it as root, or install sudo"* ]]
	hm_judge $? "as a user without sudo: says to run it as root or install sudo, exit 1" "exit $rc: $err"
else
	hm_skip "as a user without sudo" "sudo is installed in /usr/bin"
fi

if dash -n "$BOOT" 2>"$TMP/err"; then
	hm_ok "dash -n accepts it (POSIX sh, as on a bare root)"
else
	hm_not_ok "dash -n accepts it" "$(cat "$TMP/err")"
fi
if command -v shellcheck >/dev/null; then
	hm_check "shellcheck -s sh accepts it" shellcheck -s sh "$BOOT"
fi
hm_done
