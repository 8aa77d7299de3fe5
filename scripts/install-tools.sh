#!/usr/bin/env bash
# Installs the packaging tools that `make test` uses to check the Helm chart, skaffold.yaml and
# docker-compose.yml without a cluster and without internet access beyond the package registries:
#
#   helm         built from its Go module (Go module proxy), pinned
#   kubeconform  built from its Go module, pinned; it validates rendered manifests
#   JSON schemas Kubernetes' own OpenAPI document from the k8s.io/kubernetes module, turned into
#                strict JSON schemas (unknown fields are errors) by scripts/k8s-json-schemas.mjs;
#                the ServiceMonitor and PrometheusRule CRDs from the prometheus-operator module;
#                the compose-spec schema from compose-go; skaffold's schemas from the skaffold module
#   prometheus   Debian's package (promtool checks rules; the dashboard test runs a real server)
#
# Everything lands in $ERIC_CACHE_DIR/tools/ (default ${XDG_CACHE_HOME:-$HOME/.cache}/eric/tools,
# outside the work tree, so that every clone reuses it). A second run finds it there and takes a
# second; the first one builds helm and kubeconform (a few minutes on two cores) and downloads the
# modules.
#
#   scripts/install-tools.sh          install what is missing
#   scripts/install-tools.sh --print  print the paths, as VAR=value lines (the tests read them)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

HELM_VERSION=v3.21.4
KUBECONFORM_VERSION=v0.7.0
KUBERNETES_VERSION=v1.34.4            # the API schemas the manifests are validated against
PROMETHEUS_OPERATOR_VERSION=v0.85.0   # ServiceMonitor and PrometheusRule CRDs
COMPOSE_GO_VERSION=v2.16.2            # compose-spec.json
SKAFFOLD_VERSION=v2.16.1              # skaffold's v4beta* schemas
SKAFFOLD_SCHEMA=v4beta13              # the apiVersion skaffold.yaml uses

ERIC_CACHE_DIR="${ERIC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/eric}"
TOOLS="$ERIC_CACHE_DIR/tools"
BIN="$TOOLS/bin"
SCHEMAS="$TOOLS/schemas"
K8S_SCHEMAS="$SCHEMAS/kubernetes-$KUBERNETES_VERSION"

if [ "${1:-}" = "--print" ]; then
  echo "HELM=$BIN/helm-$HELM_VERSION"
  echo "KUBECONFORM=$BIN/kubeconform-$KUBECONFORM_VERSION"
  echo "K8S_SCHEMAS=$K8S_SCHEMAS"
  echo "KUBERNETES_VERSION=$KUBERNETES_VERSION"
  echo "COMPOSE_SCHEMA=$SCHEMAS/compose-spec-$COMPOSE_GO_VERSION.json"
  echo "SKAFFOLD_SCHEMA=$SCHEMAS/skaffold-$SKAFFOLD_SCHEMA.json"
  echo "PROMETHEUS=$(command -v prometheus || echo /usr/bin/prometheus)"
  echo "PROMTOOL=$(command -v promtool || echo /usr/bin/promtool)"
  exit 0
fi

say() { echo "install-tools: $*"; }
mkdir -p "$BIN" "$SCHEMAS"
command -v go >/dev/null || { say "Go is needed to build helm and kubeconform (https://go.dev/dl/)"; exit 1; }

# Module downloads must not depend on whatever go.mod is around; a scratch module is enough.
module_dir() { # module@version -> prints the unpacked module directory
  (cd "$TOOLS" && GOFLAGS=-mod=mod go mod download -json "$1") | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

go_install() { # binary name, package path, version, extra -ldflags
  local target="$BIN/$1-$3"
  [ -x "$target" ] && return 0
  say "building $1 $3 from the Go module proxy (once; a few minutes)"
  local scratch
  scratch="$(mktemp -d "$TOOLS/gobin.XXXXXX")"
  GOBIN="$scratch" GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install -ldflags "-s -w ${4:-}" "$2@$3"
  mv "$scratch/$1" "$target"
  rmdir "$scratch"
}

# The same version stamps as helm's own Makefile: its version, and the Kubernetes version that
# `helm template` and `helm lint` assume (that of the client-go it is built with).
go_install helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" "\
-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=36 \
-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=36"
go_install kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"

if [ ! -f "$K8S_SCHEMAS/.complete" ]; then
  say "generating strict Kubernetes $KUBERNETES_VERSION JSON schemas"
  k8s="$(module_dir "k8s.io/kubernetes@$KUBERNETES_VERSION")"
  operator="$(module_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")"
  rm -rf "$K8S_SCHEMAS"
  node scripts/k8s-json-schemas.mjs "$K8S_SCHEMAS" "$k8s/api/openapi-spec/swagger.json" \
    "$operator/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" \
    "$operator/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml"
  touch "$K8S_SCHEMAS/.complete"
fi

if [ ! -f "$SCHEMAS/compose-spec-$COMPOSE_GO_VERSION.json" ]; then
  compose="$(module_dir "github.com/compose-spec/compose-go/v2@$COMPOSE_GO_VERSION")"
  cp "$compose/schema/compose-spec.json" "$SCHEMAS/compose-spec-$COMPOSE_GO_VERSION.json"
fi

if [ ! -f "$SCHEMAS/skaffold-$SKAFFOLD_SCHEMA.json" ]; then
  say "downloading skaffold's schemas (once; the module is ~100 MB)"
  skaffold="$(module_dir "github.com/GoogleContainerTools/skaffold/v2@$SKAFFOLD_VERSION")"
  cp "$skaffold/docs-v2/content/en/schemas/$SKAFFOLD_SCHEMA.json" "$SCHEMAS/skaffold-$SKAFFOLD_SCHEMA.json"
fi

if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  say "installing Debian's prometheus package (the dashboard test runs a real Prometheus)"
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends prometheus >/dev/null
  # The package starts a system service on :9090; the test runs its own server and needs none.
  if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
    "${sudo[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi
say "ready ($(ls "$BIN" | tr '\n' ' '))"
