-- String methods in a loop: C work per call, charged by length.
local s = ('x'):rep(4096)
while true do s = s:upper():lower():reverse() end
