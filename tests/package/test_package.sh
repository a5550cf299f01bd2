#!/usr/bin/env bash
# test_package.sh BUILD_DIR: the Debian package, as a user gets it. Builds it
# with CPack, lints it, installs it with dpkg, runs the installed binary (its
# version, and a one-second trace that must see a connection refused in a
# private network namespace), verifies the installed systemd unit, renders
# the man page, completes a command line with the installed completion, and
# removes the package, checking nothing of it is left. As root (ctest runs
# it on the CI machine, which is thrown away).
#
# lintian (--pedantic) reports no error and no warning. Left at info level:
#   package-supports-alternative-init-but-no-init.d-script: the unit is the
#     only way it is started; a sysvinit script would be an untested copy.
set -euo pipefail
build=$(cd "$1" && pwd)
work=$(mktemp -d /tmp/tcpfsm-package-XXXXXX)
ns=tcpfsm-pkg-$$
cleanup() {
  dpkg -r tcpfsm >/dev/null 2>&1 || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[ -n "$version" ] || fail "no project version in $build/CMakeCache.txt"
arch=$(dpkg --print-architecture)

echo "== cpack"
(cd "$build" && cpack --config CPackConfig.cmake -B "$work" >/dev/null) || fail "cpack failed"
deb=$work/tcpfsm_${version}_${arch}.deb
[ -f "$deb" ] || fail "no $deb (found: $(ls "$work"))"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for lib in libbpf1 libc6 libstdc++6; do
  grep -q "$lib" <<<"$depends" || fail "Depends has no $lib: '$depends'"
done

echo "== lintian"
lintian --pedantic --fail-on error,warning "$deb" 2>&1 | grep -v 'running with root privileges' || true
lintian --pedantic --fail-on error,warning "$deb" >/dev/null 2>&1 || fail "lintian reports an error or a warning"

echo "== dpkg -i"
dpkg -r tcpfsm >/dev/null 2>&1 || true
dpkg -i "$deb" >/dev/null || fail "dpkg -i failed"
mapfile -t files < <(dpkg -L tcpfsm)
for f in /usr/sbin/tcpfsm /lib/systemd/system/tcpfsm.service /usr/share/man/man8/tcpfsm.8.gz \
  /usr/share/bash-completion/completions/tcpfsm /usr/share/doc/tcpfsm/copyright \
  /usr/share/doc/tcpfsm/changelog.gz /usr/share/doc/tcpfsm/examples/prometheus.yml \
  /usr/share/doc/tcpfsm/examples/alerts.yml /usr/share/doc/tcpfsm/examples/grafana-dashboard.json \
  /usr/share/doc/tcpfsm/examples/kubernetes/daemonset.yaml; do
  [ -e "$f" ] || fail "$f is not installed"
done

echo "== /usr/sbin/tcpfsm --version"
got=$(/usr/sbin/tcpfsm --version)
[ "$got" = "tcpfsm $version" ] || fail "--version printed '$got', not 'tcpfsm $version'"

echo "== /usr/sbin/tcpfsm trace, one second, a refused connect in a private netns"
ip netns add "$ns"
ip -n "$ns" link set lo up
inode=$(ip netns exec "$ns" stat -Lc %i /proc/self/ns/net)
/usr/sbin/tcpfsm trace --json --cause --duration 1 --netns "$inode" >"$work/trace.json" 2>"$work/trace.err" &
tracer=$!
# Connect every 0.2 s until the trace ends: it loads in about 0.6 s, and its
# second counts from when it is attached.
while kill -0 $tracer 2>/dev/null; do
  ip netns exec "$ns" bash -c 'exec 3<>/dev/tcp/127.0.0.1/9' 2>/dev/null && fail "port 9 accepted a connection"
  sleep 0.2
done
wait $tracer || fail "trace exited $? ($(cat "$work/trace.err"))"
grep -q '"old":"SYN_SENT","new":"CLOSE"' "$work/trace.json" ||
  fail "trace did not see SYN_SENT -> CLOSE: $(cat "$work/trace.json")"
grep -q '"cause":"refused"' "$work/trace.json" || fail "the connect's close is not 'refused': $(cat "$work/trace.json")"

echo "== systemd-analyze verify"
systemd-analyze verify /lib/systemd/system/tcpfsm.service || fail "systemd-analyze verify failed"

echo "== man -l"
MANWIDTH=80 man --warnings -l /usr/share/man/man8/tcpfsm.8.gz >"$work/man.txt" 2>"$work/man.err" ||
  fail "man failed: $(cat "$work/man.err")"
[ ! -s "$work/man.err" ] || fail "man warns: $(cat "$work/man.err")"
grep -q "web.listen-address" "$work/man.txt" || fail "the rendered page has no --web.listen-address"
grep -q "tcpfsm $version" "$work/man.txt" || fail "the rendered page does not name version $version"

echo "== bash completion"
# shellcheck source=/dev/null
complete_line() {  # complete_line WORD...: what the installed completion offers for the last word
  bash -c '. /usr/share/bash-completion/completions/tcpfsm
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _tcpfsm; printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
}
[ "$(complete_line tcpfsm le)" = leaks ] || fail "'tcpfsm le<TAB>' gave '$(complete_line tcpfsm le)'"
[ "$(complete_line tcpfsm serve --web)" = "$(printf -- '--web.listen-address\n--web.config.file')" ] ||
  fail "'tcpfsm serve --web<TAB>' gave '$(complete_line tcpfsm serve --web)'"
[ "$(complete_line tcpfsm stats --state TIME_WAIT,CL)" = "$(printf 'TIME_WAIT,CLOSE\nTIME_WAIT,CLOSE_WAIT\nTIME_WAIT,CLOSING')" ] ||
  fail "'tcpfsm stats --state TIME_WAIT,CL<TAB>' gave '$(complete_line tcpfsm stats --state TIME_WAIT,CL)'"

echo "== dpkg -r"
dpkg -r tcpfsm >/dev/null || fail "dpkg -r failed"
status=$(dpkg-query -W -f='${db:Status-Status}' tcpfsm 2>/dev/null || echo not-installed)
[ "$status" = not-installed ] || fail "after dpkg -r the package is '$status'"
left=()
for f in "${files[@]}"; do
  case $f in /. | /usr | /usr/sbin | /usr/share | /usr/share/doc | /usr/share/man | /usr/share/man/man8 | /lib | \
    /lib/systemd | /lib/systemd/system | /usr/share/bash-completion | /usr/share/bash-completion/completions) continue ;;
  esac
  [ -e "$f" ] && left+=("$f")
done
[ ${#left[@]} -eq 0 ] || fail "dpkg -r left ${left[*]}"
echo "OK: tcpfsm_${version}_${arch}.deb builds, lints clean, installs, runs, and removes without a trace"
