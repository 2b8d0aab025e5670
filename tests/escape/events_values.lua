-- Attack: pass functions, threads, tables with metatables, deep and
-- cyclic tables to another script through events.
local core = require('engine.core')
assert(not pcall(core.sendGlobalEvent, 'Probe', print))
assert(not pcall(core.sendGlobalEvent, 'Probe', {f = print}))
assert(not pcall(core.sendGlobalEvent, 'Probe', coroutine.create(print)))
local raising = setmetatable({a = 1}, {
  __index = function() error('host ran __index') end,
  __pairs = function() error('host ran __pairs') end,
  __len = function() error('host ran __len') end,
  __tostring = function() error('host ran __tostring') end,
  __gc = function() error('host ran __gc') end})
local ok, err = pcall(core.sendGlobalEvent, 'Probe', raising)
assert(ok or not tostring(err):find('host ran'), err)
local deep = {} for i = 1, 100000 do deep = {deep} end
assert(not pcall(core.sendGlobalEvent, 'Probe', deep))
local cyc = {} cyc[1] = cyc
assert(not pcall(core.sendGlobalEvent, 'Probe', cyc))
