-- Attack: change another script's saved data through storage: write its
-- section, modify returned tables, store functions, threads, metatables.
local storage = require('engine.storage')
local s = storage.globalSection('sentinel')
assert(s:get('secret') == 'kept')
local t = s:asTable()
pcall(function() t.secret = 'changed' end)
pcall(rawset, t, 'secret', 'changed')
assert(s:get('secret') == 'kept')
local mine = storage.globalSection('mine')
assert(not pcall(mine.set, mine, 'f', print))
assert(not pcall(mine.set, mine, 'co', coroutine.create(print)))
local ok = pcall(mine.set, mine, 'm', setmetatable({}, {__index = function() while true do end end,
  __pairs = function() error('host ran __pairs') end}))
if ok then assert(getmetatable(mine:get('m')) == nil) end
local deep = {} for i = 1, 10000 do deep = {deep} end
assert(not pcall(mine.set, mine, 'deep', deep))
local cyc = {} cyc.self = cyc
assert(not pcall(mine.set, mine, 'cyc', cyc))
