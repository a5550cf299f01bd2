#!/usr/bin/env bash
# ./scripts/fuzz.sh [SECONDS] [TARGET...]: build the libFuzzer targets (clang,
# ASan+UBSan, in build-fuzz/) and run each for SECONDS (default 60) on a copy
# of its seed corpus in fuzz/corpus/TARGET; all targets by default. Prints one
# line per target; exits 1 if any target crashed (the artifacts are kept and
# named), 2 on usage errors. Root is not needed; as root, missing packages
# are installed first.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ALL_TARGETS=(fuzz_decode fuzz_replay fuzz_sock_diag fuzz_proc fuzz_http fuzz_recipe fuzz_flags fuzz_web_config)
FUZZ_BUILD=$TCPFSM_ROOT/build-fuzz

usage() {
  echo "usage: $0 [SECONDS] [TARGET...]   targets: ${ALL_TARGETS[*]}" >&2
  exit 2
}

seconds=60
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi
[ "$seconds" -gt 0 ] 2>/dev/null || usage
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
  case "$t" in -h | --help) usage ;; esac
  case " ${ALL_TARGETS[*]} " in
    *" $t "*) ;;
    *) echo "tcpfsm: unknown fuzz target '$t'" >&2; usage ;;
  esac
done

if [ "$(id -u)" -eq 0 ]; then
  install_missing "${TCPFSM_PACKAGES[@]}"
else
  echo "tcpfsm: not root: not installing packages (clang, cmake, ninja and the -dev packages must be present)" >&2
fi

CC=clang CXX=clang++ cmake -S "$TCPFSM_ROOT" -B "$FUZZ_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTCPFSM_FUZZ=ON -DTCPFSM_BUILD_TESTS=OFF -DTCPFSM_BUILD_BENCH=OFF >/dev/null ||
  die "cmake configure of $FUZZ_BUILD failed (see above)"
# Only the fuzz targets (and the instrumented core they link): not tcpfsm, nor the BPF object.
cmake --build "$FUZZ_BUILD" --target "${targets[@]}" >&2 || die "fuzz build failed (see above)"

work=$(mktemp -d "${TMPDIR:-/tmp}/tcpfsm-fuzz.XXXXXX")
keep_work=0
cleanup() { [ "$keep_work" -eq 1 ] || rm -rf "$work"; }
trap cleanup EXIT

# UBSan reports are recoverable by default; a fuzzer must stop on them.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

summary=()
failed=0
for t in "${targets[@]}"; do
  corpus=$work/$t/corpus
  artifacts=$work/$t/artifacts
  log=$work/$t/log
  mkdir -p "$corpus" "$artifacts"
  if [ -d "$TCPFSM_ROOT/fuzz/corpus/$t" ]; then
    cp -R "$TCPFSM_ROOT/fuzz/corpus/$t/." "$corpus/"
  fi
  echo "tcpfsm: fuzzing $t for ${seconds}s" >&2
  rc=0
  "$FUZZ_BUILD/fuzz/$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
    -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 || rc=$?

  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  found=$(find "$artifacts" -type f | sort | head -1)
  if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
    failed=1
    keep_work=1
    crash=${found:-"exit status $rc, no artifact"}
    # The sanitizer's or the target's own report, for the terminal.
    grep -m 12 -E "ERROR:|runtime error:|fuzz_[a-z_]+:|#[0-9]+ .* in |SUMMARY:" "$log" >&2 || tail -20 "$log" >&2
    crash="$crash (log: $log)"
  else
    crash=0
  fi
  summary+=("$(printf '%-15s executions: %-10s (%s/s)  crashes: %s' "$t" "${execs:-?}" "${rate:-?}" "$crash")")
done

printf '%s\n' "${summary[@]}"
exit "$failed"
