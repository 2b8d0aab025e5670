---@meta engine.self
-- context: local player

---The object the script is attached to. It is an ordinary object handle
---(see engine.Object) that the script may change: `self.position`,
---`self.cell`.
---@type engine.Object
local self

return self
