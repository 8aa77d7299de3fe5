#!/usr/bin/env bash
# Installs everything `make test` and `make run` need, on a fresh machine without internet access
# beyond the package registries:
#   - on Debian/Ubuntu, the system packages that the native Kafka client builds against, Java 17
#     and Maven for the local broker (with apt-get, as root or through sudo);
#   - the npm packages (npm ci), building @confluentinc/kafka-javascript from source against the
#     system's librdkafka dependencies (CKJS_LINKING=dynamic). Its install script first tries to
#     download a prebuilt binary from GitHub; where that is reachable (most laptops) it is used,
#     elsewhere the source build takes two to three minutes, once: the result is kept in
#     ~/.cache/eric/native-kafka-client/ ($ERIC_CACHE_DIR) and reused by every clone.
#
#   scripts/install.sh            system packages + npm packages
#   scripts/install.sh --browser  only Chromium, for the dashboard's browser test (`make test`)
#   scripts/install.sh --jdk      only a JDK and Maven, to build bench/kafka-streams (`make bench-compare`)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DEBIAN_PACKAGES=(
  # compiler toolchain for node-gyp
  build-essential python3
  # what librdkafka links against (compression, TLS, SASL, HTTP for OIDC)
  zlib1g-dev libssl-dev libzstd-dev liblz4-dev libsasl2-dev libcurl4-openssl-dev
  # the local Kafka broker: a JRE and Maven to fetch Kafka's jars from Maven Central
  default-jre-headless maven
)

say() { echo "install: $*"; }

install_debian_packages() { # packages...
  local wanted=("$@")
  command -v dpkg-query >/dev/null && command -v apt-get >/dev/null || {
    say "not a Debian-based system: make sure a C++ toolchain, Java 17+ and Maven are installed"
    return 0
  }
  local missing=()
  for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
  done
  # A JDK installed another way (e.g. Temurin) serves as well as Debian's JRE.
  if [[ " ${missing[*]} " == *" default-jre-headless "* ]] && command -v java >/dev/null; then
    missing=("${missing[@]/default-jre-headless/}")
  fi
  missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { say "please install as root: apt-get install ${missing[*]}"; exit 1; }
    sudo=(sudo)
  fi
  say "installing Debian packages: ${missing[*]}"
  # DPkg::Lock::Timeout: another install running at the same time (a second clone's `make`) is
  # waited for instead of failing on dpkg's lock.
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if [ "${1:-}" = "--browser" ]; then
  # playwright-core drives the system's Chromium: no browser download is needed or possible.
  command -v chromium >/dev/null || install_debian_packages chromium
  exit 0
fi

if [ "${1:-}" = "--jdk" ]; then
  # A Java compiler and Maven, however they were installed, will do.
  { command -v javac >/dev/null && command -v mvn >/dev/null; } || install_debian_packages default-jdk-headless maven
  exit 0
fi

# The native Kafka client's build (two to three minutes on two cores) is kept outside the work
# tree, so that a fresh clone reuses it: its addon and librdkafka's shared libraries (the addon
# finds them through its rpath, $ORIGIN/../deps). The key names everything the build depends on:
# the package's version, Node's ABI, the machine, and the system libraries it links against.
ERIC_CACHE_DIR="${ERIC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/eric}"
CLIENT=node_modules/@confluentinc/kafka-javascript

native_client_cache() {
  local version abi libraries
  version="$(node -p "require('./package-lock.json').packages['node_modules/@confluentinc/kafka-javascript'].version")"
  abi="$(node -p 'process.versions.modules')"
  libraries="$({ dpkg-query -W zlib1g-dev libssl-dev libzstd-dev liblz4-dev libsasl2-dev libcurl4-openssl-dev 2>/dev/null || true; } | sha256sum | cut -c1-12)"
  echo "$ERIC_CACHE_DIR/native-kafka-client/$version-node$abi-$(uname -s)-$(uname -m)-$libraries"
}

client_loads() { node -e "require('@confluentinc/kafka-javascript')" 2>/dev/null; }

install_from_source() {
  say "installing npm packages (the native Kafka client may build from source: two to three minutes)"
  CKJS_LINKING=dynamic npm ci --no-audit --no-fund
  client_loads || { say "the native Kafka client did not load"; exit 1; }
  local cache="$1" part="$1.part.$$"
  rm -rf "$part"
  mkdir -p "$part/build/Release" "$part/build/deps"
  cp -a "$CLIENT/build/Release/confluent-kafka-javascript.node" "$part/build/Release/"
  cp -a "$CLIENT"/build/deps/librdkafka*.so* "$part/build/deps/" 2>/dev/null || true
  rm -rf "$cache" && mv "$part" "$cache"
  say "kept the native Kafka client in $cache"
}

install_debian_packages "${DEBIAN_PACKAGES[@]}"
cache="$(native_client_cache)"
if [ -f "$cache/build/Release/confluent-kafka-javascript.node" ]; then
  say "installing npm packages (the native Kafka client from $cache)"
  npm ci --no-audit --no-fund --ignore-scripts
  mkdir -p "$CLIENT/build"
  cp -a "$cache/build/." "$CLIENT/build/"
  client_loads || { say "the cached native Kafka client did not load: building it again"; install_from_source "$cache"; }
else
  install_from_source "$cache"
fi
say "done"
