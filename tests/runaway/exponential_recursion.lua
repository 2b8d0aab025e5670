-- Exponential recursion that never gets deep: 2^60 calls.
local function f(n) if n == 0 then return 1 end return f(n - 1) + f(n - 1) end
f(60)
