# check.sh - assertions for shell tests. Source it.
#   check NAME EXPECTED_EXIT OUTPUT_REGEX CMD...
#       runs CMD (stdout+stderr), passes when the exit status is EXPECTED_EXIT
#       and the output matches the extended regex (grep -E); prints ok/FAIL.
#   check_done   exits 1 when any check failed (call it last).
CHECK_FAILURES=0

check() {
  local name=$1 want=$2 pattern=$3 out rc
  shift 3
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -ne "$want" ] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL $name: exit $rc (want $want, output matching '$pattern'), output:"
    sed 's/^/  | /' <<<"$out"
    CHECK_FAILURES=$((CHECK_FAILURES + 1))
  else
    echo "ok   $name"
  fi
}

check_done() {
  if [ "$CHECK_FAILURES" -ne 0 ]; then
    echo "$CHECK_FAILURES check(s) failed"
    exit 1
  fi
  echo "all checks passed"
}
