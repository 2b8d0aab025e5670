-- Prints every frame; sends events and sets reliable timers that are
-- pending at any save point. Saves all of its state, prints nothing on load.
local core = require('engine.core')
local world = require('engine.world')
local async = require('engine.async')
local n, rings = 0, 0
local ring
ring = async:registerTimerCallback('ring', function(k)
  rings = rings + 1
  print('ring', k, core.getSimulationTime(), math.random(1000))
  async:newGameTimer(7, ring, k + 1)
end)
return {
  engineHandlers = {
    onInit = function() async:newSimulationTimer(0.35, ring, 1) end,
    onUpdate = function(dt)
      n = n + 1
      print('tick', n, core.getGameTime())
      world.getObjectById('w1'):sendEvent('Nudge', {n = n})
      if n % 3 == 0 then world.getObjectById('w2'):sendEvent('Nudge', {n = n}) end
    end,
    onSave = function() return {n = n, rings = rings} end,
    onLoad = function(d) n, rings = d.n, d.rings end,
  },
  eventHandlers = {Moved = function(e) print('moved', e.id, e.x) end},
}
