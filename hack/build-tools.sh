#!/usr/bin/env bash
# Builds the pinned dev/test tools from source into bin/:
#   kube-apiserver kubectl etcd helm controller-gen
# and, when named (for `make e2e`'s single-node cluster), the node's parts:
#   kubelet kube-controller-manager kube-scheduler containerd ctr
#   containerd-shim-runc-v2 runc
# Usage: hack/build-tools.sh [tool...]   (no arguments = the test tools)
#
# Only the Go module proxy is reachable from our machines (no release
# downloads), so every tool is compiled from its Go module. That is slow
# (kube-apiserver takes minutes), so each binary is kept in a per-user,
# version-keyed cache outside the repo and only copied into bin/ afterwards:
# a fresh clone on the same machine gets its tools in seconds, and a tool is
# rebuilt only when its pin in hack/versions.env changes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=versions.env
source "$ROOT/hack/versions.env"
BIN="$ROOT/bin"
CACHE="${TRUSTBROKER_TOOLS_CACHE:-$HOME/.cache/trustbroker/tools}"
ALL_TOOLS=(kube-apiserver kubectl etcd helm controller-gen)
NODE_TOOLS=(kubelet kube-controller-manager kube-scheduler containerd ctr containerd-shim-runc-v2 runc)

die() { echo "build-tools: ERROR: $*" >&2; exit 1; }

command -v go >/dev/null || die "go not found in PATH"
mkdir -p "$CACHE" "$BIN"
CACHE="$(cd "$CACHE" && pwd)"  # go runs in other dirs: paths must be absolute
WORK="$(mktemp -d "${TMPDIR:-/tmp}/trustbroker-tools.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

version_of() {
  case "$1" in
    kube-apiserver | kubectl | kubelet | kube-controller-manager | kube-scheduler) echo "$KUBERNETES_VERSION" ;;
    containerd | ctr | containerd-shim-runc-v2) echo "$CONTAINERD_VERSION" ;;
    runc) echo "$RUNC_VERSION" ;;
    etcd) echo "$ETCD_VERSION" ;;
    helm) echo "$HELM_VERSION" ;;
    controller-gen) echo "$CONTROLLER_TOOLS_VERSION" ;;
    *) die "unknown tool '$1' (known: ${ALL_TOOLS[*]} ${NODE_TOOLS[*]})" ;;
  esac
}

# run CMD...: keep go's chatter in the build log; on failure show its tail.
run() {
  "$@" >>"$LOG" 2>&1 || {
    tail -n 30 "$LOG" >&2
    die "'$*' failed (full log: $LOG)"
  }
}

# newmod NAME: a throw-away module to build in. `go install pkg@version`
# can't be used everywhere: it refuses modules whose go.mod has replace
# directives (etcd's and kubernetes' do).
newmod() {
  local dir="$WORK/$1"
  mkdir -p "$dir"
  run go -C "$dir" mod init trustbroker-tools.local
  echo "$dir"
}

# gobuild DIR OUT PKG@VERSION [LDFLAGS]: resolve PKG at VERSION in module DIR
# and build a static, path-independent binary.
gobuild() {
  local dir="$1" out="$2" pkgv="$3" ldflags="${4:-}"
  run go -C "$dir" get "$pkgv"
  run env CGO_ENABLED=0 go -C "$dir" build -trimpath \
    -ldflags "-s -w $ldflags" -o "$out" "${pkgv%@*}"
}

# Kubernetes binaries: k8s.io/kubernetes requires its staging modules at
# v0.0.0 and points them at ./staging/src via replace directives, which are
# ignored for a dependency. Re-point each to its published v0.<minor>.<patch>.
build_k8s() {
  local cmd="$1" out="$2" v="$3" gomod dir m major minor date x=""
  gomod="$(go list -m -f '{{.GoMod}}' "k8s.io/kubernetes@$v")" ||
    die "cannot fetch k8s.io/kubernetes@$v from the module proxy"
  dir="$(newmod "$cmd")"
  local -a edits=()
  for m in $(sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/.*#\1#p' "$gomod"); do
    edits+=(-replace "$m=$m@v0.${v#v1.}")
  done
  [[ ${#edits[@]} -gt 0 ]] || die "no staging replace directives found in $gomod"
  run go -C "$dir" mod edit "${edits[@]}"
  # Without these the binaries report v0.0.0-master, and discovery's
  # /version (which kubectl and helm check) is bogus. Same vars as
  # kubernetes' hack/lib/version.sh sets.
  major="${v#v}" major="${major%%.*}"
  minor="${v#v*.}" minor="${minor%%.*}"
  date="$(go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' "k8s.io/kubernetes@$v")"
  for m in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    x+=" -X $m.gitVersion=$v -X $m.gitMajor=$major -X $m.gitMinor=$minor"
    x+=" -X $m.gitTreeState=clean -X $m.buildDate=$date"
  done
  gobuild "$dir" "$out" "k8s.io/kubernetes/cmd/$cmd@$v" "$x"
}

build_kube-apiserver() { build_k8s kube-apiserver "$@"; }
build_kubectl() { build_k8s kubectl "$@"; }
build_kubelet() { build_k8s kubelet "$@"; }
build_kube-controller-manager() { build_k8s kube-controller-manager "$@"; }
build_kube-scheduler() { build_k8s kube-scheduler "$@"; }

# containerd's commands, static, reporting their release.
build_containerd_cmd() {
  local cmd="$1" out="$2" v="$3" dir
  dir="$(newmod "$cmd")"
  gobuild "$dir" "$out" "github.com/containerd/containerd/v2/cmd/$cmd@$v" \
    "-X github.com/containerd/containerd/v2/version.Version=${v#v}"
}
build_containerd() { build_containerd_cmd containerd "$@"; }
build_ctr() { build_containerd_cmd ctr "$@"; }
build_containerd-shim-runc-v2() { build_containerd_cmd containerd-shim-runc-v2 "$@"; }

# runc needs cgo (its nsenter is C) and libseccomp (Debian's
# libseccomp-dev) for the RuntimeDefault seccomp profile pods ask for.
build_runc() {
  local dir
  dir="$(newmod runc)"
  run go -C "$dir" get "github.com/opencontainers/runc@$2"
  run env CGO_ENABLED=1 go -C "$dir" build -trimpath -tags seccomp -ldflags "-s -w -X main.version=${2#v}" \
    -o "$1" github.com/opencontainers/runc
}

build_etcd() {
  local dir
  dir="$(newmod etcd)"
  # The module's root package is etcd's main package.
  gobuild "$dir" "$1" "go.etcd.io/etcd/server/v3@$2"
}

build_helm() {
  local v="$2" k8s x dir
  # helm's default .Capabilities.KubeVersion (used by `helm template` and
  # lint) is 1.20 unless set from its client-go version, as its Makefile does.
  k8s="$(sed -n 's#^[[:space:]]*k8s.io/client-go v0\.\([0-9]*\)\..*#\1#p' \
    "$(go list -m -f '{{.GoMod}}' "helm.sh/helm/v3@$v")")"
  [[ -n "$k8s" ]] || die "cannot find k8s.io/client-go in helm $v's go.mod"
  x="-X helm.sh/helm/v3/internal/version.version=$v -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  x+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s"
  x+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s"
  dir="$(newmod helm)"
  gobuild "$dir" "$1" "helm.sh/helm/v3/cmd/helm@$v" "$x"
}

build_controller-gen() {
  local dir
  dir="$(newmod controller-gen)"
  # Built inside another module, controller-gen would report "(devel)".
  gobuild "$dir" "$1" \
    "sigs.k8s.io/controller-tools/cmd/controller-gen@$2" \
    "-X sigs.k8s.io/controller-tools/pkg/version.version=$2"
}

ensure() {
  local tool="$1" v cached stamp start tmp
  v="$(version_of "$tool")"
  cached="$CACHE/$tool-$v/$tool"
  stamp="$BIN/.$tool.version"
  if [[ -x "$BIN/$tool" && -f "$stamp" && "$(<"$stamp")" == "$v" ]]; then
    echo "$tool $v up to date"
    return
  fi
  if [[ -x "$cached" ]]; then
    echo "$tool $v cached"
  else
    case "$tool" in
      kube-* | kubectl | kubelet) echo "building $tool $v (several minutes, once)..." ;;
      *) echo "building $tool $v (a minute or two, once)..." ;;
    esac
    start=$SECONDS
    mkdir -p "${cached%/*}"
    LOG="${cached%/*}/build.log"
    : >"$LOG"
    # Build beside the cache entry and rename, so an interrupted build
    # never leaves a half-written binary that looks cached.
    tmp="$cached.tmp.$$"
    "build_$tool" "$tmp" "$v"
    mv -f "$tmp" "$cached"
    echo "built $tool $v in $((SECONDS - start))s"
  fi
  # Copy then rename: overwriting a binary that is running fails.
  cp "$cached" "$BIN/.$tool.tmp"
  mv -f "$BIN/.$tool.tmp" "$BIN/$tool"
  echo "$v" >"$stamp"
}

tools=("$@")
[[ $# -gt 0 ]] || tools=("${ALL_TOOLS[@]}")
for tool in "${tools[@]}"; do version_of "$tool" >/dev/null; done  # typos fail before any build
for tool in "${tools[@]}"; do ensure "$tool"; done
