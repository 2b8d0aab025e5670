local self = require('engine.self')
local core = require('engine.core')
local util = require('engine.util')
local steps = 0
return {
  engineHandlers = {
    onSave = function() return {steps = steps, at = self.position} end,
    onLoad = function(d) steps = d.steps end,
  },
  eventHandlers = {
    Nudge = function(e)
      steps = steps + 1
      self.position = self.position + util.vector3(e.n, 0, 0)
      core.sendGlobalEvent('Moved', {id = self.id, x = self.position.x})
    end,
  },
}
