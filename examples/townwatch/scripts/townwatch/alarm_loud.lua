-- Overrides the Alarm interface, building on the one it replaces.
local base

return {
  interfaceName = 'Alarm',
  interface = {
    ring = function(reason) return base.ring(reason):upper() .. '!!!' end,
  },
  engineHandlers = {
    onInterfaceOverride = function(previous) base = previous end,
  },
}
