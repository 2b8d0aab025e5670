-- An empty while loop: the plainest runaway.
while true do end
