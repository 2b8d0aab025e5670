-- Attack: recursion through C (coroutines, gsub callbacks, sort
-- comparators, tostring, format, pairs, require) must be a Lua error, never a
-- crash.
local function co() return coroutine.wrap(co)() end
assert(not pcall(co))
local function res() local c = coroutine.create(res) return select(2, coroutine.resume(c)) end
pcall(res)
local function gs() return (('x'):gsub('x', gs)) end
assert(not pcall(gs))
local function srt() table.sort({1, 2, 3}, function() srt() return false end) end
assert(not pcall(srt))
local t = setmetatable({}, {})
getmetatable(t).__tostring = function(s) return string.format('%s', s) end
assert(not pcall(tostring, t))
local p = setmetatable({}, {})
getmetatable(p).__pairs = function(s) return pairs(s) end
assert(not pcall(pairs, p))
local async = require('engine.async')
local cb
cb = async:callback(function() cb() end)
pcall(cb)
