/* mb_vm_exec_file: run one VFS file once as a global script instance. */
#include <string.h>

#include "core/vm.h"

/* An instance of the global container that is never registered in it: it
 * sees the global packages, and nothing remains after it is freed. Its
 * chunk is loaded and pushed; NULL with the VM's error set on failure. */
static mb__instance *loose_instance(mb_vm *vm, const char *path,
                                    const char *what, mb_status *st) {
  char norm[256], err[1024];
  if (!path) {
    *st = mb__vm_fail(vm, MB_EINVAL, "%s: path is NULL", what);
    return NULL;
  }
  *st = mb__vfs_normalize(path, strlen(path), norm, sizeof norm, err, sizeof err);
  if (*st != MB_OK) {
    mb__vm_fail(vm, *st, "%s", err);
    return NULL;
  }
  mb__instance *inst = mb__instance_new(vm, &vm->global, norm);
  if (!inst) {
    *st = mb__vm_fail(vm, MB_ENOMEM, "out of memory");
    return NULL;
  }
  *st = mb__instance_load(vm, inst, err, sizeof err);
  if (*st != MB_OK) {
    mb__vm_fail(vm, *st, "%s", err);
    mb__instance_free(vm, inst);
    return NULL;
  }
  return inst;
}

mb_status mb_vm_exec_file(mb_vm *vm, const char *path) {
  mb_status st;
  mb__instance *inst = loose_instance(vm, path, "exec", &st);
  if (!inst) return st;
  mb__realm *realm = vm->realms[0];
  mb__realm_set_current(realm, inst);
  inst->loading = 1; /* its top level may register timer callbacks */
  st = mb__realm_call(realm, 0, 0, inst->label, NULL);
  inst->loading = 0;
  mb__realm_set_current(realm, NULL);
  if (st != MB_OK) mb__vm_fail(vm, st, "%s", mb__realm_error(realm));
  mb__instance_free(vm, inst);
  return st;
}

mb_status mb_vm_compile_file(mb_vm *vm, const char *path) {
  mb_status st;
  mb__instance *inst = loose_instance(vm, path, "compile", &st);
  if (!inst) return st;
  lua_pop(mb__realm_lua(vm->realms[0]), 1); /* compiled: that is all */
  mb__instance_free(vm, inst);
  return MB_OK;
}

size_t mb_vm_script_count(const mb_vm *vm) {
  return mb__manifest_count(vm->manifest);
}

const char *mb_vm_script_path(const mb_vm *vm, size_t i) {
  return i < mb__manifest_count(vm->manifest)
             ? mb__manifest_at(vm->manifest, i)->path
             : NULL;
}
