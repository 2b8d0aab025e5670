-- Inserting at the front of a growing list: C moves every slot.
local t = {}
while true do table.insert(t, 1, #t) end
