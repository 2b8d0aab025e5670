/* VM lifetime, configuration, errors, logging and the VFS front door. */
#include "core/vm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>

const char *mb_version(void) {
  return MB_VERSION_STRING;
}

const char *mb_status_name(mb_status st) {
  switch (st) {
  case MB_OK: return "ok";
  case MB_ERROR: return "script error";
  case MB_ENOMEM: return "out of memory";
  case MB_EINVAL: return "invalid argument";
  case MB_ENOTFOUND: return "not found";
  case MB_EIO: return "i/o error";
  case MB_ECORRUPT: return "malformed input";
  case MB_EBUDGET: return "budget exceeded";
  case MB_EDENIED: return "denied";
  }
  return "unknown status";
}

void mb_config_init(mb_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->limits.memory_limit = MB_DEFAULT_MEMORY_LIMIT;
  cfg->limits.instruction_budget = MB_DEFAULT_INSTRUCTION_BUDGET;
  cfg->limits.deadline_ms = MB_DEFAULT_DEADLINE_MS;
  cfg->limits.jit = MB_JIT_OFF;
  cfg->api_prefix = "engine";
}

static void *default_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  (void)osize;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, nsize);
}

void *mb__vm_alloc(mb_vm *vm, void *ptr, size_t osize, size_t nsize) {
  void *p = vm->cfg.alloc(vm->cfg.alloc_ud, ptr, osize, nsize);
  if (nsize == 0 || p) vm->bytes = vm->bytes - (ptr ? osize : 0) + nsize;
  return p;
}

static void *vm_alloc_cb(void *ud, void *ptr, size_t osize, size_t nsize) {
  return mb__vm_alloc(ud, ptr, osize, nsize);
}

char *mb__vm_strdup(mb_vm *vm, const char *s) {
  size_t n = strlen(s) + 1;
  char *d = mb__vm_alloc(vm, NULL, 0, n);
  if (d) memcpy(d, s, n);
  return d;
}

void mb__vm_strfree(mb_vm *vm, char *s) {
  if (s) mb__vm_alloc(vm, s, strlen(s) + 1, 0);
}

mb_status mb__vm_fail(mb_vm *vm, mb_status st, const char *fmt, ...) {
  va_list ap, copy;
  va_start(ap, fmt);
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  size_t need = n > 0 ? (size_t)n + 1 : 1;
  if (need > vm->error_size) {
    char *buf = mb__vm_alloc(vm, vm->error, vm->error_size, need);
    if (buf) {
      vm->error = buf;
      vm->error_size = need;
    }
  }
  if (vm->error_size) vsnprintf(vm->error, vm->error_size, fmt, ap);
  va_end(ap);
  return st;
}

void mb__vm_log(mb_vm *vm, mb_log_level level, const char *fmt, ...) {
  if (!vm->cfg.log) return;
  char small[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n >= 0 && (size_t)n < sizeof small) {
    vm->cfg.log(vm->cfg.log_ud, level, small);
    return;
  }
  char *big = mb__vm_alloc(vm, NULL, 0, (size_t)n + 1);
  if (!big) { /* a truncated record beats none */
    vm->cfg.log(vm->cfg.log_ud, level, small);
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  vm->cfg.log(vm->cfg.log_ud, level, big);
  mb__vm_alloc(vm, big, (size_t)n + 1, 0);
}

mb_status mb_vm_new(const mb_config *cfg, mb_vm **out) {
  mb_config defaults;
  if (!out) return MB_EINVAL;
  *out = NULL;
  if (!cfg) {
    mb_config_init(&defaults);
    cfg = &defaults;
  }
  const char *prefix = cfg->api_prefix ? cfg->api_prefix : "engine";
  size_t plen = strlen(prefix);
  if (plen == 0 || plen >= sizeof((mb_vm *)0)->prefix ||
      strchr(prefix, '.'))
    return MB_EINVAL;
  mb_alloc_fn alloc = cfg->alloc ? cfg->alloc : default_alloc;
  mb_vm *vm = alloc(cfg->alloc_ud, NULL, 0, sizeof *vm);
  if (!vm) return MB_ENOMEM;
  memset(vm, 0, sizeof *vm);
  vm->cfg = *cfg;
  vm->cfg.alloc = alloc;
  memcpy(vm->prefix, prefix, plen + 1);
  vm->cfg.api_prefix = vm->prefix;
  vm->bytes = sizeof *vm;

  vm->vfs = mb__vfs_new(vm_alloc_cb, vm);
  if (!vm->vfs) goto nomem;
  vm->host.log = cfg->log;
  vm->host.log_ud = cfg->log_ud;
  vm->host.vfs = vm->vfs;
  vm->host.api_prefix = vm->prefix;
  vm->global = mb__realm_new("global", &vm->cfg.limits, alloc, cfg->alloc_ud);
  if (!vm->global) goto nomem;
  if (mb__sandbox_open(vm->global, &vm->host) != MB_OK) goto nomem;
  *out = vm;
  return MB_OK;
nomem:
  mb_vm_free(vm);
  return MB_ENOMEM;
}

void mb_vm_free(mb_vm *vm) {
  if (!vm) return;
  mb__realm_free(vm->global);
  mb__vfs_free(vm->vfs);
  if (vm->error) mb__vm_alloc(vm, vm->error, vm->error_size, 0);
  vm->cfg.alloc(vm->cfg.alloc_ud, vm, sizeof *vm, 0);
}

const char *mb_vm_error(const mb_vm *vm) {
  return vm && vm->error ? vm->error : "";
}

size_t mb_vm_memory(const mb_vm *vm) {
  return vm->bytes + mb__realm_memory(vm->global);
}

void mb_vm_interrupt(mb_vm *vm) {
  mb__realm_interrupt(vm->global);
}

mb_status mb_vm_mount_dir(mb_vm *vm, const char *dir) {
  char err[512];
  if (!dir) return mb__vm_fail(vm, MB_EINVAL, "mount: directory is NULL");
  mb_status st = mb__vfs_mount_dir(vm->vfs, dir, err, sizeof err);
  return st == MB_OK ? st : mb__vm_fail(vm, st, "%s", err);
}

mb_status mb_vm_mount_file(mb_vm *vm, const char *path, const void *data,
                           size_t size) {
  char err[512];
  if (!path || (!data && size))
    return mb__vm_fail(vm, MB_EINVAL, "mount: path or data is NULL");
  mb_status st = mb__vfs_mount_file(vm->vfs, path, data, size, err, sizeof err);
  return st == MB_OK ? st : mb__vm_fail(vm, st, "%s", err);
}

mb_status mb_vm_read_file(mb_vm *vm, const char *path, char **data,
                          size_t *size) {
  char err[512];
  if (!path || !data || !size)
    return mb__vm_fail(vm, MB_EINVAL, "read: NULL argument");
  mb_status st = mb__vfs_read(vm->vfs, path, data, size, err, sizeof err);
  return st == MB_OK ? st : mb__vm_fail(vm, st, "%s", err);
}

void mb_vm_release(mb_vm *vm, void *buf, size_t size) {
  if (buf) mb__vfs_release(vm->vfs, buf, size);
}
