-- The Lua 5.2 additions DESIGN.md promises on LuaJIT, one line each.
do
  local i = 0
  ::again::
  i = i + 1
  if i < 3 then goto again end
  print("goto", i)
end
print("hex escape", "\x41\x62", "z escape", "a\z
        b")
print("math.log base", math.log(8, 2), math.log(100, 10), math.log(1))
print("string.rep sep", string.rep("ab", 3, ","), ("x"):rep(1, "-"), ("x"):rep(0, "-"))
print("%q", string.format("%q", "a\nb\r\0c\"\\"))
print("%s __tostring", string.format("[%s]", setmetatable({}, {__tostring = function() return "obj" end})))
print("%a", string.format("%a", 1.0), string.format("%A", 0.5))
local gs, ge = ("\t x"):find("%G")
print("%g class", ("  hi there\t!"):match("%g+"), gs, ge, ("a b"):gsub("%g", "x"))
local proxy = setmetatable({}, {__pairs = function(t)
  local i = 0
  return function() i = i + 1; if i <= 2 then return i, i * 10 end end, t, nil
end})
local seen = {}
for k, v in pairs(proxy) do seen[#seen + 1] = k .. "=" .. v end
print("__pairs", table.concat(seen, ","))
local ip = setmetatable({}, {__ipairs = function(t)
  return function(_, i) if i < 3 then return i + 1, "v" .. (i + 1) end end, t, 0
end})
seen = {}
for i, v in ipairs(ip) do seen[#seen + 1] = i .. "=" .. v end
print("__ipairs", table.concat(seen, ","))
print("table.unpack", table.unpack == unpack, table.unpack({1, 2, 3}))
local packed = table.pack(1, nil, 3)
print("table.pack", packed.n, packed[1], packed[2], packed[3])
-- expect: goto 3
-- expect: hex escape Ab z escape ab
-- expect: math.log base 3 2 0
-- expect: string.rep sep ab,ab,ab x 
-- expect-raw: global[compat52.lua]:\t%q\t"a\
-- expect-raw: b\13\0c\"\\"
-- expect: %s __tostring [obj]
-- expect: %a 0x1p+0 0X1P-1
-- expect: %g class hi 1 1 x x 2
-- expect: __pairs 1=10,2=20
-- expect: __ipairs 1=v1,2=v2,3=v3
-- expect: table.unpack true 1 2 3
-- expect: table.pack 3 1 nil 3
