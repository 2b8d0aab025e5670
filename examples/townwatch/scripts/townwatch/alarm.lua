-- The alarm (CUSTOM, attached at run time by the director): publishes the
-- Alarm interface and rings it on a Ring event.
local core = require('engine.core')
local I = require('engine.interfaces')
local volume = 1

return {
  interfaceName = 'Alarm',
  interface = {
    ring = function(reason) return ('ding (%s, volume %d)'):format(reason, volume) end,
  },
  engineHandlers = {
    onInit = function(initData) volume = initData.volume end,
    onSave = function() return volume end,
    onLoad = function(saved) volume = saved end,
  },
  eventHandlers = {
    Ring = function(e)
      -- I.Alarm is the latest script's interface: the loud one overrides this
      core.sendGlobalEvent('AlarmRang', { message = I.Alarm.ring(e.reason) })
    end,
  },
}
