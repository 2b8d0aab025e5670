-- Attack: change a library table seen by other instances: assignment,
-- rawset, setmetatable, and the C functions that write with raw sets
-- (table.insert, table.remove, table.sort, table.move).
for _, lib in ipairs({string, table, math, os, coroutine, bit}) do
  assert(not pcall(function() lib.x = 1 end))
  assert(not pcall(rawset, lib, 'x', 1))
  assert(not pcall(setmetatable, lib, {}))
  assert(not pcall(table.insert, lib, print))
  assert(not pcall(table.insert, lib, 1, print))
  assert(not pcall(table.remove, lib))
  assert(not pcall(table.sort, lib))
  assert(not pcall(table.move, {1, 2}, 1, 2, 1, lib))
  assert(#lib == 0 and next(lib) == nil)
end
assert(getmetatable(string) == false)
