/* Starting a new game and running frames. */
#include <math.h>

#include <lauxlib.h>

#include "core/vm.h"

mb_status mb__vm_start_globals(mb_vm *vm, int (*saved)(mb_vm *, const char *,
                                                       mb__bytes *, void *),
                               void *ud) {
  for (size_t i = 0; i < mb__manifest_count(vm->manifest); i++) {
    const mb__manifest_entry *e = mb__manifest_at(vm->manifest, i);
    if (!(e->flags & MB__FLAG_GLOBAL)) continue;
    mb__bytes data = {NULL, 0};
    if (saved && saved(vm, e->path, &data, ud))
      mb__script_start(vm, &vm->global, e->path, NULL, &data);
    else
      mb__script_start(vm, &vm->global, e->path, NULL, NULL);
  }
  return MB_OK;
}

mb_status mb_vm_start(mb_vm *vm) {
  if (vm->state != MB__NEW)
    return mb__vm_fail(vm, MB_EINVAL, "the VM has already started");
  vm->state = MB__RUNNING;
  mb__vm_start_globals(vm, NULL, NULL);
  for (size_t i = 0; i < vm->nby_seq; i++) {
    mb__object *o = vm->by_seq[i];
    if (o && !o->started) mb__object_autoattach(vm, o);
  }
  return MB_OK;
}

/* onUpdate(dt) for every script of `c`, in load order. */
static void update_container(mb_vm *vm, mb__container *c, lua_State *L,
                             double dt) {
  for (size_t i = 0; i < c->nscripts; i++) {
    mb__instance *inst = c->scripts[i];
    if (inst->update_ref == LUA_NOREF) continue;
    lua_rawgeti(L, LUA_REGISTRYINDEX, inst->update_ref);
    lua_pushnumber(L, dt);
    mb__instance_call(vm, inst, 1, 0, "onUpdate");
    int gone = i >= c->nscripts || c->scripts[i] != inst; /* unlinked */
    if (inst->doomed && !inst->running) mb__instance_free(vm, inst);
    if (gone) i--;
  }
}

mb_status mb_vm_update(mb_vm *vm, double dt) {
  if (!(dt >= 0) || isinf(dt))
    return mb__vm_fail(vm, MB_EINVAL, "update: dt must be a finite number >= 0");
  if (vm->state != MB__RUNNING)
    return mb__vm_fail(vm, MB_EINVAL, "update: the VM has not started");
  vm->sim_time += dt;
  vm->game_time += dt * vm->timescale;
  /* realms in a fixed order, global first */
  for (size_t r = 0; r < vm->nrealms; r++) {
    lua_State *L = mb__realm_lua(vm->realms[r]);
    mb__vm_deliver(vm, (int)r);
    if (r == 0) {
      update_container(vm, &vm->global, L, dt);
      continue;
    }
    size_t n = vm->nby_seq; /* objects created by handlers wait a frame */
    for (size_t i = 0; i < n; i++) {
      mb__object *o = vm->by_seq[i];
      if (o && o->active && o->container.realm == (int)r)
        update_container(vm, &o->container, L, dt);
    }
  }
  return MB_OK;
}
