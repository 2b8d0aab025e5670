-- Attack: an uncaught error object whose __tostring loops: the host's
-- error reporting must not call it.
-- status: error
error(setmetatable({}, {__tostring = function() while true do end end}))
