#!/bin/sh
# --storage: Persistent sections outlive new games and loads; GameSession
# sections travel in the save; Temporary ones in neither.
moonbox=$1 src=$2
. "$src/cli/lib.sh"
mkdir -p "$tmp/mod"
echo "GLOBAL: g.lua" >"$tmp/mod/m.omwscripts"
cat >"$tmp/mod/g.lua" <<'LUA'
local storage = require('engine.storage')
local p = storage.globalSection('Profile')
p:setLifeTime(storage.LIFE_TIME.Persistent)
local g = storage.globalSection('Game')
local t = storage.globalSection('Scratch')
t:setLifeTime(storage.LIFE_TIME.Temporary)
return {engineHandlers = {
  onInit = function()
    p:set('games', (p:get('games') or 0) + 1)
    print('games', p:get('games'), 'game', g:get('n'), 'scratch', t:get('x'))
    g:set('n', 1)
    t:set('x', 1)
  end,
  onLoad = function()
    print('loaded: games', p:get('games'), 'game', g:get('n'), 'scratch', t:get('x'))
  end,
}}
LUA
expect_exit 0 "$moonbox" run "$tmp/mod" --frames 1 --storage "$tmp/profile" --save "$tmp/s.save"
expect_in "$tmp/out" "games	1	game	nil	scratch	nil"
expect_exit 0 "$moonbox" run "$tmp/mod" --frames 1 --storage "$tmp/profile"
expect_in "$tmp/out" "games	2	game	nil	scratch	nil"
expect_exit 0 "$moonbox" run "$tmp/mod" --frames 1 --storage "$tmp/profile" --load "$tmp/s.save"
expect_in "$tmp/out" "loaded: games	2	game	1	scratch	nil"
expect_exit 0 "$moonbox" save verify "$tmp/profile"
finish
