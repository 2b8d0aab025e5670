-- Tail calls reuse the frame, so the stack never fills.
local function f(n) return f(n + 1) end
f(1)
