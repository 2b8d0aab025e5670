#!/bin/sh
# Save at frame N and load in a fresh process: the same output and the same
# state hashes from frame N on as the run that never stopped, with events
# and timers pending at the save; --seed changes math.random.
moonbox=$1 src=$2
. "$src/cli/lib.sh"
data=$src/cli/data/clock

expect_exit 0 "$moonbox" run "$data" --frames 20 --dt 0.1 --hash-every 1 --seed 7
cp "$tmp/out" "$tmp/whole"
expect_exit 0 "$moonbox" run "$data" --frames 10 --dt 0.1 --hash-every 1 --seed 7 --save "$tmp/s.save"
expect_exit 0 "$moonbox" run "$data" --frames 10 --dt 0.1 --hash-every 1 --seed 7 --load "$tmp/s.save"
cp "$tmp/out" "$tmp/second"
# the whole run's output after its frame 10, with frame numbers moved back
sed -n '/^frame 10 state/,$p' "$tmp/whole" | sed 1d |
  awk '/^frame /{ $2 = $2 - 10 } { print }' >"$tmp/want"
cmp -s "$tmp/want" "$tmp/second" || { fail "output differs after the load"; diff "$tmp/want" "$tmp/second" | head -n 20 >&2; }
grep -q "ring" "$tmp/second" || fail "no timer fired after the load"

# the same inputs give the same lines in another process
expect_exit 0 "$moonbox" run "$data" --frames 20 --dt 0.1 --hash-every 1 --seed 7
cmp -s "$tmp/out" "$tmp/whole" || fail "two runs with the same inputs differ"
# another seed: other random numbers, other hashes
expect_exit 0 "$moonbox" run "$data" --frames 20 --dt 0.1 --hash-every 1 --seed 8
cmp -s "$tmp/out" "$tmp/whole" && fail "--seed changed nothing"

# a save is never half-written: the old file stays when the new one fails
cp "$tmp/s.save" "$tmp/keep.save"
expect_exit 2 "$moonbox" run "$data" --frames 1 --save "$tmp/no-such-dir/x.save"
cmp -s "$tmp/s.save" "$tmp/keep.save" || fail "the old save changed"
finish
