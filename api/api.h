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

/* core.c */
int mb__api_core_open(lua_State *L, void *ud);

#endif
