-- The director (a global script): collects patrol reports from the guards,
-- changes shifts on a game-time timer, and attaches the alarm scripts to
-- the strongbox at run time once enough reports came in.
local core = require('engine.core')
local world = require('engine.world')
local async = require('engine.async')
local storage = require('engine.storage')
local settings = require('scripts.townwatch.settings')

local SAVE_VERSION = 2
local state = { stats = { reports = 0 }, shift = 1, alarmed = false }
local config = storage.globalSection('TownWatch')

-- Reliable timers name a callback registered at load time, so they fire
-- again after a save is loaded.
local changeShift
changeShift = async:registerTimerCallback('changeShift', function(hours)
  state.shift = state.shift % 3 + 1
  print(('shift %d begins (every %.1f game hours)'):format(state.shift, hours))
  for _, id in ipairs(settings.guards) do
    local guard = world.getObjectById(id)
    if guard then guard:sendEvent('Shift', { shift = state.shift }) end
  end
  async:newGameTimer(hours * 3600, changeShift, hours)
end)

local function raiseAlarm()
  local box = world.getObjectById('strongbox')
  box:addScript('scripts/townwatch/alarm.lua', { volume = 1 })
  box:addScript('scripts/townwatch/alarm_loud.lua')
  box:sendEvent('Ring', { reason = 'too many reports' })
  state.alarmed = true
end

return {
  engineHandlers = {
    onInit = function()
      config:set('patrolSpeed', 2)
      config:set('reportEvery', 5)
      async:newGameTimer(settings.shiftHours * 3600, changeShift, settings.shiftHours)
      print(('watching %d players'):format(#world.players))
    end,
    onSave = function()
      return { version = SAVE_VERSION, stats = state.stats, shift = state.shift,
               alarmed = state.alarmed }
    end,
    onLoad = function(saved)
      -- version 1 kept the report count at the top level: migrate it
      if saved.version == 1 then
        saved.stats = { reports = saved.reports }
      end
      state.stats, state.shift, state.alarmed = saved.stats, saved.shift, saved.alarmed
      print(('loaded: %d reports, shift %d'):format(state.stats.reports, state.shift))
    end,
  },
  eventHandlers = {
    PatrolReport = function(report)
      state.stats.reports = state.stats.reports + 1
      if state.stats.reports % 4 == 0 then
        print(('%d reports; last from %s at x=%.1f'):format(
          state.stats.reports, report.guard.id, report.position.x))
        config:set('patrolSpeed', config:get('patrolSpeed') + 1)
      end
      if state.stats.reports >= settings.alarmAfter and not state.alarmed then
        raiseAlarm()
      end
    end,
    Visitor = function(v)
      print(('a visitor: %s with %d gold'):format(v.name, v.gold))
    end,
    AlarmRang = function(e)
      print(('alarm answered: %s'):format(e.message))
    end,
  },
}
