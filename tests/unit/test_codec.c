#define _POSIX_C_SOURCE 200809L
/* Tests of the strict Lua value <-> msgpack codec (serializer/codec.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <msgpack.h>
#include <xxhash.h>

#include "serializer/codec.h"
#include "tests/unit/testutil.h"

/* ---- helpers ------------------------------------------------------------ */

static lua_State *new_state(void) {
  lua_State *L = luaL_newstate();
  assert_non_null(L);
  luaL_openlibs(L);
  lua_pushcfunction(L, mb__lua_encode);
  lua_setglobal(L, "encode");
  lua_pushcfunction(L, mb__lua_decode);
  lua_setglobal(L, "decode");
  return L;
}

static void run(lua_State *L, const char *code) {
  if (luaL_dostring(L, code) != 0)
    fail_msg("Lua error: %s", lua_tostring(L, -1));
}

/* Evaluates `expr` and pushes its value. */
static void eval(lua_State *L, const char *expr) {
  char code[4096];
  snprintf(code, sizeof code, "return %s", expr);
  if (luaL_loadstring(L, code) || lua_pcall(L, 0, 1, 0))
    fail_msg("Lua error: %s", lua_tostring(L, -1));
}

static char hexbuf[1 << 16];

static const char *hex(const uint8_t *p, size_t n) {
  size_t o = 0;
  for (size_t i = 0; i < n && o + 3 < sizeof hexbuf; i++)
    o += (size_t)sprintf(hexbuf + o, "%02x", p[i]);
  hexbuf[o] = 0;
  return hexbuf;
}

static const char *enc_hex_opt(lua_State *L, const char *expr,
                               const char *root) {
  mb_codec_options opt;
  mb_codec_options_init(&opt);
  opt.root_name = root;
  eval(L, expr);
  mb__buf b;
  mb__buf_init(&b, NULL, NULL);
  int top = lua_gettop(L);
  mb_status st = mb__encode(L, -1, &opt, &b);
  if (st != MB_OK) fail_msg("encode %s failed: %s", expr, lua_tostring(L, -1));
  assert_int_equal(lua_gettop(L), top);
  const char *h = hex(b.data, b.len);
  mb__buf_free(&b);
  lua_pop(L, 1);
  return h;
}

static const char *enc_hex(lua_State *L, const char *expr) {
  return enc_hex_opt(L, expr, "data");
}

/* Encoding `expr` must fail with exactly `msg`. */
static void enc_err(lua_State *L, const char *expr, mb_status want,
                    const char *msg) {
  mb_codec_options opt;
  mb_codec_options_init(&opt);
  opt.root_name = "data";
  eval(L, expr);
  int top = lua_gettop(L);
  mb__buf b;
  mb__buf_init(&b, NULL, NULL);
  assert_int_equal(mb__buf_append(&b, "x", 1), 0);
  mb_status st = mb__encode(L, -1, &opt, &b);
  assert_int_equal(st, want);
  assert_int_equal(b.len, 1); /* the caller's bytes are untouched */
  assert_int_equal(lua_gettop(L), top + 1);
  assert_string_equal(lua_tostring(L, -1), msg);
  mb__buf_free(&b);
  lua_pop(L, 2);
}

static void unhex(const char *h, uint8_t *out, size_t *n) {
  size_t k = 0;
  for (; h[0] && h[1]; h += 2) {
    unsigned v;
    sscanf(h, "%2x", &v);
    out[k++] = (uint8_t)v;
  }
  *n = k;
}

/* Decoding hex `h` must fail with exactly `msg`; nothing may be left. */
static void dec_err(lua_State *L, const char *h, const char *msg) {
  static uint8_t buf[1 << 15];
  size_t n;
  unhex(h, buf, &n);
  int top = lua_gettop(L);
  mb_status st = mb_decode(L, buf, n, NULL);
  assert_int_equal(st, MB_ECORRUPT);
  assert_int_equal(lua_gettop(L), top + 1);
  assert_string_equal(lua_tostring(L, -1), msg);
  lua_pop(L, 1);
}

/* Decodes hex `h` and checks the value equals Lua expression `expr`
 * (deep, with the Lua helper `deq`). */
static void dec_ok(lua_State *L, const char *h, const char *expr) {
  static uint8_t buf[1 << 15];
  size_t n;
  unhex(h, buf, &n);
  lua_getglobal(L, "deq");
  if (mb_decode(L, buf, n, NULL) != MB_OK)
    fail_msg("decode %s: %s", h, lua_tostring(L, -1));
  eval(L, expr);
  lua_call(L, 2, 1);
  if (!lua_toboolean(L, -1)) fail_msg("decode %s != %s", h, expr);
  lua_pop(L, 1);
}

static const char *deq_src =
    "function deq(a, b)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) == 'number' then\n"
    "    if a ~= a then return b ~= b end\n"
    "    if a == 0 and b == 0 then return 1/a == 1/b end\n"
    "    return a == b\n"
    "  end\n"
    "  if type(a) ~= 'table' then return a == b end\n"
    "  if getmetatable(a) ~= getmetatable(b) then return false end\n"
    "  for k, v in pairs(a) do if not deq(v, b[k]) then return false end end\n"
    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n";

static int setup(void **state) {
  lua_State *L = new_state();
  run(L, deq_src);
  *state = L;
  return 0;
}

static int teardown(void **state) {
  lua_close(*state);
  return 0;
}

/* ---- accepted types, byte-exact ---------------------------------------- */

static void test_scalars(void **state) {
  lua_State *L = *state;
  assert_string_equal(enc_hex(L, "nil"), "c0");
  assert_string_equal(enc_hex(L, "true"), "c3");
  assert_string_equal(enc_hex(L, "false"), "c2");
  assert_string_equal(enc_hex(L, "0"), "00");
  assert_string_equal(enc_hex(L, "127"), "7f");
  assert_string_equal(enc_hex(L, "128"), "cc80");
  assert_string_equal(enc_hex(L, "255"), "ccff");
  assert_string_equal(enc_hex(L, "256"), "cd0100");
  assert_string_equal(enc_hex(L, "65535"), "cdffff");
  assert_string_equal(enc_hex(L, "65536"), "ce00010000");
  assert_string_equal(enc_hex(L, "2^32-1"), "ceffffffff");
  assert_string_equal(enc_hex(L, "2^32"), "cf0000000100000000");
  assert_string_equal(enc_hex(L, "2^53"), "cf0020000000000000");
  assert_string_equal(enc_hex(L, "2^63"), "cf8000000000000000");
  assert_string_equal(enc_hex(L, "2^64-2048"), "cffffffffffffff800");
  assert_string_equal(enc_hex(L, "2^64"), "cb43f0000000000000");
  assert_string_equal(enc_hex(L, "-1"), "ff");
  assert_string_equal(enc_hex(L, "-32"), "e0");
  assert_string_equal(enc_hex(L, "-33"), "d0df");
  assert_string_equal(enc_hex(L, "-128"), "d080");
  assert_string_equal(enc_hex(L, "-129"), "d1ff7f");
  assert_string_equal(enc_hex(L, "-32768"), "d18000");
  assert_string_equal(enc_hex(L, "-32769"), "d2ffff7fff");
  assert_string_equal(enc_hex(L, "-2^31"), "d280000000");
  assert_string_equal(enc_hex(L, "-2^31-1"), "d3ffffffff7fffffff");
  assert_string_equal(enc_hex(L, "-2^63"), "d38000000000000000");
  assert_string_equal(enc_hex(L, "-2^63-4096"), "cbc3e0000000000002");
  assert_string_equal(enc_hex(L, "0.5"), "cb3fe0000000000000");
  assert_string_equal(enc_hex(L, "-1.5"), "cbbff8000000000000");
  assert_string_equal(enc_hex(L, "-0.0"), "cb8000000000000000");
  assert_string_equal(enc_hex(L, "1/0"), "cb7ff0000000000000");
  assert_string_equal(enc_hex(L, "-1/0"), "cbfff0000000000000");
  /* NaN keeps float64 form; its payload bits are platform-defined */
  assert_memory_equal(enc_hex(L, "0/0"), "cb", 2);
  assert_int_equal(strlen(enc_hex(L, "0/0")), 18);
}

static void test_strings(void **state) {
  lua_State *L = *state;
  assert_string_equal(enc_hex(L, "''"), "a0");
  assert_string_equal(enc_hex(L, "'abc'"), "a3616263");
  assert_string_equal(enc_hex(L, "'a\\0b'"), "a3610062");
  char want[200];
  strcpy(want, "bf");
  for (int i = 0; i < 31; i++)
    strcat(want, "78");
  assert_string_equal(enc_hex(L, "('x'):rep(31)"), want);
  assert_memory_equal(enc_hex(L, "('x'):rep(32)"), "d92078", 6);
  assert_memory_equal(enc_hex(L, "('x'):rep(255)"), "d9ff78", 6);
  assert_memory_equal(enc_hex(L, "('x'):rep(256)"), "da010078", 8);
  assert_memory_equal(enc_hex(L, "('x'):rep(65535)"), "daffff78", 8);
  /* 65536 bytes: str32 header */
  eval(L, "('x'):rep(65536)");
  void *out;
  size_t n;
  assert_int_equal(mb_encode(L, -1, NULL, NULL, NULL, &out, &n), MB_OK);
  assert_int_equal(n, 65536 + 5);
  assert_memory_equal(out, "\xdb\x00\x01\x00\x00x", 6);
  free(out);
  lua_pop(L, 1);
}

static void test_tables(void **state) {
  lua_State *L = *state;
  assert_string_equal(enc_hex(L, "{}"), "80"); /* empty table: empty map */
  assert_string_equal(enc_hex(L, "{1,2,3}"), "93010203");
  assert_string_equal(enc_hex(L, "{'a',{true}}"), "92a16191c3");
  /* sparse and non-1-based arrays are maps */
  assert_string_equal(enc_hex(L, "{[1]=1,[3]=3}"), "8201010303");
  assert_string_equal(enc_hex(L, "{[2]=2}"), "810202");
  assert_string_equal(enc_hex(L, "{[0]=0,1}"), "8200000101");
  assert_string_equal(enc_hex(L, "{1,2,x=3}"), "8301010202a17803");
  assert_string_equal(enc_hex(L, "{a=1,b={c=2}}"), "82a16101a16281a16302");
  /* 16 elements: array16 */
  assert_memory_equal(enc_hex(L, "{1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16}"),
                      "dc0010", 6);
  /* an array built backwards or with holes filled later is still an array */
  assert_string_equal(
      enc_hex(L, "(function() local t = {} for i = 5, 1, -1 do t[i] = i end "
                 "return t end)()"),
      "950102030405");
  /* a table whose array part has a nil hole */
  assert_string_equal(enc_hex(L, "{1, nil, 3}"), "8201010303");
}

static void test_canonical_order(void **state) {
  lua_State *L = *state;
  /* numbers ascending, then strings bytewise (shorter first on a common
   * prefix), then false, then true */
  assert_string_equal(
      enc_hex(L, "{[true]=1, [false]=2, b=3, a=4, ab=5, [10]=6, [-1.5]=7, "
                 "[2]=8, ['']=9}"),
      "89"
      "cbbff800000000000007" /* -1.5 = 7 */
      "0208"                 /* 2 = 8 */
      "0a06"                 /* 10 = 6 */
      "a009"                 /* '' = 9 */
      "a16104"               /* a = 4 */
      "a2616205"             /* ab = 5 */
      "a16203"               /* b = 3 */
      "c202"                 /* false = 2 */
      "c301");               /* true = 1 */
  /* bytes above 0x7f sort after ASCII (unsigned comparison) */
  assert_string_equal(enc_hex(L, "{['\\128']=1, z=2}"), "82a17a02a18001");
  /* -0.0 as a key is the key 0 */
  assert_string_equal(enc_hex(L, "{[-0.0]=1, [0.5]=2}"),
                      "820001cb3fe000000000000002");
}

/* Same contents, different insertion and deletion histories: equal bytes. */
static void test_insertion_history(void **state) {
  lua_State *L = *state;
  run(L, "function build(seed)\n"
         "  local keys = {}\n"
         "  for i = 1, 300 do keys[#keys+1] = 'k' .. i end\n"
         "  for i = 1, 50 do keys[#keys+1] = i * 7 end\n"
         "  keys[#keys+1] = true; keys[#keys+1] = false\n"
         "  math.randomseed(seed)\n"
         "  for i = #keys, 2, -1 do local j = math.random(i)\n"
         "    keys[i], keys[j] = keys[j], keys[i] end\n"
         "  local t = {}\n"
         "  for i = 1, 200 do t['junk' .. i] = i end\n"
         "  for _, k in ipairs(keys) do t[k] = tostring(k) end\n"
         "  for i = 1, 200 do t['junk' .. i] = nil end\n"
         "  return t\n"
         "end\n"
         "function order(t) local s = {} for k in pairs(t) do\n"
         "  s[#s+1] = tostring(k) end return table.concat(s, ',') end\n");
  char first[1 << 15];
  strcpy(first, enc_hex(L, "build(1)"));
  for (int seed = 2; seed < 6; seed++) {
    char expr[32];
    snprintf(expr, sizeof expr, "build(%d)", seed);
    assert_string_equal(enc_hex(L, expr), first);
  }
  /* and the pairs orders really differ, so the test means something */
  eval(L, "order(build(1)) ~= order(build(2))");
  assert_true(lua_toboolean(L, -1));
  lua_pop(L, 1);
}

/* The determinism check is run in two fresh processes (this program run
 * again with MB_CODEC_CHILD set); each prints the XXH3 of the encoding. */
static const char *child_src =
    "local t = {}\n"
    "for i = 1, 2000 do t['key' .. ((i * 7919) % 2003)] = {i, tostring(i), "
    "i / 3} end\n"
    "for i = 1, 100 do t[i * 1.25] = i end\n"
    "local junk = {}\n"
    "for i = 1, 500 do junk[#junk + 1] = {} end -- perturb addresses\n"
    "t.nested = {x = {y = {z = 'deep'}}, [true] = false}\n"
    "return t\n";

static uint64_t child_hash(void) {
  lua_State *L = new_state();
  /* a different allocation history per process */
  char pre[64];
  snprintf(pre, sizeof pre, "local a = {} for i = 1, %d do a[i] = {} end",
           (int)(getpid() % 97));
  run(L, pre);
  if (luaL_loadstring(L, child_src) || lua_pcall(L, 0, 1, 0)) abort();
  void *out;
  size_t n;
  if (mb_encode(L, -1, NULL, NULL, NULL, &out, &n) != MB_OK) abort();
  uint64_t h = XXH3_64bits(out, n);
  free(out);
  lua_close(L);
  return h;
}

static uint64_t run_child(void) {
  int fd[2];
  assert_int_equal(pipe(fd), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fd[0]);
    dup2(fd[1], 1);
    setenv("MB_CODEC_CHILD", "1", 1);
    execl("/proc/self/exe", "test_codec", (char *)NULL);
    _exit(127);
  }
  close(fd[1]);
  char buf[64] = {0};
  ssize_t got = read(fd[0], buf, sizeof buf - 1);
  close(fd[0]);
  int status;
  waitpid(pid, &status, 0);
  assert_true(got > 0);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return strtoull(buf, NULL, 16);
}

static void test_determinism_across_processes(void **state) {
  (void)state;
  uint64_t a = run_child(), b = run_child();
  assert_true(a != 0);
  assert_true(a == b);
  assert_true(child_hash() == a); /* and this process agrees */
}

/* ---- refusals with their paths ----------------------------------------- */

static void test_refusals(void **state) {
  lua_State *L = *state;
  enc_err(L, "{inventory={1,2,{owner=print}}}", MB_EINVAL,
          "data.inventory[3].owner: function is not serializable");
  enc_err(L, "print", MB_EINVAL, "data: function is not serializable");
  enc_err(L, "{co=coroutine.create(print)}", MB_EINVAL,
          "data.co: thread is not serializable");
  enc_err(L, "{u=newproxy()}", MB_EINVAL,
          "data.u: userdata is not serializable");
  enc_err(L, "{u=newproxy(true)}", MB_EINVAL,
          "data.u: userdata is not serializable");
  enc_err(L, "{m=setmetatable({}, {})}", MB_EINVAL,
          "data.m: table with a metatable is not serializable");
  enc_err(L, "{c=require('ffi').new('int', 1)}", MB_EINVAL,
          "data.c: cdata is not serializable");
  enc_err(L, "(function() local s = {} return {a={b=s, c=s}} end)()", MB_EINVAL,
          "data.a.c: table is referenced twice (shared)");
  enc_err(L, "(function() local s = {} return {a={b=s}, z=s} end)()", MB_EINVAL,
          "data.z: table is referenced twice (shared)");
  enc_err(L, "(function() local t = {} t.self = t return t end)()", MB_EINVAL,
          "data.self: table contains itself (cycle)");
  enc_err(L, "(function() local t = {a={b={}}} t.a.b.c = t.a return t end)()",
          MB_EINVAL, "data.a.b.c: table contains itself (cycle)");
  /* keys in paths: identifiers, quoted strings, numbers, booleans */
  enc_err(L, "{['two words']={f=print}}", MB_EINVAL,
          "data[\"two words\"].f: function is not serializable");
  enc_err(L, "{['end']=print}", MB_EINVAL,
          "data[\"end\"]: function is not serializable");
  enc_err(L, "{['q\"\\\\\\n\\1']=print}", MB_EINVAL,
          "data[\"q\\\"\\\\\\n\\1\"]: function is not serializable");
  enc_err(L, "{[true]={[false]=print}}", MB_EINVAL,
          "data[true][false]: function is not serializable");
  enc_err(L, "{[1.5]=print}", MB_EINVAL,
          "data[1.5]: function is not serializable");
  enc_err(L, "{[-7]=print, x=1}", MB_EINVAL,
          "data[-7]: function is not serializable");
  enc_err(L, "{_x9=print}", MB_EINVAL,
          "data._x9: function is not serializable");
  enc_err(L, "{['9x']=print}", MB_EINVAL,
          "data[\"9x\"]: function is not serializable");
  {
    char want[128] = "data.";
    for (int i = 0; i < 70; i++)
      strcat(want, "k");
    strcat(want, ": function is not serializable");
    enc_err(L, "{[('k'):rep(70)]=print}", MB_EINVAL, want);
  }
  enc_err(L, "{[('k '):rep(35)]=print}", MB_EINVAL,
          "data[\"k k k k k k k k k k k k k k k k k k k k k k k k k k k k k k "
          "...\"]: function is not serializable");
  /* keys that are not numbers, strings or booleans */
  enc_err(L, "{a={[print]=1}}", MB_EINVAL,
          "data.a: key of type function is not serializable");
  enc_err(L, "{a={[{}]=1}}", MB_EINVAL,
          "data.a: key of type table is not serializable");
}

static void test_light_userdata_and_stable_messages(void **state) {
  lua_State *L = *state;
  lua_newtable(L);
  lua_pushlightuserdata(L, (void *)L);
  lua_setfield(L, -2, "p");
  mb__buf b;
  mb__buf_init(&b, NULL, NULL);
  mb_codec_options opt;
  mb_codec_options_init(&opt);
  opt.root_name = "data";
  assert_int_equal(mb__encode(L, -1, &opt, &b), MB_EINVAL);
  assert_string_equal(lua_tostring(L, -1),
                      "data.p: userdata is not serializable");
  lua_pop(L, 2);
  /* the refusal names the same occurrence whatever the pairs() order */
  run(L, "function sharer(seed)\n"
         "  local s, t = {}, {}\n"
         "  math.randomseed(seed)\n"
         "  local ks = {}\n"
         "  for i = 1, 60 do ks[i] = 'k' .. i end\n"
         "  for i = 60, 2, -1 do local j = math.random(i)\n"
         "    ks[i], ks[j] = ks[j], ks[i] end\n"
         "  for _, k in ipairs(ks) do t[k] = (k == 'k10' or k == 'k40') and s "
         "or {} end\n"
         "  return {a = t}\n"
         "end\n");
  for (int seed = 1; seed <= 8; seed++) {
    char expr[32];
    snprintf(expr, sizeof expr, "sharer(%d)", seed);
    enc_err(L, expr, MB_EINVAL,
            "data.a.k40: table is referenced twice (shared)");
  }
  mb__buf_free(&b);
}

static void test_depth_limit(void **state) {
  lua_State *L = *state;
  run(L, "function nest(n) local t = {} for i = 2, n do t = {t} end "
         "return t end");
  /* 64 levels fine, 65 refused at the path of the 65th table */
  eval(L, "nest(64)");
  void *out;
  size_t n;
  assert_int_equal(mb_encode(L, -1, NULL, NULL, NULL, &out, &n), MB_OK);
  assert_int_equal(n, 64);
  free(out);
  lua_pop(L, 1);
  char want[600] = "data";
  for (int i = 0; i < 64; i++)
    strcat(want, "[1]");
  strcat(want, ": tables nested deeper than 64 levels");
  enc_err(L, "nest(65)", MB_EINVAL, want);
  /* configurable */
  mb_codec_options opt;
  mb_codec_options_init(&opt);
  opt.max_depth = 3;
  eval(L, "{a={b={c={}}}}");
  mb__buf b;
  mb__buf_init(&b, NULL, NULL);
  assert_int_equal(mb__encode(L, -1, &opt, &b), MB_EINVAL);
  assert_string_equal(lua_tostring(L, -1),
                      "value.a.b.c: tables nested deeper than 3 levels");
  lua_pop(L, 2);
  eval(L, "{a={b={}}}");
  assert_int_equal(mb__encode(L, -1, &opt, &b), MB_OK);
  mb__buf_free(&b);
  lua_pop(L, 1);
}

/* ---- decoder ------------------------------------------------------------ */

static void test_decode_types(void **state) {
  lua_State *L = *state;
  dec_ok(L, "c0", "nil");
  dec_ok(L, "c3", "true");
  dec_ok(L, "c2", "false");
  dec_ok(L, "7f", "127");
  dec_ok(L, "e0", "-32");
  dec_ok(L, "cc80", "128");
  dec_ok(L, "cd0100", "256");
  dec_ok(L, "ce00010000", "65536");
  dec_ok(L, "cf0000000100000000", "2^32");
  dec_ok(L, "cfffffffffffffffff", "2^64");
  dec_ok(L, "d0df", "-33");
  dec_ok(L, "d1ff7f", "-129");
  dec_ok(L, "d2ffff7fff", "-32769");
  dec_ok(L, "d38000000000000000", "-2^63");
  /* non-canonical forms are accepted */
  dec_ok(L, "cc01", "1");
  dec_ok(L, "d000", "0");
  dec_ok(L, "ca3fc00000", "1.5");
  dec_ok(L, "cb8000000000000000", "-0.0");
  dec_ok(L, "cb7ff0000000000000", "1/0");
  dec_ok(L, "cb7ff8000000000000", "0/0");
  dec_ok(L, "a3610062", "'a\\0b'");
  dec_ok(L, "d903616263", "'abc'");
  dec_ok(L, "da0003616263", "'abc'");
  dec_ok(L, "db00000003616263", "'abc'");
  dec_ok(L, "c403616263", "'abc'"); /* bin is a string too */
  dec_ok(L, "c50003616263", "'abc'");
  dec_ok(L, "c60000000100", "'\\0'");
  dec_ok(L, "80", "{}");
  dec_ok(L, "90", "{}");
  dec_ok(L, "dc0000", "{}");
  dec_ok(L, "dd00000000", "{}");
  dec_ok(L, "de0000", "{}");
  dec_ok(L, "df00000000", "{}");
  dec_ok(L, "93010203", "{1,2,3}");
  dec_ok(L, "82a162c3a161c2", "{a=false,b=true}"); /* any key order */
  dec_ok(L, "81c3c2", "{[true]=false}");
  dec_ok(L, "81cb3ff8000000000000a178", "{[1.5]='x'}");
}

static void test_decode_malformed(void **state) {
  lua_State *L = *state;
  dec_err(L, "", "byte 0: truncated input (needs 1 byte, 0 left)");
  dec_err(L, "c1", "byte 0: invalid byte 0xc1");
  dec_err(L, "92cd0101", "byte 4: truncated input (needs 1 byte, 0 left)");
  dec_err(L, "9201",
          "byte 0: truncated array (declares 2 elements, 1 bytes "
          "left)");
  dec_err(L, "0102", "byte 1: 1 trailing bytes");
  dec_err(L, "c0c0c0c0c0", "byte 1: 4 trailing bytes");
  dec_err(L, "a5616263", "byte 0: truncated string (needs 5 bytes, 3 left)");
  dec_err(L, "91d9c8616263",
          "byte 1: truncated string (needs 200 bytes, 3 left)");
  dec_err(L, "d9", "byte 0: truncated string header (needs 1 bytes, 0 left)");
  dec_err(L, "dbffffffff00",
          "byte 0: truncated string (needs 4294967295 bytes, 1 left)");
  dec_err(L, "c6ffffffff",
          "byte 0: truncated binary (needs 4294967295 bytes, "
          "0 left)");
  dec_err(L, "cd01", "byte 0: truncated integer (needs 2 bytes, 1 left)");
  dec_err(L, "cb000000", "byte 0: truncated float (needs 8 bytes, 3 left)");
  dec_err(L, "ca00", "byte 0: truncated float (needs 4 bytes, 1 left)");
  /* counts checked against the bytes left before anything is allocated */
  dec_err(L, "ddffffffff00",
          "byte 0: truncated array (declares 4294967295 elements, 1 bytes "
          "left)");
  dec_err(L, "dfffffffff0000",
          "byte 0: truncated map (declares 4294967295 entries, 2 bytes "
          "left)");
  dec_err(L, "dc", "byte 0: truncated array header (needs 2 bytes, 0 left)");
  dec_err(L, "8201",
          "byte 0: truncated map (declares 2 entries, 1 bytes "
          "left)");
  /* keys */
  dec_err(L, "81c001", "byte 1: nil key");
  dec_err(L, "8101c0", "byte 2: nil value in table");
  dec_err(L, "81cb7ff800000000000001", "byte 1: NaN key");
  dec_err(L, "81ca7fc0000001", "byte 1: NaN key");
  dec_err(L, "82a16101a16102", "byte 4: duplicate key");
  dec_err(L, "820101cb3ff000000000000002",
          "byte 3: duplicate key"); /* 1 and 1.0 are one key */
  dec_err(L, "82000bcb800000000000000002", "byte 3: duplicate key");
  /* small maps filter string keys by cache slot: "axb" and "ayb" share
   * one (same length, first and last byte) and are still two keys */
  dec_ok(L, "82a361786201a361796202", "{axb = 1, ayb = 2}");
  dec_err(L, "83a361786201a361796202a361786203", "byte 11: duplicate key");
  dec_err(L, "82a001a002", "byte 3: duplicate key");       /* "" twice */
  dec_err(L, "82a16b01c4016b02", "byte 4: duplicate key"); /* str, bin */
  dec_err(L, "819001", "byte 1: key is not a number, string or boolean");
  dec_err(L, "818001", "byte 1: key is not a number, string or boolean");
  dec_err(L, "81d40501", "byte 1: key is not a number, string or boolean");
  /* nil inside tables */
  dec_err(L, "9201c0", "byte 2: nil value in table");
  /* ext */
  dec_err(L, "d42a00", "byte 0: unknown ext type 42");
  dec_err(L, "c701ff00", "byte 0: unknown ext type -1");
  dec_err(L, "d72a00", "byte 0: truncated ext value (needs 9 bytes, 2 left)");
  dec_err(L, "c9ffffffff05",
          "byte 0: truncated ext value (needs 4294967296 bytes, 1 left)");
  /* nesting */
  char deep[200] = "";
  for (int i = 0; i < 65; i++)
    strcat(deep, "91");
  strcat(deep, "01");
  dec_err(L, deep, "byte 64: tables nested deeper than 64 levels");
  deep[strlen(deep) - 4] = 0;
  strcat(deep, "01");
  dec_ok(L, deep,
         "(function() local t = 1 for i = 1, 64 do t = {t} end return t "
         "end)()");
  assert_int_equal(lua_gettop(L), 0);
}

/* Large maps (duplicates found through the table) and long inputs (the
 * interned-key cache in use, with colliding keys). */
static void test_decode_big_maps(void **state) {
  lua_State *L = *state;
  /* 17 entries, the last repeats the first (as a bin key) */
  char h[400] = "de0011";
  for (int i = 0; i < 16; i++) {
    char kv[16];
    snprintf(kv, sizeof kv, "a26b%02x%02x", 0x41 + i, i);
    strcat(h, kv);
  }
  strcat(h, "c4026b4100");
  size_t at = 3 + 16 * 4;
  char want[64];
  snprintf(want, sizeof want, "byte %zu: duplicate key", at);
  dec_err(L, h, want);
  /* many records with many keys, encoded then decoded */
  run(L, "big = {}\n"
         "for i = 1, 300 do local r = {}\n"
         "  for k = 1, 90 do r['key' .. ((k * 7 + i) % 97)] = k end\n"
         "  r[('long'):rep(20)] = i; r[''] = 0; r[1.5] = 'x'\n"
         "  big[i] = r end\n"
         "s = encode(big)\n"
         "assert(deq(decode(s), big))\n"
         "assert(encode(decode(s)) == s)\n");
}

/* Inputs of 1 KiB and more give repeated small-map shapes a constructor
 * (generated Lua source): any key bytes (keys of up to 40 bytes; a longer
 * one keeps a map off them), a record that leaves its shape at any key,
 * and duplicates found on both paths. */
static void test_decode_shapes(void **state) {
  lua_State *L = *state;
  run(L,
      "keys = {'a\\0b', '\"q\"', '\\\\', 'line\\nbreak', ']]', '\\255\\254',\n"
      "        '123', 'end', 'x', ('k'):rep(40)}\n"
      "for _, long in ipairs({false, ('l'):rep(41)}) do\n"
      "  local big = {}\n"
      "  for i = 1, 60 do local r = {}\n"
      "    for j, k in ipairs(keys) do r[k] = i * 100 + j end\n"
      "    if long then r[long] = i end\n"
      "    big[i] = r end\n"
      "  local s = encode(big)\n"
      "  assert(#s > 4096)\n"
      "  assert(deq(decode(s), big))\n"
      "  assert(encode(decode(s)) == s)\n"
      "end\n"
      "-- records that leave the shape at each key, then come back\n"
      "rs = {}\n"
      "for i = 1, 100 do rs[i] = {alpha = i, beta = {i}, delta = 'd', gamma = "
      "true} end\n"
      "for _, k in ipairs({'alpha', 'beta', 'delta', 'gamma'}) do\n"
      "  local r = {alpha = 1, beta = 2, delta = 3, gamma = 4}\n"
      "  r[k] = nil; r[k .. 'x'] = 5; rs[#rs + 1] = r\n"
      "  rs[#rs + 1] = {alpha = 1, beta = 2, delta = 3, gamma = 4, [7] = 7}\n"
      "  rs[#rs + 1] = {alpha = 1, beta = 2, delta = 3}\n"
      "  rs[#rs + 1] = {alpha = -1, beta = -2, delta = -3, gamma = -4}\n"
      "end\n"
      "nested = {}\n"
      "for i = 1, 80 do nested[i] = {p = {x = i, y = i}, q = {x = i, y = {x = "
      "1, y = 2}}} end\n"
      "for _, v in ipairs({rs, nested}) do\n"
      "  local e = encode(v)\n"
      "  assert(#e >= 1024)\n"
      "  assert(deq(decode(e), v))\n"
      "  assert(encode(decode(e)) == e)\n"
      "end\n");
  /* A record expected to have the shape {p, q} holds a map whose shape
   * {k, r} takes the expected shape's entry over (one k in 16 or so does),
   * and the record's next key is r: it must stay r. */
  run(L, "local v = {}\n"
         "for i = 1, 8 do v[#v + 1] = {p = 1, q = 2} end\n"
         "for j = 0, 199 do\n"
         "  local k = string.char(97 + j % 26, 97 + math.floor(j / 26))\n"
         "  v[#v + 1] = {p = {[k] = 1, r = 2}, r = 3}\n"
         "  for i = 1, 4 do v[#v + 1] = {p = 1, q = 2} end\n"
         "end\n"
         "local e = encode(v)\n"
         "assert(deq(decode(e), v))\n");
  /* 120 maps {ka = 1, kb = 2}, then one that repeats a key */
  char h[3000] = "dc0079";
  for (int i = 0; i < 120; i++)
    strcat(h, "82a26b6101a26b6202");
  size_t at = 3 + 120 * 9 + 5; /* its second key */
  char want[64];
  snprintf(want, sizeof want, "byte %zu: duplicate key", at);
  size_t end = strlen(h);
  strcat(h, "82a26b6101a26b6102"); /* leaves the shape at the repeat */
  dec_err(L, h, want);
  h[end] = 0;
  strcat(h, "82a26b6201a26b6202"); /* leaves it at the first key */
  dec_err(L, h, want);
  h[end] = 0;
  strcat(h, "82a26b6101a26b62c0"); /* nil value in the expected shape */
  snprintf(want, sizeof want, "byte %zu: nil value in table", at + 3);
  dec_err(L, h, want);
}

/* Every proper prefix of a valid encoding is refused; never a crash. */
static void test_decode_every_truncation(void **state) {
  lua_State *L = *state;
  eval(L, "{id=1, name='npc', hp=100.5, pos={x=1,y=2,z=-3}, flags={true,"
          "false}, inv={'a','b',('c'):rep(300)}, [2^40]=-2^40}");
  void *out;
  size_t n;
  assert_int_equal(mb_encode(L, -1, NULL, NULL, NULL, &out, &n), MB_OK);
  lua_pop(L, 1);
  for (size_t k = 0; k < n; k++) {
    assert_int_equal(mb_decode(L, out, k, NULL), MB_ECORRUPT);
    assert_non_null(strstr(lua_tostring(L, -1), "truncated"));
    lua_pop(L, 1);
  }
  /* flipping any byte: an error or a value, never a crash */
  uint8_t *m = malloc(n);
  for (size_t k = 0; k < n; k++) {
    for (int bit = 0; bit < 8; bit++) {
      memcpy(m, out, n);
      m[k] ^= (uint8_t)(1u << bit);
      mb_status st = mb_decode(L, m, n, NULL);
      assert_true(st == MB_OK || st == MB_ECORRUPT);
      if (st != MB_OK) assert_memory_equal(lua_tostring(L, -1), "byte ", 5);
      lua_pop(L, 1);
    }
  }
  free(m);
  assert_int_equal(mb_decode(L, out, n, NULL), MB_OK);
  lua_pop(L, 1);
  free(out);
}

/* ---- round trip property test ------------------------------------------ */

static const char *gen_src =
    "local seed = ...\n"
    "local s = seed\n"
    "local function rnd(n) s = (s * 1103515245 + 12345) % 2147483648\n"
    "  return s % n end\n"
    "local edge = {0, -0.0, 1, -1, 127, 128, -32, -33, 255, 256, 65535,\n"
    "  65536, 2^31, -2^31, 2^32, 2^53, -2^53, 2^63, -2^63, 2^64, 1/0, -1/0,\n"
    "  0/0, 0.1, -1e308, 5e-324, 2^64 - 2048, 1.5, math.pi}\n"
    "local function str()\n"
    "  local n = ({0, 1, 5, 31, 32, 255, 256, 70000})[rnd(8) + 1]\n"
    "  if n > 300 and rnd(4) > 0 then n = rnd(40) end\n"
    "  local t = {}\n"
    "  for i = 1, n do t[i] = string.char(rnd(256)) end\n"
    "  return table.concat(t)\n"
    "end\n"
    "local gen\n"
    "local function key()\n"
    "  local r = rnd(6)\n"
    "  if r == 0 then local v = edge[rnd(#edge) + 1]\n"
    "    if v ~= v then v = 7 end return v end\n"
    "  if r == 1 then return rnd(2) == 0 end\n"
    "  if r == 2 then return rnd(40) - 5 end\n"
    "  return str()\n"
    "end\n"
    "function gen(d)\n"
    "  local r = rnd(d > 5 and 6 or 9)\n"
    "  if r == 0 then return rnd(2) == 0 end\n"
    "  if r == 1 then return edge[rnd(#edge) + 1] end\n"
    "  if r == 2 then return rnd(100000) - 50000 end\n"
    "  if r == 3 then return rnd(1000000) / 7 end\n"
    "  if r == 4 or r == 5 then return str() end\n"
    "  local t = {}\n"
    "  if r == 6 then for i = 1, rnd(20) do t[i] = gen(d + 1) end\n"
    "  elseif r == 7 then for i = 1, rnd(10) do t[key()] = gen(d + 1) end\n"
    "  else for i = 1, rnd(30) do if rnd(3) > 0 then t[i] = gen(d + 1) end\n"
    "    end end\n"
    "  return t\n"
    "end\n"
    "return gen(0)\n";

static void test_round_trip_property(void **state) {
  lua_State *L = *state;
  assert_int_equal(luaL_loadstring(L, gen_src), 0);
  lua_setglobal(L, "generate");
  size_t total = 0;
  for (int seed = 1; seed <= 600; seed++) {
    lua_getglobal(L, "generate");
    lua_pushinteger(L, seed);
    if (lua_pcall(L, 1, 1, 0)) fail_msg("%s", lua_tostring(L, -1));
    void *a, *b;
    size_t na, nb;
    if (mb_encode(L, -1, NULL, NULL, NULL, &a, &na) != MB_OK)
      fail_msg("seed %d: %s", seed, lua_tostring(L, -1));
    total += na;
    /* valid msgpack per msgpack-c, consuming exactly the bytes */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, a, na, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, na);
    msgpack_unpacked_destroy(&u);
    /* decode equals the original, and re-encodes to the same bytes */
    lua_getglobal(L, "deq");
    lua_pushvalue(L, -2);
    assert_int_equal(mb_decode(L, a, na, NULL), MB_OK);
    assert_int_equal(mb_encode(L, -1, NULL, NULL, NULL, &b, &nb), MB_OK);
    lua_call(L, 2, 1);
    if (!lua_toboolean(L, -1)) fail_msg("seed %d: round trip differs", seed);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a);
    free(b);
    lua_pop(L, 2);
  }
  assert_true(total > 100000);
}

/* ---- engine values (ext registry) --------------------------------------- */

static const char *vec_encode(lua_State *L, int idx, mb__buf *out, void *ud) {
  (void)ud;
  uint8_t p[12];
  const char *f[] = {"x", "y", "z"};
  for (int i = 0; i < 3; i++) {
    lua_getfield(L, idx, f[i]);
    if (!lua_isnumber(L, -1)) return "bad component";
    float v = (float)lua_tonumber(L, -1);
    lua_pop(L, 1);
    memcpy(p + 4 * i, &v, 4);
  }
  return mb__buf_append(out, p, 12) ? mb__ext_nomem : NULL;
}

static const char *vec_decode(lua_State *L, const uint8_t *p, size_t n,
                              void *ud) {
  (void)ud;
  if (n != 12) return "needs 12 bytes";
  const char *f[] = {"x", "y", "z"};
  lua_createtable(L, 0, 3);
  for (int i = 0; i < 3; i++) {
    float v;
    memcpy(&v, p + 4 * i, 4);
    lua_pushnumber(L, v);
    lua_setfield(L, -2, f[i]);
  }
  lua_getglobal(L, "VEC");
  lua_setmetatable(L, -2);
  return NULL;
}

static const char *id_encode(lua_State *L, int idx, mb__buf *out, void *ud) {
  (void)ud;
  size_t n;
  lua_getfield(L, idx, "id");
  const char *s = lua_tolstring(L, -1, &n);
  if (!s) return "no id";
  return mb__buf_append(out, s, n) ? mb__ext_nomem : NULL;
}

static const char *id_decode(lua_State *L, const uint8_t *p, size_t n,
                             void *ud) {
  (void)ud;
  lua_createtable(L, 0, 1);
  lua_pushlstring(L, (const char *)p, n);
  lua_setfield(L, -2, "id");
  lua_getglobal(L, "OBJ");
  lua_setmetatable(L, -2);
  return NULL;
}

static const char *raising_encode(lua_State *L, int idx, mb__buf *out,
                                  void *ud) {
  (void)idx;
  (void)ud;
  mb__buf_append(out, "xyz", 3);
  luaL_error(L, "engine value exploded");
  return NULL;
}

/* An ext callback that raises: the error comes back as MB_ERROR and
 * nothing leaks (ASan checks). */
static void test_ext_raising(void **state) {
  lua_State *L = *state;
  run(L, "BOOM = {}");
  lua_getglobal(L, "BOOM");
  assert_int_equal(
      mb__ext_register(L, 9, "boom", -1, raising_encode, vec_decode, NULL),
      MB_OK);
  lua_pop(L, 1);
  eval(L, "(function() local t = {} for i = 1, 100 do t[i] = {i} end "
          "t[50] = setmetatable({}, BOOM) return t end)()");
  void *out = (void *)1;
  size_t n = 7;
  assert_int_equal(mb_encode(L, -1, NULL, NULL, NULL, &out, &n), MB_ERROR);
  assert_null(out);
  assert_int_equal(n, 0);
  assert_non_null(strstr(lua_tostring(L, -1), "engine value exploded"));
  lua_pop(L, 2);
}

static void test_ext(void **state) {
  lua_State *L = *state;
  run(L, "VEC = {} OBJ = {}");
  lua_getglobal(L, "VEC");
  assert_int_equal(
      mb__ext_register(L, 5, "vector3", -1, vec_encode, vec_decode, NULL),
      MB_OK);
  /* id and metatable taken; bad arguments */
  assert_int_equal(
      mb__ext_register(L, 5, "other", -1, vec_encode, vec_decode, NULL),
      MB_EINVAL);
  lua_newtable(L);
  assert_int_equal(
      mb__ext_register(L, 5, "other", -1, vec_encode, vec_decode, NULL),
      MB_EINVAL);
  assert_int_equal(
      mb__ext_register(L, 128, "other", -1, vec_encode, vec_decode, NULL),
      MB_EINVAL);
  lua_pop(L, 1);
  assert_int_equal(
      mb__ext_register(L, 6, "other", -1, vec_encode, vec_decode, NULL),
      MB_EINVAL); /* VEC already registered as 5 */
  lua_pop(L, 1);
  lua_getglobal(L, "OBJ");
  assert_int_equal(mb__ext_register(L, 1, "object", lua_gettop(L), id_encode,
                                    id_decode, NULL),
                   MB_OK);
  lua_pop(L, 1);
  assert_int_equal(lua_gettop(L), 0);

  assert_string_equal(enc_hex(L, "setmetatable({x=1,y=2,z=0.5}, VEC)"),
                      "c70c05"
                      "0000803f"
                      "00000040"
                      "0000003f");
  assert_string_equal(enc_hex(L, "setmetatable({id='g'}, OBJ)"), "d40167");
  assert_string_equal(enc_hex(L, "setmetatable({id='ab'}, OBJ)"), "d5016162");
  assert_string_equal(enc_hex(L, "setmetatable({id=''}, OBJ)"), "c70001");
  /* the same engine value twice is fine (values, not shared tables) */
  enc_hex(L, "(function() local v = setmetatable({x=1,y=2,z=3}, VEC) "
             "return {v, v} end)()");
  enc_err(L, "{p=setmetatable({x='a'}, VEC)}", MB_EINVAL,
          "data.p: vector3: bad component");
  enc_err(L, "{p=setmetatable({}, {})}", MB_EINVAL,
          "data.p: table with a metatable is not serializable");
  dec_ok(L, "92c70c050000803f000000400000003fd5016162",
         "{setmetatable({x=1,y=2,z=0.5}, VEC), setmetatable({id='ab'}, OBJ)}");
  dec_err(L, "91d60500000000", "byte 1: bad vector3 value: needs 12 bytes");
  dec_err(L, "d42a00", "byte 0: unknown ext type 42");
  /* registries are per lua_State */
  lua_State *L2 = new_state();
  run(L2, "VEC = {}");
  eval(L2, "setmetatable({x=1,y=2,z=3}, VEC)");
  void *out;
  size_t n;
  assert_int_equal(mb_encode(L2, -1, NULL, NULL, NULL, &out, &n), MB_EINVAL);
  assert_string_equal(lua_tostring(L2, -1),
                      "value: table with a metatable is not serializable");
  lua_close(L2);
}

/* ---- Lua-facing functions, memory -------------------------------------- */

static void test_lua_functions(void **state) {
  lua_State *L = *state;
  run(L, "local s = encode({1, 'two', {three = 3}})\n"
         "assert(s == '\\147\\001\\163two\\129\\165three\\003')\n"
         "local v = decode(s)\n"
         "assert(v[3].three == 3 and v[2] == 'two')\n"
         "local ok, e = pcall(encode, {f = print}, 'data')\n"
         "assert(not ok and e == 'data.f: function is not serializable', e)\n"
         "ok, e = pcall(encode, {f = print})\n"
         "assert(e == 'value.f: function is not serializable', e)\n"
         "ok, e = pcall(decode, '\\145')\n"
         "assert(e == 'byte 0: truncated array (declares 1 elements, 0 bytes "
         "left)', e)\n");
}

static void test_encode_oom(void **state) {
  lua_State *L = *state;
  eval(L, "(function() local t = {} for i = 1, 300 do t['k' .. i] = "
          "{i, {x = i}} end return t end)()");
  mbt_alloc a;
  int saw_ok = 0, saw_oom = 0;
  for (long k = 0; k < 200 && !saw_ok; k++) {
    memset(&a, 0, sizeof a);
    a.fail_after = k;
    void *out = NULL;
    size_t n = 0;
    mb_status st = mb_encode(L, -1, NULL, mbt_alloc_fn, &a, &out, &n);
    if (st == MB_OK) {
      saw_ok = 1;
      mbt_alloc_fn(&a, out, n, 0);
    } else {
      assert_int_equal(st, MB_ENOMEM);
      assert_string_equal(lua_tostring(L, -1), "not enough memory");
      lua_pop(L, 1);
      saw_oom = 1;
    }
    assert_int_equal(a.bytes, 0); /* nothing leaked */
  }
  assert_true(saw_ok && saw_oom);
  lua_pop(L, 1);
}

/* A decoder run out of memory (the state's allocator refuses) reports
 * MB_ENOMEM; decoding allocates at most a small multiple of its input. */
static void test_decode_memory(void **state) {
  (void)state;
  mbt_alloc a;
  memset(&a, 0, sizeof a);
  a.fail_after = -1;
  lua_State *L = lua_newstate(mbt_alloc_fn, &a);
  assert_non_null(L);
  luaL_openlibs(L);
  lua_gc(L, LUA_GCCOLLECT, 0);
  /* an array of 100000 empty tables, one byte each */
  size_t n = 100000 + 5;
  uint8_t *buf = malloc(n);
  buf[0] = 0xdd;
  buf[1] = 0;
  buf[2] = 0x01;
  buf[3] = 0x86;
  buf[4] = 0xa0;
  memset(buf + 5, 0x90, n - 5);
  lua_gc(L, LUA_GCSTOP, 0);
  size_t before = a.bytes;
  a.peak = a.bytes;
  assert_int_equal(mb_decode(L, buf, n, NULL), MB_OK);
  size_t used = a.peak - before;
  print_message("decode of %zu bytes allocated %zu bytes (%.1fx)\n", n, used,
                (double)used / (double)n);
  assert_true(used < 80 * n);
  lua_pop(L, 1);
  lua_gc(L, LUA_GCRESTART, 0);
  lua_gc(L, LUA_GCCOLLECT, 0);
  /* shapes built to compile as many constructors as allowed: each 2-key
   * map shape four times over, then the next */
  size_t m = 20000, k = 0;
  uint8_t *sh = malloc(3 + 7 * m);
  sh[k++] = 0xdc;
  sh[k++] = (uint8_t)(m >> 8);
  sh[k++] = (uint8_t)m;
  for (size_t i = 0; i < m; i++) {
    uint8_t ka = (uint8_t)(i / 4 % 200), kb = (uint8_t)(i / 800);
    uint8_t rec[7] = {0x82, 0xa1, ka, 0x01, 0xa1, (uint8_t)(200 + kb), 0x02};
    memcpy(sh + k, rec, 7);
    k += 7;
  }
  lua_gc(L, LUA_GCSTOP, 0);
  before = a.bytes;
  a.peak = a.bytes;
  assert_int_equal(mb_decode(L, sh, k, NULL), MB_OK);
  used = a.peak - before;
  print_message("decode of %zu bytes of shaped maps allocated %zu bytes "
                "(%.1fx)\n",
                k, used, (double)used / (double)k);
  /* 18x measured; a constructor for every shape would take 57x */
  assert_true(used < 30 * k);
  lua_pop(L, 1);
  lua_gc(L, LUA_GCRESTART, 0);
  lua_gc(L, LUA_GCCOLLECT, 0);
  free(sh);
  /* a hostile count is refused before allocating */
  buf[1] = 0x7f;
  a.peak = a.bytes;
  before = a.bytes;
  assert_int_equal(mb_decode(L, buf, 64, NULL), MB_ECORRUPT);
  assert_true(a.peak - before < 4096);
  lua_pop(L, 1);
  /* out of memory half way */
  buf[1] = 0;
  lua_gc(L, LUA_GCCOLLECT, 0);
  a.limit = a.bytes + 200000;
  mb_status st = mb_decode(L, buf, n, NULL);
  assert_int_equal(st, MB_ENOMEM);
  lua_pop(L, 1);
  a.limit = 0;
  free(buf);
  lua_close(L);
  assert_int_equal(a.bytes, 0);
}

static void test_stack_balance(void **state) {
  lua_State *L = *state;
  lua_settop(L, 0);
  eval(L, "{1,2,{3}}");
  void *out;
  size_t n;
  for (int i = 0; i < 1000; i++) {
    assert_int_equal(mb_encode(L, 1, NULL, NULL, NULL, &out, &n), MB_OK);
    assert_int_equal(mb_decode(L, out, n, NULL), MB_OK);
    lua_pop(L, 1);
    assert_int_equal(mb_encode_string(L, -1, NULL), MB_OK);
    lua_pop(L, 1);
    free(out);
  }
  assert_int_equal(lua_gettop(L), 1);
  lua_pop(L, 1);
}

int main(void) {
  if (getenv("MB_CODEC_CHILD")) {
    printf("%016llx\n", (unsigned long long)child_hash());
    return 0;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_scalars, setup, teardown),
      cmocka_unit_test_setup_teardown(test_strings, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tables, setup, teardown),
      cmocka_unit_test_setup_teardown(test_canonical_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_insertion_history, setup, teardown),
      cmocka_unit_test(test_determinism_across_processes),
      cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_depth_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_decode_types, setup, teardown),
      cmocka_unit_test_setup_teardown(test_decode_malformed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_decode_big_maps, setup, teardown),
      cmocka_unit_test_setup_teardown(test_decode_shapes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_decode_every_truncation, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_round_trip_property, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_ext, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ext_raising, setup, teardown),
      cmocka_unit_test_setup_teardown(test_light_userdata_and_stable_messages,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_lua_functions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_encode_oom, setup, teardown),
      cmocka_unit_test(test_decode_memory),
      cmocka_unit_test_setup_teardown(test_stack_balance, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
