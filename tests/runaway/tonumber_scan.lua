-- tonumber walks its whole string in C within one instruction, allocating
-- nothing: charged by length, or a loop over a huge string outruns the
-- deadline by seconds (found in review).
local s, tn = string.rep(' ', 1e7), tonumber
while true do tn(s) tn(s) tn(s) tn(s) end
