-- __tostring that never returns, reached through tostring and print.
local t = setmetatable({}, {__tostring = function() while true do end end})
print(pcall(tostring, t))
print(t)
