-- Attack: a mod file named like an API package (support/engine/core.lua
-- mounted as engine/core.lua would be): require must give the real one.
local core = require('engine.core')
assert(type(core.sendGlobalEvent) == 'function')
