-- Attack: require files outside the mounts: dot-dot, absolute paths,
-- NUL bytes, backslashes, very long names.
for _, n in ipairs({'..', '...', '.', '..x', '../x', '/etc/passwd', 'x\\..\\y',
    '\\etc\\passwd', 'a\0b', ('a.'):rep(200), '', 'support/../../x', '~/x'}) do
  assert(not pcall(require, n), n)
end
