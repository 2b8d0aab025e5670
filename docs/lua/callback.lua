---@meta _

---A timer callback returned by `async:registerTimerCallback`; `tostring`
---gives `TimerCallback(<name>)`.
---@class engine.TimerCallback

---A function bound to its script by `async:callback`; call it like a function.
---@class engine.Callback
---@overload fun(...: any)
