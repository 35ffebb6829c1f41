#!/usr/bin/env bash
# A one-node Kubernetes v1.20 TEST cluster for this project's end-to-end stage (make e2e).
# It is not a distribution: no ingress controller, no NetworkPolicy enforcement, no storage
# provisioner, no registry; pods reach only this machine. See docs/kubernetes.md.
#
#   hack/cluster.sh up       start dockerd, etcd, kube-apiserver, controller-manager, scheduler,
#                            kubelet, kube-proxy, CNI bridge networking and cluster DNS
#   hack/cluster.sh down     stop all of it; no process, mount, bridge or iptables rule is left
#   hack/cluster.sh status   what runs, and any leftovers (exit 1 if something is left over)
#   hack/cluster.sh env      the variables to use it: KUBECONFIG, DOCKER_HOST, EVENTLY_DOCKER
#
# Only one such cluster fits a machine (kube-proxy's iptables chains are global), so `up`
# takes a lock and refuses to start over leftovers. Binaries: hack/install-tools.sh
# (kubelet & co. built from Debian's source, Debian's docker.io, CNI plugins, dnsmasq).
# Root is needed (network namespaces, iptables, mounts); sudo is used when not root.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
tools="${EVENTLY_TOOLS:-$HOME/.cache/evently}"
# Root is needed; the tools cache stays the caller's.
if [[ $(id -u) -ne 0 ]]; then exec sudo -E EVENTLY_TOOLS="$tools" "$0" "$@"; fi
kube_bin="${EVENTLY_KUBE_BIN:-$tools/kube/bin}"
state="${EVENTLY_CLUSTER_DIR:-/var/tmp/evently-cluster}"
docker_root="${EVENTLY_DOCKER_ROOT:-$tools/docker}"  # images survive teardown (build cache)
docker_cli=/usr/bin/docker                              # Debian's client, whatever is on PATH
lock="$state.lock"
bridge=evently0
pod_cidr=10.244.0.0/24
gateway=10.244.0.1
service_cidr=10.0.0.0/24
kubernetes_ip=10.0.0.1
node=evently-node
domain=cluster.local
pause_image=evently-test/pause:3.2
cni_net=evently

log() { echo "cluster: $*" >&2; }
die() { log "$*"; exit 1; }
free_port() {  # free_port ADDRESS
  python3 -c 'import socket,sys;s=socket.socket();s.bind((sys.argv[1],0));print(s.getsockname()[1])' "$1"
}
kubectl_() { kubectl --kubeconfig="$state/kubeconfig" "$@"; }
pid_of() { [[ -s "$state/pids/$1" ]] && cat "$state/pids/$1"; }
alive() { local pid; pid="$(pid_of "$1")" && kill -0 "$pid" 2>/dev/null; }

start() {  # start NAME ARGV... : run in the background, log to logs/NAME.log, pid in pids/NAME
  local name="$1"; shift
  setsid "$@" >"$state/logs/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$state/pids/$name"
}

wait_for() {  # wait_for SECONDS WHAT COMMAND...
  local seconds="$1" what="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    local name
    for name in "$state"/pids/*; do
      name="$(basename "$name")"
      alive "$name" || { tail -20 "$state/logs/$name.log" >&2 || true; die "$name exited while waiting for $what"; }
    done
    ((SECONDS < deadline)) || die "$what not ready after ${seconds}s"
    sleep 0.5
  done
}

# --- leftovers: what `up` refuses to start over and `down` removes ------------------------
kube_chains() {  # "<cmd> <table> <chain>" of every KUBE-/CNI- chain in iptables and ip6tables
  local cmd table
  for cmd in iptables ip6tables; do
    command -v "$cmd" >/dev/null || continue
    for table in filter nat mangle; do
      "$cmd" -t "$table" -S 2>/dev/null | awk -v c="$cmd" -v t="$table" \
        '$1 == "-N" && $2 ~ /^(KUBE-|CNI-)/ {print c, t, $2}'
    done
  done
}
our_mounts() {  # mount points under the state dir or the docker root, deepest first
  awk -v s="$state/" -v d="$docker_root/" '
    { p = $5; gsub(/\\040/, " ", p) }
    index(p "/", s) == 1 || index(p "/", d) == 1 { print length(p), p }' /proc/self/mountinfo |
    sort -rn | cut -d' ' -f2-
}
our_processes() {  # live pids from our pidfiles, and anything started under our paths (shims)
  local f pid
  {
  for f in "$state"/pids/*; do
    [[ -s $f ]] && pid="$(cat "$f")" && kill -0 "$pid" 2>/dev/null && echo "$pid"
  done
  for f in /proc/[0-9]*/cmdline; do
    pid="${f#/proc/}"; pid="${pid%/cmdline}"
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    if { tr '\0' ' ' <"$f"; } 2>/dev/null | grep -qF -- "$state/"; then echo "$pid"; fi
  done
  } | sort -un
}
leftovers() {  # print one line per leftover; nothing when the machine is clean
  local pid chain m
  for pid in $(our_processes); do
    echo "process $pid: $({ tr '\0' ' ' </proc/"$pid"/cmdline; } 2>/dev/null | cut -c1-100)"
  done
  ip link show "$bridge" >/dev/null 2>&1 && echo "bridge $bridge"
  while read -r chain; do [[ -n $chain ]] && echo "chain $chain"; done < <(kube_chains)
  while read -r m; do [[ -n $m ]] && echo "mount $m"; done < <(our_mounts)
  return 0
}

# --- up ------------------------------------------------------------------------------------
write_pki() {
  local pki="$state/pki"
  mkdir -p "$pki" && cd "$pki"
  openssl genrsa -out ca.key 2048 2>/dev/null
  openssl req -x509 -new -key ca.key -subj "/CN=evently-test-cluster-ca" -days 3 -out ca.crt
  sign() {  # sign NAME SUBJECT EXTENSIONS
    openssl genrsa -out "$1.key" 2048 2>/dev/null
    openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3 \
      -extfile <(printf '%s\n' "$3") -out "$1.crt" 2>/dev/null
  }
  sign apiserver "/CN=kube-apiserver" "subjectAltName=IP:$gateway,IP:$kubernetes_ip,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$domain
extendedKeyUsage=serverAuth"
  sign kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "extendedKeyUsage=clientAuth"
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  openssl rand -hex 24 >admin.token
  printf '%s,admin,admin,"system:masters"\n' "$(cat admin.token)" >tokens.csv
  chmod 0600 ./*.key admin.token tokens.csv
  cd - >/dev/null
}

write_kubeconfig() {  # write_kubeconfig SERVER
  cat >"$state/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: evently-test
  cluster: {server: "$1", certificate-authority: "$state/pki/ca.crt"}
users:
- name: admin
  user: {token: "$(cat "$state/pki/admin.token")"}
contexts:
- name: evently-test
  context: {cluster: evently-test, user: admin}
current-context: evently-test
EOF
  chmod 0600 "$state/kubeconfig"
}

up() {
  for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy pause; do
    [[ -x "$kube_bin/$b" ]] || die "$kube_bin/$b missing: run hack/install-tools.sh"
  done
  for b in etcd dockerd containerd /usr/sbin/runc "$docker_cli" dnsmasq iptables openssl kubectl; do
    command -v "$b" >/dev/null || die "$b missing: run hack/install-tools.sh"
  done
  [[ -x /usr/lib/cni/bridge ]] || die "CNI plugins missing: run hack/install-tools.sh"
  local found; found="$(leftovers)"
  [[ -z $found ]] || die "leftovers of an earlier cluster (run hack/cluster.sh down):
$found"
  local started=$SECONDS
  rm -rf "$state"
  mkdir -p "$state"/{pids,logs,bin,cni/net.d,cni/ipam,dns,kubelet,dockershim,kubelet-plugins,docker-exec} "$docker_root"
  touch "$state/up.stamp"
  sysctl -n net.ipv4.ip_forward >"$state/ip_forward.saved"
  sysctl -qw net.ipv4.ip_forward=1
  modprobe br_netfilter 2>/dev/null || true

  # The bridge first: the apiserver binds its gateway address so that pods reach it, and the
  # CNI bridge plugin adopts it.
  ip link add "$bridge" type bridge
  ip addr add "$gateway/${pod_cidr#*/}" dev "$bridge"
  ip link set "$bridge" up
  sed -e "s|@BRIDGE@|$bridge|; s|@STATE@|$state|; s|@POD_CIDR@|$pod_cidr|; s|@GATEWAY@|$gateway|" \
    "$here/cluster/evently.conflist" >"$state/cni/net.d/10-evently.conflist"
  write_pki

  install -m 0755 "$here/cluster/runc-wrapper.sh" "$state/bin/evently-runc"
  echo '{}' >"$state/daemon.json"
  start dockerd dockerd --config-file="$state/daemon.json" --data-root="$docker_root" \
    --exec-root="$state/docker-exec" --pidfile="$state/docker.pid" -H "unix://$state/docker.sock" \
    --iptables=false --ip-masq=false --bridge=none --storage-driver=overlay2 \
    --add-runtime "evently-runc=$state/bin/evently-runc" --default-runtime=evently-runc
  wait_for 60 dockerd "$docker_cli" -H "unix://$state/docker.sock" info
  if ! "$docker_cli" -H "unix://$state/docker.sock" image inspect "$pause_image" >/dev/null 2>&1; then
    local ctx; ctx="$(mktemp -d)"
    cp "$kube_bin/pause" "$ctx/pause"
    tar -C "$ctx" -c pause | "$docker_cli" -H "unix://$state/docker.sock" import \
      -c 'ENTRYPOINT ["/pause"]' - "$pause_image" >/dev/null
    rm -rf "$ctx"
  fi

  local etcd_port etcd_peer api_port kubelet_port kubelet_healthz proxy_metrics proxy_healthz
  etcd_port="$(free_port 127.0.0.1)"; etcd_peer="$(free_port 127.0.0.1)"
  api_port="$(free_port "$gateway")"; kubelet_port="$(free_port "$gateway")"
  kubelet_healthz="$(free_port 127.0.0.1)"; proxy_metrics="$(free_port 127.0.0.1)"
  proxy_healthz="$(free_port 127.0.0.1)"
  local server="https://$gateway:$api_port" pki="$state/pki"
  write_kubeconfig "$server"

  start etcd etcd --name=evently-test --data-dir="$state/etcd" --unsafe-no-fsync --log-level=warn \
    --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer" \
    --initial-cluster="evently-test=http://127.0.0.1:$etcd_peer"
  start kube-apiserver "$kube_bin/kube-apiserver" --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address="$gateway" --advertise-address="$gateway" --secure-port="$api_port" --insecure-port=0 \
    --cert-dir="$pki" --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" --token-auth-file="$pki/tokens.csv" \
    --authorization-mode=Node,RBAC --allow-privileged=true \
    --service-account-issuer="https://kubernetes.default.svc.$domain" \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --api-audiences="https://kubernetes.default.svc.$domain" \
    --service-cluster-ip-range="$service_cidr" \
    --kubelet-client-certificate="$pki/kubelet-client.crt" --kubelet-client-key="$pki/kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP --profiling=false --v=1
  wait_for 90 kube-apiserver kubectl_ get --raw /readyz
  wait_for 30 "namespace default" kubectl_ get namespace default

  start kube-controller-manager "$kube_bin/kube-controller-manager" --kubeconfig="$state/kubeconfig" \
    --leader-elect=false --port=0 --secure-port=0 --use-service-account-credentials=false \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
    --cluster-cidr="$pod_cidr" --service-cluster-ip-range="$service_cidr" --v=1
  start kube-scheduler "$kube_bin/kube-scheduler" --kubeconfig="$state/kubeconfig" \
    --leader-elect=false --port=0 --secure-port=0 --v=1
  start kubelet "$kube_bin/kubelet" --kubeconfig="$state/kubeconfig" --hostname-override="$node" \
    --node-ip="$gateway" --address="$gateway" --port="$kubelet_port" --read-only-port=0 \
    --healthz-bind-address=127.0.0.1 --healthz-port="$kubelet_healthz" \
    --anonymous-auth=false --client-ca-file="$pki/ca.crt" --authorization-mode=Webhook \
    --container-runtime=docker --docker-endpoint="unix://$state/docker.sock" \
    --container-runtime-endpoint="unix://$state/dockershim.sock" \
    --experimental-dockershim-root-directory="$state/dockershim" \
    --network-plugin=cni --cni-bin-dir=/usr/lib/cni --cni-conf-dir="$state/cni/net.d" \
    --cni-cache-dir="$state/cni/cache" \
    --pod-infra-container-image="$pause_image" --image-pull-progress-deadline=10s \
    --fail-swap-on=false --cgroup-driver=cgroupfs --cgroups-per-qos=false \
    --enforce-node-allocatable= --eviction-hard= --image-gc-high-threshold=100 \
    --root-dir="$state/kubelet" --cert-dir="$state/kubelet/pki" \
    --volume-plugin-dir="$state/kubelet-plugins" \
    --cluster-dns="$gateway" --cluster-domain="$domain" --resolv-conf=/etc/resolv.conf \
    --max-pods=60 --serialize-image-pulls=false --v=1
  start kube-proxy "$kube_bin/kube-proxy" --kubeconfig="$state/kubeconfig" --hostname-override="$node" \
    --proxy-mode=iptables --cluster-cidr="$pod_cidr" --conntrack-max-per-core=0 \
    --metrics-bind-address="127.0.0.1:$proxy_metrics" --healthz-bind-address="127.0.0.1:$proxy_healthz" --v=1

  # Cluster DNS: dnsmasq on the bridge address, fed with the Services by dns-feeder.py.
  touch "$state/dns/hosts"
  start dnsmasq dnsmasq --keep-in-foreground --no-resolv --no-hosts --addn-hosts="$state/dns/hosts" \
    --listen-address="$gateway" --bind-interfaces --local="/$domain/" --domain-needed \
    --user=root --log-facility=-
  # The feeder's first SIGHUP must not reach dnsmasq before its handler is installed.
  dns_listening() { ss -Hlun "src $gateway" | grep -q ":53\b"; }
  wait_for 30 dnsmasq dns_listening
  start dns-feeder python3 "$here/cluster/dns-feeder.py" "$server" "$pki/admin.token" \
    "$pki/ca.crt" "$state/dns/hosts" "$state/pids/dnsmasq"

  node_ready() {
    [[ $(kubectl_ get node "$node" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}') == True ]]
  }
  wait_for 120 "node $node" node_ready
  wait_for 60 "the default ServiceAccount" kubectl_ -n default get serviceaccount default
  wait_for 30 "cluster DNS" grep -q "kubernetes.default.svc.$domain" "$state/dns/hosts"
  # Storage: no provisioner, so a few hostPath PersistentVolumes with no class for claims to
  # bind (world-writable: a pod's fsGroup does not apply to hostPath).
  local i
  for i in 1 2 3 4; do
    mkdir -p "$state/volumes/pv$i" && chmod 0777 "$state/volumes/pv$i"
    kubectl_ apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: evently-test-pv$i, labels: {evently-test-cluster: "true"}}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: "$state/volumes/pv$i", type: Directory}
EOF
  done
  cat >"$state/env" <<EOF
export KUBECONFIG=$state/kubeconfig
export DOCKER_HOST=unix://$state/docker.sock
export EVENTLY_DOCKER=$docker_cli
export EVENTLY_CLUSTER_DIR=$state
EOF
  log "up in $((SECONDS - started))s: node $node Ready, API $server; source $state/env"
}

# --- down ----------------------------------------------------------------------------------
stop_pid() {  # stop_pid PID: TERM, then KILL after 15 s
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
stop_component() { local pid; if pid="$(pid_of "$1")"; then stop_pid "$pid"; fi; rm -f "$state/pids/$1"; }

down() {
  local started=$SECONDS
  # The kubelet first (it would restart containers), then every container, then the rest.
  stop_component kubelet
  if alive dockerd; then
    local ids; ids="$("$docker_cli" -H "unix://$state/docker.sock" ps -aq 2>/dev/null || true)"
    # shellcheck disable=SC2086
    [[ -z $ids ]] || "$docker_cli" -H "unix://$state/docker.sock" rm -f $ids >/dev/null 2>&1 || true
  fi
  local name
  for name in dns-feeder dnsmasq kube-proxy kube-scheduler kube-controller-manager kube-apiserver etcd dockerd; do
    stop_component "$name"
  done
  local pid
  for pid in $(our_processes); do stop_pid "$pid"; done  # containerd shims, strays
  # kube-proxy's and the kubelet's iptables rules, then every KUBE-/CNI- chain left.
  [[ -x "$kube_bin/kube-proxy" ]] && "$kube_bin/kube-proxy" --cleanup --proxy-mode=iptables >/dev/null 2>&1 || true
  local cmd table chain rule
  while read -r cmd table chain; do
    [[ -n $chain ]] || continue
    # Drop the jumps into it from any chain, then flush; delete once nothing refers to it.
    while read -r rule; do
      eval "$cmd -t $table ${rule/-A/-D}" 2>/dev/null || true
    done < <("$cmd" -t "$table" -S 2>/dev/null | grep -E -- "-j $chain( |\$)" || true)
    "$cmd" -t "$table" -F "$chain" 2>/dev/null || true
  done < <(kube_chains)
  while read -r cmd table chain; do
    [[ -n $chain ]] && { "$cmd" -t "$table" -X "$chain" 2>/dev/null || true; }
  done < <(kube_chains)
  local m
  while read -r m; do [[ -n $m ]] && umount -l "$m" 2>/dev/null || true; done < <(our_mounts)
  ip link show "$bridge" >/dev/null 2>&1 && ip link del "$bridge"
  if [[ -s "$state/ip_forward.saved" ]]; then sysctl -qw "net.ipv4.ip_forward=$(cat "$state/ip_forward.saved")"; fi
  # What the kubelet writes outside --root-dir (v1.20 has no flag for the pod log dirs).
  if [[ -f "$state/up.stamp" ]]; then
    find /var/log/pods -mindepth 1 -maxdepth 1 -type d -newer "$state/up.stamp" -exec rm -rf {} + 2>/dev/null || true
    find /var/log/containers -maxdepth 1 -type l -newer "$state/up.stamp" -delete 2>/dev/null || true
  fi
  rmdir /var/log/pods /var/log/containers 2>/dev/null || true
  rm -f /var/lib/kubelet/device-plugins/kubelet.sock /var/lib/kubelet/device-plugins/DEPRECATION
  rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet /run/docker/plugins /run/docker 2>/dev/null || true
  # The engine's empty cgroups (cgroup v1); one still in use stays (rmdir refuses).
  find /sys/fs/cgroup/*/docker -depth -type d -exec rmdir {} + 2>/dev/null || true
  if [[ -d $state ]]; then
    rm -rf "$state.last-logs" && mkdir -p "$state.last-logs"
    cp -r "$state/logs/." "$state.last-logs/" 2>/dev/null || true
    rm -rf "$state"
  fi
  local found; found="$(leftovers)"
  [[ -z $found ]] || die "down left something behind:
$found"
  log "down in $((SECONDS - started))s: no process, mount, bridge or KUBE-/CNI- chain left"
}

status() {
  local name
  for name in dockerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy dnsmasq dns-feeder; do
    if alive "$name"; then echo "$name: running (pid $(pid_of "$name"))"; else echo "$name: stopped"; fi
  done
  [[ -f "$state/kubeconfig" ]] && kubectl_ get nodes 2>/dev/null || true
  local found; found="$(leftovers)"
  if [[ -n $found ]]; then echo "present on this machine:"; echo "$found"; return 1; fi
  echo "nothing of the test cluster is present"
}

case "${1:-}" in
  up|down)
    mkdir -p "$(dirname "$lock")"
    exec 9>>"$lock"
    flock -n 9 || die "another hack/cluster.sh up/down holds $lock"
    "$1" ;;
  status) status ;;
  env) cat "$state/env" ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
