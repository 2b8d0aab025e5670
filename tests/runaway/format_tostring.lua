-- string.format('%s') calling a looping __tostring from C.
local t = setmetatable({}, {__tostring = function() while true do end end})
while true do pcall(string.format, '%s', t) end
