-- xpcall whose message handler loops too (LuaJIT runs handlers with
-- hooks off when the error came from the hook).
while true do
  xpcall(function() while true do end end, function() while true do end end)
end
