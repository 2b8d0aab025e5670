---@meta engine.world
-- context: global

---The world, as global scripts see it.
---@class engine.world
---@field players engine.Object[] the objects of type PLAYER, in creation order (a new list on every read)
local world = {}

---The object with this id, or nil when the host has no such object.
---@param id string
---@return engine.Object?
function world.getObjectById(id) end

return world
