#!/usr/bin/env bash
# The quicksilver executable's contract: --help lists the commands, --version prints the
# version, usage errors exit 2 with a one-line hint, --help works for every command.
set -u
bin=${1:?usage: cli_test.sh PATH/TO/quicksilver}
failures=0
check() {  # check NAME EXPECTED_EXIT PATTERN -- ARGS...
  local name=$1 want=$2 pattern=$3; shift 4
  local out rc
  out=$("$bin" "$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ]; then
    echo "FAIL $name: exit $rc, expected $want; output: $out"; failures=$((failures + 1)); return
  fi
  if ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL $name: output does not match /$pattern/: $out"; failures=$((failures + 1)); return
  fi
  echo "ok   $name"
}
check help 0 "^  info " -- --help
check version 0 "^quicksilver [0-9]+\.[0-9]+\.[0-9]+$" -- --version
check no-args 2 "usage: quicksilver COMMAND" --
check unknown-command 2 "^quicksilver: unknown command 'nosuch' \(see 'quicksilver --help'\)$" -- nosuch
check unknown-flag 2 "unknown flag --frobnicate" -- --frobnicate
check info-unknown-flag 2 "^quicksilver info: unknown flag --x \(see 'quicksilver info --help'\)$" -- info --x
check info 0 "backend: LibTorch [0-9.]+" -- info
# Every listed command has --help that exits 0 with its usage line.
for cmd in $("$bin" --help | awk '/^commands:/{on=1; next} /^$/{on=0} on {print $1}'); do
  check "$cmd --help" 0 "usage: quicksilver $cmd" -- "$cmd" --help
done
# A usage error is one line.
lines=$("$bin" nosuch 2>&1 | wc -l)
[ "$lines" = 1 ] && echo "ok   one-line usage error" || { echo "FAIL usage error has $lines lines"; failures=$((failures + 1)); }
if [ "$failures" -ne 0 ]; then echo "$failures failed"; exit 1; fi
echo "all CLI checks passed"
