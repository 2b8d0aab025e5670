-- An arithmetic metamethod that never returns.
local v = setmetatable({}, {__add = function() while true do end end})
local x = v + 1
