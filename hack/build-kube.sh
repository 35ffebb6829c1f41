#!/usr/bin/env bash
# Build Kubernetes v1.20 from Debian bookworm's `kubernetes` source package, once per machine,
# and cache the binaries in $EVENTLY_KUBE_BIN (default ~/.cache/evently/kube/bin):
#   kube-apiserver, kube-controller-manager   static (CGO_ENABLED=0): every test's API server
#   kubelet, kube-scheduler, kube-proxy       cgo: the one-node test cluster (hack/cluster.sh)
#   pause                                     the pod sandbox's process (build/pause/linux/pause.c)
# Only the missing binaries are built. Debian 12 and 13 alike: bookworm's source and bookworm's
# Go 1.19 are named explicitly (Debian 13's own kubernetes 1.32 builds only kubectl, and its Go
# is far newer than 1.20 expects). See ../shared/TOOLBOX.md.
set -euo pipefail
out="${EVENTLY_KUBE_BIN:-$HOME/.cache/evently/kube/bin}"
static_bins=(kube-apiserver kube-controller-manager)
cgo_bins=(kubelet kube-scheduler kube-proxy)

missing() { local b; for b in "$@"; do [[ -x "$out/$b" ]] || echo "$b"; done; }
mapfile -t need_static < <(missing "${static_bins[@]}")
mapfile -t need_cgo < <(missing "${cgo_bins[@]}")
mapfile -t need_pause < <(missing pause)
if ((${#need_static[@]} + ${#need_cgo[@]} + ${#need_pause[@]} == 0)); then
  exit 0
fi
echo "build-kube: building ${need_static[*]} ${need_cgo[*]} ${need_pause[*]} (once per machine)"
export DEBIAN_FRONTEND=noninteractive
sudo_() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# Bookworm's deb-src (and, off bookworm, its binaries for Go 1.19), from this machine's mirror.
# shellcheck disable=SC1091
codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
mirror="${mirror:-http://deb.debian.org/debian}"
has_bookworm_src() {  # a deb-src paragraph whose Suites include bookworm
  awk 'BEGIN {RS=""} /Types:[^\n]*deb-src/ && /Suites:[^\n]*bookworm([ \n]|$)/ {found=1} END {exit !found}' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null
}
src_list=/etc/apt/sources.list.d/evently-bookworm.sources
if [[ $codename != bookworm ]] || ! has_bookworm_src; then
  if [[ ! -f $src_list ]]; then
    if [[ $codename == bookworm ]]; then types="deb-src"; else types="deb deb-src"; fi
    printf 'Types: %s\nURIs: %s\nSuites: bookworm\nComponents: main\nSigned-By: %s\n' \
      "$types" "$mirror" /usr/share/keyrings/debian-archive-keyring.gpg | sudo_ tee "$src_list" >/dev/null
  fi
  sudo_ apt-get update -qq
fi
sudo_ apt-get install -y -qq --no-install-recommends golang-1.19-go etcd-server \
  golang-github-modern-go-reflect2-dev dpkg-dev rsync gcc libc6-dev make >/dev/null
export PATH="/usr/lib/go-1.19/bin:$PATH"

work="$(mktemp -d "${TMPDIR:-/tmp}/evently-kube-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get source --download-only kubernetes/bookworm >/dev/null
tar xzf kubernetes_*.orig.tar.gz
srcdir="$(find . -maxdepth 1 -type d -name 'kubernetes*' | head -n1)"
cd "$srcdir"
# Debian's reflect2 v1.0.2 fixes "fatal error: fault" on the first custom-object create.
rm -f vendor/github.com/modern-go/reflect2/*.go vendor/github.com/modern-go/reflect2/*.s
cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go vendor/github.com/modern-go/reflect2/
cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.s vendor/github.com/modern-go/reflect2/ 2>/dev/null || true

build() {  # build <CGO_ENABLED> <binary>...
  local cgo="$1"; shift
  local what=("${@/#/cmd/}")
  CGO_ENABLED="$cgo" make WHAT="${what[*]}" >>build.log 2>&1 || { tail -50 build.log; exit 1; }
}
mkdir -p "$out"
if ((${#need_static[@]})); then build 0 "${need_static[@]}"; fi
if ((${#need_cgo[@]})); then build 1 "${need_cgo[@]}"; fi
for b in "${need_static[@]}" "${need_cgo[@]}"; do install -m 0755 "_output/bin/$b" "$out/$b"; done
if ((${#need_pause[@]})); then
  gcc -Os -static -o "$out/pause" build/pause/linux/pause.c
fi
echo "build-kube: built ${need_static[*]} ${need_cgo[*]} ${need_pause[*]} into $out"
