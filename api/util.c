/* <prefix>.util: vectors (immutable, serializable), makeReadOnly, clamp,
 * round. */
#include <math.h>
#include <string.h>

#include <lauxlib.h>

#include "api/api.h"
#include "serializer/codec.h"

static char key_vec2, key_vec3;

typedef struct vec {
  double v[3];
} vec;

static vec *push_vec(lua_State *L, int n, const double *v) {
  vec *p = lua_newuserdata(L, sizeof *p);
  memset(p, 0, sizeof *p);
  memcpy(p->v, v, (size_t)n * sizeof *v);
  lua_pushlightuserdata(L, n == 2 ? (void *)&key_vec2 : (void *)&key_vec3);
  lua_rawget(L, LUA_REGISTRYINDEX);
  lua_setmetatable(L, -2);
  return p;
}

void mb__push_vector3(lua_State *L, const double v[3]) {
  push_vec(L, 3, v);
}

/* The dimension of the vector at idx (0 if it is not one). */
static int vec_dim(lua_State *L, int idx) {
  if (!lua_getmetatable(L, idx)) return 0;
  lua_pushlightuserdata(L, &key_vec2);
  lua_rawget(L, LUA_REGISTRYINDEX);
  int n = lua_rawequal(L, -1, -2) ? 2 : 0;
  lua_pop(L, 1);
  if (!n) {
    lua_pushlightuserdata(L, &key_vec3);
    lua_rawget(L, LUA_REGISTRYINDEX);
    n = lua_rawequal(L, -1, -2) ? 3 : 0;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return n;
}

static vec *check_vec(lua_State *L, int idx, int n) {
  if (vec_dim(L, idx) != n) {
    const char *want = n == 2 ? "vector2" : "vector3";
    luaL_typerror(L, idx, want);
  }
  return lua_touserdata(L, idx);
}

void mb__check_vector3(lua_State *L, int idx, double out[3]) {
  memcpy(out, check_vec(L, idx, 3)->v, 3 * sizeof *out);
}

static int new_vec2(lua_State *L) {
  double v[2] = {luaL_checknumber(L, 1), luaL_checknumber(L, 2)};
  push_vec(L, 2, v);
  return 1;
}

static int new_vec3(lua_State *L) {
  double v[3] = {luaL_checknumber(L, 1), luaL_checknumber(L, 2),
                 luaL_checknumber(L, 3)};
  push_vec(L, 3, v);
  return 1;
}

/* Arithmetic: the dimension comes from whichever operand is a vector. */
static int operand_dim(lua_State *L) {
  int n = vec_dim(L, 1);
  return n ? n : vec_dim(L, 2);
}

static int vec_add(lua_State *L) {
  int n = operand_dim(L);
  vec *a = check_vec(L, 1, n), *b = check_vec(L, 2, n);
  double r[3];
  for (int i = 0; i < 3; i++) r[i] = a->v[i] + b->v[i];
  push_vec(L, n, r);
  return 1;
}

static int vec_sub(lua_State *L) {
  int n = operand_dim(L);
  vec *a = check_vec(L, 1, n), *b = check_vec(L, 2, n);
  double r[3];
  for (int i = 0; i < 3; i++) r[i] = a->v[i] - b->v[i];
  push_vec(L, n, r);
  return 1;
}

/* v * k, k * v, and v * w (dot product), as OpenMW does. */
static int vec_mul(lua_State *L) {
  int n = operand_dim(L);
  if (vec_dim(L, 1) && vec_dim(L, 2)) {
    vec *a = check_vec(L, 1, n), *b = check_vec(L, 2, n);
    lua_pushnumber(L, a->v[0] * b->v[0] + a->v[1] * b->v[1] + a->v[2] * b->v[2]);
    return 1;
  }
  int vi = vec_dim(L, 1) ? 1 : 2;
  vec *a = check_vec(L, vi, n);
  double k = luaL_checknumber(L, vi == 1 ? 2 : 1), r[3];
  for (int i = 0; i < 3; i++) r[i] = a->v[i] * k;
  push_vec(L, n, r);
  return 1;
}

static int vec_div(lua_State *L) {
  int n = vec_dim(L, 1);
  vec *a = check_vec(L, 1, n ? n : 3);
  double k = luaL_checknumber(L, 2), r[3];
  for (int i = 0; i < 3; i++) r[i] = a->v[i] / k;
  push_vec(L, n, r);
  return 1;
}

static int vec_unm(lua_State *L) {
  int n = vec_dim(L, 1);
  vec *a = check_vec(L, 1, n);
  double r[3] = {-a->v[0], -a->v[1], -a->v[2]};
  push_vec(L, n, r);
  return 1;
}

static int vec_eq(lua_State *L) {
  int n = vec_dim(L, 1);
  vec *a = lua_touserdata(L, 1), *b = lua_touserdata(L, 2);
  lua_pushboolean(L, n && n == vec_dim(L, 2) &&
                         memcmp(a->v, b->v, sizeof a->v) == 0);
  return 1;
}

static int vec_tostring(lua_State *L) {
  int n = vec_dim(L, 1);
  vec *a = check_vec(L, 1, n);
  if (n == 2)
    lua_pushfstring(L, "(%f, %f)", a->v[0], a->v[1]);
  else
    lua_pushfstring(L, "(%f, %f, %f)", a->v[0], a->v[1], a->v[2]);
  return 1;
}

static int vec_length(lua_State *L) {
  vec *a = check_vec(L, 1, vec_dim(L, 1) ? vec_dim(L, 1) : 3);
  lua_pushnumber(L, sqrt(a->v[0] * a->v[0] + a->v[1] * a->v[1] + a->v[2] * a->v[2]));
  return 1;
}

static int vec_length2(lua_State *L) {
  vec *a = check_vec(L, 1, vec_dim(L, 1) ? vec_dim(L, 1) : 3);
  lua_pushnumber(L, a->v[0] * a->v[0] + a->v[1] * a->v[1] + a->v[2] * a->v[2]);
  return 1;
}

static int vec_normalize(lua_State *L) {
  int n = vec_dim(L, 1);
  vec *a = check_vec(L, 1, n ? n : 3);
  double len = sqrt(a->v[0] * a->v[0] + a->v[1] * a->v[1] + a->v[2] * a->v[2]);
  double r[3] = {0, 0, 0};
  if (len > 0)
    for (int i = 0; i < 3; i++) r[i] = a->v[i] / len;
  push_vec(L, n, r);
  lua_pushnumber(L, len);
  return 2;
}

static int vec_dot(lua_State *L) {
  int n = vec_dim(L, 1);
  vec *a = check_vec(L, 1, n ? n : 3), *b = check_vec(L, 2, n ? n : 3);
  lua_pushnumber(L, a->v[0] * b->v[0] + a->v[1] * b->v[1] + a->v[2] * b->v[2]);
  return 1;
}

static int vec_cross(lua_State *L) {
  vec *a = check_vec(L, 1, 3), *b = check_vec(L, 2, 3);
  double r[3] = {a->v[1] * b->v[2] - a->v[2] * b->v[1],
                 a->v[2] * b->v[0] - a->v[0] * b->v[2],
                 a->v[0] * b->v[1] - a->v[1] * b->v[0]};
  push_vec(L, 3, r);
  return 1;
}

static int vec_index(lua_State *L) {
  int n = vec_dim(L, 1);
  vec *a = lua_touserdata(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k && k[0] && !k[1] && k[0] >= 'x' && k[0] < 'x' + n) {
    lua_pushnumber(L, a->v[k[0] - 'x']);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1)); /* methods */
  return 1;
}

static int vec_newindex(lua_State *L) {
  return luaL_error(L, "vectors are immutable");
}

static const char *vec_encode(lua_State *L, int idx, mb__buf *out, void *ud) {
  int n = (int)(intptr_t)ud;
  vec *a = lua_touserdata(L, idx);
  uint8_t bytes[24];
  for (int i = 0; i < n; i++) {
    uint64_t u;
    memcpy(&u, &a->v[i], 8);
    for (int b = 0; b < 8; b++) bytes[i * 8 + b] = (uint8_t)(u >> (56 - 8 * b));
  }
  return mb__buf_append(out, bytes, (size_t)n * 8) ? mb__ext_nomem : NULL;
}

static const char *vec_decode(lua_State *L, const uint8_t *p, size_t size,
                              void *ud) {
  int n = (int)(intptr_t)ud;
  if (size != (size_t)n * 8) return "bad vector payload";
  double v[3] = {0, 0, 0};
  for (int i = 0; i < n; i++) {
    uint64_t u = 0;
    for (int b = 0; b < 8; b++) u = (u << 8) | p[i * 8 + b];
    memcpy(&v[i], &u, 8);
  }
  push_vec(L, n, v);
  return NULL;
}

void mb__api_util_open_realm(lua_State *L) {
  static const luaL_Reg meta[] = {
      {"__add", vec_add},   {"__sub", vec_sub},           {"__mul", vec_mul},
      {"__div", vec_div},   {"__unm", vec_unm},           {"__eq", vec_eq},
      {"__tostring", vec_tostring}, {"__newindex", vec_newindex}, {NULL, NULL}};
  static const luaL_Reg methods[] = {
      {"length", vec_length}, {"length2", vec_length2},
      {"normalize", vec_normalize}, {"dot", vec_dot}, {NULL, NULL}};
  for (int n = 2; n <= 3; n++) {
    lua_newtable(L);
    int mt = lua_gettop(L);
    luaL_register(L, NULL, meta);
    lua_newtable(L);
    luaL_register(L, NULL, methods);
    if (n == 3) {
      lua_pushcfunction(L, vec_cross);
      lua_setfield(L, -2, "cross");
    }
    lua_pushcclosure(L, vec_index, 1);
    lua_setfield(L, mt, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, mt, "__metatable");
    lua_pushlightuserdata(L, n == 2 ? (void *)&key_vec2 : (void *)&key_vec3);
    lua_pushvalue(L, mt);
    lua_rawset(L, LUA_REGISTRYINDEX);
    if (mb__ext_register(L, n == 2 ? MB__EXT_VECTOR2 : MB__EXT_VECTOR3,
                         n == 2 ? "vector2" : "vector3", mt, vec_encode,
                         vec_decode, (void *)(intptr_t)n) != MB_OK)
      luaL_error(L, "cannot register the vector types");
    lua_pop(L, 1);
  }
}

static int util_make_read_only(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  mb__sandbox_readonly(L, 1);
  return 1;
}

static int util_clamp(lua_State *L) {
  double x = luaL_checknumber(L, 1), lo = luaL_checknumber(L, 2),
         hi = luaL_checknumber(L, 3);
  lua_pushnumber(L, x < lo ? lo : x > hi ? hi : x);
  return 1;
}

static int util_round(lua_State *L) {
  lua_pushnumber(L, floor(luaL_checknumber(L, 1) + 0.5));
  return 1;
}

int mb__api_util_open(lua_State *L, void *ud) {
  (void)ud;
  static const luaL_Reg fns[] = {{"vector2", new_vec2},
                                 {"vector3", new_vec3},
                                 {"makeReadOnly", util_make_read_only},
                                 {"clamp", util_clamp},
                                 {"round", util_round},
                                 {NULL, NULL}};
  lua_newtable(L);
  luaL_register(L, NULL, fns);
  return 1;
}
