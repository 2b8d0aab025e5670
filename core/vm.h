/* The VM's internals, shared by the files of core/. */
#ifndef MB_CORE_VM_H
#define MB_CORE_VM_H

#include <stdarg.h>

#include "moonbox.h"
#include "sandbox/env.h"
#include "sandbox/realm.h"
#include "sandbox/vfs.h"

struct mb_vm {
  mb_config cfg;      /* api_prefix points at `prefix` below */
  char prefix[64];
  size_t bytes;       /* VM-level memory (not the realms') */
  mb__vfs *vfs;
  mb__sandbox_host host;
  mb__realm *global;  /* global scripts */
  char *error;
  size_t error_size;
};

/* Allocate through the host allocator, counting into vm->bytes. */
void *mb__vm_alloc(mb_vm *vm, void *ptr, size_t osize, size_t nsize);
char *mb__vm_strdup(mb_vm *vm, const char *s);
void mb__vm_strfree(mb_vm *vm, char *s);

/* Set the VM's error message; returns `st`. */
mb_status mb__vm_fail(mb_vm *vm, mb_status st, const char *fmt, ...);
/* Log a formatted record through the host's callback. */
void mb__vm_log(mb_vm *vm, mb_log_level level, const char *fmt, ...);

#endif
