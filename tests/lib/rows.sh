# shellcheck shell=bash
# rows.sh - one row of counts as words, from hm-stat's JSON and from the
# clients' own truth, so a test compares the two as strings.
#
# Source it after tap.sh; it defines functions only.  Every function prints
# the same words:
#   requests N responses N unanswered N 1xx N 2xx N 3xx N 4xx N 5xx N bytes_in N bytes_out N
#
# hm_row FILE VIEW [KEY=VALUE...]: the row of hm-stat --json FILE in VIEW
#   (clients, ports, port_clients, routes, ifaces, or total) whose fields
#   equal the KEY=VALUEs (e.g. port=8080 ip=10.0.0.2; values are compared
#   as text); all-zero words when there is none, the sum when there are
#   several.
# hm_truth FILE...: the "total" of client.py-format files (client.py,
#   conn_client.py, edge_client.py) summed; unanswered = requests - responses.
# hm_curl_truth FILE...: lines of curl -w '%{http_code} %{size_request}
#   %{size_header} %{size_download}' summed: a transfer is a request, a code
#   other than 000 a response; bytes in = size_request (headers and the
#   body sent with them: a body sent after "100 Continue" is not in it),
#   bytes out = size_header + size_download (interim heads included).
# hm_expect NAME GOT WANT [DETAIL...]: ok when GOT equals WANT.
# hm_mon FILE NAME: a self-metric from hm-stat --json FILE ("missing" when absent).

# shellcheck disable=SC2016 # jq's own \(...), not the shell's
HM_ROW_JQ='def w: "requests \(.requests // 0) responses \(.responses // 0) unanswered \(.unanswered // 0) 1xx \(.status["1xx"] // 0) 2xx \(.status["2xx"] // 0) 3xx \(.status["3xx"] // 0) 4xx \(.status["4xx"] // 0) 5xx \(.status["5xx"] // 0) bytes_in \(.bytes_in // 0) bytes_out \(.bytes_out // 0)";
def sumrows: reduce .[] as $r ({requests: 0, responses: 0, unanswered: 0, bytes_in: 0, bytes_out: 0, status: {"1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0}};
	.requests += ($r.requests // 0) | .responses += ($r.responses // 0) |
	.unanswered += ($r.unanswered // 0) | .bytes_in += ($r.bytes_in // 0) |
	.bytes_out += ($r.bytes_out // 0) |
	.status |= with_entries(.value += ($r.status[.key] // 0)));'

hm_row() {
	local file=$1 view=$2 kv filt='true'
	shift 2
	for kv in "$@"; do
		filt="$filt and ((.${kv%%=*} | tostring) == \"${kv#*=}\")"
	done
	if [ "$view" = total ]; then
		jq -r "$HM_ROW_JQ [.total // {}] | sumrows | w" "$file"
	else
		jq -r "$HM_ROW_JQ [(.$view // [])[] | select($filt)] | sumrows | w" "$file"
	fi
}

hm_truth() {
	jq -rs "$HM_ROW_JQ [.[].total | .unanswered = (.requests - .responses)] | sumrows | w" "$@"
}

hm_curl_truth() {
	cat "$@" | awk '
		NF >= 4 { n++; if ($1 != "000") { r++; c[substr($1, 1, 1)]++ }; bin += $2; bout += $3 + $4 }
		END { printf "requests %d responses %d unanswered %d 1xx %d 2xx %d 3xx %d 4xx %d 5xx %d bytes_in %d bytes_out %d\n",
			n, r, n - r, c[1], c[2], c[3], c[4], c[5], bin, bout }'
}

hm_expect() {
	local name=$1 got=$2 want=$3
	shift 3
	if [ "$got" = "$want" ]; then
		hm_ok "$name"
	else
		hm_not_ok "$name" "got:  $got" "want: $want" "$@"
	fi
}

hm_mon() { jq -r --arg k "$2" '.monitor[$k] // "missing"' "$1"; }
