#!/usr/bin/env bash
# ./scripts/test.sh [--sanitize] [CTEST ARGS...]: install what is missing,
# build, run every test (unit and integration) through ctest. Integration
# tests load the real BPF programs, so this runs as root.
#   --sanitize  the same suite built with AddressSanitizer and
#               UndefinedBehaviorSanitizer (Debug, in build-asan/)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root "scripts/test.sh"
install_missing "${TCPFSM_PACKAGES[@]}" "${TCPFSM_IMAGE_PACKAGES[@]}"
if [ "${1:-}" = "--sanitize" ]; then
  shift
  TCPFSM_BUILD=$TCPFSM_ROOT/build-asan
  cmake -S "$TCPFSM_ROOT" -B "$TCPFSM_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTCPFSM_SANITIZE=ON \
    -DTCPFSM_BUILD_BENCH=OFF >/dev/null || die "cmake configure failed (see above)"
  cmake --build "$TCPFSM_BUILD" || die "build failed (see above)"
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
else
  build
fi
cd "$TCPFSM_BUILD"
ctest --output-on-failure --no-tests=error "$@"
