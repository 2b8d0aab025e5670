-- A gsub callback that never returns.
local s = ('x'):gsub('x', function() while true do end end)
