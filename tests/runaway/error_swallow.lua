-- A loop of caught errors: each pcall is cheap, the loop is not.
while true do pcall(error, 'x') end
