-- Attack: reach the environment or libraries of another instance through
-- coroutine objects, running(), status(), and error values from threads.
assert(coroutine.running() == nil or type(coroutine.running()) == 'thread')
local co = coroutine.create(function(...) return getmetatable(coroutine.running()) end)
local ok, mt = coroutine.resume(co)
assert(ok and mt == nil)
assert(not pcall(setmetatable, co, {}))
local co2 = coroutine.create(function() error(setmetatable({}, {__index = _G})) end)
local ok2, e = coroutine.resume(co2)
assert(not ok2 and getmetatable(e).__index == _G)
