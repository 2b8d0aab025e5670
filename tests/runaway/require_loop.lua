-- A loop through require of a standard library (C function in between).
while true do local s = require('string') end
