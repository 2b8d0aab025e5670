-- pcall catching the budget error and looping again.
while true do pcall(function() while true do end end) end
