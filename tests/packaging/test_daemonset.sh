#!/usr/bin/env bash
# test_daemonset.sh - the Kubernetes example dist/httpmon-daemonset.yaml.
#
# It must parse (python3-yaml) into a Namespace and an apps/v1 DaemonSet
# whose selector matches its pods; the pods run on the host network, the
# httpmon container privileged with the node's bpffs (Bidirectional) and
# cgroup hierarchy mounted; the textfile volume is shared with a
# node_exporter sidecar that reads the directory the loop writes to and
# listens on the port the scrape annotations name.  Its image is the monitor
# image of docker/monitor.Dockerfile at this VERSION, and the tools its
# script runs are where that Dockerfile's "make install PREFIX=..." puts
# them (checked against a real staged make install).  The script passes sh -n
# and shellcheck, and every setting it reads is in the container's env.
# tests/e2e/test_fleet.sh runs the script itself on one of its nodes.
set -u
# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"

hm_require_cmds python3 make
hm_require_build hm-load hm-stat hm-reset httpmon.o
if ! python3 -c 'import yaml' 2>/dev/null; then
	hm_skip "the DaemonSet example" "python3-yaml not installed (scripts/deps.sh)"
	hm_done
fi

YAML=$HM_ROOT/dist/httpmon-daemonset.yaml
TMP=$(mktemp -d /tmp/hmk-ds.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM

# The prefix the monitor image installs with, and a staged install with it.
PREFIX=$(sed -n 's/.*make install PREFIX=\([^ ]*\) .*/\1/p' "$HM_ROOT/docker/monitor.Dockerfile" | head -1)
if [ -n "$PREFIX" ] && make --no-print-directory -C "$HM_ROOT" BUILD="$HM_BUILD" install \
	PREFIX="$PREFIX" DESTDIR="$TMP/dest" >"$TMP/make.log" 2>&1; then
	hm_ok "docker/monitor.Dockerfile installs with PREFIX=$PREFIX; staged that install"
else
	hm_not_ok "a staged install with the monitor image's PREFIX" "PREFIX='$PREFIX'" \
		"$(tail -5 "$TMP/make.log")"
	hm_done
fi

python3 - "$YAML" "$(cat "$HM_ROOT/VERSION")" "$TMP/dest" "$PREFIX" "$TMP/script.sh" \
	>"$TMP/check" 2>&1 <<'EOF'
import os, re, sys, yaml

path, version, dest, prefix, script_out = sys.argv[1:6]
results = []

def result(name, bad):
    results.append("ok\t%s" % name if not bad else "fail\t%s\t%s" % (name, "; ".join(map(str, bad))))

try:
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
except yaml.YAMLError as e:
    print("fail\tthe YAML parses\t%s" % str(e).replace("\n", " "))
    sys.exit(0)
kinds = [(d.get("apiVersion"), d.get("kind")) for d in docs]
result("parses into a Namespace and an apps/v1 DaemonSet",
       [] if kinds == [("v1", "Namespace"), ("apps/v1", "DaemonSet")] else [kinds])
ns = docs[0]["metadata"]["name"]
ds = next(d for d in docs if d.get("kind") == "DaemonSet")
spec = ds["spec"]
pod = spec["template"]["spec"]
result("the DaemonSet lives in the Namespace it creates (%s)" % ns,
       [] if ds["metadata"].get("namespace") == ns else [ds["metadata"].get("namespace")])
sel = spec["selector"]["matchLabels"]
labels = spec["template"]["metadata"]["labels"]
result("the selector matches the pod template's labels",
       [k for k, v in sel.items() if labels.get(k) != v] or ([] if sel else ["empty selector"]))
result("hostNetwork, with dnsPolicy ClusterFirstWithHostNet, on every node (tolerations)",
       [x for x, ok in (("hostNetwork", pod.get("hostNetwork") is True),
                        ("dnsPolicy", pod.get("dnsPolicy") == "ClusterFirstWithHostNet"),
                        ("tolerations", {"operator": "Exists"} in pod.get("tolerations", [])))
        if not ok])

containers = {c["name"]: c for c in pod["containers"]}
hm = containers.get("httpmon")
ne = containers.get("node-exporter")
result("two containers: httpmon and a node-exporter sidecar",
       [] if hm and ne and len(containers) == 2 else [sorted(containers)])
volumes = {v["name"]: v for v in pod["volumes"]}
def mounts(c):
    return {m["name"]: m for m in c.get("volumeMounts", [])}
hm_m, ne_m = mounts(hm), mounts(ne)

bad = []
if hm.get("securityContext", {}).get("privileged") is not True:
    bad.append("not privileged")
bpf = [m for m in hm_m.values() if m["mountPath"] == "/sys/fs/bpf"]
if not bpf or volumes[bpf[0]["name"]].get("hostPath", {}).get("path") != "/sys/fs/bpf" or \
   bpf[0].get("mountPropagation") != "Bidirectional":
    bad.append("bpffs: %r" % bpf)
cg = [m for m in hm_m.values() if m["mountPath"] == "/sys/fs/cgroup"]
if not cg or volumes[cg[0]["name"]].get("hostPath", {}).get("path") != "/sys/fs/cgroup":
    bad.append("cgroup: %r" % cg)
result("httpmon: privileged, the node's bpffs (Bidirectional) and cgroup mounted", bad)

env = {e["name"]: e.get("value") for e in hm.get("env", [])}
textfile = env.get("HTTPMON_TEXTFILE") or ""
tdir = os.path.dirname(textfile)
shared = [n for n in hm_m if n in ne_m and "emptyDir" in volumes.get(n, {})
          and hm_m[n]["mountPath"] == tdir == ne_m[n]["mountPath"]]
args = ne.get("args", [])
port = next((a.split(":")[-1] for a in args if a.startswith("--web.listen-address=")), None)
ann = spec["template"]["metadata"].get("annotations", {})
cports = [str(p["containerPort"]) for p in ne.get("ports", [])]
result("the loop's HTTPMON_TEXTFILE (%s) is in an emptyDir both containers mount there" % textfile,
       [] if textfile.endswith(".prom") and shared else [hm_m, ne_m])
result("node-exporter reads that directory with the textfile collector alone",
       [a for a in ("--collector.textfile.directory=" + tdir, "--collector.textfile",
                    "--collector.disable-defaults") if a not in args])
result("node-exporter listens on the port the annotations and containerPort name (%s)" % port,
       [] if port and ann.get("prometheus.io/port") == port and cports == [port] and
       ann.get("prometheus.io/scrape") == "true" else [port, ann, cports])

image = hm.get("image", "")
result("the httpmon image is the monitor image at this version (httpmon:%s)" % version,
       [] if image.rsplit("/", 1)[-1] == "httpmon:" + version else [image])
text = open(path).read()
result("the comment says how to build that image (docker/monitor.Dockerfile)",
       [] if "docker build -f docker/monitor.Dockerfile -t REGISTRY/httpmon:%s ." % version
       in text else ["no build command for httpmon:%s" % version])

cmd = hm.get("command", []) + hm.get("args", [])
script = cmd[-1] if cmd[:2] == ["/bin/sh", "-c"] else ""
open(script_out, "w").write(script)
tools = set(re.findall(r"(?:^|[\s;(|&])((?:hm|httpmon)-[a-z-]+)\b", script))
sbin = os.path.join(dest, prefix.lstrip("/"), "sbin")
result("the script's tools (%s) are in the image's %s/sbin (make install)"
       % (", ".join(sorted(tools)), prefix),
       [t for t in tools if not os.access(os.path.join(sbin, t), os.X_OK)] or
       ([] if {"httpmon-ctl", "hm-stat"} <= tools else ["expected httpmon-ctl and hm-stat"]))
used = set(re.findall(r"\$\{?(HTTPMON_[A-Z_]+)", script))
result("every HTTPMON_ setting the script reads is in its env (%d)" % len(used),
       sorted(u for u in used if u not in env))
print("\n".join(results))
EOF
while IFS=$'\t' read -r status name detail; do
	case $status in
	ok) hm_ok "$name" ;;
	fail) hm_not_ok "$name" "$detail" ;;
	*) hm_not_ok "the YAML check ran" "$(cat "$TMP/check")"; break ;;
	esac
done <"$TMP/check"

if [ -s "$TMP/script.sh" ] && sh -n "$TMP/script.sh" 2>"$TMP/sh.err"; then
	hm_ok "the container's script passes sh -n"
else
	hm_not_ok "the container's script passes sh -n" "$(cat "$TMP/sh.err")"
fi
if command -v shellcheck >/dev/null; then
	if shellcheck -s sh -e SC2086 "$TMP/script.sh" >"$TMP/sc" 2>&1; then
		hm_ok "shellcheck -s sh accepts the container's script (SC2086: the options are words)"
	else
		hm_not_ok "shellcheck -s sh accepts the container's script" "$(cat "$TMP/sc")"
	fi
fi
hm_done
