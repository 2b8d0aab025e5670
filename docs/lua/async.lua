---@meta engine.async
-- context: global local player

---Timers and callbacks of the requiring script. Call with `:`
---(`async:newSimulationTimer(...)`). Each script gets its own package.
---@class engine.async
local async = {}

---Register a named timer callback. Only while the script loads (at its top
---level or in a module it requires at load time); later calls raise
---`registerTimerCallback must be called while the script loads (at its top level)`.
---A name may be registered once per script.
---@param name string saved with each timer; must be registered again, by the same code, after a load
---@param func fun(arg: any)
---@return engine.TimerCallback
function async:registerTimerCallback(name, func) end

---A savable timer on the simulation clock: after `delay` seconds,
---`callback` runs with `arg` (serialized now). Saved with the game.
---@param delay number seconds (negative counts as 0)
---@param callback engine.TimerCallback from this script's registerTimerCallback
---@param arg? any a serializable value
function async:newSimulationTimer(delay, callback, arg) end

---A savable timer on the game clock (see core.getGameTime).
---@param delay number game seconds
---@param callback engine.TimerCallback
---@param arg? any a serializable value
function async:newGameTimer(delay, callback, arg) end

---A timer with any function. Not saved: a loaded game or a hot reload does
---not have it.
---@param delay number seconds
---@param func fun()
function async:newUnsavableSimulationTimer(delay, func) end

---An unsavable timer on the game clock.
---@param delay number game seconds
---@param func fun()
function async:newUnsavableGameTimer(delay, func) end

---Wrap `func` as a callback bound to this script (for storage
---subscriptions). Calling it after the script was removed does nothing.
---@param func function
---@return engine.Callback
function async:callback(func) end

return async
