-- Attack: a __tostring, __index or __gc that raises or yields while host
-- code (print, string.format, tostring, error reporting) runs it.
local raise = setmetatable({}, {__tostring = function() error('boom') end,
  __index = function() error('boom') end, __gc = function() error('boom') end})
assert(not pcall(print, raise))
assert(not pcall(string.format, '%s', raise))
assert(not pcall(tostring, raise))
local yielding = setmetatable({}, {__tostring = function() coroutine.yield('x') end})
local co = coroutine.wrap(function() return pcall(print, yielding) end)
assert(co() == false)
co = coroutine.wrap(function() return pcall(table.sort, {1, 2, 3}, function() coroutine.yield() end) end)
assert(co() == false)
co = coroutine.wrap(function() return pcall(string.gsub, 'x', 'x', function() coroutine.yield() end) end)
assert(co() == false)
local deep = setmetatable({}, {})
getmetatable(deep).__tostring = function(self) return tostring(self) end
assert(not pcall(tostring, deep))
