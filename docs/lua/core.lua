---@meta engine.core
-- context: global local player

---Clocks, global events and the API revision. Every script can require it.
---@class engine.core
local core = {}

---Revision of the script-facing API; bumped whenever it changes (now 1).
---@type integer
core.API_REVISION = 1

---Simulation time in seconds: the sum of the `dt` of every frame since the
---new game (a paused frame adds 0). Part of the save.
---@return number
function core.getSimulationTime() end

---Game time in seconds: advances `timescale` times faster than simulation
---time (the host sets the timescale). Part of the save.
---@return number
function core.getGameTime() end

---Queue a global event for the next frame. `eventData` is serialized now: a
---value that cannot be saved raises here, e.g.
---`data.inventory[3].owner: function is not serializable`.
---@param eventName string
---@param eventData? any a serializable value (nil: none)
function core.sendGlobalEvent(eventName, eventData) end

return core
