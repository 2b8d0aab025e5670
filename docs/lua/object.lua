---@meta _

---A handle of a host object, by id. Handles stay valid after the object is
---removed (reading `type`, `cell` or `position` of a removed object raises
---`object '<id>' does not exist`). Handles are serializable (saved by id)
---and compare equal when their ids are equal; `tostring` gives `object(<id>)`.
---Global scripts may change any object; a local or player script only its
---own (`self`). Other fields read as nil; setting them raises
---`cannot set field '<name>' of an object`.
---@class engine.Object
---@field id string stable id, chosen by the host
---@field type string object type, e.g. "NPC" or "PLAYER"
---@field cell string name of the cell ("" when none); writable
---@field position engine.Vector3 writable (assign a new vector3)
local Object = {}

---true when the object exists and is in an active cell.
---@return boolean
function Object:isActive() end

---true while the object exists.
---@return boolean
function Object:isValid() end

---Queue an event for the local scripts of this object; delivered in the next
---frame in which the object is active. `eventData` is serialized now.
---@param eventName string
---@param eventData? any a serializable value
function Object:sendEvent(eventName, eventData) end

---Global scripts only. Attach a script that the manifests allow on this
---object (CUSTOM, or a flag naming its type). It starts at once with
---onInit(initData).
---@param scriptPath string VFS path, e.g. "scripts/mymod/door.lua"
---@param initData? any a serializable value
function Object:addScript(scriptPath, initData) end

---Global scripts only. Stop a script of this object (no handler runs; its
---timers are cancelled).
---@param scriptPath string
function Object:removeScript(scriptPath) end

---Global scripts only. Whether `scriptPath` is attached to this object.
---@param scriptPath string
---@return boolean
function Object:hasScript(scriptPath) end
