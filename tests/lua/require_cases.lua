-- require: standard names, files, init.lua, caching, errors.
print("std", require("string") == string, require("math") == math, require("bit") == bit)
local a = require("modules.counter")
local b = require("modules.counter")
print("cached", a == b, a.loads, a.name)
print("init.lua", require("modules.pkg").kind)
print("dots to slashes", require("modules.pkg.leaf"))
print("case-insensitive", require("Modules.Counter") == a)
print("module sees own env", require("modules.envcheck") == _G)
local ok, err = pcall(require, "modules.nothing")
print("missing", ok, err)
ok, err = pcall(require, "..secret")
print("traversal", ok, err)
ok, err = pcall(require, "modules.bytecode")
print("bytecode", ok, err)
ok, err = pcall(require, "modules.cyc.a")
print("cycle", ok, (err:match("loop or previous error loading module '[^']*'")))
ok, err = pcall(require, "modules.syntax")
print("syntax", ok, err)
ok, err = pcall(require, "engine.nothing")
print("api prefix", ok, err)
ok, err = pcall(require, "modules.raises")
print("raises", ok, err)
ok, err = pcall(function() local m = require() return m end)
print("no name", ok, err)
-- expect: std true true true
-- expect: cached true 1 modules.counter
-- expect: init.lua package
-- expect: dots to slashes leaf
-- expect: case-insensitive true
-- expect: module sees own env true
-- expect: missing false module not found: modules.nothing
-- expect: traversal false bad module name '..secret': bad path '//secret.lua': absolute paths are not allowed
-- expect: bytecode false modules/bytecode.lua: bytecode is not allowed (text scripts only)
-- expect: cycle false loop or previous error loading module 'modules.cyc.a'
-- expect: syntax false modules/syntax.lua:2: unexpected symbol near '+'
-- expect: api prefix false module not found: engine.nothing
-- expect: raises false modules/raises.lua:1: module failed on purpose
-- expect: no name false require_cases.lua:24: bad argument #1 to 'require' (string expected, got no value)
