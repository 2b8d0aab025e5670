-- A numeric for up to math.huge.
for i = 1, math.huge do end
