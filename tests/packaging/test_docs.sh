#!/usr/bin/env bash
# test_docs.sh - the man pages and the bash completion against the tools.
#
# Every page in man/ renders with groff -ww and man -l without a warning and
# fits 80 columns; it has the sections a page needs; its OPTIONS, EXIT STATUS
# and environment agree with the tool's --help (options in either one's list
# must be in the other's).  The completion file sources cleanly, offers each
# tool's options as --help lists them, and offers for hm-stat --by and --sort
# exactly the values hm-stat accepts among those its help names.
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"

hm_require_cmds groff man python3
hm_require_build hm-load hm-stat hm-reset

TMP=$(mktemp -d /tmp/hmd-docs.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM

MAN=$HM_ROOT/man
COMPLETION=$HM_ROOT/dist/httpmon.bash-completion
TOOLS="hm-load hm-stat hm-reset httpmon-ctl"
VERSION=$(cat "$HM_ROOT/VERSION")
export LC_ALL=C.UTF-8 MANWIDTH=80

# help TOOL: the tool's --help on stdout.
help() {
	if [ "$1" = httpmon-ctl ]; then
		bash "$HM_ROOT/dist/httpmon-ctl.in" --help
	else
		"$HM_BUILD/$1" --help
	fi
}

# -- rendering -----------------------------------------------------------------
for t in $TOOLS; do
	page=$MAN/$t.8
	if [ ! -e "$page" ]; then
		hm_not_ok "man page $t.8 exists"
		continue
	fi
	if groff -ww -man -Tutf8 "$page" >"$TMP/out" 2>"$TMP/err" && [ ! -s "$TMP/err" ]; then
		hm_ok "$t.8: groff -ww -man renders it without warnings"
	else
		hm_not_ok "$t.8: groff -ww -man renders it without warnings" "$(head -20 "$TMP/err")"
	fi
	if man --warnings=w -l "$page" >"$TMP/man.txt" 2>"$TMP/err" && [ ! -s "$TMP/err" ] &&
		[ -s "$TMP/man.txt" ]; then
		hm_ok "$t.8: man -l renders it without warnings"
	else
		hm_not_ok "$t.8: man -l renders it without warnings" "$(head -20 "$TMP/err")"
	fi
	long=$(awk 'length($0) > 80' "$TMP/man.txt")
	if [ -z "$long" ]; then
		hm_ok "$t.8: every rendered line fits 80 columns"
	else
		hm_not_ok "$t.8: every rendered line fits 80 columns" "$long"
	fi
	sections="NAME SYNOPSIS DESCRIPTION OPTIONS EXIT.STATUS ENVIRONMENT FILES EXAMPLES SEE.ALSO"
	[ "$t" = httpmon-ctl ] || sections="$sections OVERHEAD"
	absent=
	for s in $sections; do
		grep -qE "^\.SH \"?${s}\"?\$" "$page" || absent="$absent ${s/./ }"
	done
	if [ -z "$absent" ]; then
		hm_ok "$t.8: has the sections ${sections//./ }"
	else
		hm_not_ok "$t.8: has the sections it needs" "missing:$absent"
	fi
	if grep -qE "^\.TH [^ ]+ 8 [0-9-]+ \"httpmon ${VERSION//./\\.}\"" "$page"; then
		hm_ok "$t.8: .TH names section 8 and httpmon $VERSION"
	else
		hm_not_ok "$t.8: .TH names section 8 and httpmon $VERSION" "$(grep '^\.TH' "$page")"
	fi
done

# -- help and man page agree ------------------------------------------------------
# The comparison, in Python: prints "ok<TAB>name" or "fail<TAB>name<TAB>detail".
cat >"$TMP/agree.py" <<'EOF'
import re, sys

tool, help_file, page_file = sys.argv[1:4]
help_text = open(help_file).read()
page = open(page_file).read()

def help_block(title):
    """Lines after "Title:" up to the next blank line."""
    m = re.search(r"^%s:\n((?:.+\n)+)" % re.escape(title), help_text, re.M)
    return m.group(1) if m else ""

def man_section(name):
    m = re.search(r'^\.SH "?%s"?\n(.*?)(?=^\.SH |\Z)' % re.escape(name), page, re.M | re.S)
    return m.group(1) if m else ""

def unroff(text):
    return re.sub(r"\\f[BIRP]", "", text).replace("\\-", "-")

def opts(text):
    longs = set(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*)", text))
    shorts = set(re.findall(r"(?<![\w-])-([a-zA-Z])(?![\w-])", text))
    return longs, shorts

# Options each one lists: help's "Options:" lines that start with an option,
# the man page's .TP tags in OPTIONS.
help_defined = opts("\n".join(l for l in help_block("Options").splitlines()
                              if re.match(r"\s+-", l)))
tags = re.findall(r"^\.TP\n(.*)$", man_section("OPTIONS"), re.M)
man_defined = opts(unroff("\n".join(tags)))

def report(name, a, b, what_a, what_b):
    if a == b:
        print("ok\t%s" % name)
    else:
        print("fail\t%s\tonly in %s: %s; only in %s: %s" % (
            name, what_a, sorted(a - b), what_b, sorted(b - a)))

report("%s: long options of --help and the man page's OPTIONS are the same" % tool,
       help_defined[0], man_defined[0], "--help", "man page")
report("%s: short options of --help and the man page's OPTIONS are the same" % tool,
       help_defined[1], man_defined[1], "--help", "man page")

mentioned = opts(help_text)[0] - opts(unroff(page))[0]
if mentioned:
    print("fail\t%s: every option --help mentions is in the man page\tmissing: %s"
          % (tool, sorted(mentioned)))
else:
    print("ok\t%s: every option --help mentions is in the man page" % tool)

def exit_codes(text):
    return set(re.findall(r"(?:^|[\s,])([0-9])(?=\s+\S)", text))

help_exit = exit_codes(help_block("Exit status"))
man_exit = set(re.findall(r"^\.TP\n\.B ([0-9]+)$", man_section("EXIT STATUS"), re.M))
report("%s: --help and the man page list the same exit statuses" % tool,
       help_exit, man_exit, "--help", "man page")

env = set(re.findall(r"\bHTTPMON_[A-Z_]+", help_text)) - set(re.findall(r"\bHTTPMON_[A-Z_]+", page))
if env:
    print("fail\t%s: the environment variables of --help are in the man page\tmissing: %s"
          % (tool, sorted(env)))
else:
    print("ok\t%s: the environment variables of --help are in the man page" % tool)
EOF

for t in $TOOLS; do
	[ -e "$MAN/$t.8" ] || continue
	if ! help "$t" >"$TMP/$t.help" 2>"$TMP/err"; then
		hm_not_ok "$t --help exits 0" "$(cat "$TMP/err")"
		continue
	fi
	python3 "$TMP/agree.py" "$t" "$TMP/$t.help" "$MAN/$t.8" >"$TMP/agree.out" 2>&1 ||
		hm_not_ok "$t: comparison ran" "$(cat "$TMP/agree.out")"
	while IFS=$'\t' read -r status name detail; do
		case $status in
		ok) hm_ok "$name" ;;
		fail) hm_not_ok "$name" "$detail" ;;
		esac
	done <"$TMP/agree.out"
done

# -- bash completion ----------------------------------------------------------------
if out=$(bash --norc --noprofile -c 'set -u; . "$1"' _ "$COMPLETION" 2>&1) && [ -z "$out" ]; then
	hm_ok "completion file sources cleanly (set -u, no output)"
else
	hm_not_ok "completion file sources cleanly (set -u, no output)" "$out"
fi

# complete WORD...: the candidates bash would offer for the command line
# WORD... (the last word is the one being completed), one per line, sorted.
complete_line() {
	bash --norc --noprofile -c '
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		fn=$(complete -p "$1" | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
		"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$COMPLETION" "$@" | sed '/^$/d' | sort
}

# expect_completion NAME "WANTED (sorted, space-separated)" WORD...
expect_completion() {
	local name=$1 want=$2 got
	shift 2
	got=$(complete_line "$@" | tr '\n' ' ')
	got=${got% }
	if [ "$got" = "$want" ]; then
		hm_ok "$name"
	else
		hm_not_ok "$name" "wanted: $want" "got:    $got"
	fi
}

for t in $TOOLS; do
	if bash --norc --noprofile -c '. "$1"; complete -p "$2"' _ "$COMPLETION" "$t" >/dev/null 2>&1; then
		hm_ok "completion is registered for $t"
	else
		hm_not_ok "completion is registered for $t"
	fi
	[ -s "$TMP/$t.help" ] || continue
	want=$(grep -A100 '^Options:' "$TMP/$t.help" | sed '/^$/q' | grep -E '^\s+-' |
		grep -oE -- '--[a-z][a-z0-9-]*' | sort -u | tr '\n' ' ')
	expect_completion "completion: '$t --' offers the options of its --help" "${want% }" "$t" --
done

expect_completion "completion: 'hm-stat --by ' offers client, port, port,client, route, iface, host, host,route, process" \
	"client host host,route iface port port,client process route" hm-stat --by ""
expect_completion "completion: 'hm-stat --by=' offers the same" \
	"client host host,route iface port port,client process route" hm-stat --by = ""
expect_completion "completion: 'hm-stat --format ' offers the formats" \
	"csv json prometheus table" hm-stat --format ""
expect_completion "completion: 'hm-stat --source ' offers the sources" \
	"all packet socket" hm-stat --source ""
expect_completion "completion: 'hm-stat --by po' offers port, port,client" \
	"port port,client" hm-stat --by po
expect_completion "completion: 'httpmon-ctl st' offers start, status, stop" \
	"start status stop" httpmon-ctl st

# --sort: the words of hm-stat's --help description that hm-stat accepts.
desc=$(sed -n '/^  --sort/,/^  --[a-z]/p' "$TMP/hm-stat.help" | sed '$d')
accepted=
for w in $(grep -oE '[a-z0-9_]+' <<<"$desc" | sort -u); do
	"$HM_BUILD/hm-stat" --sort "$w" --pin-path "$TMP/none" >/dev/null 2>&1
	[ $? -ne 2 ] && accepted="$accepted $w"
done
accepted=$(tr ' ' '\n' <<<"$accepted" | sed '/^$/d' | sort | tr '\n' ' ')
if [ -n "$accepted" ]; then
	expect_completion "completion: 'hm-stat --sort ' offers exactly the fields hm-stat accepts" \
		"${accepted% }" hm-stat --sort ""
else
	hm_not_ok "hm-stat accepts the --sort fields of its help" "$desc"
fi

if complete_line hm-load "" | grep -qx lo; then
	hm_ok "completion: 'hm-load ' offers interface names (lo)"
else
	hm_not_ok "completion: 'hm-load ' offers interface names (lo)" "$(complete_line hm-load "")"
fi
for o in --group --reader-group; do
	if complete_line hm-load "$o" ro | grep -qx root; then
		hm_ok "completion: 'hm-load $o ro' offers the group root"
	else
		hm_not_ok "completion: 'hm-load $o ro' offers the group root"
	fi
done

# -- the README's hostile-input table names tests that exist ------------------------
table=$(sed -n '/^### Hostile input/,/^### \|^## /p' "$HM_ROOT/README.md")
names=$(printf '%s\n' "$table" | grep -o 'test_parse: [a-z0-9_]*' | sed 's/test_parse: //' | sort -u)
scripts=$(printf '%s\n' "$table" | grep -o 'tests/[a-z0-9_/]*\.sh' | sort -u)
numbers=$(printf '%s\n' "$table" | sed -n 's/^| \([0-9][0-9]*\) |.*/\1/p' | paste -sd' ')
cases=$(wc -w <<<"$numbers")
if [ "$cases" -ge 25 ] && [ "$numbers" = "$(seq -s' ' 1 "$cases")" ]; then
	hm_ok "README: the hostile-input table numbers its $cases cases 1..$cases"
else
	hm_not_ok "README: the hostile-input table numbers its cases 1..N (at least 25)" "$numbers"
fi
missing=
for n in $names; do
	grep -q "{ \"$n\", test_$n }" "$HM_ROOT/tests/unit/parse/main.c" || missing="$missing test_parse:$n"
done
for f in $scripts; do
	[ -e "$HM_ROOT/$f" ] || missing="$missing $f"
done
if [ -n "$names" ] && [ -z "$missing" ]; then
	hm_ok "README: every test the hostile-input table names exists ($(echo $names $scripts | wc -w))"
else
	hm_not_ok "README: every test the hostile-input table names exists" "missing:$missing"
fi

hm_done
