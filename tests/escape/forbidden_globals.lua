-- Attack: reach a forbidden function through the environment by any
-- spelling: plain globals, _G, rawget, and the environment's own pairs.
local names = {'load', 'loadstring', 'dofile', 'loadfile', 'getfenv', 'setfenv',
  'collectgarbage', 'module', 'newproxy', 'debug', 'io', 'package', 'ffi', 'jit',
  'gcinfo', 'require_'}
for _, n in ipairs(names) do
  assert(_G[n] == nil, n)
  assert(rawget(_G, n) == nil, n)
end
for k in pairs(_G) do
  for _, n in ipairs(names) do assert(k ~= n, n) end
end
assert(string.dump == nil and ('x').dump == nil)
assert(table.new == nil and table.clear == nil and string.buffer == nil)
assert(os.execute == nil and os.getenv == nil and os.exit == nil and os.remove == nil)
assert(math.randomseed == nil)
