-- A __pairs iterator that never returns nil.
local t = setmetatable({}, {__pairs = function(t) return function() return 1, 1 end, t, nil end})
for _ in pairs(t) do end
