/* The script-facing packages, written against core/ and sandbox/. */
#ifndef MB_API_API_H
#define MB_API_API_H

#include <lua.h>

#include "core/vm.h"

/* msgpack ext type ids of the engine values (part of the save format). */
enum { MB__EXT_VECTOR2 = 1, MB__EXT_VECTOR3 = 2, MB__EXT_OBJECT = 3 };

/* Per-realm set-up: metatables and their serializer registrations. */
mb_status mb__api_open_realm(mb_vm *vm, mb__realm *realm);

/* util.c */
void mb__api_util_open_realm(lua_State *L);
void mb__push_vector3(lua_State *L, const double v[3]);
/* Read a vector3 argument (raises the Lua way if it is not one). */
void mb__check_vector3(lua_State *L, int idx, double out[3]);
int mb__api_util_open(lua_State *L, void *ud);

/* object.c */
void mb__api_object_open_realm(lua_State *L);
/* Push a handle of object `id` (which need not exist). */
void mb__push_object(lua_State *L, const char *id);
int mb__api_world_open(lua_State *L, void *ud);
int mb__api_self_open(lua_State *L, mb__instance *inst, void *ud);

/* async.c */
void mb__api_async_open_realm(lua_State *L);
int mb__api_async_open(lua_State *L, mb__instance *inst, void *ud);
/* 1 when the value at idx is an async:callback object. */
int mb__is_callback(lua_State *L, int idx);
/* Call the callback object at idx with the nargs values on top (popped).
 * MB_ENOTFOUND (logged, nothing called) when its script is gone. */
mb_status mb__callback_invoke(mb_vm *vm, lua_State *L, int idx, int nargs);

/* interfaces.c */
int mb__api_interfaces_open(lua_State *L, mb__instance *inst, void *ud);

/* storage.c */
void mb__api_storage_open_realm(lua_State *L);
int mb__api_storage_open(lua_State *L, void *ud);

/* core.c */
/* Serialize the value at data_idx and queue event (name at name_idx) for
 * `target` (NULL: global). Raises on a bad payload. */
mb_status mb__api_send_event(lua_State *L, const char *target, int name_idx,
                             int data_idx);
int mb__api_core_open(lua_State *L, void *ud);

#endif
