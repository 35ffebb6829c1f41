#!/usr/bin/env bash
# Build a real kube-apiserver (v1.20, Debian's source package) once per machine and cache it.
# See ../shared/TOOLBOX.md. Output: $EVENTLY_KUBE_BIN (default ~/.cache/evently/kube/bin).
set -euo pipefail
out="${EVENTLY_KUBE_BIN:-$HOME/.cache/evently/kube/bin}"
if [[ -x "$out/kube-apiserver" && -x "$out/kube-controller-manager" ]]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
sudo_() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

src_list=/etc/apt/sources.list.d/evently-deb-src.sources
if [[ ! -f $src_list ]]; then
  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources | sudo_ tee "$src_list" >/dev/null
  sudo_ apt-get update -qq
fi
sudo_ apt-get install -y -qq --no-install-recommends golang-go etcd-server golang-github-modern-go-reflect2-dev dpkg-dev rsync >/dev/null

work="$(mktemp -d "${TMPDIR:-/tmp}/evently-kube-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get source --download-only kubernetes >/dev/null
tar xzf kubernetes_*.orig.tar.gz
srcdir="$(find . -maxdepth 1 -type d -name 'kubernetes*' | head -n1)"
cd "$srcdir"
# Debian's reflect2 v1.0.2 fixes "fatal error: fault" on the first custom-object create.
rm -f vendor/github.com/modern-go/reflect2/*.go vendor/github.com/modern-go/reflect2/*.s
cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go vendor/github.com/modern-go/reflect2/
cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.s vendor/github.com/modern-go/reflect2/ 2>/dev/null || true
CGO_ENABLED=0 make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" >build.log 2>&1 || { tail -50 build.log; exit 1; }
mkdir -p "$out"
cp _output/bin/kube-apiserver _output/bin/kube-controller-manager "$out/"
echo "built kube-apiserver into $out"
