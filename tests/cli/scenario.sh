#!/bin/sh
# Scenario inputs are applied at their frames; a bad scenario is refused
# before anything runs, naming the entry and why; a reload changes nothing
# observable in scripts that save all their state.
moonbox=$1 src=$2
. "$src/cli/lib.sh"
data=$src/cli/data/clock
bad() { # bad JSON WHY
  printf '%s\n' "$1" >"$tmp/bad.json"
  expect_exit 2 "$moonbox" run "$data" --frames 3 --scenario "$tmp/bad.json"
  expect_in "$tmp/err" "$2"
  grep -q "tick" "$tmp/out" && fail "a bad scenario ran frames: $1"
}
bad '{"frame": 1}' "a scenario is a JSON list of entries"
bad '[{"frame": 0, "reload": true}]' "entry 1: needs an integer 'frame' >= 1"
bad '[{"frame": 1, "reload": true}, {"frame": 2, "explode": 1}]' "entry 2: unknown input 'explode'"
bad '[{"frame": 1, "activate": "nobody"}]' "entry 1: no object 'nobody' in the world"
bad '[{"frame": 2, "reload": true}, {"frame": 1, "reload": true}]' "entry 2: frame 1 comes after frame 2"
bad '[{"frame": 1, "globalEvent": {"name": "X", "data": {"a": [1, null]}}}]' "entry 1: data.a[2]: null is not allowed"
bad '[{"frame": 1, "globalEvent": {"data": 1}}]' "entry 1: the event needs a non-empty string 'name'"
bad '[{"frame": 1, "save": "x", "reload": true}]' "entry 1: needs 'frame' and exactly one of"
bad '[{"frame": 1, "reload": true' "bad.json:"

# console input and deactivation at their frames
cat >"$tmp/s.json" <<'JSON'
[{"frame": 2, "console": {"context": "global", "code": "require('engine.core').getSimulationTime()"}},
 {"frame": 2, "console": {"context": "w1", "code": "require('engine.self').position"}},
 {"frame": 3, "deactivate": "w1"},
 {"frame": 4, "save": "SAVE"}]
JSON
sed -i "s#SAVE#$tmp/mid.save#" "$tmp/s.json"
expect_exit 0 "$moonbox" run "$data" --frames 4 --dt 0.5 --scenario "$tmp/s.json"
expect_in "$tmp/out" "0.5"
expect_in "$tmp/out" "(1, 2, 3)"
[ -s "$tmp/mid.save" ] || fail "the scenario's save was not written"

# --strict counts a failing console entry as a script error
echo '[{"frame": 1, "console": {"context": "global", "code": "error(\"boom\")"}}]' >"$tmp/c.json"
expect_exit 0 "$moonbox" run "$data" --frames 1 --scenario "$tmp/c.json"
expect_in "$tmp/err" "console: boom"
expect_exit 1 "$moonbox" run "$data" --frames 1 --scenario "$tmp/c.json" --strict

# a reload at frame 5 changes nothing observable
echo '[{"frame": 5, "reload": true}]' >"$tmp/reload.json"
expect_exit 0 "$moonbox" run "$data" --frames 10 --hash-every 1 --scenario "$tmp/reload.json"
cp "$tmp/out" "$tmp/with"
expect_exit 0 "$moonbox" run "$data" --frames 10 --hash-every 1
cmp -s "$tmp/out" "$tmp/with" || { fail "a reload changed the run"; diff "$tmp/out" "$tmp/with" | head >&2; }
finish
