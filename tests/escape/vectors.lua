-- Attack: change the vector metatable shared by every script of the realm.
local util = require('engine.util')
local v = util.vector3(1, 2, 3)
local mt = getmetatable(v)
assert(type(mt) ~= 'table' or not pcall(function() mt.__add = nil end))
assert(not pcall(setmetatable, v, {}))
assert(not pcall(function() v.x = 5 end))
assert((v + v).x == 2)
