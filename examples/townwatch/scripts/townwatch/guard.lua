-- A guard (a local script on every NPC): patrols while its cell is active,
-- reports to the director on a reliable timer, whistles on an unsavable one.
local self = require('engine.self')
local core = require('engine.core')
local async = require('engine.async')
local util = require('engine.util')
local storage = require('engine.storage')

local config = storage.globalSection('TownWatch')
local state = { walked = 0, direction = 1, shift = 1 }

local report
report = async:registerTimerCallback('report', function()
  core.sendGlobalEvent('PatrolReport', { guard = self, position = self.position,
                                         walked = state.walked })
  async:newSimulationTimer(config:get('reportEvery'), report)
end)

return {
  engineHandlers = {
    onInit = function()
      async:newSimulationTimer(config:get('reportEvery'), report)
      -- unsavable timers take any function; they do not survive a save
      async:newUnsavableSimulationTimer(1, function() print('whistles') end)
    end,
    onUpdate = function(dt)
      local step = config:get('patrolSpeed') * dt * state.direction
      self.position = self.position + util.vector3(step, 0, 0)
      state.walked = state.walked + math.abs(step)
      if math.abs(self.position.x) > 20 then state.direction = -state.direction end
    end,
    onActive = function() print('back on patrol') end,
    onInactive = function() print('off duty') end,
    onSave = function() return { version = 1, state = state } end,
    onLoad = function(saved) state = saved.state end,
  },
  eventHandlers = {
    Shift = function(e)
      state.shift = e.shift
      state.direction = e.shift % 2 == 0 and -1 or 1
    end,
  },
}
