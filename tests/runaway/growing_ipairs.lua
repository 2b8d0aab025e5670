-- ipairs over a table that grows one slot ahead of it.
local t = {1}
for i, v in ipairs(t) do t[i + 1] = v end
