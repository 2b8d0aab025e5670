-- Attack: set globals hoping another instance reads them, and replace
-- this instance's own builtins (allowed: only this instance is affected).
print = function() end
pairs = nil
string = nil
_G.tostring = error
setmetatable(_G, {__index = function() return 'leak' end})
assert(secret == 'leak')
