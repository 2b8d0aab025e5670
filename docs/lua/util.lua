---@meta engine.util
-- context: global local player

---Vectors and small helpers that do not depend on the world.
---@class engine.util
local util = {}

---A new immutable 2D vector.
---@param x number
---@param y number
---@return engine.Vector2
function util.vector2(x, y) end

---A new immutable 3D vector.
---@param x number
---@param y number
---@param z number
---@return engine.Vector3
function util.vector3(x, y, z) end

---A read-only view of `t`: writes raise `attempt to modify a read-only
---table`; pairs/ipairs see the original, and tables read through the view
---are read-only views too. The view is not serializable.
---@generic T: table
---@param t T
---@return T
function util.makeReadOnly(t) end

---`x` limited to [lo, hi].
---@param x number
---@param lo number
---@param hi number
---@return number
function util.clamp(x, lo, hi) end

---`math.floor(x + 0.5)`: halves round up (2.5 -> 3, -2.5 -> -2).
---@param x number
---@return number
function util.round(x) end

return util
