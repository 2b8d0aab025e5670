#!/bin/sh
# The example mod runs cleanly, and its save/load continuation agrees with
# the uninterrupted run (what make run shows).
moonbox=$1 src=$2
. "$src/cli/lib.sh"
root=$(dirname "$src")
cd "$root" || exit 1
expect_exit 0 sh examples/run.sh "$moonbox"
expect_in "$tmp/out" "save -> load -> continue gives the same state as the uninterrupted run"
expect_in "$tmp/out" "alarm answered: DING (TOO MANY REPORTS, VOLUME 1)!!!"
expect_exit 0 "$moonbox" check examples/townwatch
finish
