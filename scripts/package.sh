#!/usr/bin/env bash
# ./scripts/package.sh: install what is missing, build (Release), and make the
# Debian package build/tcpfsm_<version>_<arch>.deb with CPack (cmake/Packaging.cmake).
# Install it with: apt-get install ./build/tcpfsm_*.deb
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root "scripts/package.sh"
install_missing "${TCPFSM_PACKAGES[@]}"
build >&2
cd "$TCPFSM_BUILD"
cpack --config CPackConfig.cmake >&2 || die "cpack failed (see above)"
deb=$(ls -t "$TCPFSM_BUILD"/tcpfsm_*.deb | head -1)
echo "$deb"
