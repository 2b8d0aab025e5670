-- Attack: change the string metatable or its __index table, which every
-- instance of the realm shares.
assert(getmetatable('') == false)
assert(not pcall(setmetatable, '', {}))
assert(not pcall(function() getmetatable('').__index = {} end))
assert(not pcall(function() ('x').upper = nil end))
assert(not pcall(function() string.upper = nil end))
assert(not pcall(rawset, string, 'upper', nil))
assert(('x').evil == nil)
local idx = ('x').__index
assert(idx == nil)
-- coroutines, error objects and pcall return values give no other view
local co = coroutine.create(function() return getmetatable('') end)
assert(select(2, coroutine.resume(co)) == false)
