---@meta engine.storage
-- context: global local player

---Named sections of key -> serializable value, shared by every script of the
---VM. Global sections are written by global scripts, player sections by
---player scripts; everyone may read a global section.
---@class engine.storage
local storage = {}

---Lifetimes of a section (`section:setLifeTime`). Unlike OpenMW, a new
---section is GameSession.
---@enum engine.LifeTime
local LIFE_TIME = {
  ---Not in the save; survives loads and hot reloads of this VM.
  Persistent = 0,
  ---In the save; a load replaces it (the default).
  GameSession = 1,
  ---Not in the save; emptied by every load and hot reload.
  Temporary = 2,
}
storage.LIFE_TIME = LIFE_TIME

---The global section `name` (created empty on first use).
---@param name string
---@return engine.StorageSection
function storage.globalSection(name) end

---Player scripts only: the player section `name` (one namespace for all
---player scripts). Elsewhere raises
---`playerSection is available to player scripts only`.
---@param name string
---@return engine.StorageSection
function storage.playerSection(name) end

---A storage section. Call methods with `:`. Writes from a script that may
---not write raise
---`storage section '<name>' is read-only here (writable by global scripts)`.
---@class engine.StorageSection
local StorageSection = {}

---A read-only copy of the value (nested tables read-only too), or nil.
---@param key string
---@return any
function StorageSection:get(key) end

---A copy of the value that the script may change, or nil.
---@param key string
---@return any
function StorageSection:getCopy(key) end

---Set `key` (nil removes it). The value is serialized now; errors start
---with the key: `set('bad', {print})` raises
---`bad[1]: function is not serializable`. Subscribers run at once.
---@param key string
---@param value any a serializable value
function StorageSection:set(key, value) end

---A new table with a copy of every key.
---@return table<string, any>
function StorageSection:asTable() end

---Remove every key, then set the keys of `values` (string keys only).
---Subscribers run once with key nil.
---@param values? table<string, any>
function StorageSection:reset(values) end

---Call `callback(sectionName, key)` after every change (`key` nil after a
---reset), from inside the set/reset that changed it.
---@param callback engine.Callback from async:callback
function StorageSection:subscribe(callback) end

---Set the lifetime (a storage.LIFE_TIME value). Needs write access.
---@param lifetime engine.LifeTime
function StorageSection:setLifeTime(lifetime) end

return storage
