# Shared by the command tests: sourced with $moonbox and $src set.
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
# expect_exit WANT CMD... : run CMD, keep stdout/stderr in $tmp/out, $tmp/err
expect_exit() {
  want=$1
  shift
  "$@" >"$tmp/out" 2>"$tmp/err"
  got=$?
  if [ "$got" != "$want" ]; then
    fail "exit $got (expected $want): $*"
    sed 's/^/  stderr: /' "$tmp/err" | head -n 20 >&2
  fi
}
expect_in() { # expect_in FILE TEXT
  grep -qF -- "$2" "$1" || fail "$1 lacks: $2"
}
finish() {
  if [ "$failures" != 0 ]; then
    echo "$failures failed"
    exit 1
  fi
  echo "ok"
}
