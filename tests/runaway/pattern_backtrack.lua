-- A pattern that backtracks for a long time inside C.
local s = ('a'):rep(20000)
while true do s:find('.-.-.-.-b') end
