-- __concat, __eq and __lt loops, caught by pcall each time.
local mt = {}
mt.__concat = function() while true do end end
mt.__lt = mt.__concat
local a, b = setmetatable({}, mt), setmetatable({}, mt)
while true do pcall(function() return a .. b end) pcall(function() return a < b end) end
