# shellcheck shell=bash
# sock.sh - what the socket source's tests share.  Source it after tap.sh
# and e2e.sh (it uses TMP, HM_LIB, BG_PIDS).
#
# sock_curl OUT RUNNER... -- URL...: one curl process (run through RUNNER,
#   e.g. "nsenter --net=/run/netns/NS"), one connection reused for a
#   transfer per URL: "URL" gets it, "HEAD:URL" asks for its head (-I),
#   "POST:URL" posts $TMP/body.txt (4000 bytes, sent with the headers),
#   "BIGPOST:URL" posts $TMP/bigbody.bin (300000 bytes) with "Expect:
#   100-continue" (the server's 100 Continue first).  The array
#   SOCK_CURL_HDR (extra curl options, e.g. -H 'Connection: close') applies
#   to each.  Appends a line per transfer to OUT: "METHOD CODE SIZE_REQUEST
#   SIZE_UPLOAD SIZE_HEADER SIZE_DOWNLOAD URL" (what sock_compare.py reads as
#   curl:OUT).  Not for chunked responses: size_download counts a chunked
#   body decoded.
# sock_server_up NAME MODE CGROUP RUNNER... -- ADDR:PORT|--OPTION=VALUE...:
#   starts tests/lib/sock_server.py --mode MODE (and those options) in cgroup directory CGROUP (moved
#   there before it starts, so every thread it has is in it), through RUNNER
#   (a namespace), its record in $TMP/NAME.rec and byte counts at exit in
#   $TMP/NAME.totals; an "ok" line once it listens, else "not ok" and the
#   end of the test.  Sets SOCK_PID_NAME and SOCK_COMM_NAME (its
#   /proc/PID/comm) and adds it to BG_PIDS.
# sock_compare JSON ARGS...: tests/lib/sock_compare.py ARGS --stat JSON,
#   its lines as ok / not ok lines.
# sock_cg_remove DIR: moves a cgroup's processes to the cgroup2 root and
#   removes it.

SOCK_CURL_HDR=()
SOCK_CURL_W='%{method} %{http_code} %{size_request} %{size_upload} %{size_header} %{size_download} %{url_effective}\n'

sock_curl() {
	local out=$1 runner=() u args=()
	shift
	while [ "$1" != -- ]; do runner+=("$1"); shift; done
	shift
	[ -e "$TMP/body.txt" ] || head -c 3000 /dev/urandom | base64 -w 0 >"$TMP/body.txt"
	[ -e "$TMP/bigbody.bin" ] || head -c 300000 /dev/urandom >"$TMP/bigbody.bin"
	for u in "$@"; do
		args+=(-s -o /dev/null -w "$SOCK_CURL_W" "${SOCK_CURL_HDR[@]}")
		case $u in
		HEAD:*) args+=(-I "${u#HEAD:}") ;;
		POST:*) args+=(--data-binary "@$TMP/body.txt" "${u#POST:}") ;;
		BIGPOST:*) args+=(-H 'Expect: 100-continue' --data-binary "@$TMP/bigbody.bin" "${u#BIGPOST:}") ;;
		*) args+=("$u") ;;
		esac
		args+=(--next)
	done
	unset 'args[${#args[@]}-1]'
	"${runner[@]}" timeout 30 curl "${args[@]}" >>"$out" 2>>"$TMP/curl.err"
}

sock_server_up() {
	local name=$1 mode=$2 cg=$3 runner=() args=() a pid i
	shift 3
	while [ "$1" != -- ]; do runner+=("$1"); shift; done
	shift
	for a in "$@"; do
		if [[ $a == --* ]]; then args+=("$a"); else args+=(--listen "$a"); fi
	done
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cg" \
		"${runner[@]}" python3 "$HM_LIB/sock_server.py" --mode "$mode" "${args[@]}" \
		--record "$TMP/$name.rec" --totals "$TMP/$name.totals" >"$TMP/$name.out" 2>&1 &
	BG_PIDS+=($!)
	for ((i = 0; i < 100; i++)); do
		grep -q '^ready ' "$TMP/$name.out" && break
		sleep 0.1
	done
	pid=$(awk '/^ready /{print $2}' "$TMP/$name.out")
	if [ -n "$pid" ]; then
		printf -v "SOCK_PID_$name" '%s' "$pid"
		printf -v "SOCK_COMM_$name" '%s' "$(cat "/proc/$pid/comm")"
		hm_ok "sock_server.py --mode $mode (pid $pid) serves $*"
	else
		hm_not_ok "sock_server.py --mode $mode starts" "$(cat "$TMP/$name.out")"
		hm_done
	fi
}

sock_compare() {
	local json=$1 st name detail
	shift
	while IFS=$'\t' read -r st name detail; do
		if [ "$st" = ok ]; then hm_ok "$name"; else hm_not_ok "$name" "$detail"; fi
	done < <(python3 "$HM_LIB/sock_compare.py" "$@" --stat "$json" 2>&1 |
		sed '/^\(ok\|not ok\)\t/!s/^/not ok\tsock_compare.py\t/')
}

sock_cg_remove() {
	local root pid
	[ -d "$1" ] || return 0
	root=$(dirname "$1")
	for pid in $(cat "$1/cgroup.procs" 2>/dev/null); do
		echo "$pid" >"$root/cgroup.procs" 2>/dev/null
	done
	rmdir "$1" 2>/dev/null
	return 0
}

# sock_cg_start TAG: a cgroup v2 directory of the test's own for its servers,
# CG=CG2/hmtest-TAG-PID (CGID its id), after removing those of earlier runs
# whose process is gone; the test ends (not ok) when there is none.
sock_cg_start() {
	local d
	CG2=$(findmnt -n -t cgroup2 -o TARGET | head -n 1)
	CG=${CG2:+$CG2/hmtest-$1-$$}
	for d in "$CG2"/hmtest-"$1"-*; do
		[ -d "$d" ] && ! kill -0 "${d##*-}" 2>/dev/null && sock_cg_remove "$d"
	done
	if [ -n "$CG2" ] && mkdir "$CG"; then
		CGID=$(stat -c %i "$CG")
		hm_ok "cgroup ${CG#"$CG2"} (id $CGID) for the servers"
	else
		hm_not_ok "a cgroup v2 directory for the servers" "cgroup2 mount: '${CG2:-none}'"
		hm_done
	fi
}
