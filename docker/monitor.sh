#!/bin/sh
# monitor.sh - entry point of the httpmon monitor container.
#
# With arguments, runs them (docker compose exec/run monitor hm-stat ...).
# Without, attaches httpmon to the interfaces in HTTPMON_INTERFACES
# (httpmon-ctl start; HTTPMON_OPTIONS, HTTPMON_PIN_PATH and
# HTTPMON_WAIT_SECONDS as in /etc/default/httpmon), then either exits
# (HTTPMON_KEEP_RUNNING=0: the classifier keeps counting with no process) or
# waits, and detaches when the container is stopped (the default).
set -u

if [ $# -gt 0 ]; then
	exec "$@"
fi

: "${HTTPMON_WAIT_SECONDS:=30}"
export HTTPMON_WAIT_SECONDS
httpmon-ctl start || exit 1
if [ "${HTTPMON_KEEP_RUNNING:-1}" = 0 ]; then
	echo "httpmon-monitor: attached; exiting (detach with: hm-load --detach IFACE)"
	exit 0
fi

stop() {
	httpmon-ctl stop
	rc=$?
	[ -n "${sleeper:-}" ] && kill "$sleeper" 2>/dev/null
	exit "$rc"
}
trap stop TERM INT
echo "httpmon-monitor: attached; read the counters with hm-stat, stop the container to detach"
sleep infinity &
sleeper=$!
wait "$sleeper"
