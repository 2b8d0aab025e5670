-- Every global DESIGN.md promises is there, with the right type.
local expected = {
  assert = "function", error = "function", ipairs = "function",
  next = "function", pairs = "function", pcall = "function",
  print = "function", select = "function", tonumber = "function",
  tostring = "function", type = "function", unpack = "function",
  xpcall = "function", rawequal = "function", rawget = "function",
  rawset = "function", getmetatable = "function", setmetatable = "function",
  require = "function", _G = "table", _VERSION = "string",
  coroutine = "table", math = "table", string = "table", table = "table",
  os = "table", bit = "table",
}
local names = {}
for name in pairs(expected) do names[#names + 1] = name end
table.sort(names)
for _, name in ipairs(names) do
  print(name, type(_G[name]) == expected[name])
end
print(_G == _G._G, _VERSION)
-- expect: _G true
-- expect: _VERSION true
-- expect: assert true
-- expect: bit true
-- expect: coroutine true
-- expect: error true
-- expect: getmetatable true
-- expect: ipairs true
-- expect: math true
-- expect: next true
-- expect: os true
-- expect: pairs true
-- expect: pcall true
-- expect: print true
-- expect: rawequal true
-- expect: rawget true
-- expect: rawset true
-- expect: require true
-- expect: select true
-- expect: setmetatable true
-- expect: string true
-- expect: table true
-- expect: tonumber true
-- expect: tostring true
-- expect: type true
-- expect: unpack true
-- expect: xpcall true
-- expect: true Lua 5.1
