/* The environment a script sees. See env.h for the shape; the comments
 * here say why each piece is built the way it is. */
#include "sandbox/env.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>
#include <xxhash.h>

#include "sandbox/pattern.h"

/* Registry keys: addresses of these statics. */
static char key_host, key_libs, key_template, key_readonly, key_chunks,
    key_fallback_rng, key_views;

#define MAX_SOURCE_SIZE ((size_t)16 << 20)

/* ---- small helpers ------------------------------------------------------- */

static void reg_get(lua_State *L, void *key) {
  lua_pushlightuserdata(L, key);
  lua_rawget(L, LUA_REGISTRYINDEX);
}

static void reg_set(lua_State *L, void *key) { /* value on top */
  lua_pushlightuserdata(L, key);
  lua_insert(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
}

static const mb__sandbox_host *host_of(lua_State *L) {
  reg_get(L, &key_host);
  const mb__sandbox_host *h = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return h;
}

/* Call the function below `nargs` arguments from C with the C-stack guard.
 * Errors pass through unchanged, and a budget error stays sticky. */
static void guarded_call(lua_State *L, int nargs, int nresults) {
  mb__realm_enter_c(L);
  int rc = lua_pcall(L, nargs, nresults, 0);
  mb__realm_leave_c(L);
  if (mb__realm_budget_exhausted(L)) mb__realm_raise_budget(L);
  if (rc != 0) lua_error(L);
}

/* ---- read-only proxies --------------------------------------------------- */

static int ro_newindex(lua_State *L) {
  return luaL_error(L, "attempt to modify a read-only table");
}

/* A table read through a proxy comes out as a read-only proxy too, or a
 * package's or interface's nested tables would be writable by every script
 * that sees it. Proxies are cached per original (weak both ways), so
 * `p.t == p.t` holds. */
static void push_view(lua_State *L) { /* replaces the value on top */
  if (!lua_istable(L, -1) || mb__sandbox_is_readonly(L, -1)) return;
  reg_get(L, &key_views);
  lua_pushvalue(L, -2);
  lua_rawget(L, -2);
  if (lua_istable(L, -1)) {
    lua_replace(L, -3);
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  mb__sandbox_readonly(L, -2);
  lua_pushvalue(L, -3);
  lua_pushvalue(L, -2);
  lua_rawset(L, -4); /* views[original] = proxy */
  lua_replace(L, -3);
  lua_pop(L, 1);
}

static int get_through(lua_State *L) { /* (t, k) -> t[k] with metamethods */
  lua_gettable(L, 1);
  return 1;
}

/* __index of a proxy whose original has nested tables or a metatable. */
/* A view given back as a key (from pairs over a view) stands for its
 * original: replace the value at idx by the table it views. */
static void unview(lua_State *L, int idx) {
  if (!lua_istable(L, idx)) return;
  reg_get(L, &key_readonly);
  lua_pushvalue(L, idx);
  lua_rawget(L, -2);
  if (lua_istable(L, -1))
    lua_replace(L, idx);
  else
    lua_pop(L, 1);
  lua_pop(L, 1);
}

static int ro_index(lua_State *L) { /* (proxy, key) over upvalue 1 */
  lua_settop(L, 2);
  unview(L, 2);
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  if (lua_isnil(L, -1) && lua_getmetatable(L, lua_upvalueindex(1))) {
    /* the original's own __index may run script code: from C, guarded */
    lua_pop(L, 2);
    lua_pushcfunction(L, get_through);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 2);
    guarded_call(L, 2, 1);
  }
  push_view(L);
  return 1;
}

static int ro_next(lua_State *L) { /* (proxy, key) over upvalue 1 */
  lua_settop(L, 2);
  unview(L, 2);
  if (lua_next(L, lua_upvalueindex(1))) {
    /* keys are handed out as views too: a table key is as shared as a
     * table value (found in review) */
    push_view(L);
    lua_pushvalue(L, -2);
    push_view(L);
    lua_replace(L, -3);
    return 2;
  }
  lua_pushnil(L);
  return 1;
}

static int ro_pairs(lua_State *L) {
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, "__original");
  /* The original table stays hidden inside the iterator's upvalue. */
  lua_pushcclosure(L, ro_next, 1);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

static int ro_inext(lua_State *L) {
  lua_Integer i = luaL_checkinteger(L, 2) + 1;
  lua_pushinteger(L, i);
  lua_rawgeti(L, lua_upvalueindex(1), (int)i);
  if (lua_isnil(L, -1)) return 1;
  push_view(L);
  return 2;
}

static int ro_ipairs(lua_State *L) {
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, "__original");
  lua_pushcclosure(L, ro_inext, 1);
  lua_pushvalue(L, 1);
  lua_pushinteger(L, 0);
  return 3;
}

/* 1 when reads of `idx` need ro_index: it holds tables or has a
 * metatable. Library tables hold neither and keep the fast table __index. */
static int needs_views(lua_State *L, int idx) {
  if (lua_getmetatable(L, idx)) {
    lua_pop(L, 1);
    return 1;
  }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    /* a table value is handed out as a view; a table key comes back as one
     * and must be looked up as its original */
    int t = lua_istable(L, -1) || lua_istable(L, -2);
    lua_pop(L, 1);
    if (t) {
      lua_pop(L, 1);
      return 1;
    }
  }
  return 0;
}

void mb__sandbox_readonly(lua_State *L, int idx) {
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  luaL_checkstack(L, 8, "read-only view");
  lua_newtable(L); /* the proxy: always empty, so every write hits __newindex */
  lua_createtable(L, 0, 6);
  lua_pushvalue(L, idx);
  if (needs_views(L, idx)) lua_pushcclosure(L, ro_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, idx); /* for pairs/ipairs; hidden by __metatable */
  lua_setfield(L, -2, "__original");
  lua_pushcfunction(L, ro_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushcfunction(L, ro_pairs);
  lua_setfield(L, -2, "__pairs");
  lua_pushcfunction(L, ro_ipairs);
  lua_setfield(L, -2, "__ipairs");
  lua_pushboolean(L, 0); /* getmetatable() answers false; setmetatable fails */
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  reg_get(L, &key_readonly);
  lua_pushvalue(L, -2);
  lua_pushvalue(L, idx); /* readonly[proxy] = original: see unview */
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

int mb__sandbox_is_readonly(lua_State *L, int idx) {
  if (!lua_istable(L, idx)) return 0;
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  reg_get(L, &key_readonly);
  lua_pushvalue(L, idx);
  lua_rawget(L, -2);
  int ro = lua_toboolean(L, -1);
  lua_pop(L, 2);
  return ro;
}

/* ---- base functions with 5.2 semantics ----------------------------------- */

static int sb_pairs(lua_State *L) {
  if (luaL_getmetafield(L, 1, "__pairs")) {
    lua_pushvalue(L, 1);
    guarded_call(L, 1, 3);
    return 3;
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_pushvalue(L, lua_upvalueindex(1)); /* LuaJIT's next */
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

static int sb_ipairs(lua_State *L) {
  if (luaL_getmetafield(L, 1, "__ipairs")) {
    lua_pushvalue(L, 1);
    guarded_call(L, 1, 3);
    return 3;
  }
  luaL_checkany(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1)); /* LuaJIT's ipairs: no metamethods */
  lua_pushvalue(L, 1);
  lua_call(L, 1, 3);
  return 3;
}

static int sb_rawset(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkany(L, 2);
  luaL_checkany(L, 3);
  if (mb__sandbox_is_readonly(L, 1))
    return luaL_error(L, "attempt to modify a read-only table");
  lua_settop(L, 3);
  lua_rawset(L, 1);
  return 1;
}

static int sb_table_pack(lua_State *L) {
  int n = lua_gettop(L);
  lua_createtable(L, n, 1);
  lua_insert(L, 1);
  for (int i = n; i >= 1; i--) lua_rawseti(L, 1, i);
  lua_pushinteger(L, n);
  lua_setfield(L, 1, "n");
  return 1;
}

/* pcall must stay a LuaJIT fast function so coroutines can yield across
 * it; the wrappers are Lua and only add a check afterwards: a budget error
 * caught by pcall is raised again, and xpcall's handler runs after
 * unwinding (LuaJIT runs message handlers with hooks off, so a looping
 * handler could never be stopped). */
static const char pcall_source[] =
    "local pcall, after = ...\n"
    "local function wrapped_pcall(f, ...)\n"
    "  return after(pcall(f, ...))\n"
    "end\n"
    "local function xfinish(handler, ok, ...)\n"
    "  if ok then return true, ... end\n"
    "  local _, r = after(pcall(handler, ...))\n"
    "  return false, r\n"
    "end\n"
    "local function wrapped_xpcall(f, handler, ...)\n"
    "  return xfinish(handler, after(pcall(f, ...)))\n"
    "end\n"
    "return wrapped_pcall, wrapped_xpcall\n";

/* LuaJIT's message for a full Lua stack, with or without the position
 * prefix ("x.lua:3: stack overflow"); "C stack overflow" (our guard, where
 * the hook still runs) is an ordinary error. */
static int is_stack_overflow(lua_State *L, int idx) {
  if (lua_type(L, idx) != LUA_TSTRING) return 0;
  size_t len;
  const char *msg = lua_tolstring(L, idx, &len);
  static const char tail[] = "stack overflow";
  size_t tlen = sizeof tail - 1;
  if (len < tlen || memcmp(msg + len - tlen, tail, tlen) != 0) return 0;
  return len == tlen ||
         (len >= tlen + 2 && memcmp(msg + len - tlen - 2, ": ", 2) == 0);
}

/* Raising and unwinding an error costs microseconds of C work (LuaJIT
 * unwinds with the system unwinder) and a single VM instruction: each
 * caught error is charged this many instructions. */
#define ERROR_COST 2000

static int sb_after_pcall(lua_State *L) {
  if (mb__realm_budget_exhausted(L)) return mb__realm_raise_budget(L);
  if (!lua_toboolean(L, 1)) mb__realm_charge(L, ERROR_COST);
  /* A caught Lua stack overflow ends the call: at the stack limit the
   * count hook cannot run, so a loop that keeps catching it would starve
   * the budget forever. */
  if (!lua_toboolean(L, 1) && is_stack_overflow(L, 2))
    mb__realm_stack_overflow(L);
  return lua_gettop(L);
}

/* ---- coroutines ---------------------------------------------------------- */

/* Resume `co` with the n values on top of L's stack; leaves (ok, values…)
 * semantics to the callers. Each resume nests a C frame, hence the guard. */
static int resume_values(lua_State *L, lua_State *co, int nargs) {
  if (lua_status(co) == 0 && lua_gettop(co) == 0) {
    lua_pushliteral(L, "cannot resume dead coroutine");
    return -1;
  }
  if (lua_status(co) > LUA_YIELD) {
    lua_pushliteral(L, "cannot resume dead coroutine");
    return -1;
  }
  if (!lua_checkstack(co, nargs)) {
    lua_pushliteral(L, "too many arguments to resume");
    return -1;
  }
  lua_xmove(L, co, nargs);
  mb__realm_enter_c(L);
  int rc = lua_resume(co, nargs);
  mb__realm_leave_c(L);
  if (mb__realm_budget_exhausted(L)) mb__realm_raise_budget(L);
  if (rc == 0 || rc == LUA_YIELD) {
    int nres = lua_gettop(co);
    if (!lua_checkstack(L, nres + 1)) {
      lua_settop(co, 0);
      lua_pushliteral(L, "too many results to resume");
      return -1;
    }
    lua_xmove(co, L, nres);
    return nres;
  }
  lua_xmove(co, L, 1); /* the error object */
  mb__realm_charge(L, ERROR_COST);
  return -1;
}

static int sb_co_resume(lua_State *L) {
  lua_State *co = lua_tothread(L, 1);
  luaL_argcheck(L, co, 1, "coroutine expected");
  int n = resume_values(L, co, lua_gettop(L) - 1);
  if (n < 0) {
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushboolean(L, 1);
  lua_insert(L, -(n + 1));
  return n + 1;
}

static int sb_co_wrap_call(lua_State *L) {
  lua_State *co = lua_tothread(L, lua_upvalueindex(1));
  int n = resume_values(L, co, lua_gettop(L));
  if (n < 0) return lua_error(L);
  return n;
}

static int sb_co_wrap(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_State *co = lua_newthread(L);
  lua_pushvalue(L, 1);
  lua_xmove(L, co, 1);
  lua_pushcclosure(L, sb_co_wrap_call, 1);
  return 1;
}

/* ---- guarded library functions ------------------------------------------- */

/* string.format may call __tostring from C for %s; sort calls comparators
 * and __lt from C. Both nest C frames, so they run under the guard. */
static int sb_guarded(lua_State *L) {
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  guarded_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}

/* table.insert, remove and sort write with raw sets, which would bypass a
 * read-only proxy's __newindex and change the (shared) proxy itself. */
static void check_writable(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  if (mb__sandbox_is_readonly(L, 1))
    luaL_error(L, "attempt to modify a read-only table");
}

/* Charge the C work a string-producing function did: its result's length.
 * Most results are new strings (the allocator charged them already), but
 * an equal string that is already interned costs a hash and a compare of
 * the whole length without any allocation. */
static void charge_result(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TSTRING) mb__realm_charge(L, lua_objlen(L, idx) / 16);
}

/* tonumber(s) walks all of s in C, in one VM instruction and without
 * allocating: a loop over a huge string outran the deadline by seconds
 * (found in review). Charge its length first. */
static int sb_tonumber(lua_State *L) {
  luaL_checkany(L, 1);
  if (lua_type(L, 1) == LUA_TSTRING) mb__realm_charge(L, lua_objlen(L, 1) / 16);
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, 1);
  return 1;
}

static int sb_string_charged(lua_State *L) {
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, 1);
  charge_result(L, -1);
  return 1;
}

/* string.format: may call __tostring (guarded) and build long strings. */
static int sb_string_format(lua_State *L) {
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  guarded_call(L, n, 1);
  charge_result(L, -1);
  return 1;
}

/* Sorting is n·log n comparisons in C; without a Lua comparator the hook
 * never sees them. */
static int sb_table_sort(lua_State *L) {
  check_writable(L);
  size_t len = lua_objlen(L, 1);
  if (len > 1) mb__realm_charge(L, (uint64_t)((double)len * log2((double)len)));
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  guarded_call(L, n, 0);
  return 0;
}

/* table.maxn walks the whole table in C: done here with lua_next so every
 * slot is charged. Same result as LuaJIT's (largest positive numeric key). */
static int sb_table_maxn(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Number max = 0;
  unsigned steps = 0;
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TNUMBER) {
      lua_Number k = lua_tonumber(L, -1);
      if (k > max) max = k;
    }
    if (++steps == 1024) {
      mb__realm_charge(L, steps);
      steps = 0;
    }
  }
  mb__realm_charge(L, steps);
  lua_pushnumber(L, max);
  return 1;
}

/* table.move(a1, f, e, t [, a2]) copies with raw gets and sets in a C
 * loop: refuse a read-only destination and charge the count up front. */
static int sb_table_move(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Number f = luaL_checknumber(L, 2), e = luaL_checknumber(L, 3);
  luaL_checknumber(L, 4);
  int dest = lua_isnoneornil(L, 5) ? 1 : 5;
  if (dest == 5) luaL_checktype(L, 5, LUA_TTABLE);
  if (mb__sandbox_is_readonly(L, dest))
    return luaL_error(L, "attempt to modify a read-only table");
  if (e >= f) mb__realm_charge(L, (uint64_t)fmin(e - f + 1, 1e15));
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, 1);
  return 1;
}

static int sb_table_insert(lua_State *L) {
  check_writable(L);
  int n = lua_gettop(L);
  if (n == 3) {
    /* LuaJIT shifts every slot between pos and the end one by one, in C:
     * a far-away position would run for seconds. */
    size_t len = lua_objlen(L, 1);
    lua_Number pos = luaL_checknumber(L, 2);
    if (!(pos >= 1 && pos <= (lua_Number)len + 1))
      return luaL_argerror(L, 2, "position out of bounds");
    mb__realm_charge(L, len - (size_t)pos + 1);
  } else if (n != 2) {
    return luaL_error(L, "wrong number of arguments to 'insert'");
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, 0);
  return 0;
}

static int sb_table_remove(lua_State *L) {
  check_writable(L);
  if (!lua_isnoneornil(L, 2)) {
    size_t len = lua_objlen(L, 1);
    lua_Number pos = luaL_checknumber(L, 2);
    if (len > 0 && !(pos >= 1 && pos <= (lua_Number)len + 1))
      return luaL_argerror(L, 2, "position out of bounds");
    if (len > (size_t)pos) mb__realm_charge(L, len - (size_t)pos);
  }
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}

static int sb_string_rep(lua_State *L) {
  size_t len = 0, seplen = 0;
  luaL_checklstring(L, 1, &len);
  lua_Number n = luaL_checknumber(L, 2);
  luaL_optlstring(L, 3, "", &seplen);
  if (n > 0) {
    /* Copying is C work the hook never sees: charge it by size. */
    double bytes = n * (double)(len + seplen);
    mb__realm_charge(L, (uint64_t)(bytes / 8 > 1e15 ? 1e15 : bytes / 8));
  }
  int top = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, top, 1);
  return 1;
}

static int sb_table_concat(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  mb__realm_charge(L, lua_objlen(L, 1));
  int top = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, top, 1);
  charge_result(L, -1);
  return 1;
}

/* ---- math.random per instance -------------------------------------------- */

static uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

static uint64_t xoshiro_next(uint64_t s[4]) {
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

void mb__script_seed(mb__script *s, uint64_t seed, const char *identity) {
  uint64_t x = XXH3_64bits_withSeed(identity, strlen(identity), seed);
  for (int i = 0; i < 4; i++) { /* splitmix64 spreads one word into four */
    x += 0x9e3779b97f4a7c15u;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    s->rng[i] = z ^ (z >> 31);
  }
}

static int sb_random(lua_State *L) {
  mb__script *s = mb__realm_current(L);
  if (!s) {
    reg_get(L, &key_fallback_rng);
    s = lua_touserdata(L, -1);
    lua_pop(L, 1);
  }
  /* 53 random bits: a double uniform in [0, 1). */
  double r = (double)(xoshiro_next(s->rng) >> 11) * (1.0 / 9007199254740992.0);
  int n = lua_gettop(L);
  if (n == 0) {
    lua_pushnumber(L, r);
    return 1;
  }
  double lo = 1, hi;
  if (n == 1) {
    hi = floor(luaL_checknumber(L, 1));
  } else if (n == 2) {
    lo = floor(luaL_checknumber(L, 1));
    hi = floor(luaL_checknumber(L, 2));
  } else {
    return luaL_error(L, "wrong number of arguments");
  }
  luaL_argcheck(L, lo <= hi, n, "interval is empty");
  lua_pushnumber(L, floor(r * (hi - lo + 1)) + lo);
  return 1;
}

/* ---- print and require ---------------------------------------------------- */

static int sb_print(lua_State *L) {
  int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  lua_pushvalue(L, lua_upvalueindex(1));
  luaL_addvalue(&b);
  luaL_addchar(&b, ':');
  for (int i = 1; i <= n; i++) {
    luaL_addchar(&b, '\t');
    lua_pushvalue(L, lua_upvalueindex(2)); /* LuaJIT's tostring */
    lua_pushvalue(L, i);
    guarded_call(L, 1, 1);
    if (!lua_isstring(L, -1))
      return luaL_error(L, "'tostring' must return a string to 'print'");
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  const mb__sandbox_host *h = host_of(L);
  if (h && h->log) h->log(h->log_ud, MB_LOG_PRINT, lua_tostring(L, -1));
  return 0;
}

typedef struct script_handle {
  void *owner; /* NULL once the instance is gone */
} script_handle;

static const char *const std_libraries[] = {"coroutine", "math", "string",
                                            "table", "os", "bit", NULL};

/* Read, check and compile a chunk; pushes the function (environment not
 * yet set). Chunks are compiled once per realm as a factory
 * `return function(...) <source> end` (line numbers unchanged), so every
 * instance gets its own closure of one shared prototype. */
static mb_status compile_chunk(lua_State *L, const char *path, char *err,
                               size_t errsize) {
  reg_get(L, &key_chunks);
  lua_getfield(L, -1, path);
  if (lua_isfunction(L, -1)) {
    lua_remove(L, -2);
    return MB_OK;
  }
  lua_pop(L, 1);
  const mb__sandbox_host *h = host_of(L);
  char *src = NULL;
  size_t size = 0;
  mb_status st = mb__vfs_read(h->vfs, path, &src, &size, err, errsize);
  if (st != MB_OK) {
    lua_pop(L, 1);
    return st;
  }
  if (size > 0 && src[0] == 0x1b) {
    snprintf(err, errsize, "%s: bytecode is not allowed (text scripts only)",
             path);
    mb__vfs_release(h->vfs, src, size);
    lua_pop(L, 1);
    return MB_ECORRUPT;
  }
  if (size > MAX_SOURCE_SIZE) {
    snprintf(err, errsize, "%s: script too large (%zu bytes)", path, size);
    mb__vfs_release(h->vfs, src, size);
    lua_pop(L, 1);
    return MB_EINVAL;
  }
  char chunkname[300];
  snprintf(chunkname, sizeof chunkname, "@%s", path);
  static const char prefix[] = "return function(...) ";
  static const char suffix[] = "\nend";
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addlstring(&b, prefix, sizeof prefix - 1);
  luaL_addlstring(&b, src, size);
  luaL_addlstring(&b, suffix, sizeof suffix - 1);
  luaL_pushresult(&b);
  size_t wlen;
  const char *wrapped = lua_tolstring(L, -1, &wlen);
  int rc = luaL_loadbufferx(L, wrapped, wlen, chunkname, "t");
  if (rc != 0) {
    /* Report the error of the file as written, not of the wrapper. */
    lua_pop(L, 1);
    rc = luaL_loadbufferx(L, src, size, chunkname, "t");
    if (rc == 0) {
      lua_pop(L, 1);
      lua_pushfstring(L, "%s: cannot compile", path);
    }
  }
  mb__vfs_release(h->vfs, src, size);
  if (rc != 0) {
    snprintf(err, errsize, "%s", lua_tostring(L, -1));
    lua_pop(L, 3);
    return rc == LUA_ERRMEM ? MB_ENOMEM : MB_ECORRUPT;
  }
  lua_remove(L, -2); /* wrapped source */
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, path);
  lua_remove(L, -2); /* chunk cache */
  return MB_OK;
}

typedef struct load_args {
  const char *path;
  char *err;
  size_t errsize;
  mb_status status;
} load_args;

static int load_protected(lua_State *L) { /* (args, env) */
  load_args *a = lua_touserdata(L, 1);
  a->status = compile_chunk(L, a->path, a->err, a->errsize);
  if (a->status != MB_OK) return 0;
  /* The factory runs with the instance's environment, and the closure it
   * creates inherits it. */
  lua_pushvalue(L, 2);
  lua_setfenv(L, -2);
  lua_call(L, 0, 1);
  return 1;
}

mb_status mb__sandbox_load(lua_State *L, const char *path, int env,
                           char *err, size_t errsize) {
  char norm[256];
  mb_status st =
      mb__vfs_normalize(path, strlen(path), norm, sizeof norm, err, errsize);
  if (st != MB_OK) return st;
  load_args a = {norm, err, errsize, MB_OK};
  int top = lua_gettop(L);
  lua_pushvalue(L, env); /* before pushing: `env` may be relative */
  lua_pushcfunction(L, load_protected);
  lua_insert(L, -2);
  lua_pushlightuserdata(L, &a);
  lua_insert(L, -2);
  int rc = lua_pcall(L, 2, 1, 0);
  if (rc != 0) {
    snprintf(err, errsize, "%s: %s", norm,
             rc == LUA_ERRMEM ? "not enough memory" : lua_tostring(L, -1));
    lua_settop(L, top);
    return rc == LUA_ERRMEM ? MB_ENOMEM : MB_ERROR;
  }
  if (a.status != MB_OK) {
    lua_settop(L, top);
    return a.status;
  }
  return MB_OK;
}

void mb__sandbox_clear_chunks(lua_State *L) {
  lua_newtable(L);
  reg_set(L, &key_chunks);
}

/* Name → VFS path candidates: "a.b" → "a/b.lua", "a/b/init.lua". */
static int sb_require(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  lua_settop(L, 1);
  /* 1. standard libraries */
  for (int i = 0; std_libraries[i]; i++) {
    if (strcmp(name, std_libraries[i]) == 0) {
      reg_get(L, &key_libs);
      lua_getfield(L, -1, name);
      return 1;
    }
  }
  /* 2. API packages: a name under the prefix never reaches the VFS. */
  const mb__sandbox_host *h = host_of(L);
  script_handle *handle = lua_touserdata(L, lua_upvalueindex(1));
  if (!handle->owner) return luaL_error(L, "require: script was removed");
  size_t plen = strlen(h->api_prefix);
  int under_prefix =
      strncmp(name, h->api_prefix, plen) == 0 && name[plen] == '.';
  if (h->package && h->package(L, name, handle->owner, h->package_ud))
    return 1;
  if (under_prefix) return luaL_error(L, "module not found: %s", name);
  /* 3. files, cached per instance under the normalised name, so that
   * "A.B", "a.b" and "a/b" (one file in a case-insensitive VFS) load once. */
  size_t nlen = strlen(name);
  if (nlen == 0 || nlen > 200)
    return luaL_error(L, "bad module name '%s'", name);
  char base[256], key[256], path[300], err[512];
  for (size_t i = 0; i <= nlen; i++) base[i] = name[i] == '.' ? '/' : name[i];
  if (mb__vfs_normalize(base, nlen, key, sizeof key, err, sizeof err) != MB_OK)
    key[0] = 0; /* refused below, with the message of the full path */
  if (!lua_istable(L, lua_upvalueindex(3))) {
    lua_newtable(L);
    lua_replace(L, lua_upvalueindex(3));
  }
  lua_pushvalue(L, lua_upvalueindex(3));
  int cache = lua_gettop(L);
  lua_getfield(L, cache, key);
  if (lua_touserdata(L, -1) == &key_chunks)
    return luaL_error(L, "loop or previous error loading module '%s'", name);
  if (key[0] && !lua_isnil(L, -1)) return 1;
  lua_pop(L, 1);

  static const char *const patterns[] = {"%s.lua", "%s/init.lua"};
  mb_status st = MB_ENOTFOUND;
  for (int i = 0; i < 2 && st == MB_ENOTFOUND; i++) {
    snprintf(path, sizeof path, patterns[i], base);
    st = mb__sandbox_load(L, path, lua_upvalueindex(2), err, sizeof err);
  }
  if (st == MB_ENOTFOUND) return luaL_error(L, "module not found: %s", name);
  if (st == MB_EDENIED)
    return luaL_error(L, "bad module name '%s': %s", name, err);
  if (st != MB_OK) return luaL_error(L, "%s", err);
  /* Mark the module as loading so require cycles fail instead of looping. */
  lua_pushlightuserdata(L, &key_chunks);
  lua_setfield(L, cache, key);
  lua_pushvalue(L, 1);
  guarded_call(L, 1, 1);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, cache, key);
  return 1;
}

/* ---- building the realm --------------------------------------------------- */

static void copy_fields(lua_State *L, int from, int to,
                        const char *const *names) {
  for (int i = 0; names[i]; i++) {
    lua_getfield(L, from, names[i]);
    lua_setfield(L, to, names[i]);
  }
}

/* Copy every field of `from` into `to` but the names in `skip` (NULL or
 * NULL-terminated). */
static void copy_all_but(lua_State *L, int from, int to,
                         const char *const *skip) {
  lua_pushnil(L);
  while (lua_next(L, from)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
    int skipped = 0;
    for (int i = 0; skip && skip[i]; i++) skipped |= strcmp(k, skip[i]) == 0;
    if (skipped) {
      lua_pop(L, 1);
      continue;
    }
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, to);
  }
}

/* Wrap field `name` of table `t` with `fn`, which gets the original as
 * upvalue 1. */
static void wrap_field(lua_State *L, int t, const char *name,
                       lua_CFunction fn) {
  lua_getfield(L, t, name);
  lua_pushcclosure(L, fn, 1);
  lua_setfield(L, t, name);
}

static void open_lib(lua_State *L, lua_CFunction open, const char *name) {
  lua_pushcfunction(L, open);
  lua_pushstring(L, name);
  lua_call(L, 1, 0);
}

/* Put the sanitized library table on top into libs[name] (as a proxy) and
 * into the template. */
static void publish_library(lua_State *L, int libs, int template,
                            const char *name) {
  mb__sandbox_readonly(L, -1);
  lua_pushvalue(L, -1);
  lua_setfield(L, libs, name);
  lua_setfield(L, template, name);
  lua_pop(L, 1);
}

static int open_protected(lua_State *L) {
  const mb__sandbox_host *host = lua_touserdata(L, 1);
  lua_settop(L, 0);
  lua_pushlightuserdata(L, (void *)host);
  reg_set(L, &key_host);
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  reg_set(L, &key_readonly);
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "kv");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  reg_set(L, &key_views);
  mb__sandbox_clear_chunks(L);
  mb__script *fallback = lua_newuserdata(L, sizeof *fallback);
  mb__script_seed(fallback, 0, "realm");
  reg_set(L, &key_fallback_rng);

  /* Libraries one by one: luaL_openlibs would preload ffi, jit.* and
   * friends. */
  open_lib(L, luaopen_base, "");
  open_lib(L, luaopen_string, LUA_STRLIBNAME);
  open_lib(L, luaopen_table, LUA_TABLIBNAME);
  open_lib(L, luaopen_math, LUA_MATHLIBNAME);
  open_lib(L, luaopen_os, LUA_OSLIBNAME);
  open_lib(L, luaopen_bit, LUA_BITLIBNAME);

  lua_newtable(L);
  int libs = lua_gettop(L);
  lua_createtable(L, 0, 32);
  int template = lua_gettop(L);
  lua_pushvalue(L, LUA_GLOBALSINDEX);
  int g = lua_gettop(L);

  static const char *const base_names[] = {
      "assert", "error",    "next",   "select",       "tonumber",
      "tostring", "type",   "unpack", "rawequal",     "rawget",
      "getmetatable", "setmetatable", NULL};
  copy_fields(L, g, template, base_names);
  /* tostring calls __tostring from C: one nested C frame per level. */
  wrap_field(L, template, "tostring", sb_guarded);
  /* tonumber scans its whole string in C within one instruction */
  wrap_field(L, template, "tonumber", sb_tonumber);
  lua_getfield(L, g, "next");
  lua_pushcclosure(L, sb_pairs, 1);
  lua_setfield(L, template, "pairs");
  lua_getfield(L, g, "ipairs");
  lua_pushcclosure(L, sb_ipairs, 1);
  lua_setfield(L, template, "ipairs");
  lua_pushcfunction(L, sb_rawset);
  lua_setfield(L, template, "rawset");
  lua_pushliteral(L, LUA_VERSION);
  lua_setfield(L, template, "_VERSION");

  if (luaL_loadbuffer(L, pcall_source, sizeof pcall_source - 1, "=pcall"))
    lua_error(L);
  lua_getfield(L, g, "pcall");
  lua_pushcfunction(L, sb_after_pcall);
  lua_call(L, 2, 2);
  lua_setfield(L, template, "xpcall");
  lua_setfield(L, template, "pcall");

  /* string: no dump; our pattern matcher (budgeted, with %g). */
  lua_getfield(L, g, "string");
  int real_string = lua_gettop(L);
  lua_createtable(L, 0, 16);
  int string = lua_gettop(L);
  static const char *const string_names[] = {
      "byte", "char", "find",    "format", "gmatch", "gsub", "len",
      "lower", "match", "rep", "reverse", "sub",    "upper", NULL};
  copy_fields(L, real_string, string, string_names);
  mb__pattern_register(L, string);
  wrap_field(L, string, "format", sb_string_format);
  wrap_field(L, string, "rep", sb_string_rep);
  wrap_field(L, string, "upper", sb_string_charged);
  wrap_field(L, string, "lower", sb_string_charged);
  wrap_field(L, string, "reverse", sb_string_charged);
  wrap_field(L, string, "sub", sb_string_charged);
  /* Strings index the sanitized table; getmetatable("") answers false. */
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1);
  lua_pushvalue(L, string);
  lua_setfield(L, -2, "__index");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 2);
  publish_library(L, libs, template, "string");
  lua_pop(L, 1); /* real string */

  lua_getfield(L, g, "table");
  int real_table = lua_gettop(L);
  lua_createtable(L, 0, 10);
  int table = lua_gettop(L);
  static const char *const table_names[] = {"concat", "insert", "maxn",
                                            "remove", "sort",   "move", NULL};
  copy_fields(L, real_table, table, table_names);
  wrap_field(L, table, "sort", sb_table_sort);
  lua_pushcfunction(L, sb_table_maxn);
  lua_setfield(L, table, "maxn");
  wrap_field(L, table, "insert", sb_table_insert);
  wrap_field(L, table, "move", sb_table_move);
  wrap_field(L, table, "remove", sb_table_remove);
  wrap_field(L, table, "concat", sb_table_concat);
  lua_getfield(L, g, "unpack");
  lua_setfield(L, table, "unpack");
  lua_pushcfunction(L, sb_table_pack);
  lua_setfield(L, table, "pack");
  publish_library(L, libs, template, "table");
  lua_pop(L, 1);

  lua_getfield(L, g, "math");
  int real_math = lua_gettop(L);
  lua_createtable(L, 0, 32);
  int math = lua_gettop(L);
  static const char *const not_math[] = {"randomseed", "random", NULL};
  copy_all_but(L, real_math, math, not_math);
  lua_pushcfunction(L, sb_random);
  lua_setfield(L, math, "random");
  publish_library(L, libs, template, "math");
  lua_pop(L, 1);

  lua_getfield(L, g, "os");
  int real_os = lua_gettop(L);
  lua_createtable(L, 0, 3);
  static const char *const os_names[] = {"date", "difftime", "time", NULL};
  copy_fields(L, real_os, lua_gettop(L), os_names);
  publish_library(L, libs, template, "os");
  lua_pop(L, 1);

  lua_getfield(L, g, "coroutine");
  int real_co = lua_gettop(L);
  lua_createtable(L, 0, 8);
  int co = lua_gettop(L);
  static const char *const co_names[] = {"create", "yield", "status",
                                         "running", "isyieldable", NULL};
  copy_fields(L, real_co, co, co_names);
  lua_pushcfunction(L, sb_co_resume);
  lua_setfield(L, co, "resume");
  lua_pushcfunction(L, sb_co_wrap);
  lua_setfield(L, co, "wrap");
  publish_library(L, libs, template, "coroutine");
  lua_pop(L, 1);

  lua_getfield(L, g, "bit");
  int real_bit = lua_gettop(L);
  lua_createtable(L, 0, 12);
  int bit = lua_gettop(L);
  copy_all_but(L, real_bit, bit, NULL);
  publish_library(L, libs, template, "bit");
  lua_pop(L, 1);

  lua_pushvalue(L, template);
  reg_set(L, &key_template);
  lua_pushvalue(L, libs);
  reg_set(L, &key_libs);
  return 0;
}

mb_status mb__sandbox_open(mb__realm *realm, const mb__sandbox_host *host) {
  return mb__realm_pcall_trusted(realm, open_protected, (void *)host);
}

void mb__sandbox_new_env(lua_State *L, const char *label, void *owner,
                         int *handle_ref) {
  reg_get(L, &key_template);
  int template = lua_gettop(L);
  lua_createtable(L, 0, 32);
  int env = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, template)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, env);
  }
  lua_pushvalue(L, env);
  lua_setfield(L, env, "_G");

  lua_pushstring(L, label);
  lua_getfield(L, template, "tostring");
  lua_pushcclosure(L, sb_print, 2);
  lua_setfield(L, env, "print");

  script_handle *handle = lua_newuserdata(L, sizeof *handle);
  handle->owner = owner;
  lua_pushvalue(L, -1);
  *handle_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, env);
  lua_pushboolean(L, 0); /* require's cache: made by the first require */
  lua_pushcclosure(L, sb_require, 3);
  lua_setfield(L, env, "require");
  lua_remove(L, template);
}

void *mb__sandbox_handle_owner(lua_State *L, int idx) {
  script_handle *handle = lua_touserdata(L, idx);
  return handle ? handle->owner : NULL;
}

void mb__sandbox_freeze(lua_State *L, int idx) {
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  if (!lua_istable(L, idx) || mb__sandbox_is_readonly(L, idx)) {
    lua_pushvalue(L, idx);
    return;
  }
  luaL_checkstack(L, 8, "nesting too deep");
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_istable(L, -1)) {
      mb__sandbox_freeze(L, -1);
      lua_pushvalue(L, -3);
      lua_insert(L, -2);
      lua_rawset(L, idx); /* replacing an existing key keeps lua_next valid */
    }
    lua_pop(L, 1);
  }
  mb__sandbox_readonly(L, idx);
}

void mb__sandbox_release_owner(lua_State *L, int handle_ref) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, handle_ref);
  script_handle *handle = lua_touserdata(L, -1);
  if (handle) handle->owner = NULL;
  lua_pop(L, 1);
  luaL_unref(L, LUA_REGISTRYINDEX, handle_ref);
}
