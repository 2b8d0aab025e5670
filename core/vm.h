/* The VM's internals, shared by the files of core/ and api/. */
#ifndef MB_CORE_VM_H
#define MB_CORE_VM_H

#include <stdarg.h>
#include <stdint.h>

#include <lua.h>

#include "core/manifest.h"
#include "core/map.h"
#include "moonbox.h"
#include "sandbox/env.h"
#include "sandbox/realm.h"
#include "sandbox/vfs.h"

#define MB__MAX_REALMS 16

typedef struct mb__instance mb__instance;
typedef struct mb__container mb__container;
typedef struct mb__object mb__object;

/* A set of script instances sharing interfaces: the global container or
 * one object's. */
struct mb__container {
  char *id;          /* "global" or the object's id (owned) */
  mb__object *object; /* NULL for the global container */
  unsigned context;  /* MB_VISIBLE_GLOBAL, _LOCAL or _PLAYER */
  int realm;         /* index into vm->realms */
  mb__instance **scripts; /* in load order */
  size_t nscripts, cap;
};

struct mb__object {
  mb__container container; /* container.id is the object id */
  int type;                /* index into vm->types */
  char *cell;
  double pos[3];
  int active;
  uint64_t seq;            /* creation order */
  int started;             /* its auto-attached scripts were started */
};

/* Bytes owned by the VM allocator. */
typedef struct mb__bytes {
  char *data;
  size_t size;
} mb__bytes;

/* One script file running in one container. */
struct mb__instance {
  mb__script script;       /* first: the sandbox's per-instance state */
  mb__container *container;
  char *path;              /* normalised VFS path (owned) */
  char *label;             /* "<container>[<path>]" (owned) */
  size_t order;            /* manifest position: the load order */
  int handle_ref;          /* sandbox handle (require, packages) */
  int table_ref;           /* the table the script returned */
  int update_ref;          /* engineHandlers.onUpdate or LUA_NOREF */
  mb__bytes init_data;     /* serialized initData (may be empty) */
  mb__bytes kept;          /* saved data an onLoad could not apply */
  int keep;                /* write `kept` back instead of calling onSave */
  uint64_t uid;            /* never reused: timers and callbacks bind to it */
  int callbacks_ref;       /* registered timer callbacks (name → fn) */
  int loading;             /* its chunk is running (registration allowed) */
  int running;             /* handler calls on the stack */
  uint64_t prof_calls, prof_ns;
  uint64_t prof_allocated; /* bytes allocated during its calls */
  int64_t prof_bytes;      /* of which still held when its calls returned */
  int doomed;              /* stopped while running: free after the call */
};

/* Opener of a package that depends on the requiring script (e.g. self). */
typedef int (*mb__package_open_for)(lua_State *L, mb__instance *inst,
                                    void *ud);

typedef struct mb__package {
  char *name; /* without the prefix */
  unsigned visibility;
  mb_package_open open;        /* cached per realm */
  mb__package_open_for open_for; /* or built per script */
  void *ud;
} mb__package;

typedef enum mb__vm_state { MB__NEW, MB__RUNNING } mb__vm_state;

/* An event waiting for the next frame. */
typedef struct mb__event {
  char *target; /* NULL: global; else an object id */
  char *name;   /* interned in vm->event_names, or owned */
  int name_owned;
  mb__bytes data;
  size_t data_cap; /* bytes allocated for data (>= data.size) */
} mb__event;

/* A timer. Savable timers name a registered callback; unsavable ones hold
 * a function reference in their realm. */
typedef struct mb__timer {
  double due;
  uint64_t seq;      /* creation order: ties fire in it */
  uint64_t uid;      /* the instance it belongs to */
  char *container;
  char *path;
  char *callback;    /* NULL: unsavable */
  int fn_ref;        /* unsavable: the function */
  int realm;
  int game;          /* 1: game time, 0: simulation time */
  mb__bytes arg;
} mb__timer;

typedef struct mb__heap {
  mb__timer **items;
  size_t n, cap;
} mb__heap;



struct mb_vm {
  mb_config cfg; /* api_prefix points at `prefix` below */
  char prefix[64];
  size_t bytes;  /* VM-level memory (not the realms') */
  mb__vfs *vfs;
  mb__sandbox_host host;
  mb__realm *realms[MB__MAX_REALMS]; /* 0: global, 1: local */
  size_t nrealms;
  char *error;
  size_t error_size;
  uint64_t script_errors;

  mb__vm_state state;
  double sim_time, game_time, timescale;

  char *types[MB__MAX_TYPES];
  size_t ntypes;
  int player_type; /* index of "PLAYER", -1 if not registered */

  mb__manifest *manifest;
  char **manifest_paths; /* VFS paths given to mb_vm_add_manifest */
  size_t nmanifests;

  mb__container global;
  mb__map objects;        /* id → mb__object */
  mb__object **by_seq;    /* creation order (NULL holes after removal) */
  size_t nby_seq, cap_by_seq;
  uint64_t next_seq;

  mb__package *packages;
  size_t npackages;

  mb_save *kept; /* sections a load could not apply (NULL: none) */

  uint64_t next_uid;
  mb__event *events; /* in send order */
  mb__map event_names; /* interned event names (bounded) */
  size_t nevents, cap_events;
  size_t due_events; /* how many of them were sent before this frame */
  mb__event in_flight; /* the event being delivered */
  mb__heap timers[MB__MAX_REALMS][2]; /* [realm][game] */
  mb__timer **waiting; /* due while their object is inactive */
  size_t nwaiting, cap_waiting;
  mb__timer **lost;  /* callback not registered: kept for the next save */
  size_t nlost, cap_lost;
  uint64_t next_timer_seq;
  struct host_handler {
    char *name;
    mb_event_fn fn;
    void *ud;
  } *host_handlers;
  size_t nhost_handlers;

  struct mb__storage *storage;

  mb__instance **consoles; /* console environments, one per container */
  size_t nconsoles;
  char *console_result;
  size_t console_result_size;
  int profiling;
  const mb__bytes *start_rng; /* set while a load restarts an instance */
};

/* ---- vm.c ---- */
void *mb__vm_alloc(mb_vm *vm, void *ptr, size_t osize, size_t nsize);
/* The same as an mb_alloc_fn with the VM as `ud`. */
void *mb__vm_alloc_cb(void *ud, void *ptr, size_t osize, size_t nsize);
char *mb__vm_strdup(mb_vm *vm, const char *s);
void mb__vm_strfree(mb_vm *vm, char *s);
mb_status mb__vm_fail(mb_vm *vm, mb_status st, const char *fmt, ...);
void mb__vm_log(mb_vm *vm, mb_log_level level, const char *fmt, ...);
/* Log a script error (counts it for --strict). */
void mb__vm_script_error(mb_vm *vm, const char *fmt, ...);
/* The VM that owns a realm's Lua state. */
mb_vm *mb__vm_of(lua_State *L);
/* Index of realm `name`, or -1. */
int mb__vm_realm_index(const mb_vm *vm, const char *name);

/* Push t[k] without metamethods. Host code reads script tables only this
 * way: an __index function would otherwise run outside the gate, with no
 * budget. */
static inline void mb__rawfield(lua_State *L, int idx, const char *k) {
  if (idx < 0 && idx > LUA_REGISTRYINDEX) idx = lua_gettop(L) + idx + 1;
  lua_pushstring(L, k);
  lua_rawget(L, idx);
}

/* ---- world.c ---- */
void mb__world_free(mb_vm *vm);
mb__object *mb__vm_object(const mb_vm *vm, const char *id);
mb__container *mb__vm_container(mb_vm *vm, const char *id);

/* ---- world.c (more) ---- */
/* The manifest flag bit of object type `type` (0 for PLAYER). */
uint64_t mb__type_flag(const mb_vm *vm, int type);
mb_status mb__manifest_add_text(mb_vm *vm, const char *name, const char *text,
                                size_t len);

/* ---- script.c ---- */
mb__instance *mb__instance_new(mb_vm *vm, mb__container *c, const char *path);
void mb__instance_free(mb_vm *vm, mb__instance *inst);
/* Build the instance's environment and push its loaded chunk. */
mb_status mb__instance_load(mb_vm *vm, mb__instance *inst, char *err,
                            size_t errsize);
/* Push engine handler `name` of `inst` and return 1, or return 0. */
int mb__instance_handler(mb_vm *vm, mb__instance *inst, const char *name);
mb_status mb__bytes_copy(mb_vm *vm, mb__bytes *dst, const void *src,
                         size_t size);
/* The instance's math.random state as 32 bytes (big-endian words). */
void mb__rng_bytes(const mb__instance *inst, char out[32]);
/* Start `path` in container `c` with onInit(init) — or onLoad(saved, init)
 * when `saved` is not NULL. Logs and returns an error when it cannot
 * start (nothing is left behind). */
mb_status mb__script_start(mb_vm *vm, mb__container *c, const char *path,
                           const mb__bytes *init, const mb__bytes *saved);
/* Stop and free one instance (no handler runs). */
void mb__script_stop(mb_vm *vm, mb__instance *inst);
/* Stop every instance of a container. */
void mb__container_clear(mb_vm *vm, mb__container *c);
mb__instance *mb__container_find(const mb__container *c, const char *path);
/* Push a read-only view of interface `name` as published by the scripts of
 * `c` before position `below` (SIZE_MAX: all) and return 1, or return 0. */
int mb__interface_push(mb_vm *vm, mb__container *c, const char *name,
                       size_t below);
/* Attach the scripts the manifest gives this object's type (and players'). */
mb_status mb__object_autoattach(mb_vm *vm, mb__object *obj);
/* Whether the manifest lets `path` attach to `c`; fills err. */
int mb__script_allowed(mb_vm *vm, const mb__container *c, const char *path,
                       char *err, size_t errsize);
/* Call engine handler `name` of every instance of `c` with the values
 * pushed by `push` (may be NULL). */
void mb__container_call(mb_vm *vm, mb__container *c, const char *name,
                        void (*push)(lua_State *L, void *ud), void *ud,
                        int nargs);
/* Run the function below `nargs` arguments for `inst` through the gate,
 * logging a failure as "<label> <what> failed: …". Returns the status.
 * Afterwards the caller frees `inst` if it is `doomed`. */
mb_status mb__instance_call(mb_vm *vm, mb__instance *inst, int nargs,
                            int nresults, const char *what);

/* ---- frame.c ---- */
/* Start the GLOBAL scripts in manifest order; `saved` (may be NULL) gives
 * the saved data of a script and returns 1 (then onLoad runs). */
mb_status mb__vm_start_globals(mb_vm *vm,
                               int (*saved)(mb_vm *, const char *, mb__bytes *,
                                            void *),
                               void *ud);
/* Deliver what is due in realm `r` before its onUpdate (events, timers). */
void mb__vm_deliver(mb_vm *vm, int r);

/* ---- scheduler.c: events and timers ---- */
mb_status mb__vm_save_scheduler(mb_vm *vm, mb_save *save);
/* Restore pending events and timers; marks the sections it applied. */
void mb__vm_load_scheduler(mb_vm *vm, mb_save *save, unsigned char *applied);
void mb__vm_clear_scheduler(mb_vm *vm);
void mb__vm_free_scheduler(mb_vm *vm);
/* Queue an event taking `data` over (`cap` bytes allocated for it; it is
 * emptied on success). */
mb_status mb__event_queue(mb_vm *vm, const char *target, const char *name,
                          mb__bytes *data, size_t cap);
/* Queue an event (bytes copied). target NULL: a global event. */
mb_status mb__event_send(mb_vm *vm, const char *target, const char *name,
                         const void *data, size_t size);
/* Add a timer (fields moved in; on failure the timer is freed). */
mb_status mb__timer_add(mb_vm *vm, mb__timer *t);
void mb__timer_free(mb_vm *vm, mb__timer *t);
/* An object became active: its waiting timers are due again. */
void mb__timers_wake(mb_vm *vm, const char *id);
/* The live instance with that identity and uid, or NULL. */
mb__instance *mb__instance_find(mb_vm *vm, const char *container,
                                const char *path, uint64_t uid);

/* ---- console.c ---- */
/* Forget the console of container `id` (NULL: all). */
void mb__console_drop(mb_vm *vm, const char *id);

/* ---- storage.c ---- */
void mb__storage_free(mb_vm *vm);

/* ---- packages.c ---- */
/* The sandbox's resolver for `require("<prefix>.x")`. */
int mb__packages_resolve(lua_State *L, const char *name, void *owner,
                         void *ud);
void mb__packages_free(mb_vm *vm);
mb_status mb__package_add(mb_vm *vm, const char *name, unsigned visibility,
                          mb_package_open open, mb__package_open_for open_for,
                          void *ud);
/* Register the built-in packages (api/). */
mb_status mb__api_register(mb_vm *vm);

#endif
