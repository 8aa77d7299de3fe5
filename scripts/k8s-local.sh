#!/usr/bin/env bash
# A real Kubernetes control plane on this machine, on loopback, without Docker, kind or minikube.
#
#   scripts/k8s-local.sh up          build the binaries if needed, then start etcd, kube-apiserver,
#                                    kube-controller-manager and kube-scheduler; wait until ready
#   scripts/k8s-local.sh up --node   the same plus a node that runs pods: containerd, runc and the
#                                    CNI plugins from Debian, and a kubelet (root only; see below)
#   scripts/k8s-local.sh down        stop them (SIGTERM, then SIGKILL after 30 s); data is kept
#   scripts/k8s-local.sh reset       stop them and delete the cluster's data and certificates
#   scripts/k8s-local.sh status      say what runs and whether the API server is ready
#   scripts/k8s-local.sh kubeconfig  print the path of the admin kubeconfig
#   scripts/k8s-local.sh env         print export lines (KUBECONFIG, PATH with kubectl) to eval
#   scripts/k8s-local.sh kubectl ... run the pinned kubectl against this cluster
#   scripts/k8s-local.sh build       only build the binaries into the cache
#   scripts/k8s-local.sh bin         print the directory of the built binaries
#   scripts/k8s-local.sh ctr ...     Debian's ctr against the node's containerd, namespace k8s.io
#                                    (e.g. `ctr images import --base-name localhost/x image.tar`)
#
# The binaries are built once from the Go module proxy by the small module in scripts/k8s/, which
# requires k8s.io/kubernetes at a pinned release (its staging modules replaced by their published
# versions) and etcd's server module at the version Kubernetes itself requires. They are kept in
# $ERIC_CACHE_DIR/k8s/<kubernetes version>/bin (default ~/.cache/eric, outside the work tree, so
# every clone reuses them): the first build takes a while (see docs/kubernetes.md), a second `up` starts in
# seconds. Certificates (openssl), the service-account key pair, etcd's data, the logs, the pid
# files and the kubeconfig live in $K8S_HOME_DIR.
#
# Without --node there is no kubelet: objects are stored, validated, admitted and reconciled by the
# real controllers (Deployments get ReplicaSets and Pods, Jobs get Pods, namespaces are finalized),
# but no container runs and pods stay Pending.
#
# With --node, one node called "localhost" joins: a kubelet (built like the rest) on Debian's
# containerd, runc and CNI plugins (installed with apt-get when missing), pods on a bridge of their
# own (K8S_NODE_BRIDGE, K8S_POD_SUBNET), the pause image built here from scripts/k8s/pause/pause.c
# (gcc, buildah). Nothing is pulled from a registry: images must be imported into the node's
# containerd (the `ctr` command) and used with imagePullPolicy Never or IfNotPresent. The kubelet
# and the API server talk over loopback (the API server reaches the kubelet by its Hostname
# address, localhost). Services work inside pods: kube-proxy (built like the rest, iptables mode)
# gives them their cluster IPs, Debian's dnsmasq on the bridge answers <service>.<namespace>.svc
# .cluster.local from a hosts file kept equal to the Services (`dns-sync`), and Debian's socat puts
# the API server (on loopback) behind the "kubernetes" Service for pods that call it. Pods reach
# nothing but their own network: traffic from the bridge to anywhere else is rejected. kube-proxy's
# iptables chains are the machine's, so run one node per machine at a time.
#
# Environment (all optional):
#   K8S_HOME_DIR          state directory, default .eric/k8s
#   K8S_API_PORT          kube-apiserver's https port on 127.0.0.1, default 16443
#   K8S_ETCD_PORT         etcd client port, default 16379 (peer port: K8S_ETCD_PORT + 1)
#   K8S_CM_PORT           kube-controller-manager's https (health) port, default 16257
#   K8S_SCHEDULER_PORT    kube-scheduler's https (health) port, default 16259
#   K8S_START_TIMEOUT     seconds to wait for readiness, default 120
#   K8S_BUILD_JOBS        parallel compile jobs of the one-time build (go build -p), default 1
#   K8S_KUBELET_PORT      the kubelet's https port on 127.0.0.1 (--node), default 16250
#   K8S_NODE_BRIDGE       the pods' bridge (--node), default eric0
#   K8S_POD_SUBNET        the pods' addresses (--node), a /24, default 10.244.0.0/24; its first
#                         address is the bridge's: the pods' gateway, DNS server and API server
#   K8S_NODE_TAINT        a taint the node registers with (--node), key=value:Effect; default none
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODULE="$ROOT/scripts/k8s"
K8S_VERSION="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' "$MODULE/go.mod")"
# Build caches live outside the work tree, so that every clone (and CI's fresh one) reuses them.
ERIC_CACHE_DIR="${ERIC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/eric}"
BIN="$ERIC_CACHE_DIR/k8s/$K8S_VERSION/bin"
K8S_HOME_DIR="${K8S_HOME_DIR:-$ROOT/.eric/k8s}"
K8S_API_PORT="${K8S_API_PORT:-16443}"
K8S_ETCD_PORT="${K8S_ETCD_PORT:-16379}"
K8S_ETCD_PEER_PORT="$((K8S_ETCD_PORT + 1))"
K8S_CM_PORT="${K8S_CM_PORT:-16257}"
K8S_SCHEDULER_PORT="${K8S_SCHEDULER_PORT:-16259}"
K8S_START_TIMEOUT="${K8S_START_TIMEOUT:-120}"
K8S_BUILD_JOBS="${K8S_BUILD_JOBS:-1}"
K8S_KUBELET_PORT="${K8S_KUBELET_PORT:-16250}"
K8S_NODE_BRIDGE="${K8S_NODE_BRIDGE:-eric0}"
K8S_POD_SUBNET="${K8S_POD_SUBNET:-10.244.0.0/24}"
K8S_NODE_TAINT="${K8S_NODE_TAINT:-}"
# dns-sync, started in the background, runs this script again: it needs the same state directory.
export K8S_HOME_DIR ERIC_CACHE_DIR
SERVICE_CIDR="10.96.0.0/16" # only allocated from: Services get cluster IPs, no traffic goes there
SERVICE_IP="10.96.0.1"      # the "kubernetes" Service, in the API server's certificate

PKI="$K8S_HOME_DIR/pki"
KUBECONFIG_FILE="$K8S_HOME_DIR/kubeconfig"
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler)
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)
NODE_BINARIES=(kubelet kube-proxy)
NODE="$K8S_HOME_DIR/node"
NODE_NAME=localhost
CONTAINERD_SOCK="$NODE/containerd.sock"
PAUSE_IMAGE="localhost/eric-pause:1"
NODE_GATEWAY="${K8S_POD_SUBNET%.*}.1" # x.y.z.0/24 -> x.y.z.1
SERVICE_HOSTS="$NODE/dns/services.hosts"
KUBE_PROXY_HEALTH_PORT="$((K8S_KUBELET_PORT + 6))"

say() { echo "k8s-local: $*"; }
die() { echo "k8s-local: error: $*" >&2; exit 1; }

[ -n "$K8S_VERSION" ] || die "no k8s.io/kubernetes version in $MODULE/go.mod"

# --- build ------------------------------------------------------------------------------------

built() { # binaries...
  local b
  for b in "$@"; do [ -x "$BIN/$b" ] || return 1; done
}

# build_binaries BINARY... : go build of those commands of the module, into $BIN.
build_binaries() {
  local wanted=() b
  for b in "$@"; do built "$b" || wanted+=("$b"); done
  [ ${#wanted[@]} -gt 0 ] || return 0
  set -- "${wanted[@]}"
  command -v go >/dev/null || die "Go is needed to build Kubernetes (https://go.dev/dl/)"
  say "building $* (Kubernetes $K8S_VERSION) from the Go module proxy into ${BIN#"$ROOT"/}"
  say "(once; long on two cores, at the lowest CPU priority)"
  local ldflags="-s -w" pkg minor packages=()
  minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
  # The version stamps of Kubernetes' own build (hack/lib/version.sh): the API server reports them
  # at /version, and Helm checks a chart's kubeVersion against that.
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ldflags="$ldflags -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags="$ldflags -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  for b in "$@"; do
    if [ "$b" = etcd ]; then packages+=(./cmd/etcd); else packages+=("k8s.io/kubernetes/cmd/$b"); fi
  done
  local scratch
  mkdir -p "$(dirname "$BIN")"
  scratch="$(mktemp -d "$(dirname "$BIN")/build.XXXXXX")"
  local started=$SECONDS
  (cd "$MODULE" && nice -n 19 env CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=readonly" \
    go build -p "$K8S_BUILD_JOBS" -trimpath -ldflags "$ldflags" -o "$scratch/" "${packages[@]}") \
    || { rm -rf "$scratch"; die "the build failed"; }
  mkdir -p "$BIN"
  for b in "$@"; do mv "$scratch/$b" "$BIN/$b"; done
  rmdir "$scratch"
  say "built in $((SECONDS - started)) s"
}

# The node's binaries are built with the rest: one go build shares the compiled packages.
build() { build_binaries "${BINARIES[@]}" "${NODE_BINARIES[@]}"; }

# --- certificates -----------------------------------------------------------------------------

# ca NAME COMMON-NAME: a self-signed certificate authority.
ca() {
  [ -f "$PKI/$1.crt" ] && return 0
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$1.key" 2>/dev/null
  openssl req -x509 -new -key "$PKI/$1.key" -subj "/CN=$2" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$PKI/$1.crt" 2>/dev/null
}

# cert NAME SUBJECT EXTENSIONS: a key and a certificate signed by the cluster's CA ($CA_NAME).
cert() {
  [ -f "$PKI/$1.crt" ] && return 0
  local ca_name="${CA_NAME:-ca}"
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$1.key" 2>/dev/null
  openssl req -new -key "$PKI/$1.key" -subj "$2" -out "$PKI/$1.csr" 2>/dev/null
  printf '%b\n' "$3" >"$PKI/$1.ext"
  openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$ca_name.crt" -CAkey "$PKI/$ca_name.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$PKI/$1.ext" -out "$PKI/$1.crt" 2>/dev/null
  rm -f "$PKI/$1.csr" "$PKI/$1.ext"
}

pki() {
  command -v openssl >/dev/null || die "openssl is needed (Debian: apt-get install openssl)"
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  ca ca eric-local-ca
  ca front-proxy-ca eric-local-front-proxy-ca
  local client="basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth"
  # The aggregation layer's client (the API server proxying to extension API servers), signed by
  # a CA of its own as kubeadm does; controllers read it from extension-apiserver-authentication.
  CA_NAME=front-proxy-ca cert front-proxy-client "/CN=front-proxy-client" "$client"
  cert apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$SERVICE_IP"
  cert admin "/O=system:masters/CN=eric-local-admin" "$client"
  cert controller-manager "/CN=system:kube-controller-manager" "$client"
  cert scheduler "/CN=system:kube-scheduler" "$client"
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client"
  cert node "/O=system:nodes/CN=system:node:$NODE_NAME" "$client"
  if [ ! -f "$PKI/sa.key" ]; then
    openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
    openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  fi
}

# kubeconfig FILE CERT-NAME: a kubeconfig with the certificates embedded.
kubeconfig() {
  local b64="base64 -w0"
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: eric-local
    cluster:
      server: https://127.0.0.1:$K8S_API_PORT
      certificate-authority-data: $($b64 <"$PKI/ca.crt")
users:
  - name: $2
    user:
      client-certificate-data: $($b64 <"$PKI/$2.crt")
      client-key-data: $($b64 <"$PKI/$2.key")
contexts:
  - name: eric-local
    context:
      cluster: eric-local
      user: $2
current-context: eric-local
EOF
  chmod 600 "$1"
}

# --- processes --------------------------------------------------------------------------------

running_pid() { # component
  local file="$K8S_HOME_DIR/$1.pid" pid
  [ -f "$file" ] || return 1
  pid="$(cat "$file")"
  kill -0 "$pid" 2>/dev/null || return 1
  # The pid could have been reused by an unrelated process.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "^$(executable "$1") " || return 1
  echo "$pid"
}

executable() { # component
  case "$1" in
    containerd | dnsmasq) command -v "$1" ;;
    api-forward) command -v socat ;;
    dns-sync) command -v bash ;; # this script, run again (see node_services)
    *) echo "$BIN/$1" ;;
  esac
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

launch() { # component port|- args...
  local name="$1" port="$2"
  shift 2
  if running_pid "$name" >/dev/null; then return 0; fi
  local where=""
  if [ "$port" != - ]; then
    port_in_use "$port" && die "port $port (for $name) is taken by another program: set the K8S_*_PORT variables"
    where=" on 127.0.0.1:$port"
  fi
  say "starting $name$where (log: ${K8S_HOME_DIR#"$ROOT"/}/$name.log)"
  setsid "$(executable "$name")" "$@" >>"$K8S_HOME_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$K8S_HOME_DIR/$name.pid"
  # Until the background shell has exec'd the program, its command line is this script's, and
  # running_pid would take a slow start on a busy machine for an exit: wait for the exec.
  local i
  for i in $(seq 1 100); do
    running_pid "$name" >/dev/null && return 0
    kill -0 "$(cat "$K8S_HOME_DIR/$name.pid")" 2>/dev/null || break
    sleep 0.1
  done
  running_pid "$name" >/dev/null || die "$name did not start (log: $K8S_HOME_DIR/$name.log)"
}

# wait_for NAME COMMAND...: until the command succeeds, while the component runs.
wait_for() {
  local name="$1" deadline=$((SECONDS + K8S_START_TIMEOUT))
  shift
  until "$@" >/dev/null 2>&1; do
    if [ -n "${component:-}" ] && ! running_pid "$component" >/dev/null; then
      tail -n 30 "$K8S_HOME_DIR/$component.log" >&2 || true
      die "$component exited (log: $K8S_HOME_DIR/$component.log)"
    fi
    [ $SECONDS -lt $deadline ] || die "$name not ready after ${K8S_START_TIMEOUT} s (logs in $K8S_HOME_DIR)"
    sleep 0.5
  done
}

api_get() { # path: GET as the admin, over TLS
  curl --silent --fail --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$K8S_API_PORT$1"
}
health() { curl --silent --fail --max-time 5 --insecure "https://127.0.0.1:$1/healthz"; }
kctl() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

up() {
  command -v curl >/dev/null || die "curl is needed (Debian: apt-get install curl)"
  build
  mkdir -p "$K8S_HOME_DIR"
  pki
  kubeconfig "$KUBECONFIG_FILE" admin
  kubeconfig "$K8S_HOME_DIR/controller-manager.kubeconfig" controller-manager
  kubeconfig "$K8S_HOME_DIR/scheduler.kubeconfig" scheduler
  kubeconfig "$K8S_HOME_DIR/node.kubeconfig" node
  local started=$SECONDS component

  component=etcd
  # No TLS between the API server and etcd: both listen on loopback only. No fsync: this is a
  # disposable development cluster on a shared machine, and fsync is most of etcd's latency.
  launch etcd "$K8S_ETCD_PORT" --name eric-local --data-dir "$K8S_HOME_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$K8S_ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$K8S_ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$K8S_ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$K8S_ETCD_PEER_PORT" \
    --initial-cluster "eric-local=http://127.0.0.1:$K8S_ETCD_PEER_PORT" \
    --unsafe-no-fsync --quota-backend-bytes 2147483648 --log-level warn
  wait_for etcd curl --silent --fail --max-time 5 "http://127.0.0.1:$K8S_ETCD_PORT/health"

  component=kube-apiserver
  # The API server listens on loopback only, and Endpoints may not point at loopback: so no
  # endpoint reconciler (the "kubernetes" Service has no endpoints; nothing here runs in a pod).
  launch kube-apiserver "$K8S_API_PORT" \
    --bind-address 127.0.0.1 --secure-port "$K8S_API_PORT" --advertise-address 127.0.0.1 \
    --etcd-servers "http://127.0.0.1:$K8S_ETCD_PORT" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types Hostname \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --requestheader-client-ca-file "$PKI/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$PKI/front-proxy-client.crt" --proxy-client-key-file "$PKI/front-proxy-client.key" \
    --endpoint-reconciler-type none \
    --authorization-mode Node,RBAC --allow-privileged=true --profiling=false
  wait_for "kube-apiserver /readyz" api_get /readyz

  component=kube-controller-manager
  launch kube-controller-manager "$K8S_CM_PORT" \
    --bind-address 127.0.0.1 --secure-port "$K8S_CM_PORT" \
    --kubeconfig "$K8S_HOME_DIR/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$K8S_HOME_DIR/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$K8S_HOME_DIR/controller-manager.kubeconfig" \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --use-service-account-credentials=true --leader-elect=false --profiling=false

  component=kube-scheduler
  launch kube-scheduler "$K8S_SCHEDULER_PORT" \
    --bind-address 127.0.0.1 --secure-port "$K8S_SCHEDULER_PORT" \
    --kubeconfig "$K8S_HOME_DIR/scheduler.kubeconfig" \
    --authentication-kubeconfig "$K8S_HOME_DIR/scheduler.kubeconfig" \
    --authorization-kubeconfig "$K8S_HOME_DIR/scheduler.kubeconfig" \
    --leader-elect=false --profiling=false

  component=kube-controller-manager
  wait_for kube-controller-manager health "$K8S_CM_PORT"
  component=kube-scheduler
  wait_for kube-scheduler health "$K8S_SCHEDULER_PORT"
  # The controllers really work once the default namespace has its ServiceAccount (pods need it).
  component=kube-controller-manager
  wait_for "the default ServiceAccount" kctl get serviceaccount default --namespace default
  component=
  say "ready in $((SECONDS - started)) s: Kubernetes $K8S_VERSION at https://127.0.0.1:$K8S_API_PORT"
  say "export KUBECONFIG=$KUBECONFIG_FILE  (kubectl: $BIN/kubectl)"
}

# --- the node (--node) ------------------------------------------------------------------------

node_packages() {
  local missing=()
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  command -v buildah >/dev/null || missing+=(buildah)
  command -v gcc >/dev/null || missing+=(gcc libc6-dev)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v conntrack >/dev/null || missing+=(conntrack)
  command -v dnsmasq >/dev/null || missing+=(dnsmasq-base)
  command -v socat >/dev/null || missing+=(socat)
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "the node needs: ${missing[*]} (Debian package names)"
  say "installing Debian's ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ctr_k8s() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

# The pause image, built once: a static binary in an image of its own (buildah, no registry).
pause_image() {
  local archive="$BIN/../images/eric-pause-1.tar"
  if [ ! -f "$archive" ]; then
    say "building the pause image ($PAUSE_IMAGE) with gcc and buildah"
    mkdir -p "$(dirname "$archive")"
    local work container
    work="$(mktemp -d)"
    gcc -static -Os -o "$work/pause" "$MODULE/pause/pause.c"
    strip "$work/pause"
    container="$(buildah from scratch)"
    buildah copy "$container" "$work/pause" /pause >/dev/null
    buildah config --entrypoint '["/pause"]' --user 65535:65535 "$container"
    buildah commit -q "$container" "$PAUSE_IMAGE" >/dev/null
    buildah rm "$container" >/dev/null
    buildah push -q "$PAUSE_IMAGE" "oci-archive:$archive.part:$PAUSE_IMAGE"
    mv "$archive.part" "$archive"
    rm -rf "$work"
  fi
  ctr_k8s images import --base-name "${PAUSE_IMAGE%:*}" "$archive" >/dev/null
}

node_up() {
  [ "$(id -u)" -eq 0 ] || die "the node (containerd, kubelet) needs root"
  node_packages
  build_binaries "${NODE_BINARIES[@]}"
  mkdir -p "$NODE/cni"
  # restrict_oom_score_adj: where a process may not lower its OOM score (no CAP_SYS_RESOURCE, as
  # in some sandboxes), runc fails to start any container ("can't get final child's PID from pipe:
  # EOF"); with it, containers get a score no lower than containerd's own.
  cat >"$NODE/containerd.toml" <<TOML
version = 2
root = "$NODE/containerd/root"
state = "$NODE/containerd/state"
[grpc]
  address = "$CONTAINERD_SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE/cni"
TOML
  # Pods have a route to their bridge and to the Services' cluster IPs, and no default route.
  cat >"$NODE/cni/10-eric.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "eric",
  "plugins": [
    {"type": "bridge", "bridge": "$K8S_NODE_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$K8S_POD_SUBNET"}]], "dataDir": "$NODE/cni-ipam",
              "routes": [{"dst": "$SERVICE_CIDR"}]}},
    {"type": "loopback"}
  ]
}
JSON
  cat >"$NODE/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $K8S_KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $((K8S_KUBELET_PORT - 2))
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$PKI/ca.crt"}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
containerRuntimeEndpoint: "unix://$CONTAINERD_SOCK"
failSwapOn: false
clusterDomain: cluster.local
clusterDNS: ["$NODE_GATEWAY"]
resolvConf: /etc/resolv.conf
# A development machine's disk and memory are shared: evict only when nearly nothing is left.
evictionHard: {memory.available: "200Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
YAML
  if [ -n "$K8S_NODE_TAINT" ]; then
    local key="${K8S_NODE_TAINT%%:*}" effect="${K8S_NODE_TAINT##*:}"
    printf 'registerWithTaints:\n  - {key: "%s", value: "%s", effect: "%s"}\n' "${key%%=*}" "${key#*=}" "$effect" >>"$NODE/kubelet.yaml"
  fi
  pod_network
  local component=containerd
  if ! running_pid containerd >/dev/null; then
    say "starting containerd (socket ${CONTAINERD_SOCK#"$ROOT"/})"
    setsid "$(executable containerd)" --config "$NODE/containerd.toml" >>"$K8S_HOME_DIR/containerd.log" 2>&1 </dev/null &
    echo $! >"$K8S_HOME_DIR/containerd.pid"
  fi
  wait_for containerd ctr_k8s version
  pause_image
  component=kubelet
  # Node name "localhost": the API server reaches the kubelet by its Hostname address
  # (--kubelet-preferred-address-types Hostname), so on loopback.
  launch kubelet "$K8S_KUBELET_PORT" --config "$NODE/kubelet.yaml" --kubeconfig "$K8S_HOME_DIR/node.kubeconfig" \
    --root-dir "$NODE/kubelet" --cert-dir "$NODE/kubelet-pki" --hostname-override "$NODE_NAME"
  wait_for "node $NODE_NAME Ready" kctl wait --for condition=Ready "node/$NODE_NAME" --timeout 5s
  kctl uncordon "$NODE_NAME" >/dev/null
  node_services
  say "node $NODE_NAME ready: pods run (images: scripts/k8s-local.sh ctr images import ...)"
}

# --- the pods' network, Services and DNS (--node) ---------------------------------------------

# The bridge exists before the first pod, with the gateway address that the DNS server and the
# API server's forwarder listen on (the CNI bridge plugin then finds it ready). The host routes
# between pods and cluster IPs; the pods' traffic to anything outside their own network is
# rejected, so nothing in a pod reaches past this machine.
pod_network() {
  if [ ! -e "/sys/class/net/$K8S_NODE_BRIDGE" ]; then
    ip link add "$K8S_NODE_BRIDGE" type bridge
  fi
  ip addr replace "$NODE_GATEWAY/24" dev "$K8S_NODE_BRIDGE"
  ip link set "$K8S_NODE_BRIDGE" up
  sysctl -q -w net.ipv4.ip_forward=1
  local rule=(FORWARD -i "$K8S_NODE_BRIDGE" ! -o "$K8S_NODE_BRIDGE" -m comment --comment "eric k8s-local: pods stay on their network" -j REJECT)
  iptables -C "${rule[@]}" 2>/dev/null || iptables -I "${rule[@]}"
}

pod_network_down() {
  local rule=(FORWARD -i "$K8S_NODE_BRIDGE" ! -o "$K8S_NODE_BRIDGE" -m comment --comment "eric k8s-local: pods stay on their network" -j REJECT)
  while iptables -C "${rule[@]}" 2>/dev/null; do iptables -D "${rule[@]}"; done
}

node_services() {
  cert kube-proxy "/CN=system:kube-proxy" "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth"
  kubeconfig "$K8S_HOME_DIR/kube-proxy.kubeconfig" kube-proxy
  # masqueradeAll: a pod that reaches a Service backed by a pod on the same bridge gets its answer
  # back through the host, which undoes the translation. conntrack limits stay the machine's.
  # kube-proxy exits when its configuration file is written while it runs: a second `up` leaves
  # the file alone unless its content changes.
  cat >"$NODE/kube-proxy.yaml.new" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: "$K8S_HOME_DIR/kube-proxy.kubeconfig"}
hostnameOverride: $NODE_NAME
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:$KUBE_PROXY_HEALTH_PORT
metricsBindAddress: 127.0.0.1:$((KUBE_PROXY_HEALTH_PORT - 1))
mode: iptables
clusterCIDR: $K8S_POD_SUBNET
nodePortAddresses: [127.0.0.0/8]
iptables: {masqueradeAll: true}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
  if cmp -s "$NODE/kube-proxy.yaml.new" "$NODE/kube-proxy.yaml"; then
    rm "$NODE/kube-proxy.yaml.new"
  else
    mv "$NODE/kube-proxy.yaml.new" "$NODE/kube-proxy.yaml"
  fi
  local component=kube-proxy
  launch kube-proxy "$KUBE_PROXY_HEALTH_PORT" --config "$NODE/kube-proxy.yaml"
  wait_for kube-proxy curl --silent --fail --max-time 5 "http://127.0.0.1:$KUBE_PROXY_HEALTH_PORT/healthz"

  # The cluster DNS: names of Services only, answered from the hosts file dns-sync writes; any
  # other name is not found (no upstream server: pods resolve nothing outside the cluster).
  mkdir -p "$(dirname "$SERVICE_HOSTS")"
  touch "$SERVICE_HOSTS"
  component=dnsmasq
  launch dnsmasq - --keep-in-foreground --conf-file=/dev/null --user=nobody --pid-file= \
    --listen-address="$NODE_GATEWAY" --bind-interfaces --port=53 \
    --no-resolv --no-hosts --addn-hosts="$SERVICE_HOSTS" --local=/#/ --no-negcache --log-facility=-
  component=dns-sync
  launch dns-sync - "$ROOT/scripts/k8s-local.sh" dns-sync

  # The API server behind the "kubernetes" Service (10.96.0.1:443, in its certificate), for the
  # aggregator's topology check: kube-proxy sends it to the forwarder on the bridge.
  component=api-forward
  launch api-forward - "TCP-LISTEN:$K8S_API_PORT,bind=$NODE_GATEWAY,fork,reuseaddr" "TCP:127.0.0.1:$K8S_API_PORT"
  kctl apply --server-side --force-conflicts -f - >/dev/null <<YAML
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kubernetes-eric-local
  namespace: default
  labels:
    kubernetes.io/service-name: kubernetes
    endpointslice.kubernetes.io/managed-by: k8s-local.eric.dev
addressType: IPv4
endpoints:
  - addresses: ["$NODE_GATEWAY"]
    conditions: {ready: true}
ports:
  - {name: https, port: $K8S_API_PORT, protocol: TCP}
YAML
  component=
}

# dns-sync (in the background): rewrites the hosts file whenever a Service changes, and has
# dnsmasq read it again. Headless Services (no cluster IP) are left out.
dns_sync() {
  local template='{range .items[?(@.spec.clusterIP!="None")]}{.spec.clusterIP} {.metadata.name}.{.metadata.namespace}.svc.cluster.local{"\n"}{end}'
  while :; do
    kctl get services --all-namespaces --watch --output-watch-events -o name 2>/dev/null |
      while read -r _; do
        kctl get services --all-namespaces -o jsonpath="$template" >"$SERVICE_HOSTS.part" &&
          mv "$SERVICE_HOSTS.part" "$SERVICE_HOSTS" &&
          kill -HUP "$(running_pid dnsmasq)" 2>/dev/null || true
      done
    sleep 1
  done
}

# Pods are stopped through the kubelet (so that their network and mounts are torn down), then the
# kubelet and containerd; what a crash may leave (mounts under the node's directory) is unmounted.
node_down() {
  if running_pid kubelet >/dev/null && api_get /readyz >/dev/null 2>&1; then
    say "stopping the pods on node $NODE_NAME"
    kctl cordon "$NODE_NAME" >/dev/null 2>&1 || true
    kctl delete pods --all-namespaces --field-selector "spec.nodeName=$NODE_NAME" \
      --grace-period 5 --wait --timeout 120s >/dev/null 2>&1 || true
  fi
  stop_one kubelet
  stop_one dns-sync
  stop_one dnsmasq
  stop_one api-forward
  if running_pid kube-proxy >/dev/null; then
    stop_one kube-proxy
    "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true # its iptables chains
  fi
  pod_network_down
  if running_pid containerd >/dev/null; then
    local task
    for task in $(ctr_k8s tasks ls -q 2>/dev/null); do ctr_k8s tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true; done
  fi
  stop_one containerd
  if [ -d "$NODE" ]; then
    awk -v node="$NODE/" 'index($5, node) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r mount; do
      umount -l "$mount" 2>/dev/null || true
    done
  fi
}

stop_one() { # component
  local pid
  pid="$(running_pid "$1")" || { rm -f "$K8S_HOME_DIR/$1.pid"; return 0; }
  say "stopping $1 (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  # dns-sync's kubectl and socat's connections run in the component's own process group.
  case "$1" in dns-sync | api-forward) kill -TERM -- "-$pid" 2>/dev/null || true ;; esac
  local i
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$1 did not stop within 30 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$K8S_HOME_DIR/$1.pid"
}

down() {
  node_down
  local i
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop_one "${COMPONENTS[$i]}"; done
}

status() {
  local name pid all=0
  for name in "${COMPONENTS[@]}"; do
    if pid="$(running_pid "$name")"; then echo "$name: running (pid $pid)"; else echo "$name: stopped"; all=1; fi
  done
  for name in containerd kubelet kube-proxy dnsmasq dns-sync api-forward; do
    if pid="$(running_pid "$name")"; then echo "$name: running (pid $pid)"; fi
  done
  if [ -f "$PKI/admin.crt" ] && api_get /readyz >/dev/null 2>&1; then
    echo "kube-apiserver: ready at https://127.0.0.1:$K8S_API_PORT (Kubernetes $K8S_VERSION)"
    echo "KUBECONFIG=$KUBECONFIG_FILE"
  else
    echo "kube-apiserver: not ready"
    all=1
  fi
  return $all
}

case "${1:-}" in
  up)
    up
    if [ "${2:-}" = --node ]; then node_up; fi
    ;;
  down | stop) down ;;
  reset)
    had_node=0
    [ -d "$NODE" ] && had_node=1
    down
    rm -rf "$K8S_HOME_DIR"
    say "deleted $K8S_HOME_DIR"
    if [ $had_node = 1 ] && [ -e "/sys/class/net/$K8S_NODE_BRIDGE" ]; then
      ip link delete "$K8S_NODE_BRIDGE" && say "deleted the pods' bridge $K8S_NODE_BRIDGE"
    fi
    ;;
  status) status ;;
  kubeconfig) echo "$KUBECONFIG_FILE" ;;
  env) echo "export KUBECONFIG=$KUBECONFIG_FILE"; echo "export PATH=$BIN:\$PATH" ;;
  kubectl) shift; built kubectl || die "not built yet: run scripts/k8s-local.sh up"; kctl "$@" ;;
  build) build ;;
  bin) echo "$BIN" ;;
  ctr) shift; ctr_k8s "$@" ;;
  dns-sync) dns_sync ;; # started by up --node, in the background
  *) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
