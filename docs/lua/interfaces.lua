---@meta engine.interfaces
-- context: global local player

---The interfaces published in the script's container (the global scripts,
---or the scripts of one object): `I.Name` is a read-only view of the
---`interface` table of the last script in load order whose `interfaceName`
---is `Name`, or nil. Looked up on every access. Assigning raises
---`interfaces are read-only`; `pairs(I)` lists nothing.
---@class engine.interfaces
---@field [string] table
local interfaces = {}

return interfaces
