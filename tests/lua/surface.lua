-- The exact surface a script sees: any addition must be a deliberate change
-- of this list.
local function keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = tostring(k) end
  table.sort(out)
  return table.concat(out, " ")
end
print(keys(_G))
for _, lib in ipairs({"coroutine", "math", "string", "table", "os", "bit"}) do
  print(lib, keys(_G[lib]))
end
-- expect: _G _VERSION assert bit coroutine error getmetatable ipairs math next os pairs pcall print rawequal rawget rawset require select setmetatable string table tonumber tostring type unpack xpcall
-- expect: coroutine create isyieldable resume running status wrap yield
-- expect: math abs acos asin atan atan2 ceil cos cosh deg exp floor fmod frexp huge ldexp log log10 max min modf pi pow rad random sin sinh sqrt tan tanh
-- expect: string byte char find format gmatch gsub len lower match rep reverse sub upper
-- expect: table concat insert maxn move pack remove sort unpack
-- expect: os date difftime time
-- expect: bit arshift band bnot bor bswap bxor lshift rol ror rshift tobit tohex
