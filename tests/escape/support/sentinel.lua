-- The sentinel: another script instance whose state every escape case
-- tries to reach. On every frame it checks its globals, upvalues, module,
-- storage, libraries and the string metatable, and prints the verdict.
secret = 'S3CR3T'
local hidden = {value = 42}
local shared = require('support.mod.shared')
local storage = require('engine.storage')
local section = storage.globalSection('sentinel')
section:set('secret', 'kept')
local function surface()
  local out = {}
  for _, name in ipairs({'string', 'table', 'math', 'os', 'coroutine', 'bit'}) do
    local keys = {}
    for k, v in pairs(_G[name]) do keys[#keys + 1] = k .. '=' .. tostring(v) end
    table.sort(keys)
    out[#out + 1] = name .. ':' .. table.concat(keys, ',') .. '#' .. #_G[name]
  end
  local keys = {}
  for k, v in pairs(_G) do keys[#keys + 1] = tostring(k) .. '=' .. tostring(v) end
  table.sort(keys)
  out[#out + 1] = table.concat(keys, ',')
  out[#out + 1] = tostring(getmetatable('')) .. ('abc'):upper() .. ('%d'):format(5)
    .. tostring(('x').evil) .. tostring(('x').dump)
  return table.concat(out, '\n')
end
local base = surface()
local I = {
  value = {1, 2, 3},
  get = function() return hidden.value end,
}
return {
  interfaceName = 'Sentinel',
  interface = I,
  engineHandlers = {
    onUpdate = function()
      local ok = secret == 'S3CR3T' and hidden.value == 42 and surface() == base
        and shared.count == 0 and section:get('secret') == 'kept'
        and I.value[1] == 1 and #I.value == 3
      print(ok and 'sentinel ok' or 'sentinel BAD')
    end,
  },
  eventHandlers = {
    Probe = function(data)
      -- whatever arrives is plain data: no functions, no metatables
      local function check(v, depth)
        assert(depth < 50)
        assert(type(v) ~= 'function' and type(v) ~= 'thread', 'got a ' .. type(v))
        if type(v) == 'table' then
          assert(getmetatable(v) == nil, 'metatable crossed')
          for k, x in pairs(v) do check(k, depth + 1) check(x, depth + 1) end
        end
      end
      check(data, 0)
      print('probe delivered')
    end,
  },
}
