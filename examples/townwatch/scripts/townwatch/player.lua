-- The player's script: hears about the watch through storage changes and
-- keeps its own notes in a player section.
local storage = require('engine.storage')
local async = require('engine.async')

local watch = storage.globalSection('TownWatch')
local notes = storage.playerSection('Notes')

-- Subscriptions are not saved: onInit and onLoad both subscribe.
local function listen()
  watch:subscribe(async:callback(function(section, key)
    if key == 'patrolSpeed' then
      notes:set('seen', notes:get('seen') + 1)
      print(('the watch walks faster: %d (noticed %d times)'):format(
        watch:get(key), notes:get('seen')))
    end
  end))
end

return {
  engineHandlers = {
    onInit = function()
      notes:set('seen', 0)
      listen()
    end,
    onLoad = listen,
  },
}
