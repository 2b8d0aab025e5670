-- Shared constants, loaded with require (cached per script instance).
return {
  guards = { 'guard_1', 'guard_2', 'guard_3' },
  shiftHours = 0.1, -- 6 game minutes: 12 seconds at timescale 30
  alarmAfter = 10,
}
