-- Attack: run bytecode: a module file starting with the bytecode mark,
-- with blanks before it, and through every loader-like function.
assert(not pcall(require, 'support.mod.bytecode'))
assert(not pcall(require, 'support.mod.bytecode2'))
local ok, err = pcall(require, 'support.mod.bytecode')
assert(tostring(err):find('bytecode'), err)
assert(load == nil and loadstring == nil and string.dump == nil)
