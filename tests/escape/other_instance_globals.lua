-- Attack: read or write another instance's globals, upvalues and module
-- copies: by name, through the shared chunk prototype (requiring the
-- sentinel's own file), through a shared module, and through interfaces.
assert(secret == nil and rawget(_G, 'secret') == nil)
secret = 'overwritten'
local shared = require('support.mod.shared')
assert(shared.count == 0)
shared.count = 99
local ok, copy = pcall(require, 'support.sentinel')
if ok and type(copy) == 'table' then
  -- our own fresh instance of that file: its globals are ours
  assert(rawget(_G, 'secret') == 'S3CR3T')
  secret = 'changed again'
end
local I = require('engine.interfaces')
local S = I.Sentinel
if S then
  assert(not pcall(function() S.value[1] = 7 end))
  assert(not pcall(table.insert, S.value, 7))
  assert(not pcall(rawset, S.value, 1, 7))
  assert(not pcall(function() S.get = nil end))
  assert(S.get() == 42)
end
