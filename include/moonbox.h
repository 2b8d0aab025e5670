/**
 * @file moonbox.h
 * @brief moonbox: run untrusted game-mod Lua scripts in sandboxes, save and
 *        restore their state.
 *
 * This is the one public header. Every name starts with `mb_` or `MB_`.
 * Handles are opaque; `mb_*_free(NULL)` is a no-op. Functions return an
 * ::mb_status; the message of the last failure stays on the handle
 * (mb_vm_error()). The library never prints: it reports through the log
 * callback of the configuration.
 *
 * Ownership: unless a comment says otherwise, pointer parameters are
 * borrowed for the duration of the call (the library copies what it keeps),
 * and returned `const char *` strings are owned by the handle and stay valid
 * until the next call on that handle.
 *
 * Threads: there is no global mutable state. Many VMs may live in one
 * process; one VM is used by one thread at a time (except mb_vm_interrupt()).
 */
#ifndef MOONBOX_H
#define MOONBOX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @name Version */
/**@{*/
#define MB_VERSION_MAJOR 0
#define MB_VERSION_MINOR 1
#define MB_VERSION_PATCH 0
#define MB_VERSION_STRING "0.1.0"
/** The version of the linked library, e.g. "0.1.0" (static storage). */
const char *mb_version(void);
/**@}*/

/** Result of every fallible call. */
typedef enum mb_status {
  MB_OK = 0,         /**< success */
  MB_ERROR = 1,      /**< a script raised an error (message on the handle) */
  MB_ENOMEM = 2,     /**< out of memory (allocator returned NULL or limit hit) */
  MB_EINVAL = 3,     /**< bad argument from the host (message says which) */
  MB_ENOTFOUND = 4,  /**< no such file, object or script */
  MB_EIO = 5,        /**< the operating system refused a read or write */
  MB_ECORRUPT = 6,   /**< malformed input: save file, bytes, manifest */
  MB_EBUDGET = 7,    /**< a script exceeded its instruction or time budget */
  MB_EDENIED = 8     /**< refused by the sandbox (path outside the mounts, …) */
} mb_status;

/** A short constant name for a status ("ok", "out of memory", …). */
const char *mb_status_name(mb_status status);

/**
 * Allocator hook, with the semantics of `lua_Alloc`: `nsize == 0` frees
 * `ptr` and returns NULL; otherwise it returns a block of `nsize` bytes
 * holding the first `min(osize, nsize)` bytes of `ptr` (or NULL on failure,
 * leaving `ptr` untouched). `osize` is the size the library asked for when
 * it allocated `ptr` (0 when `ptr` is NULL). It must never raise or longjmp.
 * All memory of the library, Lua's included, goes through it.
 */
typedef void *(*mb_alloc_fn)(void *ud, void *ptr, size_t osize, size_t nsize);

/** Severity of a log record. */
typedef enum mb_log_level {
  MB_LOG_DEBUG = 0,
  MB_LOG_INFO = 1,
  MB_LOG_PRINT = 2, /**< a script's print(): `<container>[<path>]:\t<args>` */
  MB_LOG_WARN = 3,
  MB_LOG_ERROR = 4
} mb_log_level;

/**
 * Log callback. `msg` is a NUL-terminated line without a trailing newline
 * (it may contain newlines, e.g. a traceback), borrowed for the call.
 */
typedef void (*mb_log_fn)(void *ud, mb_log_level level, const char *msg);

/** Whether LuaJIT's trace compiler may run script code of a realm. */
typedef enum mb_jit_policy {
  /** Interpreter only: every budget holds (the default, for untrusted code). */
  MB_JIT_OFF = 0,
  /** JIT on: faster, but instruction budgets are best-effort inside
   *  compiled traces. Opt in only for trusted realms. */
  MB_JIT_ON = 1
} mb_jit_policy;

/** Budgets and policy of one realm (one `lua_State`). */
typedef struct mb_realm_limits {
  /** Bytes the realm's Lua state may hold; 0 = unlimited. */
  size_t memory_limit;
  /** VM instructions one handler call may run; 0 = unlimited. */
  uint64_t instruction_budget;
  /** Wall-clock milliseconds one handler call may take; 0 = unlimited. */
  uint32_t deadline_ms;
  /** JIT policy of the realm. */
  mb_jit_policy jit;
} mb_realm_limits;

/** Default memory limit of a realm: 256 MiB. */
#define MB_DEFAULT_MEMORY_LIMIT ((size_t)256 << 20)
/** Default instruction budget of one handler call: 100 million. */
#define MB_DEFAULT_INSTRUCTION_BUDGET 100000000u
/** Default wall-clock deadline of one handler call: 2 seconds. */
#define MB_DEFAULT_DEADLINE_MS 2000u

/**
 * Configuration of a VM. Fill it with mb_config_init(), then override.
 * Strings are copied by mb_vm_new().
 */
typedef struct mb_config {
  mb_alloc_fn alloc;       /**< NULL: the C library's realloc/free */
  void *alloc_ud;          /**< passed to `alloc` */
  mb_log_fn log;           /**< NULL: records are dropped */
  void *log_ud;            /**< passed to `log` */
  mb_realm_limits limits;  /**< limits of every realm the VM creates */
  uint64_t seed;           /**< seeds every script's math.random */
  const char *api_prefix;  /**< package prefix, "engine" by default */
} mb_config;

/** Fill `cfg` with the defaults. */
void mb_config_init(mb_config *cfg);

/** A VM: one world's scripting. */
typedef struct mb_vm mb_vm;

/**
 * Create a VM. On success `*out` owns a new VM (free it with mb_vm_free()).
 * On failure `*out` is NULL; MB_ENOMEM when the allocator failed, MB_EINVAL
 * for a bad configuration (`cfg` may be NULL for the defaults).
 */
mb_status mb_vm_new(const mb_config *cfg, mb_vm **out);

/** Destroy a VM and everything it owns. NULL is a no-op. */
void mb_vm_free(mb_vm *vm);

/**
 * Message of the last failed call on `vm` ("" if none). Owned by the VM;
 * valid until the next call on it.
 */
const char *mb_vm_error(const mb_vm *vm);

/** Bytes currently allocated by the VM through its allocator. */
size_t mb_vm_memory(const mb_vm *vm);

/**
 * Ask the VM to stop the script running now (callable from any thread).
 * The running handler fails with "interrupted"; later calls run normally.
 */
void mb_vm_interrupt(mb_vm *vm);

/** @name Virtual filesystem
 * Scripts see only the VFS: read-only mounts, later mounts shadowing
 * earlier ones. VFS paths use `/`, are case-insensitive, and may not be
 * absolute or contain `..` segments, empty segments or NUL bytes.
 * Symbolic links inside mounted directories are not followed.
 */
/**@{*/

/** Mount the host directory `dir` (copied) as a VFS root. */
mb_status mb_vm_mount_dir(mb_vm *vm, const char *dir);

/**
 * Mount one in-memory file at VFS path `path`. `data` (`size` bytes) is
 * copied. Files mounted into the same in-memory layer shadow earlier mounts.
 */
mb_status mb_vm_mount_file(mb_vm *vm, const char *path, const void *data,
                           size_t size);

/**
 * Read VFS file `path`. On success `*data` receives a buffer of `*size`
 * bytes (NUL-terminated past the end) allocated with the VM's allocator;
 * release it with mb_vm_release().
 */
mb_status mb_vm_read_file(mb_vm *vm, const char *path, char **data,
                          size_t *size);

/** Release a buffer returned by the library. NULL is a no-op. */
void mb_vm_release(mb_vm *vm, void *buf, size_t size);
/**@}*/

/**
 * Run VFS file `path` once as a global script instance in a fresh
 * environment (what `moonbox exec` does). The script's print() goes to the
 * log callback as `global[<path>]:\t...`. MB_ERROR when the script raised
 * (message with traceback on the VM), MB_EBUDGET when it ran out of budget,
 * MB_ENOTFOUND / MB_EDENIED for a bad path.
 */
mb_status mb_vm_exec_file(mb_vm *vm, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* MOONBOX_H */
