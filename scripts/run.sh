#!/usr/bin/env bash
# ./scripts/run.sh [ARGS]: install what is missing, build (Release), run build/tcpfsm ARGS.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root "scripts/run.sh"
install_missing "${TCPFSM_PACKAGES[@]}"
build >&2
exec "$TCPFSM_BUILD/tcpfsm" "$@"
