-- table.move over a huge range: a C loop, charged before it starts.
while true do pcall(table.move, {}, 1, 2^40, 1) end
