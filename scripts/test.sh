#!/usr/bin/env bash
# ./scripts/test.sh: install what is missing, build, run every test (unit and
# integration) through ctest. Integration tests load the real BPF programs,
# so this runs as root.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root "scripts/test.sh"
install_missing "${TCPFSM_PACKAGES[@]}"
build
cd "$TCPFSM_BUILD"
ctest --output-on-failure --no-tests=error "$@"
