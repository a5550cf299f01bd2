# Shared by run.sh, test.sh and friends: install what is missing, build.
# shellcheck shell=bash

TCPFSM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TCPFSM_BUILD=${TCPFSM_BUILD:-$TCPFSM_ROOT/build}

# Debian 12 packages that build and test tcpfsm.
TCPFSM_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
  libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libcpp-httplib-dev libbenchmark-dev
  iproute2 prometheus libbpf-tools clang-format
  dpkg-dev lintian man-db
  libyaml-cpp-dev libcrypt-dev libssl-dev openssl curl apache2-utils
  prometheus-node-exporter
)

# What scripts/image.sh needs on top (and its test, which reads the manifest
# with python3-yaml): a root filesystem from Debian's packages and an OCI
# image built from scratch, run by podman.
TCPFSM_IMAGE_PACKAGES=(mmdebstrap buildah podman runc uidmap python3-yaml)

die() {
  echo "tcpfsm: $*" >&2
  exit 1
}

need_root() {
  [ "$(id -u)" -eq 0 ] || die "$1 needs root (it installs packages and loads BPF programs): run it with sudo"
}

install_missing() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "tcpfsm: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

# build [extra cmake args...]: configure (Release) and build into $TCPFSM_BUILD.
build() {
  cmake -S "$TCPFSM_ROOT" -B "$TCPFSM_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null ||
    die "cmake configure failed (see above)"
  cmake --build "$TCPFSM_BUILD" || die "build failed (see above)"
}
