-- Library tables and the string metatable cannot be changed; each attempt
-- fails with an error and changes nothing.
local function try(what, f)
  local ok, err = pcall(f)
  print(what, ok, (tostring(err):gsub("^[^:]*:%d+: ", "")))
end
try("assign", function() string.upper = nil end)
try("assign new", function() math.answer = 42 end)
try("rawset", function() rawset(table, "insert", print) end)
try("setmetatable", function() setmetatable(os, {}) end)
try("getmetatable", function() return assert(getmetatable(string) == false) end)
try("nested lib", function() coroutine.wrap = nil end)
try("string metatable", function() return assert(getmetatable("") == false) end)
try("setmetatable string", function() setmetatable("", {}) end)
print("unchanged", type(string.upper), math.answer, table.insert ~= print,
      rawget(math, "answer"), ("abc"):upper())
-- a script may still write its own globals, including over library names
string = {}
print("own global", type(string.upper), type(("x").upper))
-- expect: assign false attempt to modify a read-only table
-- expect: assign new false attempt to modify a read-only table
-- expect: rawset false attempt to modify a read-only table
-- expect: setmetatable false cannot change a protected metatable
-- expect: getmetatable true true
-- expect: nested lib false attempt to modify a read-only table
-- expect: string metatable true true
-- expect: setmetatable string false bad argument #1 to 'setmetatable' (table expected, got string)
-- expect: unchanged function nil true nil ABC
-- expect: own global nil function
