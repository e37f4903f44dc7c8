#!/usr/bin/env bash
# test_rules.sh - the Prometheus rules shipped in dist/httpmon.rules.yml.
#
# promtool check rules accepts them; promtool test rules passes
# tests/prom/httpmon.rules.test.yml, whose input series drive every rule;
# and that file covers every rule: each recording rule is evaluated by an
# expression test, each alert has a test where it fires and one where it
# must not (before its "for" has run out, or below its threshold).  The
# metric names the rules read are ones hm-stat --format prometheus writes
# (or node_exporter's textfile collector serves).
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"

hm_require_cmds promtool python3

RULES=$HM_ROOT/dist/httpmon.rules.yml
TESTS=$HM_ROOT/tests/prom/httpmon.rules.test.yml
TMP=$(mktemp -d /tmp/hmr-rules.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM

if promtool check rules "$RULES" >"$TMP/check" 2>&1; then
	hm_ok "promtool check rules dist/httpmon.rules.yml: $(grep -o '[0-9]* rules found' "$TMP/check")"
else
	hm_not_ok "promtool check rules dist/httpmon.rules.yml" "$(cat "$TMP/check")"
fi
if promtool test rules "$TESTS" >"$TMP/test" 2>&1; then
	hm_ok "promtool test rules tests/prom/httpmon.rules.test.yml"
else
	hm_not_ok "promtool test rules tests/prom/httpmon.rules.test.yml" "$(cat "$TMP/test")"
fi

if ! python3 -c 'import yaml' 2>/dev/null; then
	hm_skip "every rule has a unit test" "python3-yaml not installed (scripts/deps.sh)"
	hm_done
fi
python3 - "$RULES" "$TESTS" "$HM_ROOT/kern/httpmon.h" >"$TMP/cover" 2>&1 <<'EOF'
import re, sys, yaml

rules_doc = yaml.safe_load(open(sys.argv[1]))
tests_doc = yaml.safe_load(open(sys.argv[2]))
rules = [r for g in rules_doc["groups"] for r in g["rules"]]
records = [r["record"] for r in rules if "record" in r]
alerts = [r["alert"] for r in rules if "alert" in r]

exprs, fired, quiet = [], set(), set()
for t in tests_doc["tests"]:
    for e in t.get("promql_expr_test", []):
        exprs.append(e["expr"])
    for a in t.get("alert_rule_test", []):
        (fired if a.get("exp_alerts") else quiet).add(a["alertname"])

def result(name, bad):
    print("ok\t%s" % name if not bad else "fail\t%s\t%s" % (name, "; ".join(bad)))

result("every recording rule (%d) is evaluated by an expression test" % len(records),
       [r for r in records if not any(re.search(r"(?<![\w:])%s(?![\w:])" % re.escape(r), e)
                                      for e in exprs)])
result("every alert (%d) has a test where it fires" % len(alerts),
       [a for a in alerts if a not in fired])
result("every alert has a test where it must stay quiet",
       [a for a in alerts if a not in quiet])
result("alert names are unique", sorted({a for a in alerts if alerts.count(a) > 1}))

# Metric names the rules read must exist: hm-stat's families and self-metrics
# (named after the kernel's counter table).
kern = open(sys.argv[3]).read()
monitor = set(re.findall(r'X\(\w+, "(\w+)"', kern))
counters = {"requests", "responses", "unanswered", "bytes_in", "bytes_out"}
known = {"httpmon_%s_total" % c for c in counters}
known |= {"httpmon_monitor_%s_total" % m for m in monitor}
known |= {"httpmon_request_duration_seconds_bucket", "node_textfile_mtime_seconds"}
used, recorded = set(), set()
for r in rules:
    used |= set(re.findall(r"(?<![\w:])((?:httpmon|node)_\w+)(?![\w:])", r["expr"]))
    recorded |= set(re.findall(r"(?<![\w:])(\w+:\w+:\w+)", r["expr"]))
    used |= {"httpmon_monitor_%s_full_total" % m
             for m in re.findall(r'"map", "(\w+)"', r["expr"])}
result("the rules read only metrics hm-stat writes (%d names)" % len(used),
       sorted(u for u in used if u not in known))
result("the alerts read only series the recording rules record",
       sorted(r for r in recorded if r not in records))
EOF
while IFS=$'\t' read -r status name detail; do
	case $status in
	ok) hm_ok "$name" ;;
	fail) hm_not_ok "$name" "$detail" ;;
	*) hm_not_ok "coverage check ran" "$(cat "$TMP/cover")" ;;
	esac
done <"$TMP/cover"

hm_done
