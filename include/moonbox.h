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

/**
 * The allocator used wherever none is configured: the C library's malloc,
 * realloc and free (`ud` and `osize` unused). A host that wants to count or
 * cap memory can wrap it.
 */
void *mb_default_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

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

/** @name Realms
 * A VM starts with two realms: "global" (global scripts) and "local"
 * (player and local scripts). Hosts may add local realms (one per client
 * or shard) and place objects in them. No Lua value crosses realms.
 */
/**@{*/
/**
 * Add a local realm named `name` (copied) with `limits` (NULL: the VM's).
 * MB_EINVAL if the name is taken.
 */
mb_status mb_vm_add_realm(mb_vm *vm, const char *name,
                          const mb_realm_limits *limits);
/**
 * Change the limits and JIT policy of realm `name` ("global", "local", or
 * one the host added), e.g. a trusted global realm with the JIT on and an
 * untrusted local one with tight budgets. Not while a script of that realm
 * runs. MB_ENOTFOUND for an unknown realm.
 */
mb_status mb_vm_set_realm_limits(mb_vm *vm, const char *name,
                                 const mb_realm_limits *limits);

/** Bytes held by realm `name` ("global", "local", …), 0 if unknown. */
size_t mb_vm_realm_memory(const mb_vm *vm, const char *name);
/**@}*/

/** @name World: object types, objects, manifests, scripts */
/**@{*/

/**
 * Register an object type name (copied; upper case by convention, e.g.
 * "NPC"). Objects of type "PLAYER" are players: their container holds
 * player scripts. Register every type before the first manifest.
 */
mb_status mb_vm_register_type(mb_vm *vm, const char *name);

/**
 * Add the `.omwscripts` manifest at VFS path `path`. Manifests are
 * merged in the order they are added; that order is the load order.
 * MB_ECORRUPT with "file:line: reason" for a bad manifest (nothing added).
 */
mb_status mb_vm_add_manifest(mb_vm *vm, const char *path);

/** Description of an object for mb_vm_create_object(). */
typedef struct mb_object_desc {
  const char *id;      /**< stable across saves; "global" is reserved */
  const char *type;    /**< a registered type name */
  const char *cell;    /**< NULL: "" */
  double position[3];
  int active;          /**< non-zero: in an active cell */
  const char *realm;   /**< NULL: "local" */
} mb_object_desc;

/**
 * Create an object. Scripts whose manifest flags name its type (and
 * PLAYER scripts for players) attach to it: at once with onInit if the VM
 * has started, otherwise when it starts or loads.
 */
mb_status mb_vm_create_object(mb_vm *vm, const mb_object_desc *desc);

/** Remove an object and its scripts (no handler runs). */
mb_status mb_vm_remove_object(mb_vm *vm, const char *id);

/** Activate or deactivate an object: onActive/onInactive run at once. */
mb_status mb_vm_set_active(mb_vm *vm, const char *id, int active);

/** What the host can read back about an object. */
typedef struct mb_object_info {
  const char *type;  /**< owned by the VM */
  const char *cell;  /**< owned by the VM, valid until the object changes */
  double position[3];
  int active;
} mb_object_info;
mb_status mb_vm_object_info(mb_vm *vm, const char *id, mb_object_info *out);

/**
 * Attach script `path` to object `id` (CUSTOM scripts, or scripts whose
 * flags allow this object). `init_data`: `size` bytes of a serialized value
 * handed to onInit/onLoad (NULL: no initData).
 */
mb_status mb_vm_add_script(mb_vm *vm, const char *id, const char *path,
                           const void *init_data, size_t size);
mb_status mb_vm_remove_script(mb_vm *vm, const char *id, const char *path);
/** 1 if object `id` has script `path` attached, else 0. */
int mb_vm_has_script(mb_vm *vm, const char *id, const char *path);
/**@}*/

/** @name Running */
/**@{*/

/** Number of scripts in the manifests, in load order. */
size_t mb_vm_script_count(const mb_vm *vm);
/** Path of script `i` (owned by the VM; NULL when out of range). */
const char *mb_vm_script_path(const mb_vm *vm, size_t i);

/**
 * Compile VFS file `path` without running it: MB_ECORRUPT with
 * "path:line: message" for a syntax error or a bytecode file.
 */
mb_status mb_vm_compile_file(mb_vm *vm, const char *path);

/** Start a new game: global scripts and attached local scripts get onInit. */
mb_status mb_vm_start(mb_vm *vm);

/**
 * Run one frame: advance simulation time by `dt` (0 while paused) and game
 * time by `dt * timescale`, deliver events, fire timers, call onUpdate.
 * Script errors are logged, not returned; MB_EINVAL for a bad `dt`.
 */
mb_status mb_vm_update(mb_vm *vm, double dt);

/** Game time runs `timescale` times faster than simulation time. */
void mb_vm_set_timescale(mb_vm *vm, double timescale);
double mb_vm_simulation_time(const mb_vm *vm);
double mb_vm_game_time(const mb_vm *vm);

/** Number of script errors logged since the VM was created. */
uint64_t mb_vm_script_errors(const mb_vm *vm);
/**@}*/

/** @name Events from and to the host */
/**@{*/

/**
 * Queue a global event for the next frame. `data`: `size` bytes of a
 * serialized value (mb_encode()), or NULL for nil; checked and copied.
 */
mb_status mb_vm_send_global_event(mb_vm *vm, const char *name,
                                  const void *data, size_t size);
/** Queue an event for the local scripts of object `id` (see above). */
mb_status mb_vm_send_event(mb_vm *vm, const char *id, const char *name,
                           const void *data, size_t size);

/**
 * Host handler of global events: called when a global event named `name`
 * is delivered, after the global scripts' handlers, with its serialized
 * data (NULL/0 for nil), borrowed for the call.
 */
typedef void (*mb_event_fn)(void *ud, mb_vm *vm, const char *name,
                            const void *data, size_t size);
mb_status mb_vm_on_global_event(mb_vm *vm, const char *name, mb_event_fn fn,
                                void *ud);
/**@}*/

/** @name Saving and loading
 * A save holds the clock, each container's attached scripts and each
 * script's onSave() result, keyed by container and script path (never by
 * load order), plus one opaque section of the host's own (its world).
 * Data that cannot be applied on load (a script that no longer exists or
 * may not attach there, an object the host did not create, an onLoad that
 * raised, a section whose checksum fails) is reported once and written
 * back on the next save: nothing is lost.
 */
/**@{*/

/**
 * Called by the load functions after the file is read and before any
 * script state is applied, with the host section saved by
 * mb_vm_save() (`data` NULL when the save has none). The host recreates its
 * world (objects) here. A status other than MB_OK aborts the load.
 */
typedef mb_status (*mb_load_host_fn)(void *ud, mb_vm *vm, const void *data,
                                     size_t size);

/**
 * Save to file `path` atomically (temporary file, then rename). `host` /
 * `host_size`: the host's own section (NULL: none), copied. onSave runs for
 * every script; a failing onSave is logged and that script's previous data
 * is written instead.
 */
mb_status mb_vm_save(mb_vm *vm, const char *path, const void *host,
                     size_t host_size);

/**
 * Save into memory: `*data` (`*size` bytes) is allocated with the VM's
 * allocator; release it with mb_vm_release().
 */
mb_status mb_vm_save_memory(mb_vm *vm, const void *host, size_t host_size,
                            char **data, size_t *size);

/**
 * Load a save file into the VM, replacing every running script (no handler
 * runs for them). Scripts in the save get onLoad(savedData, initData);
 * scripts new since the save get onInit. MB_ECORRUPT when the file is not
 * a save or its structure is broken (nothing changes then).
 */
mb_status mb_vm_load(mb_vm *vm, const char *path, mb_load_host_fn host,
                     void *ud);
/** As mb_vm_load() from `size` bytes at `data` (borrowed). */
mb_status mb_vm_load_memory(mb_vm *vm, const void *data, size_t size,
                            mb_load_host_fn host, void *ud);

/**
 * Hot reload: save to memory, re-read the manifests and script files,
 * restart every script and load the saved state (objects stay as they
 * are). Reloading twice in a row gives the same state hash.
 */
mb_status mb_vm_reload(mb_vm *vm);

/**
 * Write the storage sections whose lifetime is Persistent to their own file
 * `path` (atomically). They are not part of game saves: they outlive new
 * games and loads. Read them back with mb_vm_load_persistent().
 */
mb_status mb_vm_save_persistent(mb_vm *vm, const char *path);
/** Read Persistent storage sections from `path` (MB_ENOTFOUND: no file). */
mb_status mb_vm_load_persistent(mb_vm *vm, const char *path);

/**
 * XXH3-64 of the canonical save bytes (without creation time): clock,
 * attachments, script data, pending events and timers, and the host's
 * section `host` (NULL: none). Calls onSave.
 */
mb_status mb_vm_state_hash(mb_vm *vm, const void *host, size_t host_size,
                           uint64_t *hash);
/**@}*/

/** @name Console and diagnostics */
/**@{*/

/**
 * Run console input `code` in the context of container `id` ("global" or
 * an object id) with that context's packages, in a console environment
 * that persists between calls for that container. The input is tried as an
 * expression first, then as a statement. On MB_OK `*result` (may be NULL)
 * receives the expression's values as text, tab-separated ("" for a
 * statement), owned by the VM until the next call. MB_ECORRUPT for a
 * syntax error (the message ends in "near '<eof>'" when the input is
 * incomplete), MB_ERROR when it raised, MB_ENOTFOUND for an unknown id.
 */
mb_status mb_vm_console(mb_vm *vm, const char *id, const char *code,
                        const char **result);

/** Receives one section of the state: its label (e.g. "npc_1[x.lua]") and
 *  the XXH3-64 of its bytes; both valid for the call. */
typedef void (*mb_digest_fn)(void *ud, const char *label, uint64_t hash);

/**
 * The state as mb_vm_state_hash() sees it, one section at a time, in the
 * canonical order: tells which part of two states differs.
 */
mb_status mb_vm_state_digest(mb_vm *vm, const void *host, size_t host_size,
                             mb_digest_fn fn, void *ud);

/** Per-script figures collected while profiling is on. */
typedef struct mb_profile_entry {
  const char *label;  /**< "<container>[<path>]", owned by the VM */
  uint64_t calls;     /**< handler calls */
  double seconds;     /**< wall time spent in them */
  uint64_t allocated; /**< bytes its calls allocated */
  int64_t bytes;      /**< memory its calls left allocated in its realm */
} mb_profile_entry;

/** Turn profiling on or off (off by default: it costs two clock reads a call). */
void mb_vm_set_profiling(mb_vm *vm, int on);

/**
 * Copy up to `max` entries, one per running script, into `out`; returns the
 * number of running scripts (call with max 0 to size the array).
 */
size_t mb_vm_profile(mb_vm *vm, mb_profile_entry *out, size_t max);
/**@}*/

/** @name Packages
 * What `require("<prefix>.<name>")` returns. Built-in packages are
 * registered the same way.
 */
/**@{*/
typedef enum mb_visibility {
  MB_VISIBLE_GLOBAL = 1,  /**< global scripts */
  MB_VISIBLE_LOCAL = 2,   /**< local scripts that are not player scripts */
  MB_VISIBLE_PLAYER = 4,  /**< player scripts */
  MB_VISIBLE_EVERYWHERE = 7
} mb_visibility;

/** The LuaJIT state type (from lua.h; repeating the typedef is allowed). */
typedef struct lua_State lua_State;

/**
 * Package opener: push the package (usually a table) on `L` and return 1.
 * Called once per realm; the result is cached and shared by the scripts
 * of that realm that may see it. It may raise a Lua error.
 */
typedef int (*mb_package_open)(lua_State *L, void *ud);

/**
 * Register package `<prefix>.<name>` (name copied) visible to the scripts
 * whose context is in `visibility` (mb_visibility bits). MB_EINVAL if the
 * name is taken.
 */
mb_status mb_vm_register_package(mb_vm *vm, const char *name,
                                 unsigned visibility, mb_package_open open,
                                 void *ud);
/**@}*/

/** @name Values <-> bytes
 * The strict codec: Lua values to canonical msgpack and back.
 *
 * Serializable: nil (top level only), booleans, numbers, strings, values
 * of a registered engine type (msgpack ext), and tables of those whose keys
 * are numbers, strings or booleans. Refused, with the path from the root in
 * the message (`data.inventory[3].owner: function is not serializable`):
 * functions, threads, unregistered userdata and cdata, tables with a
 * metatable, a table reached twice (`table is referenced twice (shared)`),
 * a table inside itself (`table contains itself (cycle)`), nesting deeper
 * than the depth limit.
 *
 * Canonical bytes: an integral number in [-2^63, 2^64) is the shortest
 * msgpack int, other numbers float64 (-0.0, inf and NaN kept); a table whose
 * keys are exactly 1..n (n >= 1) is an array; any other table, the empty
 * table included, is a map whose keys are in the order numbers ascending,
 * strings bytewise, false, true. Equal values always give equal bytes.
 *
 * Engine value types are registered per lua_State by the runtime (internal
 * mb__ext_register() in serializer/codec.h); hosts see them as values.
 *
 * The decoder accepts any valid msgpack of those types (str and bin are
 * both strings; keys in any order) and refuses nil and NaN keys, nil inside
 * tables, duplicate keys, unknown ext types, truncation and trailing bytes,
 * with the byte offset in the message (`byte 17: truncated string (needs
 * 200 bytes, 3 left)`). It never allocates before checking a length against
 * the remaining input.
 */
/**@{*/

/** Default nesting limit of the codec (the root table is level 1). */
#define MB_CODEC_DEFAULT_DEPTH 64
/** Highest accepted nesting limit (larger values are clamped to it). */
#define MB_CODEC_MAX_DEPTH 200

/** Options of mb_encode() / mb_decode(). Fill with mb_codec_options_init(). */
typedef struct mb_codec_options {
  /** Deepest table nesting accepted (default ::MB_CODEC_DEFAULT_DEPTH). */
  unsigned max_depth;
  /** Name of the root in error paths (default "value"; borrowed). */
  const char *root_name;
} mb_codec_options;

/** Fill `opt` with the defaults. */
void mb_codec_options_init(mb_codec_options *opt);

/**
 * Encode the value at stack index `idx` of `L` (left in place).
 *
 * On success `*out` receives a block of exactly `*size` bytes allocated with
 * `alloc` (`NULL`: the C library's realloc/free); the caller owns it and
 * frees it with `alloc(alloc_ud, *out, *size, 0)` (or free() when `alloc`
 * is NULL). A nil value or any value encodes to at least one byte.
 * On failure `*out` is NULL, nothing leaks, and one string (the message) is
 * pushed on `L`: MB_EINVAL for a value that is not serializable (message
 * `<root><path>: <reason>`), MB_ENOMEM when an allocation failed,
 * MB_ERROR when an engine value's encode callback raised a Lua error.
 * Never raises. `opt` may be NULL for the defaults. Needs 3 free stack
 * slots.
 */
mb_status mb_encode(lua_State *L, int idx, const mb_codec_options *opt,
                    mb_alloc_fn alloc, void *alloc_ud, void **out,
                    size_t *size);

/**
 * Encode the value at `idx` and push the bytes as a Lua string. On failure
 * pushes the message instead (same codes as mb_encode()). Never raises.
 */
mb_status mb_encode_string(lua_State *L, int idx, const mb_codec_options *opt);

/**
 * Decode `size` bytes at `data` (borrowed) onto `L`: pushes the value on
 * success; on failure pushes the message and returns MB_ECORRUPT for bad
 * bytes (`byte <offset>: <reason>`) or MB_ENOMEM. Never raises. Exactly one
 * value is pushed either way. `opt` may be NULL (root_name is unused).
 */
mb_status mb_decode(lua_State *L, const void *data, size_t size,
                    const mb_codec_options *opt);
/**@}*/

/** @name Save files
 * An ::mb_save is the in-memory model of one save file: a header of named
 * fields and a set of sections. Each section is identified by
 * (kind, container, path) — e.g. ("script", "global", "scripts/a.lua"),
 * ("host", "", "world") — and holds an opaque payload (normally msgpack
 * from mb_encode()) with its XXH3-64 checksum. Sections are kept and
 * written sorted by identity, never in insertion or load order, so equal
 * contents give equal bytes.
 *
 * Reading never stops at a bad checksum: the section is loaded with
 * `checksum_ok == 0`, its bytes and stored checksum are kept, and a later
 * write puts them back unchanged (so the next reader reports it bad too,
 * and nothing is lost). Sections of kinds the host does not know are kept
 * the same way. Structural damage (bad preamble, index or footer,
 * truncation) fails the whole read with MB_ECORRUPT.
 * The binary layout is documented in serializer/FORMAT.md.
 */
/**@{*/

/** Save format version written by this library; readers accept any minor
 *  version of the same major. */
#define MB_SAVE_FORMAT_MAJOR 1
#define MB_SAVE_FORMAT_MINOR 0

/** Conventional header field names. */
#define MB_SAVE_FIELD_FORMAT "format"         /**< str, written always */
#define MB_SAVE_FIELD_CREATED_BY "created_by" /**< str, "moonbox 0.1.0" */
#define MB_SAVE_FIELD_CREATED_AT "created_at" /**< int, Unix seconds */
#define MB_SAVE_FIELD_VM_SEED "vm_seed"       /**< uint */
#define MB_SAVE_FIELD_VM_TIME "vm_time"       /**< float, simulation time */

/** A save file in memory (opaque). */
typedef struct mb_save mb_save;

/** What the last read found. */
typedef enum mb_save_state {
  MB_SAVE_NEW = 0,        /**< nothing read (a fresh or cleared save) */
  MB_SAVE_INTACT = 1,     /**< read; every checksum holds */
  MB_SAVE_DAMAGED = 2,    /**< read; some checksums fail (see the sections) */
  MB_SAVE_CORRUPT = 3,    /**< a save, but its structure is broken: nothing
                               was loaded */
  MB_SAVE_NOT_A_SAVE = 4, /**< not a moonbox save file at all */
  MB_SAVE_UNREADABLE = 5  /**< the file could not be read */
} mb_save_state;

/** Type of a header field. */
typedef enum mb_save_field_type {
  MB_FIELD_STR = 0,
  MB_FIELD_INT = 1,  /**< signed 64-bit */
  MB_FIELD_UINT = 2, /**< unsigned 64-bit (above INT64_MAX) */
  MB_FIELD_FLOAT = 3,
  MB_FIELD_BOOL = 4
} mb_save_field_type;

/** One header field (strings owned by the save, valid until it changes). */
typedef struct mb_save_field {
  const char *key;
  mb_save_field_type type;
  const char *str; /**< MB_FIELD_STR (NUL-terminated; `str_len` bytes) */
  size_t str_len;
  int64_t i;  /**< MB_FIELD_INT, MB_FIELD_BOOL (0/1) */
  uint64_t u; /**< MB_FIELD_UINT (and MB_FIELD_INT when >= 0) */
  double f;   /**< MB_FIELD_FLOAT */
} mb_save_field;

/** One section. Pointers are owned by the save and valid until it changes. */
typedef struct mb_save_section {
  const char *kind;      /**< "script", "host", "storage", or unknown */
  const char *container; /**< container identity ("global", object id) */
  const char *path;      /**< script path, or a host-chosen name */
  const void *payload;   /**< `size` bytes */
  size_t size;
  uint64_t checksum; /**< stored XXH3-64 of the payload */
  int checksum_ok;   /**< 1 when the payload matches `checksum` */
} mb_save_section;

/**
 * Create an empty save. `alloc` NULL: the C library's realloc/free. On
 * success `*out` owns a save (free with mb_save_free()); MB_ENOMEM otherwise.
 */
mb_status mb_save_new(mb_alloc_fn alloc, void *alloc_ud, mb_save **out);
/** Free a save and everything it owns. NULL is a no-op. */
void mb_save_free(mb_save *save);
/** Drop all fields and sections; the state becomes MB_SAVE_NEW. */
void mb_save_clear(mb_save *save);
/** Message of the last failure ("" if none). Owned by the save. */
const char *mb_save_error(const mb_save *save);
/** What the last read found. */
mb_save_state mb_save_get_state(const mb_save *save);

/**
 * Replace the contents with the save file in `data` (`size` bytes,
 * borrowed; the save copies what it keeps). MB_OK when the structure is
 * sound — also when some checksums fail: check mb_save_get_state() or each
 * section's `checksum_ok`. MB_ECORRUPT (message on the save) when the bytes
 * are not a save or its structure is broken; the save is then empty.
 */
mb_status mb_save_read_memory(mb_save *save, const void *data, size_t size);
/** As mb_save_read_memory() from a file; MB_ENOTFOUND / MB_EIO when it
 *  cannot be read (state MB_SAVE_UNREADABLE). */
mb_status mb_save_read_file(mb_save *save, const char *path);

/** 1 unless the last read found the header's checksum bad (its fields are
 *  then absent). */
int mb_save_header_ok(const mb_save *save);

/** Format version of the last read file (0.0 for a new save). */
void mb_save_version(const mb_save *save, unsigned *major, unsigned *minor);

/** Number of header fields. */
size_t mb_save_field_count(const mb_save *save);
/** Header field `i` (fields sorted by key). MB_EINVAL when out of range. */
mb_status mb_save_field_at(const mb_save *save, size_t i, mb_save_field *out);
/** Header field named `key`; MB_ENOTFOUND when absent. */
mb_status mb_save_field_get(const mb_save *save, const char *key,
                            mb_save_field *out);
/** Set (add or replace) a header field; `key` and `value` are copied. */
mb_status mb_save_set_str(mb_save *save, const char *key, const char *value);
mb_status mb_save_set_int(mb_save *save, const char *key, int64_t value);
mb_status mb_save_set_uint(mb_save *save, const char *key, uint64_t value);
mb_status mb_save_set_float(mb_save *save, const char *key, double value);
mb_status mb_save_set_bool(mb_save *save, const char *key, int value);

/** Number of sections. */
size_t mb_save_section_count(const mb_save *save);
/** Section `i` (sorted by kind, container, path). MB_EINVAL out of range. */
mb_status mb_save_section_at(const mb_save *save, size_t i,
                             mb_save_section *out);
/** Index of the section with that identity; MB_ENOTFOUND when absent. */
mb_status mb_save_find(const mb_save *save, const char *kind,
                       const char *container, const char *path, size_t *index);
/**
 * Add or replace a section; everything is copied and the checksum computed
 * (`checksum_ok` becomes 1). `kind` must be non-empty; strings may not hold
 * NUL bytes.
 */
mb_status mb_save_put(mb_save *save, const char *kind, const char *container,
                      const char *path, const void *payload, size_t size);
/**
 * Add or replace a section keeping a given stored checksum (e.g. the bytes
 * of a section that failed its check, carried over from a read save, so the
 * file written next still reports it bad). `checksum_ok` is recomputed.
 */
mb_status mb_save_put_raw(mb_save *save, const char *kind,
                          const char *container, const char *path,
                          const void *payload, size_t size, uint64_t checksum);
/** Remove section `i`. MB_EINVAL when out of range. */
mb_status mb_save_remove(mb_save *save, size_t i);

/**
 * A short display name of section `i` into `buf` (always NUL-terminated,
 * truncated to `len`): `<container>[<path>]` for kind "script",
 * `<kind>:<container>[<path>]` otherwise, `header` for i == SIZE_MAX.
 */
void mb_save_section_label(const mb_save *save, size_t i, char *buf,
                           size_t len);

/**
 * Serialize to a new block: on success `*data` (`*size` bytes) is allocated
 * with the save's allocator; free it with mb_save_release().
 */
mb_status mb_save_write_memory(mb_save *save, void **data, size_t *size);
/** Release a block from mb_save_write_memory(). NULL is a no-op. */
void mb_save_release(mb_save *save, void *data, size_t size);
/**
 * Write atomically to `path`: a temporary file in the same directory is
 * written, flushed, fsync'ed and renamed over `path`. On any failure the
 * temporary file is removed and the old file at `path` is untouched
 * (MB_EIO with the OS reason, or MB_ENOMEM).
 */
mb_status mb_save_write_file(mb_save *save, const char *path);

/**
 * Report callback of mb_save_verify_file(): `what` is "file", "header" or a
 * section label (see mb_save_section_label()); `message` says what is wrong.
 * Both are borrowed for the call.
 */
typedef void (*mb_save_report_fn)(void *ud, const char *what,
                                  const char *message);

/**
 * What `moonbox save verify FILE` needs, printing nothing: reads `path`,
 * calls `report` (may be NULL) once per problem, and returns the exit
 * status: 0 every checksum holds; 1 some checksums fail (one report per bad
 * section or header) or the structure is broken (one report, what="file");
 * 2 the file cannot be read or is not a save (one report, what="file").
 */
int mb_save_verify_file(const char *path, mb_alloc_fn alloc, void *alloc_ud,
                        mb_save_report_fn report, void *report_ud);

/**@}*/

#ifdef __cplusplus
}
#endif

#endif /* MOONBOX_H */
