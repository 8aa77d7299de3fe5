#!/usr/bin/env bash
# Installs everything `make test` and `make run` need, on a fresh machine without internet access
# beyond the package registries:
#   - on Debian/Ubuntu, the system packages that the native Kafka client builds against, Java 17
#     and Maven for the local broker (with apt-get, as root or through sudo);
#   - the npm packages (npm ci), building @confluentinc/kafka-javascript from source against the
#     system's librdkafka dependencies (CKJS_LINKING=dynamic). Its install script first tries to
#     download a prebuilt binary from GitHub; where that is reachable (most laptops) it is used,
#     elsewhere the source build takes about a minute and a half.
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

install_debian_packages "${DEBIAN_PACKAGES[@]}"
say "installing npm packages (the native Kafka client may build from source: about 90 s)"
CKJS_LINKING=dynamic npm ci --no-audit --no-fund
node -e "require('@confluentinc/kafka-javascript')" || { say "the native Kafka client did not load"; exit 1; }
say "done"
