-- A sort comparator that never returns.
local t = {}
for i = 1, 100 do t[i] = 101 - i end
table.sort(t, function(a, b) while true do end end)
