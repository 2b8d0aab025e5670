-- A numeric for with step 0 never advances.
for i = 1, 10, 0 do end
