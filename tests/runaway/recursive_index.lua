-- __index that indexes itself; the stack overflow it hits is caught
-- over and over by pcall.
-- stops: stack overflow
local t = setmetatable({}, {})
getmetatable(t).__index = function(self, k) return self[k] end
while true do pcall(function() return t.x end) end
