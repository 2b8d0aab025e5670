-- Building ever longer strings with table.concat and string.rep.
local t = {}
while true do t[#t + 1] = ('y'):rep(100) local s = table.concat(t) end
