/* VM lifetime, configuration, errors, logging and the VFS front door. */
#include "core/vm.h"

#include "api/api.h"
#include "sandbox/alloc.h"

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

void *mb__vm_alloc(mb_vm *vm, void *ptr, size_t osize, size_t nsize) {
  void *p = vm->cfg.alloc(vm->cfg.alloc_ud, ptr, osize, nsize);
  if (nsize == 0 || p) vm->bytes = vm->bytes - (ptr ? osize : 0) + nsize;
  return p;
}

void *mb__vm_alloc_cb(void *ud, void *ptr, size_t osize, size_t nsize) {
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

void mb__vm_script_error(mb_vm *vm, const char *fmt, ...) {
  char small[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  vm->script_errors++;
  mb__vm_log(vm, MB_LOG_ERROR, "%s", small);
}

mb_vm *mb__vm_of(lua_State *L) {
  return mb__realm_owner(L);
}

/* Names the engine looks up in script tables from host code. Anchored in
 * the registry, they stay interned: pushing them never allocates, so no
 * lookup can fail when a realm is at its memory limit. */
static char key_anchored;

static int anchor_names(lua_State *L) {
  static const char *const names[] = {
      "engineHandlers", "eventHandlers", "interfaceName", "interface",
      "onInit",         "onLoad",        "onSave",        "onUpdate",
      "onActive",       "onInactive",    "onInterfaceOverride", "tostring",
      NULL};
  lua_newtable(L);
  for (int i = 0; names[i]; i++) {
    lua_pushstring(L, names[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_pushlightuserdata(L, &key_anchored);
  lua_insert(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
  return 0;
}

/* A realm with the VM's sandbox. */
static mb_status new_realm(mb_vm *vm, const char *name,
                           const mb_realm_limits *limits) {
  if (vm->nrealms == MB__MAX_REALMS)
    return mb__vm_fail(vm, MB_EINVAL, "too many realms (at most %d)",
                       MB__MAX_REALMS);
  mb__realm *r =
      mb__realm_new(name, limits, vm->cfg.alloc, vm->cfg.alloc_ud);
  if (!r) return mb__vm_fail(vm, MB_ENOMEM, "out of memory creating realm '%s'", name);
  mb__realm_set_owner(r, vm);
  if (mb__sandbox_open(r, &vm->host) != MB_OK ||
      mb__api_open_realm(vm, r) != MB_OK ||
      mb__realm_pcall_trusted(r, anchor_names, NULL) != MB_OK) {
    mb__realm_free(r);
    return mb__vm_fail(vm, MB_ENOMEM, "out of memory creating realm '%s'", name);
  }
  vm->realms[vm->nrealms++] = r;
  return MB_OK;
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
  mb_alloc_fn alloc = cfg->alloc;
  void *alloc_ud = cfg->alloc_ud;
  mb_vm *vm = mb__alloc_object(&alloc, &alloc_ud, sizeof *vm);
  if (!vm) return MB_ENOMEM;
  vm->cfg = *cfg;
  vm->cfg.alloc = alloc;
  vm->cfg.alloc_ud = alloc_ud;
  memcpy(vm->prefix, prefix, plen + 1);
  vm->cfg.api_prefix = vm->prefix;
  vm->bytes = sizeof *vm;
  vm->timescale = 1;
  vm->player_type = -1;
  mb__map_init(&vm->objects, mb__vm_alloc_cb, vm);
  mb__map_init(&vm->event_names, mb__vm_alloc_cb, vm);
  vm->global.context = MB_VISIBLE_GLOBAL;
  vm->global.realm = 0;

  vm->global.id = mb__vm_strdup(vm, "global");
  vm->vfs = mb__vfs_new(mb__vm_alloc_cb, vm);
  vm->manifest = mb__manifest_new(mb__vm_alloc_cb, vm);
  if (!vm->global.id || !vm->vfs || !vm->manifest) goto nomem;
  vm->host.log = cfg->log;
  vm->host.log_ud = cfg->log_ud;
  vm->host.vfs = vm->vfs;
  vm->host.api_prefix = vm->prefix;
  vm->host.package = mb__packages_resolve;
  vm->host.package_ud = vm;
  if (new_realm(vm, "global", &vm->cfg.limits) != MB_OK ||
      new_realm(vm, "local", &vm->cfg.limits) != MB_OK ||
      mb__api_register(vm) != MB_OK)
    goto nomem;
  *out = vm;
  return MB_OK;
nomem:
  mb_vm_free(vm);
  return MB_ENOMEM;
}

void mb_vm_free(mb_vm *vm) {
  if (!vm) return;
  /* Lua states first: nothing of theirs may outlive what they point at. */
  for (size_t i = 0; i < vm->nrealms; i++) mb__realm_free(vm->realms[i]);
  vm->nrealms = 0;
  mb__vm_free_scheduler(vm);
  mb__storage_free(vm);
  mb_save_free(vm->kept);
  mb__world_free(vm);
  mb__packages_free(vm);
  mb__manifest_free(vm->manifest);
  mb__vfs_free(vm->vfs);
  mb__vm_strfree(vm, vm->global.id);
  if (vm->error) mb__vm_alloc(vm, vm->error, vm->error_size, 0);
  vm->cfg.alloc(vm->cfg.alloc_ud, vm, sizeof *vm, 0);
}

const char *mb_vm_error(const mb_vm *vm) {
  return vm && vm->error ? vm->error : "";
}

size_t mb_vm_memory(const mb_vm *vm) {
  size_t total = vm->bytes;
  for (size_t i = 0; i < vm->nrealms; i++)
    total += mb__realm_memory(vm->realms[i]);
  return total;
}

uint64_t mb_vm_script_errors(const mb_vm *vm) {
  return vm->script_errors;
}

void mb_vm_interrupt(mb_vm *vm) {
  for (size_t i = 0; i < vm->nrealms; i++) mb__realm_interrupt(vm->realms[i]);
}

mb_status mb_vm_add_realm(mb_vm *vm, const char *name,
                          const mb_realm_limits *limits) {
  if (!name || !*name) return mb__vm_fail(vm, MB_EINVAL, "realm name is empty");
  for (size_t i = 0; i < vm->nrealms; i++) {
    if (strcmp(mb__realm_name(vm->realms[i]), name) == 0)
      return mb__vm_fail(vm, MB_EINVAL, "realm '%s' exists", name);
  }
  return new_realm(vm, name, limits ? limits : &vm->cfg.limits);
}

int mb__vm_realm_index(const mb_vm *vm, const char *name) {
  for (size_t i = 0; i < vm->nrealms; i++) {
    if (strcmp(mb__realm_name(vm->realms[i]), name) == 0) return (int)i;
  }
  return -1;
}

mb_status mb_vm_set_realm_limits(mb_vm *vm, const char *name,
                                 const mb_realm_limits *limits) {
  int i = name ? mb__vm_realm_index(vm, name) : -1;
  if (i < 0) return mb__vm_fail(vm, MB_ENOTFOUND, "no realm '%s'", name ? name : "");
  if (!limits) return mb__vm_fail(vm, MB_EINVAL, "realm limits are NULL");
  mb__realm_set_limits(vm->realms[i], limits);
  return MB_OK;
}

size_t mb_vm_realm_memory(const mb_vm *vm, const char *name) {
  int i = mb__vm_realm_index(vm, name);
  return i < 0 ? 0 : mb__realm_memory(vm->realms[i]);
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
