-- Nothing that reaches outside the sandbox is a global, a library member,
-- or a require-able name.
for _, name in ipairs({"load", "loadstring", "dofile", "loadfile", "getfenv",
    "setfenv", "collectgarbage", "module", "newproxy", "debug", "io",
    "package", "ffi", "jit", "gcinfo", "rawlen"}) do
  print(name, _G[name])
end
print("string.dump", string.dump)
print("math.randomseed", math.randomseed)
print("os.execute", os.execute, "os.exit", os.exit, "os.getenv", os.getenv,
      "os.remove", os.remove, "os.clock", os.clock)
print("table.new", table.new, "table.clear", table.clear)
print("table.foreach", table.foreach, "table.getn", table.getn)
for _, name in ipairs({"ffi", "jit", "debug", "io", "package", "string.buffer",
    "table.new", "table.clear", "jit.util", "jit.profile"}) do
  local ok, err = pcall(require, name)
  print(name, ok, err)
end
-- expect: load nil
-- expect: loadstring nil
-- expect: dofile nil
-- expect: loadfile nil
-- expect: getfenv nil
-- expect: setfenv nil
-- expect: collectgarbage nil
-- expect: module nil
-- expect: newproxy nil
-- expect: debug nil
-- expect: io nil
-- expect: package nil
-- expect: ffi nil
-- expect: jit nil
-- expect: gcinfo nil
-- expect: rawlen nil
-- expect: string.dump nil
-- expect: math.randomseed nil
-- expect: os.execute nil os.exit nil os.getenv nil os.remove nil os.clock nil
-- expect: table.new nil table.clear nil
-- expect: table.foreach nil table.getn nil
-- expect: ffi false module not found: ffi
-- expect: jit false module not found: jit
-- expect: debug false module not found: debug
-- expect: io false module not found: io
-- expect: package false module not found: package
-- expect: string.buffer false module not found: string.buffer
-- expect: table.new false module not found: table.new
-- expect: table.clear false module not found: table.clear
-- expect: jit.util false module not found: jit.util
-- expect: jit.profile false module not found: jit.profile
