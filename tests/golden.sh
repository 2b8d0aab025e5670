#!/bin/sh
# Golden Lua test: run FILE with `moonbox exec DATA_DIR FILE` and compare.
#   -- expect: TEXT         next stdout line, without its "global[FILE]:" prefix,
#                           tabs shown as single spaces
#   -- expect-raw: TEXT     next stdout line exactly ("\t" stands for a tab)
#   -- expect-stderr: TEXT  stderr contains TEXT
#   -- expect-exit: N       exit status (default 0)
# usage: golden.sh MOONBOX DATA_DIR FILE
set -u
moonbox=$1 data=$2 file=$3
src="$data/$file"
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
"$moonbox" exec "$data" "$file" >"$tmp/out" 2>"$tmp/err"
rc=$?
fail=0
want_rc=$(sed -n 's/^-- expect-exit: *//p' "$src" | head -n 1)
[ -n "$want_rc" ] || want_rc=0
if [ "$rc" != "$want_rc" ]; then
  echo "exit status $rc, expected $want_rc"; fail=1
fi
# Expected lines with their kind, then the actual lines shaped the same way.
awk '/^-- expect: /{print "n"; print substr($0, 12)} /^-- expect-raw: /{print "r"; print substr($0, 16)}' "$src" >"$tmp/spec"
awk 'NR % 2 == 0' "$tmp/spec" | sed 's/\\t/\t/g' >"$tmp/want"
awk -v prefix="global[$file]:" '
  NR == FNR { if (FNR % 2 == 1) kind[++k] = $0; next }
  {
    line = $0
    if (kind[FNR] != "r") {
      if (index(line, prefix) == 1) line = substr(line, length(prefix) + 1)
      sub(/^\t/, "", line); gsub(/\t/, " ", line)
    }
    print line
  }' "$tmp/spec" "$tmp/out" >"$tmp/got"
if ! diff -u "$tmp/want" "$tmp/got" >"$tmp/diff"; then
  echo "stdout differs (- expected, + actual):"; cat "$tmp/diff"; fail=1
fi
sed -n 's/^-- expect-stderr: //p' "$src" >"$tmp/errs"
while IFS= read -r needle; do
  if ! grep -qF -- "$needle" "$tmp/err"; then
    echo "stderr lacks: $needle"; fail=1
  fi
done <"$tmp/errs"
if [ $fail != 0 ]; then
  echo "--- stderr:"; cat "$tmp/err"
  exit 1
fi
echo "ok $file"
