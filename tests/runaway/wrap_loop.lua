-- A loop inside a coroutine.wrap function, called under pcall.
local co = coroutine.wrap(function() while true do end end)
while true do pcall(co) end
