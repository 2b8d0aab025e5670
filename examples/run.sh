#!/bin/sh
# The README's main job (make run): the Town Watch example mod, run headless.
# One run of 60 frames; then the same 60 frames as two processes, the second
# loading the first one's save. Their state hashes must agree.
set -eu
moonbox=${1:-build/moonbox}
mod=examples/townwatch
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
opts="--dt 0.5 --hash-every 10 --strict --scenario $mod/scenario.json"

echo "== moonbox run $mod --frames 60 (one process)"
"$moonbox" run "$mod" --frames 60 $opts | tee "$tmp/whole"

echo
echo "== the same frames in two processes: 30 frames, save, load, 30 more"
"$moonbox" run "$mod" --frames 30 $opts --save "$tmp/town.save" >"$tmp/first"
"$moonbox" run "$mod" --frames 30 --dt 0.5 --hash-every 10 --strict --load "$tmp/town.save" >"$tmp/second"
"$moonbox" save info "$tmp/town.save"

# Frames restart at 1 in the second process: its frame k is frame 30 + k.
grep '^frame' "$tmp/whole" | awk '$2 > 30 { print $2 - 30, $4 }' >"$tmp/want"
grep '^frame' "$tmp/second" | awk '{ print $2, $4 }' >"$tmp/got"
echo
echo "== state hashes after the save (frame, one process, two processes)"
paste -d' ' "$tmp/want" "$tmp/got" | awk '{ printf "frame %d  %s  %s  %s\n", $1 + 30, $2, $4, ($2 == $4 ? "same" : "DIFFERENT") }'
if cmp -s "$tmp/want" "$tmp/got"; then
  echo "save -> load -> continue gives the same state as the uninterrupted run"
else
  echo "the hashes differ" >&2
  exit 1
fi
