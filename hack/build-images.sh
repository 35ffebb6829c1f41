#!/usr/bin/env bash
# Build the images the test cluster runs, offline, with Debian's docker engine (no registry):
#   hack/build-images.sh rootfs          only debootstrap the root filesystems below (no engine)
#   hack/build-images.sh base            evently-test/python:3.11-bookworm: a debootstrapped
#                                        stand-in for python:3.11-slim (TEST ONLY: it trusts
#                                        this machine's egress CA so pip works in builds)
#   hack/build-images.sh postgres        evently-test/postgres:15: Debian's PostgreSQL with the
#                                        official image's POSTGRES_* contract (hack/images/postgres)
#   hack/build-images.sh evently TAG     evently:TAG, the Dockerfile's runtime target on that base
#   hack/build-images.sh dev TAG         evently:TAG-dev, the Dockerfile's dev target (Tilt's)
# The debootstrapped root filesystems are cached in $EVENTLY_TOOLS/images (once per machine);
# docker's own store keeps the images between clusters. Talks to the engine in DOCKER_HOST
# (hack/cluster.sh env) with Debian's client.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
tools="${EVENTLY_TOOLS:-$HOME/.cache/evently}"
# Root is needed; the tools cache stays the caller's.
if [[ $(id -u) -ne 0 ]]; then exec sudo -E EVENTLY_TOOLS="$tools" "$0" "$@"; fi
cache="$tools/images"
docker_cli="${EVENTLY_DOCKER:-/usr/bin/docker}"
BASE_IMAGE=evently-test/python:3.11-bookworm
PG_ROOTFS_IMAGE=evently-test/debian-postgresql:bookworm
PG_IMAGE=evently-test/postgres:15
mkdir -p "$cache"

log() { echo "images: $*" >&2; }
have_image() { "$docker_cli" image inspect "$1" >/dev/null 2>&1; }
mirror() {
  local uri
  uri="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
  echo "${uri:-http://deb.debian.org/debian}"
}

# rootfs NAME PACKAGES [HOST_CA]: debootstrap bookworm once into $cache/NAME.tar
rootfs() {
  local name="$1" packages="$2" host_ca="${3:-}" tarball="$cache/$1.tar"
  [[ -s $tarball ]] && return 0
  command -v debootstrap >/dev/null || die_missing debootstrap
  local dir; dir="$(mktemp -d "${TMPDIR:-/tmp}/evently-rootfs.XXXXXX")"
  log "debootstrap $name ($packages), once per machine"
  debootstrap --variant=minbase --include="$packages" bookworm "$dir" "$(mirror)" >"$dir.log" 2>&1 ||
    { tail -30 "$dir.log" >&2; rm -rf "$dir" "$dir.log"; exit 1; }
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  if [[ -n $host_ca ]]; then
    # This machine reaches PyPI through an egress proxy whose CA only the host trusts.
    cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
  fi
  tar -C "$dir" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  rm -rf "$dir" "$dir.log"
}
die_missing() { log "$1 missing: run hack/install-tools.sh"; exit 1; }
import_rootfs() {  # import TARBALL IMAGE
  have_image "$2" || "$docker_cli" import - "$2" <"$1" >/dev/null
}

python_rootfs() {
  rootfs python-bookworm "python3,python3-venv,python3-pip,python-is-python3,ca-certificates" host-ca
}
postgres_rootfs() { rootfs postgresql-bookworm "postgresql-15"; }

base() {
  python_rootfs
  import_rootfs "$cache/python-bookworm.tar" "$BASE_IMAGE"
}

postgres() {
  postgres_rootfs
  import_rootfs "$cache/postgresql-bookworm.tar" "$PG_ROOTFS_IMAGE"
  "$docker_cli" build -q --build-arg "BASE=$PG_ROOTFS_IMAGE" -t "$PG_IMAGE" "$here/images/postgres" >/dev/null
}

evently() {  # evently TAG [TARGET]
  local tag="$1" target="${2:-runtime}"
  base
  "$docker_cli" build -q --network host --target "$target" \
    --build-arg "PYTHON_IMAGE=$BASE_IMAGE" -t "evently:$tag" "$root" >/dev/null
}

started=$SECONDS
if [[ ${1:-} != rootfs ]]; then
  : "${DOCKER_HOST:?DOCKER_HOST is not set: source the output of hack/cluster.sh env}"
  export DOCKER_HOST
fi
case "${1:-}" in
  rootfs) python_rootfs; postgres_rootfs ;;
  base) base ;;
  postgres) postgres ;;
  evently) evently "${2:?usage: $0 evently TAG}" ;;
  dev) evently "${2:?usage: $0 dev TAG}-dev" dev ;;
  *) echo "usage: $0 rootfs|base|postgres|evently TAG|dev TAG" >&2; exit 2 ;;
esac
log "$1 ready in $((SECONDS - started))s"
