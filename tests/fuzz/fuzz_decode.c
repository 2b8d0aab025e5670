/* Fuzz the value decoder: any bytes must give a value or a clean
 * "byte N: ..." error, never a crash, leak or stack imbalance; and a
 * decoded value must re-encode, with encode(decode(.)) a fixpoint. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serializer/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A stand-in engine value (ext type 1): a table holding the raw payload. */
static const char *blob_encode(lua_State *L, int idx, mb__buf *out, void *ud) {
  (void)ud;
  size_t n;
  lua_rawgeti(L, idx, 1);
  const char *s = lua_tolstring(L, -1, &n);
  if (!s) return "no payload";
  return mb__buf_append(out, s, n) ? mb__ext_nomem : NULL;
}

static const char *blob_decode(lua_State *L, const uint8_t *p, size_t n,
                               void *ud) {
  (void)ud;
  if (n > 0 && p[0] == 0xee) return "payload starts with 0xee";
  lua_createtable(L, 1, 0);
  lua_pushlstring(L, (const char *)p, n);
  lua_rawseti(L, -2, 1);
  lua_pushlightuserdata(L, (void *)&blob_encode);
  lua_rawget(L, LUA_REGISTRYINDEX);
  lua_setmetatable(L, -2);
  return NULL;
}

static lua_State *state(void) {
  static lua_State *L;
  if (L) return L;
  L = luaL_newstate();
  luaL_openlibs(L);
  lua_newtable(L);
  lua_pushlightuserdata(L, (void *)&blob_encode);
  lua_pushvalue(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
  if (mb__ext_register(L, 1, "blob", -1, blob_encode, blob_decode, NULL))
    abort();
  lua_settop(L, 0);
  return L;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static unsigned runs;
  lua_State *L = state();
  mb_codec_options opt;
  mb_codec_options_init(&opt);
  opt.max_depth = 1 + (size % 64 == 7 ? 3u : 63u);
  mb_status st = mb_decode(L, data, size, &opt);
  if (lua_gettop(L) != 1) abort();
  if (st != MB_OK) {
    const char *m = lua_tostring(L, -1);
    if (st != MB_ECORRUPT || !m || strncmp(m, "byte ", 5) != 0) abort();
  } else {
    mb__buf a, b;
    mb__buf_init(&a, NULL, NULL);
    mb__buf_init(&b, NULL, NULL);
    if (mb__encode(L, 1, &opt, &a) != MB_OK) abort();
    if (mb__decode(L, a.data, a.len, &opt) != MB_OK) abort();
    if (mb__encode(L, 2, &opt, &b) != MB_OK) abort();
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) abort();
    mb__buf_free(&a);
    mb__buf_free(&b);
  }
  lua_settop(L, 0);
  if (++runs % 1024 == 0) lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}
