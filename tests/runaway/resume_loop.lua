-- A loop inside coroutine.resume: the error must come out of resume.
while true do
  print(coroutine.resume(coroutine.create(function() while true do end end)))
end
