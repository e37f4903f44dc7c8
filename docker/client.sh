#!/bin/sh
# client.sh - the demo's load client: batches of GET requests with curl, one
# keep-alive connection per batch, taking the origin's ports in turn, and a
# running tally of the answers to compare with hm-stat.
#
# Environment:
#   HTTPMON_TARGET     origin address (default 172.28.0.1, the compose
#                      network's gateway)
#   HTTPMON_PORTS      ports, separated by spaces (default "8080 8888")
#   HTTPMON_REQUESTS   requests in all; 0 runs until stopped (default 0)
#   HTTPMON_BATCH      requests per connection (default 10)
#   HTTPMON_PAUSE      seconds between batches (default 0.5)
#   HTTPMON_REPORT     print the tally every N batches (default 20)
set -u

target=${HTTPMON_TARGET:-172.28.0.1}
ports=${HTTPMON_PORTS:-8080 8888}
requests=${HTTPMON_REQUESTS:-0}
batch=${HTTPMON_BATCH:-10}
pause=${HTTPMON_PAUSE:-0.5}
report_every=${HTTPMON_REPORT:-20}

for v in "$requests" "$batch" "$report_every"; do
	case $v in '' | *[!0-9]*) echo "client.sh: HTTPMON_REQUESTS, HTTPMON_BATCH and HTTPMON_REPORT must be numbers" >&2; exit 2 ;; esac
done
[ "$batch" -gt 0 ] || batch=1

sent=0
batches=0

# count PORT CLASS: one more answer of CLASS (2xx..5xx, or fail: no answer).
count() {
	eval "n_$1_$2=\$((\${n_$1_$2:-0} + 1))"
}

report() {
	for p in $ports; do
		eval "echo \"client: port $p: 2xx \${n_${p}_2xx:-0}, 3xx \${n_${p}_3xx:-0}, 4xx \${n_${p}_4xx:-0}, 5xx \${n_${p}_5xx:-0}, no answer \${n_${p}_fail:-0}\""
	done
	echo "client: $sent requests sent to $target"
}

trap 'report; exit 0' TERM INT

while [ "$requests" -eq 0 ] || [ "$sent" -lt "$requests" ]; do
	for port in $ports; do
		n=$batch
		if [ "$requests" -gt 0 ] && [ $((requests - sent)) -lt "$n" ]; then
			n=$((requests - sent))
		fi
		[ "$n" -gt 0 ] || break
		set --
		i=0
		while [ "$i" -lt "$n" ]; do
			set -- "$@" -o /dev/null "http://$target:$port/"
			i=$((i + 1))
		done
		for code in $(curl -s --max-time 30 -w '%{http_code}\n' "$@"); do
			case $code in
			2??) count "$port" 2xx ;;
			3??) count "$port" 3xx ;;
			4??) count "$port" 4xx ;;
			5??) count "$port" 5xx ;;
			*) count "$port" fail ;;
			esac
		done
		sent=$((sent + n))
		batches=$((batches + 1))
		[ "$report_every" -gt 0 ] && [ $((batches % report_every)) -eq 0 ] && report
		sleep "$pause"
	done
done
report
