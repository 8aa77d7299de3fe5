#!/usr/bin/env bash
# skaffold, pinned and built from the Go module proxy (no release download needed):
#
#   scripts/skaffold.sh ARGS...   build skaffold once, then run it with ARGS (e.g. dev -p local);
#                                 without a Docker daemon, podman's Docker API stands in (below)
#   scripts/skaffold.sh --path    build it once and print its path
#
# The module in scripts/skaffold/ pins the version; the binary is cached outside the work tree in
# $ERIC_CACHE_DIR/skaffold/<version>/ (default ${XDG_CACHE_HOME:-$HOME/.cache}/eric), so that
# every clone reuses it. The first build takes several minutes on two cores.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODULE="$ROOT/scripts/skaffold"
VERSION="$(sed -n 's#^\(require\)\{0,1\}[[:space:]]*github.com/GoogleContainerTools/skaffold/v2 \(v[^ ]*\).*#\2#p' "$MODULE/go.mod" | head -n 1)"
[ -n "$VERSION" ] || { echo "skaffold: no skaffold version in $MODULE/go.mod" >&2; exit 1; }
ERIC_CACHE_DIR="${ERIC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/eric}"
BINARY="$ERIC_CACHE_DIR/skaffold/$VERSION/skaffold"

if [ ! -x "$BINARY" ]; then
  command -v go >/dev/null || { echo "skaffold: Go is needed to build skaffold (https://go.dev/dl/)" >&2; exit 1; }
  echo "skaffold: building skaffold $VERSION from the Go module proxy (once; several minutes)" >&2
  mkdir -p "$(dirname "$BINARY")"
  # `skaffold version` reports the release, as skaffold's own build stamps it.
  (cd "$MODULE" && nice -n 19 env CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=readonly" go build -trimpath \
    -ldflags "-s -w -X github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.version=$VERSION" \
    -o "$BINARY.part" ./cmd/skaffold)
  mv "$BINARY.part" "$BINARY"
fi

if [ "${1:-}" = --path ]; then echo "$BINARY"; exit 0; fi

# skaffold looks images up in a Docker daemon after building them, even with a custom build and
# nothing to push. Without a daemon, podman's Docker-compatible API (Debian's podman) answers for
# the images buildah built, which share its image store, for as long as skaffold runs.
if [ -z "${DOCKER_HOST:-}" ] && [ ! -S /var/run/docker.sock ]; then
  if ! command -v podman >/dev/null; then
    echo "skaffold: installing Debian's podman (its Docker API stands in for a Docker daemon)" >&2
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends podman >/dev/null
  fi
  api_dir="$(mktemp -d)"
  podman system service --time=0 "unix://$api_dir/docker.sock" 2>"$api_dir/podman.log" &
  api_pid=$!
  trap 'kill "$api_pid" 2>/dev/null; wait "$api_pid" 2>/dev/null; rm -rf "$api_dir"' EXIT
  # The socket appears before the API answers; on a busy machine podman takes seconds to serve.
  api_gone() { cat "$api_dir/podman.log" >&2; echo "skaffold: podman's Docker API $1 (its log above)" >&2; exit 1; }
  deadline=$((SECONDS + 60))
  until curl -sf --max-time 2 --unix-socket "$api_dir/docker.sock" http://podman/_ping >/dev/null 2>&1; do
    kill -0 "$api_pid" 2>/dev/null || api_gone "exited"
    ((SECONDS < deadline)) || api_gone "did not answer within 60 s"
    sleep 0.1
  done
  export DOCKER_HOST="unix://$api_dir/docker.sock"
  # skaffold's own artifact cache would skip the custom build, and with it the step that loads
  # the image into the node; buildah's layer cache keeps an unchanged rebuild at a few seconds.
  export SKAFFOLD_CACHE_ARTIFACTS=false
fi
"$BINARY" "$@"
