---@meta _

-- The parts of the standard library the sandbox changes. .luarc.json
-- disables the editor's own `os` so that this one is used.

---`os` in the sandbox: the clock and dates only. Note that they read the
---real clock, so a script that uses them does not replay the same way twice.
---@class sandbox.os
os = {}

---Format a date (as in Lua 5.1).
---@param format? string
---@param time? integer
---@return string|osdate
function os.date(format, time) end

---Seconds between two times.
---@param t2 integer
---@param t1? integer
---@return number
function os.difftime(t2, t1) end

---The current time, or the time of a date table.
---@param date? osdateparam
---@return integer
function os.time(date) end
