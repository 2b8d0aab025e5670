-- Budget errors raised deep inside nested coroutines and pcalls.
local function nest(n)
  if n == 0 then while true do end end
  return coroutine.wrap(function() pcall(nest, n - 1) end)()
end
while true do pcall(nest, 20) end
