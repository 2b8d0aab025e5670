#!/bin/sh
# --record and replay: a faithful replay passes; a changed script is caught
# at the first differing frame, naming the section that differs.
moonbox=$1 src=$2
. "$src/cli/lib.sh"
cp -r "$src/cli/data/clock" "$tmp/mod"
cat >"$tmp/scenario.json" <<'JSON'
[{"frame": 2, "objectEvent": {"object": "w2", "name": "Nudge", "data": {"n": 100}}},
 {"frame": 3, "activate": "w2"},
 {"frame": 5, "globalEvent": {"name": "Moved", "data": {"id": "host", "x": 1.5}}}]
JSON
expect_exit 0 "$moonbox" run "$tmp/mod" --frames 8 --dt 0.1 --scenario "$tmp/scenario.json" --record "$tmp/rec.json"
expect_in "$tmp/out" "global[scripts/clock.lua]:	moved	host	1.5"
expect_exit 0 "$moonbox" replay "$tmp/rec.json"
expect_in "$tmp/out" "replay ok: 8 frames, 8 state hashes match"
# change what a walker does with a nudge: frame 2 (the first nudge) differs
sed -i 's/steps = steps + 1/steps = steps + 2/' "$tmp/mod/scripts/walker.lua"
expect_exit 1 "$moonbox" replay "$tmp/rec.json"
expect_in "$tmp/err" "replay: frame 2 differs"
expect_in "$tmp/err" "w1[scripts/walker.lua] (changed)"
expect_exit 2 "$moonbox" replay "$tmp/nothing.json"
echo '{"moonbox": "other"}' >"$tmp/bad.json"
expect_exit 2 "$moonbox" replay "$tmp/bad.json"
expect_in "$tmp/err" "is not a moonbox record"
finish
