#!/usr/bin/env bash
# test_compose.sh - the docker demo, without a Docker engine.
#
# 1. docker-compose (Debian's 1.29, which needs no engine for `config`)
#    validates docker/docker-compose.yml and rejects a broken copy of it.
# 2. The topology the file describes: origin in the host's network on the
#    network's gateway address, ports 8080 and 8888; clients on the bridge
#    network with a fixed bridge name, aiming at that gateway; the monitor
#    privileged in the host's network with the host's bpffs, on that bridge.
# 3. The Dockerfiles: Debian bookworm images, Debian packages only, every
#    COPY source in the build context; the monitor's build stage, run here on
#    a copy of the context, builds and installs, and the tools need only the
#    libraries of the runtime stage's packages.
# 4. The containers' own scripts in the same topology built from namespaces
#    (scripts/lab.sh's): docker/monitor.sh attaches to the bridge through the
#    installed httpmon-ctl, docker/client.sh runs in two client namespaces,
#    hm-stat agrees with the clients' tallies, and stopping the monitor
#    detaches.
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=tests/lib/netns.sh
. "$HM_LIB/netns.sh"

hm_require_root
hm_require_cmds docker-compose python3 make ip nsenter curl jq
hm_require_build hm-load hm-stat
hm_bpffs_ensure || { hm_not_ok "bpffs mounted on /sys/fs/bpf"; hm_done; }

DOCKER=$HM_ROOT/docker
COMPOSE=$DOCKER/docker-compose.yml
TMP=$(mktemp -d /tmp/hmc-compose.XXXXXX)
P=$(hm_lab_prefix co)
PIN=/sys/fs/bpf/hmtest-$$
MONITOR_PID=

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	[ -n "$MONITOR_PID" ] && kill "$MONITOR_PID" 2>/dev/null && wait "$MONITOR_PID" 2>/dev/null
	if [ -e "/run/netns/${P}h" ]; then
		hm_in_host "$P" "$HM_BUILD/hm-load" --detach --pin-path "$PIN" "$(hm_bridge "$P")" >/dev/null 2>&1
	fi
	hm_lab_down "$P"
	rm -rf "$PIN" "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
hm_lab_cleanup_stale
hm_pins_cleanup_stale hmtest-

# The build context as docker would send it: the tree minus .dockerignore.
CTX=$TMP/context
mkdir "$CTX"
(cd "$HM_ROOT" && tar -c --exclude-vcs --exclude=./build --exclude='__pycache__' .) | tar -x -C "$CTX"

# -- 1. docker-compose config ---------------------------------------------------------
# No engine is needed, and none must be reached.
export DOCKER_HOST=unix://$TMP/no-engine.sock
if docker-compose -f "$COMPOSE" config >"$TMP/config.yml" 2>"$TMP/config.err"; then
	hm_ok "docker-compose config validates docker/docker-compose.yml (no engine)"
else
	hm_not_ok "docker-compose config validates docker/docker-compose.yml" "$(cat "$TMP/config.err")"
	hm_done
fi
services=$(docker-compose -f "$COMPOSE" config --services 2>/dev/null | sort | tr '\n' ' ')
if [ "$services" = "client1 client2 monitor origin " ]; then
	hm_ok "services: origin, client1, client2, monitor"
else
	hm_not_ok "services: origin, client1, client2, monitor" "got: $services"
fi
# A broken copy next to the original, so that only the unknown key is wrong.
sed 's/^    network_mode: host$/    network_mode: host\n    no_such_key: 1/' "$COMPOSE" >"$CTX/docker/broken.yml"
if ! docker-compose -f "$CTX/docker/docker-compose.yml" config >/dev/null 2>&1 ||
	docker-compose -f "$CTX/docker/broken.yml" config >/dev/null 2>&1; then
	hm_not_ok "docker-compose config rejects an unknown service key (it really validates)"
else
	hm_ok "docker-compose config rejects an unknown service key (it really validates)"
fi
rm -f "$CTX/docker/broken.yml"
if grep -qx 'COMPOSE_PROJECT_NAME=httpmon' "$DOCKER/.env" &&
	docker-compose -f "$COMPOSE" config 2>/dev/null | grep -q "context: $HM_ROOT\$"; then
	hm_ok "project name httpmon (docker/.env); build context is the repository root"
else
	hm_not_ok "project name httpmon (docker/.env); build context is the repository root"
fi

# -- 2. the topology ------------------------------------------------------------------
cat >"$TMP/topology.py" <<'EOF'
import ipaddress, os, re, sys
import yaml

root = sys.argv[2]
c = yaml.safe_load(open(sys.argv[1]))
svc, nets = c["services"], c["networks"]

def check(name, cond, detail=""):
    print("%s\t%s\t%s" % ("ok" if cond else "fail", name, detail))

demo = nets.get("demo", {})
bridge = demo.get("driver_opts", {}).get("com.docker.network.bridge.name")
ipam = (demo.get("ipam", {}).get("config") or [{}])[0]
subnet = ipaddress.ip_network(ipam.get("subnet", "0.0.0.0/32"))
gateway = ipam.get("gateway", "")
check("network demo: bridge driver, bridge name br-httpmon, fixed subnet and gateway",
      demo.get("driver") == "bridge" and bridge == "br-httpmon" and gateway
      and ipaddress.ip_address(gateway) in subnet, repr(demo))

origin = svc["origin"]
listens = [origin["command"][i + 1] for i, a in enumerate(origin["command"]) if a == "--listen"]
check("origin runs in the host's network", origin.get("network_mode") == "host")
check("origin listens on the gateway %s, ports 8080 and 8888" % gateway,
      sorted(listens) == ["%s:8080" % gateway, "%s:8888" % gateway], repr(listens))
check("origin has no networks or published ports of its own",
      "networks" not in origin and "ports" not in origin)

for name in ("client1", "client2"):
    cl = svc[name]
    addr = cl.get("networks", {}).get("demo", {}).get("ipv4_address", "")
    env = cl.get("environment", {})
    check("%s: on network demo at a fixed address in %s" % (name, subnet),
          bool(addr) and ipaddress.ip_address(addr) in subnet and addr != gateway, addr)
    check("%s: aims at the gateway, ports 8080 8888" % name,
          env.get("HTTPMON_TARGET") == gateway and env.get("HTTPMON_PORTS", "").split() == ["8080", "8888"],
          repr(env))

mon = svc["monitor"]
vols = mon.get("volumes", [])
bpf = [v for v in vols if isinstance(v, dict) and v.get("target") == "/sys/fs/bpf"]
check("monitor: privileged, in the host's network",
      mon.get("privileged") is True and mon.get("network_mode") == "host")
check("monitor: the host's /sys/fs/bpf bind-mounted with shared propagation",
      len(bpf) == 1 and bpf[0].get("type") == "bind" and bpf[0].get("source") == "/sys/fs/bpf"
      and bpf[0].get("bind", {}).get("propagation") == "shared", repr(vols))
check("monitor: attaches to the bridge %s" % bridge,
      mon.get("environment", {}).get("HTTPMON_INTERFACES") == bridge, repr(mon.get("environment")))

for name, s in sorted(svc.items()):
    b = s.get("build", {})
    check("%s: built from the repository root with a Dockerfile in docker/" % name,
          os.path.realpath(b.get("context", "")) == os.path.realpath(root)
          and b.get("dockerfile", "").startswith("docker/")
          and os.path.isfile(os.path.join(root, b.get("dockerfile", ""))), repr(b))
EOF
# PyYAML comes with docker-compose.
python3 "$TMP/topology.py" "$TMP/config.yml" "$HM_ROOT" >"$TMP/topology.out" 2>&1 ||
	hm_not_ok "topology checks ran" "$(cat "$TMP/topology.out")"
while IFS=$'\t' read -r status name detail; do
	case $status in
	ok) hm_ok "$name" ;;
	fail) hm_not_ok "$name" "$detail" ;;
	esac
done <"$TMP/topology.out"

# -- 3. the Dockerfiles -----------------------------------------------------------------
ignored=$(grep -vE '^\s*(#|$)' "$HM_ROOT/.dockerignore" | sort | tr '\n' ' ')
if [ "$ignored" = "**/__pycache__ .git build " ]; then
	hm_ok ".dockerignore leaves out .git, build and __pycache__ (as this test's copy does)"
else
	hm_not_ok ".dockerignore leaves out .git, build and __pycache__" "got: $ignored"
fi

apt_known() { apt-cache show --no-all-versions "$1" 2>/dev/null | grep -q '^Package:'; }
have_lists=0
apt_known bash && have_lists=1
for df in "$DOCKER"/*.Dockerfile; do
	n=$(basename "$df")
	froms=$(grep -E '^FROM ' "$df" | awk '{print $2}' | sort -u | tr '\n' ' ')
	if [ "$froms" = "debian:bookworm-slim " ]; then
		hm_ok "$n: FROM debian:bookworm-slim only"
	else
		hm_not_ok "$n: FROM debian:bookworm-slim only" "got: $froms"
	fi
	if grep -qiE 'pip3? install|easy_install|npm |curl .*\| *(ba)?sh|wget |ADD +https?:' "$df"; then
		hm_not_ok "$n: software from Debian packages only" "$(grep -iE 'pip|curl|wget|ADD' "$df")"
	else
		hm_ok "$n: software from Debian packages only"
	fi
	# COPY sources (not --from=stage ones) must be in the context.
	absent=
	while read -r src; do
		[ -e "$CTX/$src" ] || absent="$absent $src"
	done < <(grep -E '^COPY ' "$df" | grep -v -- '--from=' | awk '{ for (i = 2; i < NF; i++) print $i }')
	if [ -z "$absent" ]; then
		hm_ok "$n: every COPY source is in the build context"
	else
		hm_not_ok "$n: every COPY source is in the build context" "missing:$absent"
	fi
	if [ "$have_lists" -eq 1 ]; then
		pkgs=$(sed -n '/apt-get install/,/rm -rf/p' "$df" | tr ' \\&' '\n\n\n' |
			grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vE '^(apt-get|install|rm|no-install-recommends)$' | sort -u)
		unknown=
		for p in $pkgs; do apt_known "$p" || unknown="$unknown $p"; done
		if [ -z "$unknown" ]; then
			hm_ok "$n: apt knows every package it installs (${pkgs//$'\n'/ })"
		else
			hm_not_ok "$n: apt knows every package it installs" "unknown:$unknown"
		fi
	else
		hm_skip "$n: apt knows every package it installs" "no apt lists; run apt-get update"
	fi
done
bad=
for s in client.sh monitor.sh; do [ -x "$DOCKER/$s" ] || bad="$bad $s"; done
if [ -z "$bad" ]; then
	hm_ok "docker/client.sh and docker/monitor.sh are executable (COPY keeps the mode)"
else
	hm_not_ok "the container scripts are executable" "not executable:$bad"
fi

# The monitor's build stage on the copied context: its two RUN lines.
OUT=$TMP/out
if make -C "$CTX" PREFIX=/usr >"$TMP/build.log" 2>&1 &&
	make -C "$CTX" install PREFIX=/usr DESTDIR="$OUT" >>"$TMP/build.log" 2>&1; then
	hm_ok "monitor build stage: make PREFIX=/usr && make install PREFIX=/usr DESTDIR=/out"
else
	hm_not_ok "monitor build stage: make && make install" "$(tail -20 "$TMP/build.log")"
fi
absent=
for f in usr/sbin/hm-load usr/sbin/hm-stat usr/sbin/hm-reset usr/sbin/httpmon-ctl; do
	[ -x "$OUT/$f" ] || absent="$absent /$f"
done
if [ -z "$absent" ] && grep -q '^CONFIG=${HTTPMON_CONFIG:-/etc/default/httpmon}$' "$OUT/usr/sbin/httpmon-ctl"; then
	hm_ok "the image gets hm-load, hm-stat, hm-reset, httpmon-ctl in /usr/sbin"
else
	hm_not_ok "the image gets the tools in /usr/sbin" "missing:$absent"
fi
if command -v dpkg >/dev/null && [ -x "$OUT/usr/sbin/hm-load" ]; then
	runtime=$(sed -n '/^FROM .* AS build/,/^FROM /d; /apt-get install/,/rm -rf/p' "$DOCKER/monitor.Dockerfile" |
		tr ' \\&' '\n\n\n' | grep -E '^lib|^zlib' | sort -u)
	needs=$(for t in hm-load hm-stat hm-reset; do ldd "$OUT/usr/sbin/$t"; done |
		awk '/=>/ { print $3 }' | sort -u | while read -r lib; do
			dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null ||
				dpkg -S "/usr$lib" 2>/dev/null || echo "?: $lib"
		done | cut -d: -f1 | sort -u)
	extra=$(comm -23 <(echo "$needs") <(printf '%s\nlibc6\n' "$runtime" | sort -u))
	if [ -z "$extra" ]; then
		hm_ok "the tools need only libc6 and the runtime stage's packages (${runtime//$'\n'/ })"
	else
		hm_not_ok "the tools need only the runtime stage's packages" "also needed: $extra"
	fi
fi

# -- 4. the containers' scripts in the namespace lab ----------------------------------
# The monitor entry point uses httpmon-ctl from PATH and the shipped settings
# file (all comments, so the compose environment applies), as in the image.
mkdir "$TMP/inst"
if ! make --no-print-directory -C "$HM_ROOT" BUILD="$HM_BUILD" install DESTDIR="$TMP/inst" \
	>"$TMP/inst.log" 2>&1; then
	hm_not_ok "make install for the rehearsal" "$(tail -20 "$TMP/inst.log")"
	hm_done
fi
BR=$(hm_bridge "$P")
if hm_lab_up "$P" 2 >"$TMP/lab.log" 2>&1; then
	hm_ok "lab $P: bridge $BR in ${P}h (the docker host), clients ${P}c1 and ${P}c2 (the containers)"
else
	hm_not_ok "lab up" "$(cat "$TMP/lab.log")"
	hm_done
fi
GW=$(hm_host_ip "$P" 4)

# origin: the compose command, with the lab's gateway for 172.28.0.1.
hm_origin_up "${P}h" "$TMP/origin.out" --listen "$GW:8080" --listen "$GW:8888"

# monitor: the compose environment, with the lab's bridge and a private pin
# directory for the host's /sys/fs/bpf/tc/globals.
nsenter --net="/run/netns/${P}h" env PATH="$TMP/inst/usr/local/sbin:$PATH" \
	HTTPMON_CONFIG="$TMP/inst/etc/default/httpmon" HTTPMON_INTERFACES="$BR" HTTPMON_OPTIONS="--ports 8080,8888" \
	HTTPMON_KEEP_RUNNING=1 HTTPMON_PIN_PATH="$PIN" sh "$DOCKER/monitor.sh" >"$TMP/monitor.out" 2>&1 &
MONITOR_PID=$!
if timeout 20 sh -c "until grep -q 'attached; read the counters' '$TMP/monitor.out'; do sleep 0.1; done" &&
	[ "$(hm_in_host "$P" env PATH="$TMP/inst/usr/local/sbin:$PATH" HTTPMON_CONFIG="$TMP/inst/etc/default/httpmon" \
		HTTPMON_INTERFACES="$BR" httpmon-ctl status)" = "$BR: attached" ]; then
	hm_ok "docker/monitor.sh attaches to $BR with httpmon-ctl and keeps running"
else
	hm_not_ok "docker/monitor.sh attaches to $BR" "$(cat "$TMP/monitor.out")"
	hm_done
fi

# clients: docker/client.sh with a fixed number of requests.
pids=()
for i in 1 2; do
	hm_in_client "$P" "$i" env HTTPMON_TARGET="$GW" HTTPMON_PORTS="8080 8888" HTTPMON_REQUESTS=60 \
		HTTPMON_BATCH=7 HTTPMON_PAUSE=0 HTTPMON_REPORT=0 timeout 120 sh "$DOCKER/client.sh" \
		>"$TMP/client$i.out" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
rc=0
for i in 1 2; do
	grep -qx "client: 60 requests sent to $GW" "$TMP/client$i.out" || rc=1
done
if [ "$rc" -eq 0 ]; then
	hm_ok "docker/client.sh sent 60 requests from each client namespace"
else
	hm_not_ok "docker/client.sh sent 60 requests from each client" "$(cat "$TMP"/client?.out)"
fi
sleep 0.5

# tally FILE CLASS: the client's count of CLASS (2xx..5xx, "no answer") over its ports.
tally() {
	sed -n "s/^client: port [0-9]*: .*$2 \([0-9]*\).*/\1/p" "$1" | awk '{ s += $1 } END { print s + 0 }'
}
if "$HM_BUILD/hm-stat" --pin-path "$PIN" --json >"$TMP/stat.json" 2>"$TMP/stat.err"; then
	for i in 1 2; do
		ip=$(hm_client_ip "$P" "$i" 4)
		got=$(jq -c --arg ip "$ip" '[.clients[] | select(.ip == $ip) | .requests, .status["2xx"], .status["5xx"]]' "$TMP/stat.json")
		want="[60,$(tally "$TMP/client$i.out" 2xx),$(tally "$TMP/client$i.out" 5xx)]"
		if [ "$got" = "$want" ] && [ "$(tally "$TMP/client$i.out" 'no answer')" = 0 ]; then
			hm_ok "hm-stat on the bridge agrees with client $i's tally: [requests, 2xx, 5xx] = $got"
		else
			hm_not_ok "hm-stat agrees with client $i's tally" "hm-stat: $got, client: $want" \
				"$(cat "$TMP/client$i.out")"
		fi
	done
	ports=$(jq -c '[.ports[] | .port] | sort' "$TMP/stat.json")
	if [ "$ports" = "[8080,8888]" ]; then
		hm_ok "hm-stat --by port: the two services 8080 and 8888"
	else
		hm_not_ok "hm-stat --by port: the two services" "got: $ports"
	fi
else
	hm_not_ok "hm-stat --pin-path $PIN --json" "$(cat "$TMP/stat.err")"
fi

# docker compose down: SIGTERM to the monitor, which detaches.
kill -TERM "$MONITOR_PID"
wait "$MONITOR_PID"
rc=$?
MONITOR_PID=
if [ "$rc" -eq 0 ] && [ -z "$(hm_in_host "$P" tc filter show dev "$BR" ingress)" ] &&
	[ -z "$(ls -A "$PIN" 2>/dev/null)" ]; then
	hm_ok "stopping the monitor (SIGTERM) detaches from $BR and removes the pins; exit 0"
else
	hm_not_ok "stopping the monitor detaches" "exit $rc" "$(cat "$TMP/monitor.out")" \
		"$(hm_in_host "$P" tc filter show dev "$BR" ingress)"
fi

# HTTPMON_KEEP_RUNNING=0: attach and exit; the classifier stays.
if nsenter --net="/run/netns/${P}h" env PATH="$TMP/inst/usr/local/sbin:$PATH" \
	HTTPMON_CONFIG="$TMP/inst/etc/default/httpmon" HTTPMON_INTERFACES="$BR" HTTPMON_KEEP_RUNNING=0 \
	HTTPMON_PIN_PATH="$PIN" timeout 30 sh "$DOCKER/monitor.sh" >"$TMP/monitor0.out" 2>&1 &&
	hm_in_host "$P" tc filter show dev "$BR" ingress | grep -q hm_tc_ingress; then
	hm_ok "HTTPMON_KEEP_RUNNING=0: the monitor exits 0 and the classifier stays attached"
else
	hm_not_ok "HTTPMON_KEEP_RUNNING=0: exits 0, classifier stays" "$(cat "$TMP/monitor0.out")"
fi
# With arguments the entry point runs them (docker compose run monitor hm-load --detach ...).
if nsenter --net="/run/netns/${P}h" env PATH="$TMP/inst/usr/local/sbin:$PATH" \
	sh "$DOCKER/monitor.sh" hm-load --detach --pin-path "$PIN" "$BR" >"$TMP/detach.out" 2>&1 &&
	[ -z "$(hm_in_host "$P" tc filter show dev "$BR" ingress)" ]; then
	hm_ok "the entry point runs its arguments: hm-load --detach"
else
	hm_not_ok "the entry point runs its arguments" "$(cat "$TMP/detach.out")"
fi
hm_done
