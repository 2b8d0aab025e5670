#!/bin/sh
# moonbox save info/verify/dump/diff, and what they say about damage.
moonbox=$1 src=$2
. "$src/cli/lib.sh"
data=$src/cli/data/clock
"$moonbox" run "$data" --frames 3 --save "$tmp/a.save" >/dev/null 2>&1
"$moonbox" run "$data" --frames 5 --save "$tmp/b.save" >/dev/null 2>&1
expect_exit 0 "$moonbox" save info "$tmp/a.save"
expect_in "$tmp/out" "format 1.0, intact"
expect_in "$tmp/out" "global[scripts/clock.lua]"
expect_exit 0 "$moonbox" save verify "$tmp/a.save"
expect_exit 0 "$moonbox" save dump "$tmp/a.save"
expect_in "$tmp/out" '"$ext": "vector3"'
expect_in "$tmp/out" '"kind": "host"'
expect_exit 0 "$moonbox" save diff "$tmp/a.save" "$tmp/a.save"
expect_in "$tmp/out" "no differences"
expect_exit 1 "$moonbox" save diff "$tmp/a.save" "$tmp/b.save"
expect_in "$tmp/out" "global[scripts/clock.lua]: .n: 3 -> 5"
# flip one byte of a script's payload: verify names the section, exit 1
off=$(grep -abo 'rings' "$tmp/a.save" | head -n 1 | cut -d: -f1)
cp "$tmp/a.save" "$tmp/bad.save"
printf 'X' | dd of="$tmp/bad.save" bs=1 seek="$off" conv=notrunc 2>/dev/null
expect_exit 1 "$moonbox" save verify "$tmp/bad.save"
expect_in "$tmp/err" "global[scripts/clock.lua]"
# the damaged section is kept: a run that loads and saves writes it back
expect_exit 0 "$moonbox" run "$data" --frames 1 --load "$tmp/bad.save" --save "$tmp/again.save"
expect_in "$tmp/err" "checksum mismatch"
expect_exit 1 "$moonbox" save verify "$tmp/again.save"
# truncated and foreign files
head -c 100 "$tmp/a.save" >"$tmp/short.save"
expect_exit 1 "$moonbox" save verify "$tmp/short.save"
echo "not a save" >"$tmp/text.save"
expect_exit 2 "$moonbox" save verify "$tmp/text.save"
expect_exit 2 "$moonbox" save info "$tmp/missing.save"
expect_exit 2 "$moonbox" save frob "$tmp/a.save"
finish
