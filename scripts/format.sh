#!/usr/bin/env bash
# ./scripts/format.sh [--check]: format every C and C++ file with clang-format
# (.clang-format: Google style, 120 columns; bpf/ and include/ carry the
# kernel's style for the BPF side). --check changes nothing and exits 1
# when a file is not formatted, naming it (what .ci/run does).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$TCPFSM_ROOT"
command -v clang-format >/dev/null || die "clang-format is missing: apt-get install clang-format (or run scripts/test.sh, which installs it)"
# Untracked files too (not ignored ones): a new file is checked before its first commit.
# Not bpf/vmlinux/: bpftool's output, kept as it dumps it.
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- 'user/*.cpp' 'user/*.hpp' 'include/*.h' 'tests/*.cpp' 'tests/*.hpp' \
  'bench/*.cpp' 'fuzz/*.cpp' 'bpf/*.c' 'bpf/*.h' ':!bpf/vmlinux/')
[ ${#files[@]} -gt 0 ] || die "no source files found under $TCPFSM_ROOT"
case "${1:-}" in
  --check)
    clang-format --dry-run -Werror "${files[@]}" || die "some files are not formatted: run ./scripts/format.sh"
    echo "tcpfsm: ${#files[@]} files formatted as .clang-format says" ;;
  "") clang-format -i "${files[@]}" ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
