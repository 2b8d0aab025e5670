-- A failing script: error with position and traceback on stderr, exit 1.
local function inner()
  error("boom")
end
print("before")
inner()
print("never")
-- expect: before
-- expect-exit: 1
-- expect-stderr: global[error_traceback.lua] failed: error_traceback.lua:3: boom
-- expect-stderr: stack traceback:
-- expect-stderr: error_traceback.lua:6
