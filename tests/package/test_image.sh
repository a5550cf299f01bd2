#!/usr/bin/env bash
# test_image.sh BUILD_DIR: the container image and the DaemonSet, run here the
# way a node runs them. Builds the .deb (CPack) and the image from it
# (scripts/image.sh: mmdebstrap + buildah from scratch), checks the image (its
# config, its file tree, the binary inside), checks the manifest
# (deploy/kubernetes/daemonset.yaml) for every field deploy/README.md
# promises, then runs the DaemonSet's own pod spec with `podman run`, each
# field translated (host pid and network, the mounts, the capabilities,
# read-only root, the resources) and
# checks, from the host: /healthz answers, /metrics counts connects refused in
# a network namespace made on the host, exactly, and a CLOSE_WAIT socket's
# holder on the host is named. As root (ctest runs it on the CI machine,
# which is thrown away); it takes 2-3 minutes, most of it mmdebstrap.
set -euo pipefail
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
manifest=$root/deploy/kubernetes/daemonset.yaml
work=$(mktemp -d /tmp/tcpfsm-image-test-XXXXXX)
chmod 0755 "$work"
ns=tcpfsm-img-$$
holder=
cleanup() {
  podman rm -f -t 2 tcpfsm-image-test >/dev/null 2>&1 || true
  [ -n "$holder" ] && { kill "$holder" 2>/dev/null || true; }
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  podman container exists tcpfsm-image-test 2>/dev/null && { podman logs tcpfsm-image-test 2>&1 | tail -20 >&2; }
  exit 1
}

# This machine's limits, not the DaemonSet's: its cgroups are hybrid (v1
# controllers, and hugetlb on the unified hierarchy), which crun refuses
# ("cgroups in hybrid mode not supported") and runc takes; and root here lacks
# CAP_SYS_RESOURCE, so podman's default rlimits (above the hard limits) cannot
# be set: the containers get this machine's open files limit, and 4096 processes.
export CONTAINERS_CONF=$work/containers.conf
printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n' \
  "$(ulimit -Hn)" "$(ulimit -Hn)" >"$CONTAINERS_CONF"

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[ -n "$version" ] || fail "no project version in $build/CMakeCache.txt"
image=localhost/tcpfsm:$version

echo "== the manifest"
# Every field deploy/README.md's Kubernetes section promises, and that the
# capabilities it adds are exactly the ones the README justifies.
port=$(/usr/bin/python3 - "$manifest" "$root/deploy/README.md" "$version" "$work/podman-run" <<'EOF'
import re, sys, yaml
manifest, readme, version, pod_path = sys.argv[1:5]
docs = [d for d in yaml.safe_load_all(open(manifest)) if d]
ds = [d for d in docs if d.get("kind") == "DaemonSet"]
assert len(ds) == 1, f"one DaemonSet expected, found {len(ds)}"
ds = ds[0]
assert ds["apiVersion"] == "apps/v1"
tmpl = ds["spec"]["template"]
assert ds["spec"]["selector"]["matchLabels"].items() <= tmpl["metadata"]["labels"].items(), "selector does not match the pod labels"
spec = tmpl["spec"]
assert spec.get("hostPID") is True, "hostPID"
assert spec.get("hostNetwork") is True, "hostNetwork"
assert spec.get("dnsPolicy") == "ClusterFirstWithHostNet", "dnsPolicy with hostNetwork"
(c,) = spec["containers"]
assert c["image"] == f"localhost/tcpfsm:{version}", f"image {c['image']} is not this version"
assert ds["metadata"]["labels"]["app.kubernetes.io/version"] == version
args = c["args"]
assert args[0] == "serve", args
def arg(name):
    return args[args.index(name) + 1]
port = int(arg("--web.listen-address").rsplit(":", 1)[1])
host_root = arg("--host-root")
assert arg("--by") == "pod", "the DaemonSet groups by pod"
sc = c["securityContext"]
assert sc.get("privileged") is False, "privileged must be false"
assert sc.get("allowPrivilegeEscalation") is False
assert sc.get("readOnlyRootFilesystem") is True
assert sc["capabilities"]["drop"] == ["ALL"]
added = set(sc["capabilities"]["add"])
readme_text = open(readme).read()
assert "\n## Kubernetes" in readme_text, "deploy/README.md has no '## Kubernetes' section"
section = readme_text.split("\n## Kubernetes", 1)[1].split("\n## ", 1)[0]
justified = set(re.findall(r"^- `CAP_([A-Z_]+)`", section, re.M))
assert added == justified, f"capabilities added {sorted(added)} but deploy/README.md justifies {sorted(justified)}"
for probe in ("readinessProbe", "livenessProbe"):
    p = c[probe]["httpGet"]
    assert p["path"] == "/healthz" and p["port"] == port, f"{probe} {p}"
assert [p["containerPort"] for p in c["ports"]] == [port]
ann = tmpl["metadata"]["annotations"]
assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/port"] == str(port) and ann["prometheus.io/path"] == "/metrics"
res = c["resources"]
for k in ("cpu", "memory"):
    assert k in res["requests"] and k in res["limits"], f"resources.{k}"
mounts = {m["name"]: m for m in c["volumeMounts"]}
vols = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"]}
want = {"/sys/fs/cgroup": host_root + "/sys/fs/cgroup", "/run/netns": "/run/netns",
        "/var/log/pods": host_root + "/var/log/pods"}
got = {vols[n]: m["mountPath"] for n, m in mounts.items()}
assert got == want, f"mounts {got}, expected {want}"
for n, m in mounts.items():
    assert m.get("readOnly") is True, f"{n} is not read-only"
assert mounts[[n for n in vols if vols[n] == "/run/netns"][0]].get("mountPropagation") == "HostToContainer", \
    "/run/netns needs HostToContainer: namespaces made after the pod starts must appear"
# The scrape job reads the annotations and the label this pod spec has.
job = yaml.safe_load(open(manifest.replace("daemonset.yaml", "prometheus.yml")))["scrape_configs"][0]
sources = {l for r in job["relabel_configs"] for l in r.get("source_labels", [])}
meta = lambda k: "__meta_kubernetes_pod_" + re.sub(r"[^a-zA-Z0-9]", "_", k)
for k in ann:
    assert meta("annotation_" + k) in sources, f"the scrape job does not read the annotation {k}"
assert any(meta("label_" + k) in sources for k in tmpl["metadata"]["labels"]), "the scrape job keeps no label of the pod"
# How podman runs that pod spec, field by field, as the kubelet would: a
# field this does not know fails the test, so nothing in the manifest goes
# untried. (`podman kube play` is not used: podman 4.3's ignores hostPID, and
# refuses container ports with host networking.)
run = ["--name", "tcpfsm-image-test", "--pull=never", "--read-only-tmpfs=false"]
known = {"hostPID", "hostNetwork", "dnsPolicy", "automountServiceAccountToken", "tolerations",
         "terminationGracePeriodSeconds", "containers", "volumes"}
assert set(spec) <= known, f"pod spec fields the test cannot run: {set(spec) - known}"
run += ["--pid=host", "--network=host", f"--stop-timeout={spec['terminationGracePeriodSeconds']}"]
known = {"name", "image", "imagePullPolicy", "args", "ports", "readinessProbe", "livenessProbe", "resources",
         "securityContext", "volumeMounts"}
assert set(c) <= known, f"container fields the test cannot run: {set(c) - known}"
def quantity(q):  # the two forms the manifest uses: 500m CPUs, 256Mi bytes
    return int(q[:-1]) / 1000 if q.endswith("m") else int(q[:-2]) * {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}[q[-2:]]
lim, req = c["resources"]["limits"], c["resources"]["requests"]
run += [f"--memory={quantity(lim['memory'])}", f"--memory-reservation={quantity(req['memory'])}",
        f"--cpus={quantity(lim['cpu'])}", f"--cpu-shares={int(quantity(req['cpu']) * 1024)}"]
known = {"privileged", "allowPrivilegeEscalation", "readOnlyRootFilesystem", "runAsUser", "capabilities",
         "seccompProfile"}
assert set(sc) <= known, f"securityContext fields the test cannot run: {set(sc) - known}"
assert sc["seccompProfile"] == {"type": "RuntimeDefault"}  # podman's default profile
run += ["--security-opt=no-new-privileges", "--read-only", f"--user={sc['runAsUser']}", "--cap-drop=all"]
run += [f"--cap-add=CAP_{cap}" for cap in sc["capabilities"]["add"]]
for m in c["volumeMounts"]:
    opts = "ro" + (",rslave" if m.get("mountPropagation") == "HostToContainer" else "")
    run += ["-v", f"{vols[m['name']]}:{m['mountPath']}:{opts}"]
run += [c["image"]] + args
with open(pod_path, "w") as out:
    out.write("\n".join(run) + "\n")
print(port)
EOF
) || fail "the manifest is not what deploy/README.md says"
echo "manifest: serves on :$port"

echo "== the image (scripts/image.sh)"
arch=$(dpkg --print-architecture)
(cd "$build" && cpack --config CPackConfig.cmake -B "$work" >/dev/null) || fail "cpack failed"
deb=$work/tcpfsm_${version}_${arch}.deb
archive=$(TCPFSM_BUILD=$work "$root/scripts/image.sh" "$deb") || fail "scripts/image.sh failed"
[ "$archive" = "$work/tcpfsm-image_${version}_${arch}.tar" ] || fail "image.sh printed '$archive'"
tar -tf "$archive" >"$work/archive.list" || fail "$archive is not a tar archive"
grep -qx 'index.json' "$work/archive.list" || fail "$archive is not an OCI archive (no index.json)"
grep -qx 'oci-layout' "$work/archive.list" || fail "$archive is not an OCI archive (no oci-layout)"
config=$(podman image inspect "$image" --format '{{json .Config}}') || fail "no $image in podman's storage"
/usr/bin/python3 - "$config" "$version" "$port" <<'EOF' || fail "the image's config: $config"
import json, sys
c, version, port = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
assert c["Entrypoint"] == ["/usr/sbin/tcpfsm"], c["Entrypoint"]
assert c["Cmd"][0] == "serve" and f":{port}" in c["Cmd"], c["Cmd"]
assert f"{port}/tcp" in c["ExposedPorts"], c["ExposedPorts"]
assert c["Labels"]["org.opencontainers.image.version"] == version
EOF
got=$(podman run --rm "$image" --version) || fail "the image's tcpfsm --version failed"
[ "$got" = "tcpfsm $version" ] || fail "the image's tcpfsm --version printed '$got'"
# The file tree: the package installed by dpkg (so its Depends: came with it),
# every library the binary needs found, no manual pages, the licences kept.
podman run --rm --entrypoint /bin/sh "$image" -c '
  set -e
  test "$(dpkg-query -W -f "\${Version}" tcpfsm)" = "$1"
  ! ldd /usr/sbin/tcpfsm | grep "not found"
  test -s /usr/share/doc/tcpfsm/copyright
  test -s /usr/share/doc/libbpf1/copyright
  test -e /usr/share/doc/tcpfsm/examples/alerts.yml
  test ! -e /usr/share/man/man8/tcpfsm.8.gz
  test -z "$(find /var/lib/apt/lists /var/cache/apt -name "*Packages*" -o -name "*.deb")"
' sh "$version" || fail "the image's file tree is not what image.sh makes"
echo "image: $(podman image inspect "$image" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"

echo "== podman run: the DaemonSet's pod spec"
mkdir -p /run/netns /var/log/pods  # its hostPaths are DirectoryOrCreate
mapfile -t run <"$work/podman-run"
echo "podman run ${run[*]}"
ctr=tcpfsm-image-test
podman rm -f "$ctr" >/dev/null 2>&1 || true  # left by an interrupted run
podman run -d "${run[@]}" >/dev/null || fail "podman run failed"
# podman honours what the DaemonSet asks, or the rest of this proves nothing.
inspect=$(podman inspect "$ctr" --format json)
/usr/bin/python3 - "$inspect" <<'EOF' || fail "podman did not run the pod as the manifest says"
import json, sys
(c,) = json.loads(sys.argv[1])
h = c["HostConfig"]
assert h["PidMode"] == "host", h["PidMode"]
assert h["NetworkMode"] == "host", h["NetworkMode"]
assert h["ReadonlyRootfs"] is True
assert h["Privileged"] is False
assert "no-new-privileges" in h["SecurityOpt"], h["SecurityOpt"]
effective = set(c["EffectiveCaps"])
assert effective == {"CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"}, effective
ro = {m["Destination"]: m["RW"] for m in c["Mounts"]}
for d in ("/host/sys/fs/cgroup", "/run/netns", "/host/var/log/pods"):
    assert ro.get(d) is False, f"{d} not mounted read-only: {ro}"
EOF
url=http://127.0.0.1:$port
for _ in $(seq 100); do
  curl -sf "$url/healthz" >/dev/null && break
  [ "$(podman inspect "$ctr" --format '{{.State.Running}}')" = true ] || fail "the container stopped"
  sleep 0.3
done
curl -sf "$url/healthz" >/dev/null || fail "/healthz did not answer within 30 s"
metric() { # metric NAME LABELS: its value on /metrics (0 when absent)
  curl -sf "$url/metrics" | awk -v k="$1{$2}" '$1 == k { v = $2 } END { print v + 0 }'
}

echo "== connects refused in a network namespace made on the host"
ip netns add "$ns"
ip -n "$ns" link set lo up
before=$(metric tcpfsm_connects_total 'result="refused"')
for _ in 1 2 3 4 5; do
  ip netns exec "$ns" bash -c 'exec 3<>/dev/tcp/127.0.0.1/9' 2>/dev/null && fail "port 9 accepted a connection"
done
for _ in $(seq 50); do
  [ "$(metric tcpfsm_connects_total 'result="refused"')" -ge $((before + 5)) ] && break
  sleep 0.2
done
after=$(metric tcpfsm_connects_total 'result="refused"')
[ "$after" -eq $((before + 5)) ] || fail "tcpfsm_connects_total{result=\"refused\"} went $before -> $after, not +5"

echo "== a pod on the host: its sockets by pod name, its CLOSE_WAIT holder named"
# A pod as the kubelet lays it out (systemd driver): its cgroup, and its log
# directory, which names it. Its process, in the namespace made above, holds a
# listener, an established pair and a CLOSE_WAIT socket (the peer closed, the
# holder never does). It runs as nobody: naming it takes the host's pid
# namespace, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (its /proc/PID/fd is
# owner-only), and the pod's name the host paths the manifest mounts.
uid=3f2a9c1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b
cid=$(printf 'c%.0s' $(seq 64))
cgroot=$(findmnt -t cgroup2 -n -o TARGET | head -1)
[ -n "$cgroot" ] || fail "no cgroup2 mount"
cg=$cgroot/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uid//-/_}.slice/cri-containerd-$cid.scope
mkdir -p "$cg" /var/log/pods/shop_cart-7d9f_$uid/server
pod_cleanup() {
  if [ -n "$holder" ]; then
    kill "$holder" 2>/dev/null || true
    wait "$holder" 2>/dev/null || true
  fi
  holder=
  for d in "$cg" "$(dirname "$cg")" "$(dirname "$(dirname "$cg")")" "$cgroot/kubepods.slice"; do
    rmdir "$d" 2>/dev/null || true
  done
  rm -rf "/var/log/pods/shop_cart-7d9f_$uid"
}
trap 'pod_cleanup; cleanup' EXIT
# The cgroup first, then the namespace: `ip netns exec` mounts a sysfs of
# the namespace's own, without the cgroup2 mount.
(
  echo $BASHPID >"$cg/cgroup.procs"
  exec ip netns exec "$ns" setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import socket, time
l = socket.socket(); l.bind(("127.0.0.1", 8080)); l.listen()
c1 = socket.create_connection(("127.0.0.1", 8080)); a1, _ = l.accept()
c2 = socket.create_connection(("127.0.0.1", 8080)); a2, _ = l.accept()
c2.close()
time.sleep(300)
'
) &
holder=$!
pod='namespace="shop",pod="cart-7d9f"'
# Listeners are not in the per-pod gauges; c2's orphaned FIN_WAIT2 is the
# pod's too, but the kernel ends it within tcp_fin_timeout: not compared.
want='close_wait=1 established=2'
got=
for _ in $(seq 60); do
  got=$(curl -sf "$url/metrics" | awk -v p="$pod" '
    index($1, "tcpfsm_sockets_by_pod{") == 1 && index($1, p) && $2 > 0 {
      match($1, /state="[a-z_0-9]+"/); s = substr($1, RSTART + 7, RLENGTH - 8)
      if (s == "close_wait" || s == "established") print s "=" $2
    }' | sort | tr '\n' ' ' | sed 's/ $//')
  [ "$got" = "$want" ] && break
  sleep 0.5
done
[ "$got" = "$want" ] ||
  fail "tcpfsm_sockets_by_pod{$pod}: '$got', not '$want': $(curl -sf "$url/metrics" | grep _by_pod)"
echo "tcpfsm_sockets_by_pod{$pod}: $got"
# Stuck after --stuck-min-age (10 s by default), named by comm and by the
# container's short id, as `crictl ps` shows it (no /var/log/containers entry
# names it here).
stuck="tcpfsm_stuck_sockets{state=\"close_wait\",comm=\"python3\",container=\"${cid:0:12}\"}"
got=
for _ in $(seq 60); do
  got=$(curl -sf "$url/metrics" | awk -v k="$stuck" '$1 == k { print $2 }')
  [ "$got" = 1 ] && break
  sleep 0.5
done
[ "$got" = 1 ] || fail "$stuck is '$got', not 1: $(curl -sf "$url/metrics" | grep '^tcpfsm_stuck_sockets')"
echo "$stuck $got"

echo "== what the pod uses"
podman stats --no-stream --format '{{.MemUsage}} {{.CPUPerc}}' "$ctr" || true
echo "PASS"
