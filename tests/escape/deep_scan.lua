-- Attack: walk everything reachable (libraries, metatables, values of
-- host packages, results of getmetatable) looking for a forbidden function
-- name or a writable metatable.
local seen, bad = {}, {}
local forbidden = {load = 1, loadstring = 1, dofile = 1, loadfile = 1, getfenv = 1,
  setfenv = 1, collectgarbage = 1, newproxy = 1, dump = 1, execute = 1, getenv = 1,
  sethook = 1, getupvalue = 1, setupvalue = 1, getregistry = 1, cdef = 1}
local function walk(v, path, depth)
  if depth > 8 or seen[v] then return end
  if type(v) == 'table' or type(v) == 'userdata' or type(v) == 'function' then seen[v] = true end
  local mt = getmetatable(v)
  if type(mt) == 'table' then
    assert(not pcall(function() mt.__evil = 1 end) or v == _G,
           'writable metatable at ' .. path)
    walk(mt, path .. '<mt>', depth + 1)
  end
  if type(v) == 'table' then
    for k, x in pairs(v) do
      if forbidden[k] then bad[#bad + 1] = path .. '.' .. tostring(k) end
      walk(x, path .. '.' .. tostring(k), depth + 1)
    end
  end
end
walk(_G, '_G', 0)
for _, p in ipairs({'engine.core', 'engine.world', 'engine.async', 'engine.storage',
                    'engine.util', 'engine.interfaces'}) do
  local ok, pkg = pcall(require, p)
  if ok then walk(pkg, p, 0) end
end
walk('', 'string', 0)
assert(#bad == 0, table.concat(bad, ' '))
