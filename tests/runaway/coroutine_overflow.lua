-- Stack overflows caught by coroutine.resume instead of pcall: each
-- coroutine has its own stack, so the loop itself stays shallow.
while true do
  coroutine.resume(coroutine.create(function()
    local function g() return 1 + g() end
    return g()
  end))
end
