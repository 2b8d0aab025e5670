/* The environment a script sees: filtered, read-only standard libraries
 * with the Lua 5.2 additions, one environment table per script instance,
 * print to the host log, require over the VFS, and a per-instance
 * math.random.
 *
 * A realm's libraries are built once (mb__sandbox_open); each script
 * instance then gets a fresh environment table (mb__sandbox_new_env) whose
 * globals are shared read-only library proxies plus its own print, require
 * and _G. Compiled chunks are cached per realm by VFS path, so many
 * instances of one file share one prototype. */
#ifndef MB_SANDBOX_ENV_H
#define MB_SANDBOX_ENV_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include "moonbox.h"
#include "sandbox/realm.h"
#include "sandbox/vfs.h"

/* What the environment needs from its host (the VM). Must outlive the
 * realm. */
typedef struct mb__sandbox_host {
  mb_log_fn log; /* print() and warnings */
  void *log_ud;
  mb__vfs *vfs; /* require() */
  const char *api_prefix; /* names "<prefix>.x" never come from files */
  /* Push API package `name` for the script owned by `owner` and return 1,
   * or return 0 when no such package is visible to it. May raise. */
  int (*package)(lua_State *L, const char *name, void *owner, void *ud);
  void *package_ud;
} mb__sandbox_host;

/* The per-instance state the sandbox keeps on the C side. The owner (the
 * runtime's script instance) embeds it as its first member and passes it
 * to mb__realm_set_current() while the instance runs. */
typedef struct mb__script {
  uint64_t rng[4]; /* xoshiro256** state of math.random */
} mb__script;

/* Seed `s` from the VM seed and the instance identity (e.g.
 * "global[scripts/x.lua]"), so each instance has its own reproducible
 * sequence. */
void mb__script_seed(mb__script *s, uint64_t seed, const char *identity);

/* Build the realm's libraries and lock the string metatable. Protected;
 * returns MB_OK or MB_ENOMEM. `host` is borrowed for the realm's life. */
mb_status mb__sandbox_open(mb__realm *realm, const mb__sandbox_host *host);

/* Push a new environment table for a script instance labelled `label`
 * ("<container>[<path>]", used by print). `owner` is handed to the package
 * resolver; it must stay valid until mb__sandbox_release_owner() is called
 * with the environment's handle. Pushes the environment and returns the
 * registry reference of its handle (an opaque userdata) through
 * `*handle_ref`. May raise (call it protected). */
void mb__sandbox_new_env(lua_State *L, const char *label, void *owner,
                         int *handle_ref);

/* The instance is gone: its require() fails from now on, and the owner
 * pointer is forgotten. Releases the registry reference. */
void mb__sandbox_release_owner(lua_State *L, int handle_ref);

/* The owner of the handle userdata at `idx` (NULL once released). Packages
 * keep the handle, never the owner, so they notice a removed script. */
void *mb__sandbox_handle_owner(lua_State *L, int idx);

/* Push a deep read-only view of the table at `idx` (nested tables become
 * read-only proxies too); other values are pushed as they are. */
void mb__sandbox_freeze(lua_State *L, int idx);

/* Load VFS file `path` as a text chunk named "@<path>" and push the
 * function with environment `env` (stack index). Bytecode is refused.
 * Returns MB_OK, or pushes nothing and fills `err` (MB_ENOTFOUND,
 * MB_EDENIED, MB_ECORRUPT for syntax errors and bytecode, MB_ENOMEM). */
mb_status mb__sandbox_load(lua_State *L, const char *path, int env,
                           char *err, size_t errsize);

/* Forget compiled chunks (hot reload re-reads files). */
void mb__sandbox_clear_chunks(lua_State *L);

/* Push a read-only proxy of the table at `idx`: reads go through, writes,
 * rawset, setmetatable and table.insert/remove/sort/move fail, pairs/ipairs
 * iterate the original. Tables read through it (by index or iteration)
 * come out as read-only proxies too, so nested tables of a shared package
 * or interface cannot be changed by the scripts that see it. */
void mb__sandbox_readonly(lua_State *L, int idx);
/* 1 when the value at `idx` is such a proxy. */
int mb__sandbox_is_readonly(lua_State *L, int idx);

#endif
