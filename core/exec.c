/* mb_vm_exec_file: run one VFS file once as a global script instance. */
#include <string.h>

#include "core/vm.h"

mb_status mb_vm_exec_file(mb_vm *vm, const char *path) {
  char norm[256], err[1024];
  if (!path) return mb__vm_fail(vm, MB_EINVAL, "exec: path is NULL");
  mb_status st = mb__vfs_normalize(path, strlen(path), norm, sizeof norm, err,
                                   sizeof err);
  if (st != MB_OK) return mb__vm_fail(vm, st, "%s", err);
  /* An instance of the global container that is never registered in it:
   * it sees the global packages, and nothing remains after the run. */
  mb__instance *inst = mb__instance_new(vm, &vm->global, norm);
  if (!inst) return mb__vm_fail(vm, MB_ENOMEM, "out of memory");
  st = mb__instance_load(vm, inst, err, sizeof err);
  if (st != MB_OK) {
    mb__vm_fail(vm, st, "%s", err);
  } else {
    mb__realm *realm = vm->realms[0];
    mb__realm_set_current(realm, inst);
    inst->loading = 1; /* its top level may register timer callbacks */
    st = mb__realm_call(realm, 0, 0, inst->label, NULL);
    inst->loading = 0;
    mb__realm_set_current(realm, NULL);
    if (st != MB_OK) mb__vm_fail(vm, st, "%s", mb__realm_error(realm));
  }
  mb__instance_free(vm, inst);
  return st;
}

mb_status mb_vm_compile_file(mb_vm *vm, const char *path) {
  char norm[256], err[1024];
  if (!path) return mb__vm_fail(vm, MB_EINVAL, "compile: path is NULL");
  mb_status st = mb__vfs_normalize(path, strlen(path), norm, sizeof norm, err,
                                   sizeof err);
  if (st != MB_OK) return mb__vm_fail(vm, st, "%s", err);
  mb__instance *inst = mb__instance_new(vm, &vm->global, norm);
  if (!inst) return mb__vm_fail(vm, MB_ENOMEM, "out of memory");
  st = mb__instance_load(vm, inst, err, sizeof err);
  if (st != MB_OK)
    mb__vm_fail(vm, st, "%s", err);
  else
    lua_pop(mb__realm_lua(vm->realms[0]), 1);
  mb__instance_free(vm, inst);
  return st;
}

size_t mb_vm_script_count(const mb_vm *vm) {
  return mb__manifest_count(vm->manifest);
}

const char *mb_vm_script_path(const mb_vm *vm, size_t i) {
  return i < mb__manifest_count(vm->manifest)
             ? mb__manifest_at(vm->manifest, i)->path
             : NULL;
}
