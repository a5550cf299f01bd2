#!/usr/bin/env bash
# docs_cover_flags.sh TCPFSM MANPAGE COMPLETION: every flag that
# 'tcpfsm COMMAND --help' lists is in the man page and in that command's bash
# completion, and the completion offers no flag the command does not have.
# Fails with the list of what is missing, so the docs cannot drift from the CLI.
set -euo pipefail
tcpfsm=$1 man=$2 completion=$3
# shellcheck source=/dev/null
. "$completion"

flags_in_help() {  # the option lines of --help: "  -T,--timestamp   ..." and "  --by KEYS ..."
  "$tcpfsm" "$@" --help | grep -E '^  +-' | grep -oE '(^|[ ,])--?[A-Za-z0-9][A-Za-z0-9.-]*' |
    tr -d ' ,' | grep -v -- '^-$' | sort -u
}

status=0
for cmd in "" trace life stats leaks serve doctor; do
  # shellcheck disable=SC2086
  help=$(flags_in_help $cmd)
  [ -n "$help" ] || { echo "no flags parsed from 'tcpfsm $cmd --help'"; exit 1; }
  completed=$(_tcpfsm_flags_of "$cmd" | tr ' ' '\n' | sort -u)
  for f in $help; do
    escaped=${f//-/\\-}
    grep -qF -- "$escaped" "$man" || { echo "man page: 'tcpfsm $cmd $f' is not documented"; status=1; }
    grep -qx -- "$f" <<<"$completed" || { echo "completion: 'tcpfsm $cmd $f' is not offered"; status=1; }
  done
  for f in $completed; do
    grep -qx -- "$f" <<<"$help" || { echo "completion: 'tcpfsm $cmd $f' is offered but the command has no such flag"; status=1; }
  done
done
for cmd in trace life stats leaks serve doctor; do
  grep -q "^\.B $cmd\$" "$man" || { echo "man page: command '$cmd' has no entry"; status=1; }
done
[ $status -eq 0 ] && echo "every flag of every command is in the man page and the completion"
exit $status
