-- print writes one line per call: <container>[<script path>]:\t<args...>
print("hello")
print("a", 1, true, nil)
print()
print(setmetatable({}, {__tostring = function() return "custom" end}))
-- expect-raw: global[print_format.lua]:\thello
-- expect-raw: global[print_format.lua]:\ta\t1\ttrue\tnil
-- expect-raw: global[print_format.lua]:
-- expect-raw: global[print_format.lua]:\tcustom
