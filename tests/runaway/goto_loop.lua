-- A backward goto (Lua 5.2 syntax on LuaJIT).
::top::
goto top
