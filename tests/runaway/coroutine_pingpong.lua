-- Two coroutines handing control back and forth forever.
local a, b
a = coroutine.create(function() while true do coroutine.yield() end end)
b = coroutine.create(function() while true do coroutine.resume(a) coroutine.yield() end end)
while true do coroutine.resume(b) end
