/* sandbox/pattern.c: string.find/match/gmatch/gsub with budgets.
 *
 * Most checks are Lua chunks run in a realm (base, string and table opened,
 * LuaJIT's own find/match/gmatch/gsub kept in the global `lj`, ours
 * installed in `string`). `eq(R(...), R(...))` compares result lists, `err`
 * expects an error containing a text, and `same` runs one call through
 * both implementations and demands identical results or identical error
 * messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <lauxlib.h>
#include <lualib.h>

#include "sandbox/pattern.h"
#include "sandbox/realm.h"
#include "tests/unit/testutil.h"

static const char prelude[] =
    "lj = {find = string.find, match = string.match,\n"
    "      gmatch = string.gmatch, gsub = string.gsub}\n"
    "function R(...)\n"
    "  local t = {}\n"
    "  for i = 1, select('#', ...) do\n"
    "    local v = select(i, ...)\n"
    "    t[i] = type(v) == 'string' and string.format('%q', v)\n"
    "           or type(v) .. ':' .. tostring(v)\n"
    "  end\n"
    "  return select('#', ...) .. '[' .. table.concat(t, ',') .. ']'\n"
    "end\n"
    "function eq(got, want)\n"
    "  if got ~= want then\n"
    "    error('expected ' .. want .. ' got ' .. got, 2)\n"
    "  end\n"
    "end\n"
    "function err(text, f, ...)\n"
    "  local ok, msg = pcall(f, ...)\n"
    "  if ok then error('expected error ' .. text, 2) end\n"
    "  if not string.find(tostring(msg), text, 1, true) then\n"
    "    error('expected error ' .. text .. ' got ' .. tostring(msg), 2)\n"
    "  end\n"
    "end\n"
    /* Both calls happen on this one line, so even the position prefixes
     * of error messages must agree. */
    "local function call(f, ...) return R(pcall(f, ...)) end\n"
    "local function via(f, ...) return R(f(...)) end\n"
    "function same(name, ...)\n"
    "  local a = call(via, lj[name], ...); local b = call(via, string[name], "
    "...)\n"
    "  if a ~= b then\n"
    "    error(name .. '(' .. R(...) .. '): luajit ' .. a .. ' ours ' .. b, "
    "2)\n"
    "  end\n"
    "end\n"
    "local function step(...)\n"
    "  if (...) == nil then return nil end\n"
    "  return R(...)\n"
    "end\n"
    "function gm(f, s, p)\n"
    "  local out, it = {}, f(s, p)\n"
    "  while #out < 200 do\n"
    "    local r = step(it())\n"
    "    if not r then break end\n"
    "    out[#out + 1] = r\n"
    "  end\n"
    "  return table.concat(out, ';')\n"
    "end\n";

static void open_lib(lua_State *L, lua_CFunction f) {
  lua_pushcfunction(L, f);
  lua_call(L, 0, 0);
}

static mb__realm *new_realm(uint64_t budget) {
  mb_realm_limits limits;
  memset(&limits, 0, sizeof limits);
  limits.instruction_budget = budget;
  mb__realm *r = mb__realm_new("test", &limits, NULL, NULL);
  assert_non_null(r);
  lua_State *L = mb__realm_lua(r);
  open_lib(L, luaopen_base);
  open_lib(L, luaopen_string);
  open_lib(L, luaopen_table);
  lua_settop(L, 0);
  assert_int_equal(luaL_loadbuffer(L, prelude, sizeof prelude - 1, "=prelude"),
                   0);
  lua_call(L, 0, 0);
  lua_getglobal(L, "string");
  mb__pattern_register(L, -1);
  lua_pop(L, 1);
  return r;
}

/* Run `code` through the gate; returns the status, prints failures. */
static mb_status run(mb__realm *r, const char *code) {
  lua_State *L = mb__realm_lua(r);
  if (luaL_loadbuffer(L, code, strlen(code), "=test")) {
    fprintf(stderr, "load: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return MB_EINVAL;
  }
  return mb__realm_call(r, 0, 0, NULL, NULL);
}

static void run_ok(const char *code) {
  mb__realm *r = new_realm(0);
  mb_status st = run(r, code);
  if (st != MB_OK) fprintf(stderr, "%s\n", mb__realm_error(r));
  assert_int_equal(st, MB_OK);
  assert_int_equal(lua_gettop(mb__realm_lua(r)), 0);
  mb__realm_free(r);
}

/* ---- semantics ----------------------------------------------------------- */

static void test_find(void **state) {
  (void)state;
  run_ok("eq(R(('hello world'):find('o')), R(5, 5))\n"
         "eq(R(('hello world'):find('o', 6)), R(8, 8))\n"
         "eq(R(('hello world'):find('o', -3)), R(nil))\n"
         "eq(R(('hello world'):find('l+')), R(3, 4))\n"
         "eq(R(('hello world'):find('')), R(1, 0))\n"
         "eq(R((''):find('')), R(1, 0))\n"
         "eq(R((''):find('', 2)), R(1, 0))\n"
         "eq(R(('abc'):find('', 10)), R(4, 3))\n"
         "eq(R(('abc'):find('', 10, true)), R(4, 3))\n"
         "eq(R(('abc'):find('c', -1)), R(3, 3))\n"
         "eq(R(('abc'):find('a', -10)), R(1, 1))\n"
         "eq(R(('abc'):find('b', 0)), R(2, 2))\n"
         "eq(R(('a.b'):find('.', 1, true)), R(2, 2))\n"
         "eq(R(('a.b'):find('.', 1, 0)), R(2, 2))\n"
         "eq(R(('a.b'):find('.', 1, false)), R(1, 1))\n"
         "eq(R(('a.b'):find('.', 1, nil)), R(1, 1))\n"
         "eq(R(('a+b'):find('+')), R(2, 2))\n"
         "eq(R(('abc'):find('b', '2')), R(2, 2))\n"
         "eq(R(('abc'):find('b', 1.9)), R(2, 2))\n"
         "eq(R(('abc'):find('b', -1.5)), R(nil))\n"
         "eq(R(('abc'):find('a', 2^32 + 2)), R(1, 1))\n" /* INT32_MIN */
         "eq(R(('abc'):find('b', 0/0)), R(2, 2))\n"
         "eq(R(('abc'):find('b', 2147483647)), R(nil))\n"
         "eq(R(string.find(12345, 34)), R(3, 4))\n"
         "eq(R(('  x'):find('^%s*()x()')), R(1, 3, 3, 4))\n"
         "eq(R(('abc'):find('(b)(c)')), R(2, 3, 'b', 'c'))\n"
         "eq(R(('abc'):find('^b')), R(nil))\n"
         "eq(R(('abc'):find('^b', 2)), R(2, 2))\n"
         "eq(R(('a^b'):find('a^b')), R(1, 3))\n"
         "eq(R(('ab$'):find('b$')), R(nil))\n"
         "eq(R(('ab$'):find('b%$')), R(2, 3))\n"
         "eq(R(('a$b'):find('$b')), R(2, 3))\n"
         "eq(R(('aaa'):find('a-', 2)), R(2, 1))\n"
         "eq(R(('aaa'):find('^a-$')), R(1, 3))\n");
}

static void test_match_and_classes(void **state) {
  (void)state;
  run_ok("eq(R(('aaab'):match('a*')), R('aaa'))\n"
         "eq(R(('aaab'):match('a+b')), R('aaab'))\n"
         "eq(R(('b'):match('a+b')), R(nil))\n"
         "eq(R(('aaab'):match('a-b')), R('aaab'))\n"
         "eq(R(('aaab'):match('a-')), R(''))\n"
         "eq(R(('ab'):match('a?b')), R('ab'))\n"
         "eq(R(('b'):match('a?b')), R('b'))\n"
         "eq(R(('alo xyzK'):match('(%w+)K')), R('xyz'))\n"
         "eq(R(('254 K'):match('(%d*)K')), R(''))\n"
         "eq(R(('alo '):match('(%w*)$')), R(''))\n"
         "eq(R(('alo '):match('(%w+)$')), R(nil))\n"
         "eq(R(('x = 10'):match('^(%a+)%s*=%s*(%d+)$')), R('x', '10'))\n"
         "eq(R(('AbC1_ '):match('%u%l%u%d%p%s')), R('AbC1_ '))\n"
         "eq(R(('\\1\\127 x'):match('%c+')), R('\\1\\127'))\n"
         "eq(R(('0fFx'):match('%x+')), R('0fF'))\n"
         "eq(R(('ab12'):match('%A+')), R('12'))\n"
         "eq(R(('a,b'):match('%W')), R(','))\n"
         "eq(R(('\\200\\255'):match('%A+')), R('\\200\\255'))\n"
         "eq(R(('\\200\\255'):match('[\\128-\\255]+')), R('\\200\\255'))\n"
         "eq(R(('a\\0b'):match('%z')), R('\\0'))\n"
         "eq(R(('\\0\\0a'):match('%Z')), R('a'))\n"
         "eq(R(('a-b'):match('[a%-]+')), R('a-'))\n"
         "eq(R(('a]b'):match('[]]')), R(']'))\n"
         "eq(R(('a]b'):match('[^]]+')), R('a'))\n"
         "eq(R(('abc-'):match('[a-]+')), R('a'))\n"
         "eq(R(('-z'):match('[%a-]+')), R('-z'))\n"
         "eq(R(('xyz'):match('[^a-x]')), R('y'))\n"
         "eq(R(('f(a(b)c)d'):match('%b()')), R('(a(b)c)'))\n"
         "eq(R(('f(a(b c)d'):match('%b()')), R('(b c)'))\n"
         "eq(R(('[[x]]'):match('%b[]')), R('[[x]]'))\n"
         "eq(R(('THE (quick) fox'):find('%f[%a]%a+', 5)), R(6, 10))\n"
         "eq(R(('abc'):match('%f[%z]()')), R(4))\n"
         "eq(R(('abc'):match('()%f[%Z]')), R(1))\n"
         "eq(R(('hello'):match('()ll()')), R(3, 5))\n"
         "eq(R(('hello'):match('(h)(e)(l)')), R('h', 'e', 'l'))\n"
         "eq(R(('abab'):match('(ab)%1')), R('ab'))\n"
         "eq(R(('abc'):match('(()b)%2')), R(nil))\n" /* position backref */
         "eq(R(('abc'):match('a', 10)), R(nil))\n"
         "eq(R(('abc'):match('()', 10)), R(4))\n"
         "eq(R(('abc'):match('()', -10)), R(1))\n"
         "eq(R(('[x]'):match('^%[(.-)%]$')), R('x'))\n");
}

static void test_percent_g(void **state) {
  (void)state;
  run_ok("eq(R(('a b'):find('%g+')), R(1, 1))\n"
         "eq(R(('  x!y~ z'):match('%g+')), R('x!y~'))\n"
         "eq(R(('ab \\t\\n'):match('%G+')), R(' \\t\\n'))\n"
         "eq(R(('\\127\\128x'):match('%G+')), R('\\127\\128'))\n"
         "eq(R(('key = val'):gsub('%g+', '<%0>')), R('<key> <=> <val>', 3))\n"
         "eq(R(('x y'):match('[%g]+')), R('x'))\n"
         "eq(R(('x y'):match('[^%g]')), R(' '))\n");
}

static void test_nul_in_pattern(void **state) {
  (void)state;
  /* LuaJIT stops reading a pattern at "\0" (the plain search of find sees
   * all of it): scripts must see the same. */
  run_ok("eq(R(('a\\0c'):match('a\\0b')), R('a'))\n"
         "eq(R(('a\\0b\\0c'):find('b\\0c')), R(3, 5))\n"
         "eq(R(('a\\0+b'):find('\\0+')), R(1, 0))\n"
         "eq(R(('a\\0+b'):find('%+\\0')), R(3, 3))\n"
         "eq(R(('a\\0b\\0c'):find('b%z')), R(3, 4))\n");
}

static void test_gmatch(void **state) {
  (void)state;
  run_ok(
      "eq(gm(string.gmatch, 'hello world from Lua', '%a+'),\n"
      "   '1[\"hello\"];1[\"world\"];1[\"from\"];1[\"Lua\"]')\n"
      "eq(gm(string.gmatch, 'k=v, a=b', '(%w+)=(%w+)'),\n"
      "   '2[\"k\",\"v\"];2[\"a\",\"b\"]')\n"
      "eq(gm(string.gmatch, 'abc', ''), '1[\"\"];1[\"\"];1[\"\"];1[\"\"]')\n"
      "eq(gm(string.gmatch, 'abc', '()'),\n"
      "   '1[number:1];1[number:2];1[number:3];1[number:4]')\n"
      "eq(gm(string.gmatch, 'abc', 'a*'), '1[\"a\"];1[\"\"];1[\"\"];1[\"\"]')\n"
      /* '^' is an ordinary byte in gmatch (Lua 5.1, LuaJIT) */
      "eq(gm(string.gmatch, '^a^a', '^a'), '1[\"^a\"];1[\"^a\"]')\n"
      "eq(gm(string.gmatch, 'aaa', '^a'), '')\n"
      "local it = ('x'):gmatch('x')\n"
      "eq(R(it()), R('x')); eq(R(it()), R()); eq(R(it()), R())\n"
      "err('unfinished capture', function() for a in ('abc'):gmatch('(a')"
      " do end end)\n"
      "err('bad argument #1', string.gmatch, nil, 'x')\n");
}

static void test_gsub(void **state) {
  (void)state;
  run_ok("eq(R(('hello world'):gsub('o', '0')), R('hell0 w0rld', 2))\n"
         "eq(R(('hello world'):gsub('o', '0', 1)), R('hell0 world', 1))\n"
         "eq(R(('hello world'):gsub('(%w+)', '<%1>')), R('<hello> <world>', "
         "2))\n"
         "eq(R(('hello world'):gsub('%w+', '%0 %0', 1)), R('hello hello "
         "world', 1))\n"
         "eq(R(('abc'):gsub('%w', '%1')), R('abc', 3))\n"
         "eq(R(('abc'):gsub('', '-')), R('-a-b-c-', 4))\n"
         "eq(R(('abc'):gsub('', '-', 2.7)), R('-a-bc', 2))\n"
         "eq(R(('abc'):gsub('', '-', '2')), R('-a-bc', 2))\n"
         "eq(R(('abc'):gsub('', '-', -1)), R('abc', 0))\n"
         "eq(R(('abc'):gsub('^', 'x')), R('xabc', 1))\n"
         "eq(R(('abc'):gsub('$', 'x')), R('abcx', 1))\n"
         "eq(R(('aaa'):gsub('^a', 'x')), R('xaa', 1))\n"
         "eq(R((''):gsub('', 'x')), R('x', 1))\n"
         "eq(R(('abc'):gsub('b', '%%')), R('a%c', 1))\n"
         "eq(R(('abc'):gsub('b', '%x')), R('axc', 1))\n"
         "eq(R(('abc'):gsub('b', '%')), R('a\\0c', 1))\n"
         "eq(R(('abc'):gsub('b', 5)), R('a5c', 1))\n"
         "eq(R(('abc'):gsub('()b', '%1')), R('a2c', 1))\n"
         "err('invalid capture index', string.gsub, 'abc', 'b', '%2')\n"
         "eq(R(('abc'):gsub('.', {a = 1, b = 2.5})), R('12.5c', 3))\n"
         "eq(R(('abc'):gsub('.', {a = false})), R('abc', 3))\n"
         "eq(R(('abc'):gsub('(.)(.)', {ab = 'X'})), R('abc', 1))\n"
         "eq(R(('abc'):gsub('(.)(.)', {a = 'X'})), R('Xc', 1))\n"
         "eq(R(('abc'):gsub('%w', function(c) return c:upper() .. '.' end)),"
         "   R('A.B.C.', 3))\n"
         "eq(R(('abc'):gsub('(%w)()', function(c, p) return p end)),"
         "   R('234', 3))\n"
         "eq(R(('abc'):gsub('b', function() return nil end)), R('abc', 1))\n"
         "eq(R(('abc'):gsub('b', function() end)), R('abc', 1))\n"
         "local mt = setmetatable({}, {__index = function(t, k)\n"
         "  return k == 'b' and 'B' or nil end})\n"
         "eq(R(('abc'):gsub('%w', mt)), R('aBc', 3))\n"
         "eq(R(('x'):rep(3):gsub('x', 'yy')), R('yyyyyy', 3))\n");
}

static void test_gsub_bad_replacement(void **state) {
  (void)state;
  run_ok("err('invalid replacement value (a table)', string.gsub, 'abc', '.',"
         "    function() return {} end)\n"
         "err('invalid replacement value (a boolean)', string.gsub, 'abc', "
         "'b', {b = true})\n"
         "err('bad argument #3', string.gsub, 'abc', 'b')\n"
         "err('(string/function/table expected)', string.gsub, 'abc', 'b', "
         "true)\n"
         "err('bad argument #4', string.gsub, 'abc', 'b', 'x', 'z')\n"
         /* The callback's own error comes through unchanged. */
         "local t = {}\n"
         "local ok, e = pcall(string.gsub, 'abc', 'b', function() error(t) "
         "end)\n"
         "eq(R(ok, e == t), R(false, true))\n");
}

static void test_errors(void **state) {
  (void)state;
  run_ok(
      "err(\"malformed pattern (ends with '%')\", string.find, 'abc', "
      "'a%')\n"
      "err(\"malformed pattern (missing ']')\", string.find, 'abc', 'a[')\n"
      "err(\"malformed pattern (missing ']')\", string.find, 'abc', '[]')\n"
      "err(\"malformed pattern (missing ']')\", string.find, 'abc', "
      "'[a%')\n"
      "err(\"missing '[' after '%f' in pattern\", string.find, 'abc', "
      "'%f')\n"
      "err(\"missing '[' after '%f' in pattern\", string.find, 'abc', "
      "'%fa')\n"
      "err('unbalanced pattern', string.find, 'abc', '%b')\n"
      "err('unbalanced pattern', string.find, 'abc', '%ba')\n"
      "err('unfinished capture', string.find, 'abc', '(a')\n"
      "err('invalid pattern capture', string.match, 'abc', 'a)')\n"
      "err('invalid capture index', string.find, 'abc', '%1')\n"
      "err('invalid capture index', string.find, 'abc', '(a)%2')\n"
      "err('invalid capture index', string.find, 'abc', '%0')\n"
      "err('too many captures', string.find, ('a'):rep(50), "
      "('(a)'):rep(40))\n"
      "err('pattern too complex', string.find, ('a'):rep(300), "
      "('a?'):rep(300))\n"
      "same('find', ('a'):rep(300), ('a?'):rep(199))\n"
      "same('find', ('a'):rep(300), ('a?'):rep(200))\n"
      "same('match', ('a'):rep(300), ('(a)'):rep(32))\n"
      "same('match', ('a'):rep(300), ('(a)'):rep(33))\n"
      "same('match', ('a'):rep(300), ('a-'):rep(250) .. 'b')\n"
      "err('bad argument #1 to', string.find)\n"
      /* argument errors word for word as LuaJIT's */
      "same('find'); same('find', nil, 'x'); same('find', {}, 'x')\n"
      "same('find', 'x', 'x', {}); same('find', 'x', 'x', true)\n"
      "same('match', 'x'); same('match', 1, 1); same('match', 'x', 'x', '1')\n"
      "same('gmatch', nil, 'x'); same('gmatch', 'x')\n"
      "same('gsub', 'x', 'x'); same('gsub', 'x', 'x', true)\n"
      "same('gsub', 'x', 'x', 'y', {}); same('gsub', 12, 2, 3, '1')\n"
      "same('gsub', 'x', nil, 'y'); same('gsub', nil, 'x', 'y')\n"
      "same('gsub', 'abc', '.', function() return {} end)\n"
      "same('gsub', 'abc', 'b', {b = true})\n"
      "same('gsub', 'abc', 'b', function() error('boom') end)\n"
      "same('gsub', 'abc', 'b', setmetatable({}, {__index = function()\n"
      "  error('boom') end}))\n"
      "local a = R(pcall(function() local r = ('x'):find({}) return r end))\n"
      "string.find = lj.find\n"
      "local b = R(pcall(function() local r = ('x'):find({}) return r end))\n"
      "eq(a:gsub('test:%d+', ''), b:gsub('test:%d+', ''))\n"
      "assert(a:find(\"bad argument #1 to 'find'\"), a)\n"
      "err('(string expected, got nil)', string.find, nil, 'x')\n"
      "err('bad argument #2', string.match, 'x')\n"
      "err('(number expected, got string)', string.find, 'abc', 'b', "
      "'x')\n"
      /* errors are lazy: never reached, never reported (as in LuaJIT) */
      "eq(R(('abc'):find('x%')), R(nil))\n"
      "eq(R(('abc'):find('x[')), R(nil))\n"
      "eq(R(('abc'):find('a)')), R(nil))\n"
      /* the caller's position prefixes the message, as in LuaJIT */
      "local ok, e = pcall(function() local r = ('x'):find('%') return r end)\n"
      "assert(e:find('^test:%d+: malformed'), e)\n");
}

/* Every case goes through LuaJIT's original and ours: same results, or
 * the same error message. */
static void test_differential(void **state) {
  (void)state;
  run_ok(
      "local subjects = {'', 'a', 'abc', 'aaa', 'hello world', ' x = 10 ',\n"
      "  'f(a(b)c)d', 'a\\0b\\0', '[[x]]', 'THE (quick) fox', '\\200\\1z',\n"
      "  'a.b-c+d*e?f^g$h%i', '()(()))'}\n"
      "local patterns = {'', 'a', '.', '^a', 'a$', '^$', '$', '^', 'a*', "
      "'a+',\n"
      "  'a-', 'a?', '.-b', '(a)', '()', '(a*(.))', '%a+', '%A', '%d', '%s*',\n"
      "  '%w+', '%W', '%p', '%c', '%x', '%u%l', '%z', '%Z+', '[%a%d]+',\n"
      "  '[^%s]+', '[a-c]+', '[]]', '[^]]', '[a-]', '[-a]', '%b()', '%b[]',\n"
      "  '%f[%w]%w+', '%f[%W]', '%f[%z]', '(.)%1', '(a)(b)?', '%', '[a',\n"
      "  '(', ')', '%1', '(()', '%bx', '%f', '[%', 'x%', '%0', '^(.-)$',\n"
      "  '(.-)%s*$', '%.', '%%', '[%]]', '[a-%%]', '.-$', '(h)(e)(l)(l)',\n"
      "  'a\\0b', '%g+', '%G', '[%g]', '()a()', '^(%s*)(.-)(%s*)$'}\n"
      "local repls = {'', 'x', '%0', '%1', '%2', '<%1|%0>', '%%', '%', '%x',\n"
      "  {a = 'A', b = false, h = 1, x = 'X'}, function(...) return R(...) "
      "end}\n"
      "for _, s in ipairs(subjects) do\n"
      "  for _, p in ipairs(patterns) do\n"
      "    same('find', s, p)\n"
      "    same('find', s, p, 2)\n"
      "    same('find', s, p, -2)\n"
      "    same('find', s, p, 1, true)\n"
      "    same('match', s, p)\n"
      "    same('match', s, p, 3)\n"
      "    for _, r in ipairs(repls) do\n"
      "      same('gsub', s, p, r)\n"
      "      same('gsub', s, p, r, 1)\n"
      "    end\n"
      "    local a = R(pcall(gm, lj.gmatch, s, p))\n"
      "    local b = R(pcall(gm, string.gmatch, s, p))\n"
      "    if a ~= b then error('gmatch ' .. R(s, p) .. a .. ' vs ' .. b) "
      "end\n"
      "  end\n"
      "end\n");
}

/* ---- budget and C stack ------------------------------------------------- */

static void expect_status(uint64_t budget, const char *code, mb_status want,
                          const char *text) {
  mb__realm *r = new_realm(budget);
  mb_status st = run(r, code);
  if (st != want) fprintf(stderr, "%s\n", mb__realm_error(r));
  assert_int_equal(st, want);
  if (text) assert_non_null(strstr(mb__realm_error(r), text));
  /* The realm stays usable afterwards (depth and budget were reset). */
  assert_int_equal(run(r, "local s = ('x'):rep(10)\n"
                          "local function f(s) if #s == 0 then return '' end\n"
                          "  return (s:sub(2):gsub('.*', f)) end\n"
                          "assert(s:find('x+$') == 1)\n"
                          "f(('y'):rep(100))"),
                   MB_OK);
  mb__realm_free(r);
}

static void test_budget_star(void **state) {
  (void)state;
  expect_status(1000000, "local s = ('a'):rep(1e5) return s:find('a*b')",
                MB_EBUDGET, "instruction budget exceeded");
}

static void test_budget_backtracking(void **state) {
  (void)state;
  expect_status(1000000, "return ('x'):rep(100):match(('x.*'):rep(5) .. 'y')",
                MB_EBUDGET, NULL);
  expect_status(1000000, "return (('x'):rep(3000) .. 'y'):gsub('(.-)%1$', '')",
                MB_EBUDGET, NULL);
  expect_status(1000000, "for _ in ('a'):rep(2e4):gmatch('a-b') do end",
                MB_EBUDGET, NULL);
}

static void test_budget_long_set(void **state) {
  (void)state;
  /* Every try scans a 100000-byte set: charged by its length. */
  expect_status(1000000,
                "return ('a'):rep(1e5):find('[' .. ('b'):rep(1e5) .. ']c')",
                MB_EBUDGET, NULL);
  expect_status(1000000,
                "return ('a'):rep(1e6):find(('a'):rep(1e4) .. 'b', 1, true)",
                MB_EBUDGET, NULL);
}

static void test_budget_cannot_be_caught(void **state) {
  (void)state;
  expect_status(1000000,
                "local ok = pcall(string.find, ('a'):rep(1e5), 'a*b')\n"
                "return ('a'):rep(10):find('a')",
                MB_EBUDGET, NULL);
  expect_status(1000000,
                "('abc'):gsub('.', function(c)\n"
                "  pcall(function() while true do end end) return c end)",
                MB_EBUDGET, NULL);
  /* Charged inside a callback of a callback: still the same budget. */
  expect_status(1000000,
                "('ab'):gsub('.', function(c)\n"
                "  return (('a'):rep(1e5):gsub('a*b', c)) end)",
                MB_EBUDGET, NULL);
}

static void test_budget_small_work_passes(void **state) {
  (void)state;
  expect_status(1000000,
                "for i = 1, 10 do assert(('a'):rep(100):find('a*b') == nil) "
                "end",
                MB_OK, NULL);
}

static void test_gsub_callback_bomb(void **state) {
  (void)state;
  expect_status(0,
                "local function f(s) return (s:gsub('.', f)) end\n"
                "return f(('x'):rep(1000))",
                MB_ERROR, "C stack overflow");
  expect_status(100000000,
                "local t = setmetatable({}, {__index = function(t, k)\n"
                "  return (k:gsub('.', t)) end})\n"
                "return ('x'):gsub('.', t)",
                MB_ERROR, "C stack overflow");
}

static void test_callback_errors_keep_depth_balanced(void **state) {
  (void)state;
  /* 1000 failing callbacks, then nesting 150 deep must still work: a
   * leaked depth level per error would have used up the 200 allowed. */
  run_ok("for i = 1, 1000 do\n"
         "  local ok = pcall(string.gsub, 'a', 'a', function() error('x') "
         "end)\n"
         "  assert(not ok)\n"
         "  ok = pcall(string.gsub, 'a', 'a', setmetatable({}, {__index =\n"
         "    function() error('y') end}))\n"
         "  assert(not ok)\n"
         "end\n"
         "local function nest(n)\n"
         "  if n == 0 then return 'ok' end\n"
         "  return (('a'):gsub('a', function() return nest(n - 1) end))\n"
         "end\n"
         "eq(nest(150), 'ok')\n");
}

static void test_outside_gate(void **state) {
  (void)state;
  /* Called without the gate (no budget armed): works, charges nothing. */
  mb__realm *r = new_realm(1000);
  lua_State *L = mb__realm_lua(r);
  lua_getglobal(L, "string");
  lua_getfield(L, -1, "find");
  lua_pushstring(L, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab");
  lua_pushstring(L, "a*b");
  assert_int_equal(lua_pcall(L, 2, 2, 0), 0);
  assert_int_equal(lua_tointeger(L, -2), 1);
  assert_int_equal(lua_tointeger(L, -1), 41);
  lua_settop(L, 0);
  mb__realm_free(r);
}

/* ---- the core without Lua ----------------------------------------------- */

typedef struct meter {
  uint64_t used, limit;
} meter;

static int meter_charge(void *ud, uint64_t steps) {
  meter *mt = ud;
  mt->used += steps;
  return mt->used > mt->limit;
}

static int search(const char *s, size_t slen, const char *p, size_t plen,
                  meter *mt, size_t *a, size_t *b, mb__matcher *m) {
  mb__matcher_init(m, s, slen, p, plen, mt ? meter_charge : NULL, mt);
  return mb__pattern_search(m, 0, a, b);
}

static void test_core(void **state) {
  (void)state;
  mb__matcher m;
  size_t a = 99, b = 99;
  assert_int_equal(
      search("x = 10", 6, "(%w+)%s*=%s*(%d+)", 17, NULL, &a, &b, &m), 1);
  assert_int_equal(a, 0);
  assert_int_equal(b, 6);
  assert_int_equal(m.level, 2);
  assert_int_equal(m.capture[1].len, 2);
  assert_memory_equal(m.capture[1].init, "10", 2);

  /* The core can also take "\0" in a pattern literally. */
  assert_int_equal(search("a\0c", 3, "a\0c", 3, NULL, &a, &b, &m), 1);
  assert_int_equal(b, 3);
  assert_int_equal(search("a\0c", 3, "a\0b", 3, NULL, &a, &b, &m), 0);
  assert_int_equal(search("a\0c", 3, "[\0]", 3, NULL, &a, &b, &m), 1);
  assert_int_equal(a, 1);

  assert_int_equal(search("abc", 3, "%", 1, NULL, &a, &b, &m), -1);
  assert_int_equal(m.error, MB__PATTERN_ENDS_WITH_ESC);
  assert_string_equal(mb__pattern_strerror(m.error),
                      "malformed pattern (ends with '%')");
  assert_int_equal(search("abc", 3, "^(", 2, NULL, &a, &b, &m), 1);
  assert_int_equal(m.capture[0].len, MB__PATTERN_CAP_UNFINISHED);

  /* Each "a?" that matches nests one level: 200 levels are allowed. */
  static char many_a[300], deep[400];
  memset(many_a, 'a', sizeof many_a);
  for (int i = 0; i < 200; i++)
    memcpy(deep + 2 * i, "a?", 2);
  assert_int_equal(search(many_a, 300, deep, 400, NULL, &a, &b, &m), -1);
  assert_int_equal(m.error, MB__PATTERN_TOO_COMPLEX);
  assert_int_equal(search(many_a, 300, deep, 398, NULL, &a, &b, &m), 1);
  assert_int_equal(b, 199);
}

static void test_core_budget(void **state) {
  (void)state;
  static char subject[20000];
  memset(subject, 'a', sizeof subject);
  mb__matcher m;
  size_t a, b;
  meter mt = {0, 100000};
  assert_int_equal(search(subject, sizeof subject, "a*b", 3, &mt, &a, &b, &m),
                   -1);
  assert_int_equal(m.error, MB__PATTERN_BUDGET);
  /* stopped within a lump of the limit */
  assert_true(mt.used <= mt.limit + 2 * MB__PATTERN_CHARGE_EVERY);

  /* Everything is charged, pending steps included. */
  meter small = {0, UINT64_MAX};
  assert_int_equal(search("abc", 3, "c", 1, &small, &a, &b, &m), 1);
  assert_true(small.used >= 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_find),
      cmocka_unit_test(test_match_and_classes),
      cmocka_unit_test(test_percent_g),
      cmocka_unit_test(test_nul_in_pattern),
      cmocka_unit_test(test_gmatch),
      cmocka_unit_test(test_gsub),
      cmocka_unit_test(test_gsub_bad_replacement),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_differential),
      cmocka_unit_test(test_budget_star),
      cmocka_unit_test(test_budget_backtracking),
      cmocka_unit_test(test_budget_long_set),
      cmocka_unit_test(test_budget_cannot_be_caught),
      cmocka_unit_test(test_budget_small_work_passes),
      cmocka_unit_test(test_gsub_callback_bomb),
      cmocka_unit_test(test_callback_errors_keep_depth_balanced),
      cmocka_unit_test(test_outside_gate),
      cmocka_unit_test(test_core),
      cmocka_unit_test(test_core_budget),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
