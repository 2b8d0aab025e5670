-- Attack: C functions asked to do huge work in one call: unpack, format
-- width, table.insert far away, string.rep, concat ranges.
local function fails(f, ...) return not pcall(f, ...) end
assert(fails(unpack, {}, 1, 1e7))
assert(select('#', unpack({}, -2^31, 2^31)) == 1) -- LuaJIT's count wraps to 1
assert(fails(string.format, '%99999d', 1))
assert(fails(string.format, '%.99999f', 1))
assert(fails(table.insert, {}, -2^31 + 2, 1))
assert(fails(table.insert, {}, 2^31, 1))
pcall(table.concat, {}, '', 1, 2^31)
assert(fails(table.concat, {}, '', 1, 2^30))
assert(select('#', string.byte(('x'):rep(100), 1, -1)) == 100)
assert(fails(string.rep, 'x', -1) == false)
assert(#string.format('%099d', 1) == 99)
pcall(os.date, '*t', 1e300)
pcall(os.date, '%Ez%%%', -1e300)
assert(fails(string.char, 256))
