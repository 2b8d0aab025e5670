-- Attack: smuggle a function or a table with metatables through a timer
-- argument, or fire another script's timer callback.
local async = require('engine.async')
assert(not pcall(async.newSimulationTimer, async, 1, 'nope', nil))
assert(not pcall(async.newSimulationTimer, async, 1, print, nil))
-- a registered name is this script's own: a timer naming it carries only
-- serializable data
if pcall(async.registerTimerCallback, async, 'cb', function() end) then
  assert(not pcall(async.newSimulationTimer, async, 1, 'cb', print))
  assert(not pcall(async.newSimulationTimer, async, 1, 'cb', setmetatable({}, {__index = error})) or true)
end
local cb = async:callback(function(x) assert(type(x) ~= 'function') end)
assert(not pcall(setmetatable, cb, {}))
assert(getmetatable(cb) ~= nil and type(getmetatable(cb)) ~= 'table')
