-- Attack: get a forbidden library through require, under any name.
for _, n in ipairs({'debug', 'io', 'package', 'ffi', 'jit', 'jit.util', 'jit.profile',
    'string.buffer', 'table.new', 'table.clear', 'os.execute', '_G', 'base', 'lua',
    'bit32', 'coroutine.running', 'engine', 'engine.', 'engine.nope'}) do
  local ok, err = pcall(require, n)
  assert(not ok, n)
  assert(tostring(err):find('not found') or tostring(err):find('bad module name'), err)
end
assert(require('os').execute == nil)
assert(require('string').dump == nil)
