/* Differential fuzzing of sandbox/pattern.c against LuaJIT's own
 * string.find/match/gmatch/gsub.
 *
 * Input: byte 0 picks the operation (low 3 bits) and a small number (high
 * 5 bits, -8..23) used as find/match's init or gsub's max n; byte 1 is the
 * subject length (mod 65), then the subject; the next byte is the pattern
 * length (mod 33), then the pattern; what is left (at most 16 bytes) is
 * the replacement for gsub.
 *
 * The same driver chunk runs in a plain LuaJIT state (the reference) and in
 * a realm with our functions installed and a modest budget. Ours runs
 * first: when it runs out of budget the input is skipped, which also keeps
 * the unbudgeted reference away from exponential backtracking. Results
 * (serialised) and error messages (raised on the same line of the same
 * chunk, so even the position prefix agrees) must be identical. The
 * Lua-free core (mb__pattern_search) is also checked against the
 * reference's string.find. Any difference abort()s. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <luajit.h>
#include <lualib.h>

#include "sandbox/pattern.h"
#include "sandbox/realm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SUBJECT 64
#define MAX_PATTERN 32
#define MAX_REPL 16
#define BUDGET 300000

/* Returns a function(op, s, p, r, n) -> ok, text. */
static const char driver[] =
    "local find, match, gmatch, gsub = string.find, string.match,\n"
    "  string.gmatch, string.gsub\n"
    "local format, concat, select, type, tostring, pcall =\n"
    "  string.format, table.concat, select, type, tostring, pcall\n"
    "local function R(...)\n"
    "  local t = {}\n"
    "  for i = 1, select('#', ...) do\n"
    "    local v = select(i, ...)\n"
    "    t[i] = type(v) == 'string' and format('%q', v)\n"
    "           or type(v) .. ':' .. tostring(v)\n"
    "  end\n"
    "  return select('#', ...) .. '[' .. concat(t, ',') .. ']'\n"
    "end\n"
    "local function step(...)\n"
    "  if (...) == nil then return nil end\n"
    "  return R(...)\n"
    "end\n"
    "local calls\n"
    "local function cb(...)\n"
    "  calls = calls + 1\n"
    "  if calls % 3 == 0 then return nil end\n"
    "  if calls % 5 == 0 then return calls end\n"
    "  if calls % 7 == 0 then error('cb' .. calls) end\n"
    "  if calls % 11 == 0 then return {} end\n"
    "  return R(...)\n"
    "end\n"
    "local function run(op, s, p, r, n)\n"
    "  if op == 0 then return R(find(s, p))\n"
    "  elseif op == 1 then return R(find(s, p, n))\n"
    "  elseif op == 2 then return R(find(s, p, n, true))\n"
    "  elseif op == 3 then return R(match(s, p, n))\n"
    "  elseif op == 4 then\n"
    "    local out, it = {}, gmatch(s, p)\n"
    "    while #out < 100 do\n"
    "      local x = step(it())\n"
    "      if not x then break end\n"
    "      out[#out + 1] = x\n"
    "    end\n"
    "    return concat(out, ';')\n"
    "  elseif op == 5 then return R(gsub(s, p, r, n))\n"
    "  elseif op == 6 then\n"
    "    local t = {}\n"
    "    for i = 1, #r do t[r:sub(i, i)] = r:sub(i) end\n"
    "    t[r:sub(1, 1)] = false\n"
    "    if #r % 2 == 1 then\n"
    "      calls = 0\n"
    "      t = setmetatable({}, {__index = function(_, k) return cb(k) end})\n"
    "    end\n"
    "    return R(gsub(s, p, t, n))\n"
    "  else calls = 0 return R(gsub(s, p, cb, n))\n"
    "  end\n"
    "end\n"
    "return function(...) return pcall(run, ...) end\n";

static lua_State *ref_L;
static mb__realm *realm;

static void fatal(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_pattern: %s: %s\n", what, detail ? detail : "");
  abort();
}

static void open_lib(lua_State *L, lua_CFunction f) {
  lua_pushcfunction(L, f);
  lua_call(L, 0, 0);
}

/* Leaves the driver function in the registry under "fuzz_pattern". */
static void load_driver(lua_State *L) {
  if (luaL_loadbuffer(L, driver, sizeof driver - 1, "=drv"))
    fatal("load", lua_tostring(L, -1));
  lua_call(L, 0, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_pattern");
}

static void setup(void) {
  ref_L = luaL_newstate();
  if (!ref_L) fatal("luaL_newstate", NULL);
  luaL_openlibs(ref_L);
  luaJIT_setmode(ref_L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
  load_driver(ref_L);

  mb_realm_limits limits;
  memset(&limits, 0, sizeof limits);
  limits.instruction_budget = BUDGET;
  realm = mb__realm_new("fuzz", &limits, NULL, NULL);
  if (!realm) fatal("mb__realm_new", NULL);
  lua_State *L = mb__realm_lua(realm);
  open_lib(L, luaopen_base);
  open_lib(L, luaopen_string);
  open_lib(L, luaopen_table);
  lua_settop(L, 0);
  lua_getglobal(L, "string");
  mb__pattern_register(L, -1);
  lua_pop(L, 1);
  load_driver(L);
}

typedef struct input {
  int op, n;
  const char *s, *p, *r;
  size_t slen, plen, rlen;
} input;

static void push_args(lua_State *L, const input *in) {
  lua_getfield(L, LUA_REGISTRYINDEX, "fuzz_pattern");
  lua_pushinteger(L, in->op);
  lua_pushlstring(L, in->s, in->slen);
  lua_pushlstring(L, in->p, in->plen);
  lua_pushlstring(L, in->r, in->rlen);
  if (in->n == 0)
    lua_pushnil(L);
  else
    lua_pushinteger(L, in->n);
}

/* The Lua-free core against the reference's string.find(s, p). */
static void check_core(const input *in) {
  lua_State *L = ref_L;
  int top = lua_gettop(L);
  lua_getglobal(L, "string");
  lua_getfield(L, -1, "find");
  lua_pushlstring(L, in->s, in->slen);
  lua_pushlstring(L, in->p, in->plen);
  int rc = lua_pcall(L, 2, 2, 0);

  mb__matcher m;
  size_t a = 0, b = 0;
  const char *nul = memchr(in->p, '\0', in->plen);
  mb__matcher_init(&m, in->s, in->slen, in->p,
                   nul ? (size_t)(nul - in->p) : in->plen, NULL, NULL);
  int special = 0;
  for (size_t i = 0; i < in->plen; i++)
    if (in->p[i] && strchr("^$*+?.([%-", in->p[i])) special = 1;
  /* Without special bytes find does a plain search: nothing to compare. */
  int found = special ? mb__pattern_search(&m, 0, &a, &b) : -2;

  if (found == -2) {
    /* skip */
  } else if (rc != 0) {
    if (found != -1 ||
        strcmp(lua_tostring(L, -1), mb__pattern_strerror(m.error)) != 0) {
      /* Raised while pushing the captures, after the core matched. */
      if (!(found == 1 &&
            strcmp(lua_tostring(L, -1), "unfinished capture") == 0))
        fatal("core error differs", lua_tostring(L, -1));
    }
  } else if (lua_isnil(L, -2)) {
    if (found != 0) fatal("core found a match LuaJIT does not", NULL);
  } else {
    if (found != 1 || (lua_Integer)a + 1 != lua_tointeger(L, -2) ||
        (lua_Integer)b != lua_tointeger(L, -1))
      fatal("core match differs", NULL);
  }
  lua_settop(L, top);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!ref_L) setup();
  if (size < 3) return 0;
  input in;
  in.op = data[0] & 7;
  in.n = (int)(data[0] >> 3) - 8;
  size_t pos = 1;
  in.slen = data[pos++] % (MAX_SUBJECT + 1);
  if (in.slen > size - pos) in.slen = size - pos;
  in.s = (const char *)data + pos;
  pos += in.slen;
  if (pos >= size) return 0;
  in.plen = data[pos++] % (MAX_PATTERN + 1);
  if (in.plen > size - pos) in.plen = size - pos;
  in.p = (const char *)data + pos;
  pos += in.plen;
  in.rlen = size - pos > MAX_REPL ? MAX_REPL : size - pos;
  in.r = (const char *)data + pos;

  /* Ours first, under the budget. */
  lua_State *L = mb__realm_lua(realm);
  push_args(L, &in);
  mb_status st = mb__realm_call(realm, 5, 2, NULL, NULL);
  if (st == MB_EBUDGET) return 0;
  if (st != MB_OK) fatal("realm call failed", mb__realm_error(realm));
  int our_ok = lua_toboolean(L, -2);
  size_t our_len;
  const char *our_text = lua_tolstring(L, -1, &our_len);

  lua_State *R = ref_L;
  push_args(R, &in);
  if (lua_pcall(R, 5, 2, 0))
    fatal("reference driver failed", lua_tostring(R, -1));
  int ref_ok = lua_toboolean(R, -2);
  size_t ref_len;
  const char *ref_text = lua_tolstring(R, -1, &ref_len);

  if (!our_text || !ref_text || our_ok != ref_ok || our_len != ref_len ||
      memcmp(our_text, ref_text, our_len) != 0) {
    fprintf(stderr, "op %d n %d\nLuaJIT: %d %s\nours:   %d %s\n", in.op, in.n,
            ref_ok, ref_text ? ref_text : "(null)", our_ok,
            our_text ? our_text : "(null)");
    fatal("results differ", NULL);
  }
  lua_settop(L, 0);
  lua_settop(R, 0);

  if (in.op == 0) check_core(&in);
  return 0;
}
