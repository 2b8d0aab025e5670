-- Attack: a __gc on a table (ignored by LuaJIT's Lua 5.1 semantics) or a
-- proxy userdata (newproxy is gone) that would run inside the collector.
assert(newproxy == nil)
for i = 1, 1000 do setmetatable({}, {__gc = function() while true do end end}) end
local junk = {}
for i = 1, 10000 do junk[i] = {i} end
junk = nil
