#!/bin/sh
# moonbox run and check: output format, exit statuses, bad usage.
moonbox=$1 src=$2
. "$src/cli/lib.sh"
data=$src/cli/data

expect_exit 0 "$moonbox" run "$data/clock" --frames 3 --dt 0.1
expect_in "$tmp/out" "global[scripts/clock.lua]:	tick	1	1"
expect_in "$tmp/out" "global[scripts/clock.lua]:	moved	w1	2"

# a failing handler is logged and the run goes on; --strict makes it exit 1
expect_exit 0 "$moonbox" run "$data/broken" --frames 2
expect_in "$tmp/err" "global[scripts/fails.lua] onUpdate failed: scripts/fails.lua:1: fails on purpose"
expect_in "$tmp/err" "stack traceback:"
[ "$(grep -c 'ok runs' "$tmp/out")" = 2 ] || fail "the other script did not run every frame"
expect_exit 1 "$moonbox" run "$data/broken" --frames 1 --strict

# check compiles every manifest script, even the ones nothing attached
expect_exit 1 "$moonbox" check "$data/broken"
expect_in "$tmp/err" "scripts/syntax.lua:3: unexpected symbol near '<eof>'"
expect_in "$tmp/err" "1 error"
expect_exit 0 "$moonbox" check "$data/clock"
expect_in "$tmp/out" "2 scripts ok"

# --profile: top scripts by time and memory, on stderr
expect_exit 0 "$moonbox" run "$data/clock" --frames 5 --profile
expect_in "$tmp/err" "profile: top scripts by time"
expect_in "$tmp/err" "global[scripts/clock.lua]"
expect_in "$tmp/err" "profile: top scripts by memory (allocated, still held)"

# --frames 0 only loads and saves
expect_exit 0 "$moonbox" run "$data/clock" --frames 0 --save "$tmp/zero.save"
[ -s "$tmp/zero.save" ] || fail "--frames 0 did not save"

# bad usage: exit 2 with one line
expect_exit 2 "$moonbox" run
expect_exit 2 "$moonbox" run "$data/clock" --frames -1
expect_in "$tmp/err" "--frames needs an integer >= 0, got '-1'"
expect_exit 2 "$moonbox" run "$data/clock" --bogus
expect_in "$tmp/err" "unknown option '--bogus'"
expect_exit 2 "$moonbox" run "$data/clock" --dt nan
expect_exit 2 "$moonbox" run "$data/clock" --load "$tmp/missing.save"
expect_exit 2 "$moonbox" run "$tmp/no-such-dir"
expect_exit 2 "$moonbox" frobnicate
mkdir -p "$tmp/badworld"
echo '{"objects": [{"id": 3}]}' >"$tmp/badworld/world.json"
expect_exit 2 "$moonbox" run "$tmp/badworld"
expect_in "$tmp/err" "world.json: objects[0] needs string 'id' and 'type'"
# --api-prefix renames the packages
mkdir -p "$tmp/prefix"
echo "GLOBAL: p.lua" >"$tmp/prefix/p.omwscripts"
echo "print(pcall(require, 'openmw.core'), pcall(require, 'engine.core')) return {}" >"$tmp/prefix/p.lua"
expect_exit 0 "$moonbox" run "$tmp/prefix" --frames 0 --api-prefix openmw
expect_in "$tmp/out" "global[p.lua]:	true"
expect_in "$tmp/out" "false	module not found: engine.core"
expect_exit 2 "$moonbox" run "$tmp/prefix" --api-prefix "a.b"
expect_exit 2 "$moonbox" run "$tmp/prefix" --api-prefix "a.b" --profile

for cmd in exec run check replay console save; do
  expect_exit 0 "$moonbox" $cmd --help
done
expect_exit 0 "$moonbox" --help
finish
