#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine, for `make e2e`:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd
# with runc, and a kubelet, all built from the Go module proxy
# (hack/build-tools.sh), run as root.
#
#   hack/e2e/cluster.sh deps       install the Debian packages it needs
#   hack/e2e/cluster.sh run        up, the e2e tests, down (always)
#   hack/e2e/cluster.sh up | down  by hand; down also cleans up after a crash
#   hack/e2e/cluster.sh apiserver-stop | apiserver-start   (outage tests)
#
# Networking without a bridge: each pod has a veth and a /32 from POD_RANGE
# routed from the host (hack/e2e/cni); pods reach the API server at the
# `kubernetes` Service address, DNAT'd to the API server on loopback. While
# the cluster runs, POD_SUPERNET is `unreachable` so that nothing sent to a
# pod address ever follows the default route off the machine.
#
# Everything the cluster changes on the host is recorded at `up` and undone
# at `down`: processes, mounts, network namespaces, veths, cgroups, routes,
# iptables chains, sysctls and the directories it creates.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="$ROOT/bin"
E2E="${E2E_DIR:-/var/lib/trustbroker-e2e}"
NODE=e2e-node
POD_RANGE=100.64.0.0/24
POD_SUPERNET=100.64.0.0/10
SERVICE_RANGE=198.18.0.0/24
API_VIP=198.18.0.1
API_PORT=16443
ETCD_PORT=12379
CGROUP_ROOT=trustbroker-e2e
CHAIN=TRUSTBROKER-E2E
SOCK="$E2E/containerd/containerd.sock"
IMAGE_TAR="${IMAGE_TAR:-$BIN/trustbroker-image.tar}"
PAUSE_IMAGE=trustbroker.test/e2e-pause:1
# What the kubelet (or we) may change, restored at down.
SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
# Host paths the node's parts create outside $E2E (removed at down unless
# they were there before).
HOST_PATHS=(/var/log/containers /var/log/pods /run/containerd /var/lib/containerd
  /opt/containerd /var/run/netns /etc/cni /opt/cni /var/lib/cni /var/lib/kubelet /etc/kubernetes)

log() { echo "e2e: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

export PATH="$BIN:$PATH"
export KUBECONFIG="$E2E/admin.kubeconfig"

# ---- processes ----

# start NAME CMD...: run CMD in its own session, logging to $E2E/logs.
start() {
  local name="$1"
  shift
  setsid "$@" >>"$E2E/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$E2E/pids/$name"
}

# stop NAME: TERM, then KILL after 15 s.
stop() {
  local f="$E2E/pids/$1" pid i
  [[ -f "$f" ]] || return 0
  pid="$(<"$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$1 did not stop within 15s of SIGTERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$f"
}

# wait_for WHAT SECONDS CMD...: retry CMD until it succeeds.
wait_for() {
  local what="$1" limit="$2" i
  shift 2
  for ((i = 0; i < limit * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  die "timed out after ${limit}s waiting for $what (logs: $E2E/logs)"
}

# ---- certificates and credentials ----

credentials() {
  local pki="$E2E/pki"
  mkdir -p "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=trustbroker-e2e-ca" \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
    -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,IP:%s,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' \
    "$API_VIP" >"$pki/apiserver.ext"
  openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 2 -extfile "$pki/apiserver.ext" -out "$pki/apiserver.crt" 2>/dev/null
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  # Bearer tokens: admin, the controller manager, the scheduler, the kubelet.
  local user token
  : >"$pki/tokens.csv"
  for user in "admin|system:masters" "system:kube-controller-manager|" "system:kube-scheduler|" "system:node:$NODE|system:nodes"; do
    token="$(openssl rand -hex 24)"
    local name="${user%|*}" group="${user#*|}"
    echo "$token,$name,$name${group:+,\"$group\"}" >>"$pki/tokens.csv"
    kubeconfig "$name" "$token"
  done
}

# kubeconfig USER TOKEN: $E2E/<user>.kubeconfig (admin: admin.kubeconfig).
kubeconfig() {
  local file="$E2E/${1##*:}.kubeconfig"
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: e2e, cluster: {server: "https://127.0.0.1:$API_PORT", certificate-authority: "$E2E/pki/ca.crt"}}]
users: [{name: "$1", user: {token: "$2"}}]
contexts: [{name: e2e, context: {cluster: e2e, user: "$1"}}]
current-context: e2e
EOF
}

# ---- control plane ----

start_etcd() {
  start etcd "$BIN/etcd" --name e2e --data-dir "$E2E/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-cluster "e2e=http://127.0.0.1:$((ETCD_PORT + 1))" --unsafe-no-fsync
  wait_for etcd 30 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
}

apiserver_start() {
  local pki="$E2E/pki"
  start kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --secure-port "$API_PORT" --advertise-address 100.64.0.1 \
    --endpoint-reconciler-type none \
    --service-cluster-ip-range "$SERVICE_RANGE" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" --token-auth-file "$pki/tokens.csv" \
    --authorization-mode Node,RBAC \
    --shutdown-watch-termination-grace-period 1s \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key"
  wait_for "the API server" 60 kubectl get --raw /readyz
}

apiserver_stop() { stop kube-apiserver; }

start_controllers() {
  start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$E2E/kube-controller-manager.kubeconfig" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port 10257 \
    --service-account-private-key-file "$E2E/pki/sa.key" --root-ca-file "$E2E/pki/ca.crt" \
    --use-service-account-credentials --service-cluster-ip-range "$SERVICE_RANGE"
  start kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig "$E2E/kube-scheduler.kubeconfig" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port 10259
}

# ---- node ----

network() {
  ip route add unreachable "$POD_SUPERNET"
  iptables -t nat -N "$CHAIN"
  iptables -t nat -A "$CHAIN" -d "$API_VIP/32" -p tcp --dport 443 -j DNAT --to-destination "127.0.0.1:$API_PORT"
  iptables -t nat -I PREROUTING -s "$POD_RANGE" -j "$CHAIN"
  mkdir -p "$E2E/cni/bin" "$E2E/cni/conf"
  CGO_ENABLED=0 go build -C "$ROOT" -o "$E2E/cni/bin/trustbroker-e2e" ./hack/e2e/cni
  cat >"$E2E/cni/conf/10-trustbroker-e2e.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "trustbroker-e2e",
 "plugins": [{"type": "trustbroker-e2e", "range": "$POD_RANGE", "stateDir": "$E2E/cni/leases"}]}
EOF
}

cgroups() {
  local h
  for h in /sys/fs/cgroup/*/; do
    [[ -f "$h/cgroup.procs" ]] || continue
    mkdir -p "$h$CGROUP_ROOT"
    if [[ -f "$h/cpuset.cpus" ]]; then
      cat "$h/cpuset.cpus" >"$h$CGROUP_ROOT/cpuset.cpus"
      cat "$h/cpuset.mems" >"$h$CGROUP_ROOT/cpuset.mems"
    fi
  done
}

start_containerd() {
  mkdir -p "$E2E/containerd"
  cat >"$E2E/containerd/config.toml" <<EOF
version = 3
root = "$E2E/containerd/root"
state = "$E2E/containerd/state"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.blockfile", "io.containerd.snapshotter.v1.erofs"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins.'io.containerd.cri.v1.runtime']
  # The sandbox may not lower oom_score_adj here.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["$E2E/cni/bin"]
    conf_dir = "$E2E/cni/conf"
    use_internal_loopback = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
    BinaryName = "$BIN/runc"
    Root = "$E2E/runc"
[plugins.'io.containerd.cri.v1.images']
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "$PAUSE_IMAGE"
EOF
  start containerd "$BIN/containerd" --config "$E2E/containerd/config.toml"
  wait_for containerd 30 ctr --address "$SOCK" version
}

# images: the pause image (built here, as no registry is reachable) and
# the project's image, imported as `ctr images import` does for any user
# without a registry.
images() {
  local pause="$E2E/pause"
  mkdir -p "$pause"
  CGO_ENABLED=0 go build -C "$ROOT" -trimpath -ldflags "-s -w" -o "$pause/pause" ./hack/e2e/pause
  go run -C "$ROOT" ./hack/imagebuild -ref "$PAUSE_IMAGE" -out "$pause/pause.tar" -entrypoint /pause \
    -user 65535:65535 -ca-certificates "" "$pause/pause=/pause"
  ctr --address "$SOCK" -n k8s.io images import "$pause/pause.tar"
  ctr --address "$SOCK" -n k8s.io images import "$IMAGE_TAR"
}

start_kubelet() {
  mkdir -p "$E2E/kubelet" "$E2E/pod-logs"
  cat >"$E2E/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$E2E/pki/ca.crt"}
authorization: {mode: Webhook}
containerRuntimeEndpoint: "unix://$SOCK"
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
# This host has cgroup v1.
failCgroupV1: false
failSwapOn: false
podLogsDir: "$E2E/pod-logs"
resolvConf: /etc/resolv.conf
hairpinMode: none
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOF
  start kubelet "$BIN/kubelet" --config "$E2E/kubelet.yaml" --kubeconfig "$E2E/$NODE.kubeconfig" \
    --hostname-override "$NODE" --root-dir "$E2E/kubelet"
  wait_for "node $NODE to be Ready" 120 kubectl wait --for=condition=Ready "node/$NODE" --timeout=1s
}

# deps: iptables for the API server's address, libseccomp for runc's
# seccomp (pods ask for RuntimeDefault), xmlsec1 for the tokens.
deps() {
  local p missing=()
  for p in iptables libseccomp-dev pkg-config xmlsec1 openssl curl; do
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == "install ok installed" ]] || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  [[ $EUID -eq 0 ]] || die "the cluster needs root; missing packages: ${missing[*]}"
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ---- up / down ----

up() {
  [[ $EUID -eq 0 ]] || die "the cluster needs root (containerd, kubelet, iptables)"
  [[ ! -e "$E2E" ]] || { log "cleaning up an earlier run"; down; }
  local start=$SECONDS p s
  mkdir -p "$E2E/logs" "$E2E/pids"
  # What to restore at down.
  for s in "${SYSCTLS[@]}"; do echo "$s=$(sysctl -n "$s")"; done >"$E2E/sysctls"
  for p in "${HOST_PATHS[@]}"; do [[ -e "$p" ]] && echo "$p"; done >"$E2E/host-paths" || true
  for t in filter nat mangle raw; do
    { iptables -t "$t" -S; ip6tables -t "$t" -S; } 2>/dev/null | sed -n 's/^-N //p'
  done | sort -u >"$E2E/chains"
  credentials
  start_etcd
  apiserver_start
  start_controllers
  network
  cgroups
  start_containerd
  images
  start_kubelet
  log "node $NODE Ready after $((SECONDS - start))s"
}

down() {
  log "tearing down"
  stop kubelet
  if [[ -S "$SOCK" ]]; then
    local id
    for id in $(ctr --address "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$SOCK" -n k8s.io tasks kill -s KILL "$id" >/dev/null 2>&1 || true
    done
    sleep 1
    for id in $(ctr --address "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$SOCK" -n k8s.io tasks delete -f "$id" >/dev/null 2>&1 || true
    done
  fi
  stop containerd
  # Shims and container processes left behind are ours: they run in our
  # cgroups, or are shims serving our containerd.
  local h pid
  for pid in $(pgrep -f -- "-address $SOCK" || true); do kill -KILL "$pid" 2>/dev/null || true; done
  for h in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do
    [[ -d "$h" ]] || continue
    find "$h" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
  done
  for name in kube-scheduler kube-controller-manager kube-apiserver etcd; do stop "$name"; done
  # Mounts (container root filesystems, pod volumes, network namespaces).
  local m
  for ((i = 0; i < 3; i++)); do
    for m in $(findmnt -rn -o TARGET | grep -F "$E2E/" | sort -r); do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
  done
  for h in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do
    [[ -d "$h" ]] || continue
    find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null || log "cgroup $h not removed"
  done
  # Network: veths (their peers die with the namespaces), routes, iptables.
  local link
  for link in $(ip -o link show | sed -n 's/^[0-9]*: \(tbe[^@:]*\).*/\1/p'); do ip link del "$link" 2>/dev/null || true; done
  ip route del unreachable "$POD_SUPERNET" 2>/dev/null || true
  iptables -t nat -D PREROUTING -s "$POD_RANGE" -j "$CHAIN" 2>/dev/null || true
  iptables -t nat -F "$CHAIN" 2>/dev/null || true
  iptables -t nat -X "$CHAIN" 2>/dev/null || true
  [[ -f "$E2E/chains" ]] && remove_new_chains
  # sysctls and host paths.
  if [[ -f "$E2E/sysctls" ]]; then
    while IFS= read -r kv; do sysctl -q -w "$kv" || true; done <"$E2E/sysctls"
  fi
  local p
  for p in "${HOST_PATHS[@]}"; do
    if [[ -e "$p" ]] && ! grep -qxF "$p" "$E2E/host-paths" 2>/dev/null; then rm -rf --one-file-system "$p"; fi
  done
  rm -rf --one-file-system "$E2E"
  log "torn down"
}

# remove_new_chains: the chains the kubelet made (KUBE-*: its canaries and
# hints), and the rules that jump to them.
remove_new_chains() {
  local cmd t c rule
  for cmd in iptables ip6tables; do
    for t in filter nat mangle raw; do
      for c in $("$cmd" -t "$t" -S 2>/dev/null | sed -n 's/^-N //p'); do
        grep -qxF "$c" "$E2E/chains" && continue
        while IFS= read -r rule; do
          eval "$cmd -t $t -D ${rule#-A }" 2>/dev/null || true
        done < <("$cmd" -t "$t" -S 2>/dev/null | grep -E -- "^-A .* -j $c( |\$)" || true)
        "$cmd" -t "$t" -F "$c" 2>/dev/null || true
        "$cmd" -t "$t" -X "$c" 2>/dev/null || true
      done
    done
  done
}

run() {
  local status=0 start=$SECONDS
  trap 'down' EXIT
  trap 'exit 130' INT TERM
  up
  E2E_DIR="$E2E" E2E_CLUSTER="$ROOT/hack/e2e/cluster.sh" go test -C "$ROOT" -tags e2e -count=1 -timeout 30m -v ./test/e2e || status=$?
  if ((status != 0)); then
    log "failed; logs follow"
    tail -n 40 "$E2E"/logs/*.log >&2 || true
  fi
  log "whole run: $((SECONDS - start))s"
  return "$status"
}

case "${1:-}" in
  deps) deps ;;
  run) run ;;
  up) up ;;
  down) down ;;
  apiserver-stop) apiserver_stop ;;
  apiserver-start) apiserver_start ;;
  *) die "usage: $0 deps|run|up|down|apiserver-stop|apiserver-start" ;;
esac
