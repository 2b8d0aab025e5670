#!/bin/sh
# The console reads commands from a pipe: contexts, expressions before
# statements, multi-line input, stepping, saving, loading, reloading.
moonbox=$1 src=$2
. "$src/cli/lib.sh"
data=$src/cli/data/clock
cat >"$tmp/in" <<EOF2
x = 20
x + 22
luas w1
require('engine.self').id
pcall(require, 'engine.world')
for i = 1, 2 do
  print('loop', i)
end
lua global
require('engine.world').getObjectById('w1').position
step 2
require('engine.core').getSimulationTime()
save $tmp/c.save
luap
require('engine.self').type
lua selected nobody
error('boom')
reloadlua
load $tmp/c.save
luag
require('engine.core').getSimulationTime()
exit
print('never')
EOF2
expect_exit 0 sh -c "\"$moonbox\" console \"$data\" --quiet <\"$tmp/in\""
for want in 42 w1 "false	module not found: engine.world" "w1[console]:	loop	1" \
    "w1[console]:	loop	2" "(1, 2, 3)" "0.2" "saved $tmp/c.save" PLAYER \
    reloaded "loaded $tmp/c.save"; do
  expect_in "$tmp/out" "$want"
done
expect_in "$tmp/err" "error: no object 'nobody'"
expect_in "$tmp/err" "error: boom"
grep -q never "$tmp/out" && fail "input after exit ran"
finish
