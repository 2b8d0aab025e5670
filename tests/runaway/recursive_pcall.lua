-- Recursion through pcall to the stack limit, where the count hook
-- cannot run, catching each stack overflow and trying again.
-- stops: stack overflow
local function f() while true do pcall(f) end end
f()
