/* Object handles (by id: safe after the object is gone, serializable),
 * <prefix>.world and <prefix>.self. */
#include <string.h>

#include <lauxlib.h>

#include "api/api.h"
#include "serializer/codec.h"

static char key_object;

typedef struct handle {
  size_t len;
  char id[1]; /* len + 1 bytes */
} handle;

void mb__push_object(lua_State *L, const char *id) {
  size_t len = strlen(id);
  handle *h = lua_newuserdata(L, offsetof(handle, id) + len + 1);
  h->len = len;
  memcpy(h->id, id, len + 1);
  lua_pushlightuserdata(L, &key_object);
  lua_rawget(L, LUA_REGISTRYINDEX);
  lua_setmetatable(L, -2);
}

static handle *check_handle(lua_State *L, int idx) {
  int ok = 0;
  if (lua_getmetatable(L, idx)) {
    lua_pushlightuserdata(L, &key_object);
    lua_rawget(L, LUA_REGISTRYINDEX);
    ok = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
  }
  if (!ok) luaL_typerror(L, idx, "object");
  return lua_touserdata(L, idx);
}

/* The object behind a handle, or a Lua error naming it. */
static mb__object *live_object(lua_State *L, handle *h) {
  mb__object *o = mb__vm_object(mb__vm_of(L), h->id);
  if (!o) luaL_error(L, "object '%s' does not exist", h->id);
  return o;
}

/* The script running now (the gate's caller set it). */
static mb__instance *caller(lua_State *L) {
  mb__instance *inst = mb__realm_current(L);
  if (!inst) luaL_error(L, "no script is running");
  return inst;
}

static void require_global(lua_State *L, const char *what) {
  if (caller(L)->container->context != MB_VISIBLE_GLOBAL)
    luaL_error(L, "%s is available to global scripts only", what);
}

static int obj_is_active(lua_State *L) {
  handle *h = check_handle(L, 1);
  mb__object *o = mb__vm_object(mb__vm_of(L), h->id);
  lua_pushboolean(L, o && o->active);
  return 1;
}

static int obj_is_valid(lua_State *L) {
  handle *h = check_handle(L, 1);
  lua_pushboolean(L, mb__vm_object(mb__vm_of(L), h->id) != NULL);
  return 1;
}

/* Serialize argument `idx` (or nothing) into bytes the VM owns. */
static void encode_arg(lua_State *L, int idx, const char *root, mb__bytes *out) {
  mb_vm *vm = mb__vm_of(L);
  out->data = NULL;
  out->size = 0;
  if (lua_isnoneornil(L, idx)) return;
  mb_codec_options opt;
  mb_codec_options_init(&opt);
  opt.root_name = root;
  void *data = NULL;
  size_t size = 0;
  if (mb_encode(L, idx, &opt, mb__vm_alloc_cb, vm, &data, &size) != MB_OK)
    lua_error(L);
  out->data = data;
  out->size = size;
}

static int obj_send_event(lua_State *L) {
  handle *h = check_handle(L, 1);
  live_object(L, h);
  mb__api_send_event(L, h->id, 2, 3);
  return 0;
}

static int obj_add_script(lua_State *L) {
  handle *h = check_handle(L, 1);
  const char *path = luaL_checkstring(L, 2);
  require_global(L, "addScript");
  mb_vm *vm = mb__vm_of(L);
  live_object(L, h);
  mb__bytes init;
  encode_arg(L, 3, "initData", &init);
  mb_status st = mb_vm_add_script(vm, h->id, path, init.data, init.size);
  if (init.data) mb__vm_alloc(vm, init.data, init.size, 0);
  if (st != MB_OK) return luaL_error(L, "%s", mb_vm_error(vm));
  return 0;
}

static int obj_remove_script(lua_State *L) {
  handle *h = check_handle(L, 1);
  const char *path = luaL_checkstring(L, 2);
  require_global(L, "removeScript");
  mb_vm *vm = mb__vm_of(L);
  live_object(L, h);
  if (mb_vm_remove_script(vm, h->id, path) != MB_OK)
    return luaL_error(L, "%s", mb_vm_error(vm));
  return 0;
}

static int obj_has_script(lua_State *L) {
  handle *h = check_handle(L, 1);
  const char *path = luaL_checkstring(L, 2);
  require_global(L, "hasScript");
  lua_pushboolean(L, mb_vm_has_script(mb__vm_of(L), h->id, path));
  return 1;
}

static int obj_index(lua_State *L) {
  handle *h = check_handle(L, 1);
  const char *k = lua_tostring(L, 2);
  if (!k) return 0;
  if (strcmp(k, "id") == 0) {
    lua_pushlstring(L, h->id, h->len);
    return 1;
  }
  /* methods (upvalue 1) first: they work on handles of removed objects */
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  if (!lua_isnil(L, -1)) return 1;
  lua_pop(L, 1);
  mb_vm *vm = mb__vm_of(L);
  if (strcmp(k, "type") == 0) {
    lua_pushstring(L, vm->types[live_object(L, h)->type]);
  } else if (strcmp(k, "cell") == 0) {
    lua_pushstring(L, live_object(L, h)->cell);
  } else if (strcmp(k, "position") == 0) {
    mb__push_vector3(L, live_object(L, h)->pos);
  } else {
    lua_pushnil(L);
  }
  return 1;
}

/* A local script may change only its own object; global scripts any. */
static int obj_newindex(lua_State *L) {
  handle *h = check_handle(L, 1);
  const char *k = luaL_checkstring(L, 2);
  mb__object *o = live_object(L, h);
  mb__instance *inst = caller(L);
  if (inst->container->context != MB_VISIBLE_GLOBAL &&
      inst->container->object != o)
    return luaL_error(L,
                      "object '%s' is read-only here: a local script may "
                      "change only its own object",
                      h->id);
  if (strcmp(k, "position") == 0) {
    mb__check_vector3(L, 3, o->pos);
  } else if (strcmp(k, "cell") == 0) {
    const char *cell = luaL_checkstring(L, 3);
    mb_vm *vm = mb__vm_of(L);
    char *copy = mb__vm_strdup(vm, cell);
    if (!copy) return luaL_error(L, "not enough memory");
    mb__vm_strfree(vm, o->cell);
    o->cell = copy;
  } else {
    return luaL_error(L, "cannot set field '%s' of an object", k);
  }
  return 0;
}

static int obj_eq(lua_State *L) {
  handle *a = lua_touserdata(L, 1), *b = lua_touserdata(L, 2);
  lua_pushboolean(L, a && b && a->len == b->len && memcmp(a->id, b->id, a->len) == 0);
  return 1;
}

static int obj_tostring(lua_State *L) {
  handle *h = check_handle(L, 1);
  lua_pushfstring(L, "object(%s)", h->id);
  return 1;
}

static const char *obj_encode(lua_State *L, int idx, mb__buf *out, void *ud) {
  (void)ud;
  handle *h = lua_touserdata(L, idx);
  return mb__buf_append(out, h->id, h->len) ? mb__ext_nomem : NULL;
}

static const char *obj_decode(lua_State *L, const uint8_t *p, size_t size,
                              void *ud) {
  (void)ud;
  if (size == 0 || size > 200 || memchr(p, 0, size)) return "bad object id";
  char id[201];
  memcpy(id, p, size);
  id[size] = 0;
  mb__push_object(L, id);
  return NULL;
}

void mb__api_object_open_realm(lua_State *L) {
  static const luaL_Reg methods[] = {{"isActive", obj_is_active},
                                     {"isValid", obj_is_valid},
                                     {"sendEvent", obj_send_event},
                                     {"addScript", obj_add_script},
                                     {"removeScript", obj_remove_script},
                                     {"hasScript", obj_has_script},
                                     {NULL, NULL}};
  lua_newtable(L);
  int mt = lua_gettop(L);
  lua_newtable(L);
  luaL_register(L, NULL, methods);
  lua_pushcclosure(L, obj_index, 1);
  lua_setfield(L, mt, "__index");
  lua_pushcfunction(L, obj_newindex);
  lua_setfield(L, mt, "__newindex");
  lua_pushcfunction(L, obj_eq);
  lua_setfield(L, mt, "__eq");
  lua_pushcfunction(L, obj_tostring);
  lua_setfield(L, mt, "__tostring");
  lua_pushboolean(L, 0);
  lua_setfield(L, mt, "__metatable");
  lua_pushlightuserdata(L, &key_object);
  lua_pushvalue(L, mt);
  lua_rawset(L, LUA_REGISTRYINDEX);
  if (mb__ext_register(L, MB__EXT_OBJECT, "object", mt, obj_encode, obj_decode,
                       NULL) != MB_OK)
    luaL_error(L, "cannot register the object type");
  lua_pop(L, 1);
}

static int world_get_object(lua_State *L) {
  const char *id = luaL_checkstring(L, 1);
  if (!mb__vm_object(mb__vm_of(L), id)) {
    lua_pushnil(L);
    return 1;
  }
  mb__push_object(L, id);
  return 1;
}

/* world.players: computed on each read, in creation order. */
static int world_index(lua_State *L) {
  const char *k = lua_tostring(L, 2);
  if (!k || strcmp(k, "players") != 0) return 0;
  mb_vm *vm = mb__vm_of(L);
  lua_newtable(L);
  int n = 0;
  for (size_t i = 0; i < vm->nby_seq; i++) {
    mb__object *o = vm->by_seq[i];
    if (!o || o->type != vm->player_type) continue;
    mb__push_object(L, o->container.id);
    lua_rawseti(L, -2, ++n);
  }
  return 1;
}

int mb__api_world_open(lua_State *L, void *ud) {
  (void)ud;
  lua_newtable(L);
  lua_pushcfunction(L, world_get_object);
  lua_setfield(L, -2, "getObjectById");
  lua_newtable(L);
  lua_pushcfunction(L, world_index);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  return 1;
}

int mb__api_self_open(lua_State *L, mb__instance *inst, void *ud) {
  (void)ud;
  mb__push_object(L, inst->container->id);
  return 1;
}
