/* One realm: lua_State + counting allocator + budget + the gate. */
#define _POSIX_C_SOURCE 200809L
#include "sandbox/realm.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <luajit.h>
#include <lualib.h>

#include "sandbox/alloc.h"

/* The count hook runs every HOOK_GRANULE VM instructions while a call is
 * armed; budgets are charged in these units (overshoot < one granule). */
#define HOOK_GRANULE 1000
/* Nested C functions calling back into Lua (sort comparators, gsub
 * callbacks, coroutine resumes, print's tostring). LuaJIT never checks the
 * C stack; one level costs up to ~10 KiB, so 200 levels stay under 2 MiB. */
#define MAX_C_DEPTH 200
/* LuaJIT crashes when one of the first allocations inside lua_newstate
 * fails (measured: the 2nd to 7th). While the state is created, failures
 * of the host allocator are served from a reserve taken beforehand, and the
 * memory limit does not apply yet. */
#define BOOT_RESERVE ((size_t)64 << 10)
/* Memory the host may use above a realm's limit while it works for it. */
#define HOST_HEADROOM ((size_t)1 << 20)

/* Allocations charge the budget too: copying and hashing a big string is
 * C work of one VM instruction. One step per ALLOC_STEP_BYTES grown, and an
 * allocation of at least ALLOC_CHECK_BYTES also looks at the clock. */
#define ALLOC_STEP_BYTES 16
#define ALLOC_CHECK_BYTES ((size_t)64 << 10)

enum exhaustion {
  RUNNING = 0,
  OUT_OF_BUDGET,
  PAST_DEADLINE,
  INTERRUPTED,
  STACK_OVERFLOW
};

/* Every block carries its size in front: LuaJIT's `osize` is not always
 * right on free, and the limit must count exactly. 16 bytes keep the
 * 16-byte alignment malloc gives (max_align_t would cost 32 on x86-64,
 * ~200 bytes per script instance). */
typedef struct block_header {
  size_t size;
  size_t pad;
} block_header;
_Static_assert(sizeof(block_header) == 16, "block header must keep alignment");

struct mb__realm {
  lua_State *L;
  char *name;
  mb_alloc_fn alloc;
  void *alloc_ud;
  mb_realm_limits limits;
  size_t lua_bytes;  /* held by the Lua state, headers included */
  size_t host_bytes; /* held by the owner through mb__realm_host_alloc */

  /* budget of the running (outermost) call */
  int depth;            /* nesting of gates */
  int c_depth;          /* nesting of C→Lua callbacks */
  int64_t steps_left;   /* instruction budget left, in VM instructions */
  uint64_t deadline_ns; /* 0: not started yet (started at the first check) */
  int handler_ref;      /* the gate's message handler, made once */
  int host_work;        /* >0: host code runs (not a script): headroom */
  int trampoline_ref;   /* calls a lua_CFunction given as light userdata */
  int exhausted;        /* enum exhaustion; sticky until the gate returns */
  atomic_int interrupt;
  atomic_int running; /* an outer gate is armed (read by mb__realm_interrupt) */

  void *current;
  uint64_t *meter; /* bytes allocated by the running script, or NULL */
  void *owner;
  char *error;
  size_t error_size;

  int creating;  /* inside lua_newstate */
  char *reserve; /* BOOT_RESERVE bytes, or NULL */
  size_t reserve_used;
};

static const char *const exhaustion_message[] = {
    "", "instruction budget exceeded", "deadline exceeded", "interrupted",
    "stack overflow"};

/* ---- allocation -------------------------------------------------------- */

static void *raw_alloc(mb__realm *r, void *ptr, size_t osize, size_t nsize) {
  return r->alloc(r->alloc_ud, ptr, osize, nsize);
}

/* Counted realloc with a header. `limit` 0 means unlimited. Only ever
 * returns NULL on failure: raising from an allocator corrupts LuaJIT. */
static inline void *counted_realloc(mb__realm *r, size_t *counter, size_t limit,
                             void *ptr, size_t nsize) {
  block_header *old = ptr ? (block_header *)ptr - 1 : NULL;
  size_t osize = old ? old->size : 0;
  if (nsize == 0) {
    if (old) {
      *counter -= osize + sizeof *old;
      raw_alloc(r, old, osize + sizeof *old, 0);
    }
    return NULL;
  }
  if (nsize > SIZE_MAX / 2) return NULL;
  if (limit && nsize > osize && *counter + (nsize - osize) > limit) return NULL;
  block_header *blk =
      raw_alloc(r, old, old ? osize + sizeof *old : 0, nsize + sizeof *old);
  if (!blk) return NULL;
  *counter = *counter - osize + nsize;
  if (!old) *counter += sizeof *blk;
  blk->size = nsize;
  return blk + 1;
}

static int in_reserve(const mb__realm *r, const void *ptr) {
  const char *p = ptr;
  return r->reserve && p >= r->reserve && p < r->reserve + BOOT_RESERVE;
}

/* Carve a block from the boot reserve (never freed back: it is small). */
static void *reserve_alloc(mb__realm *r, size_t nsize) {
  size_t need = (nsize + sizeof(block_header) + 15) & ~(size_t)15;
  if (!r->reserve || BOOT_RESERVE - r->reserve_used < need) return NULL;
  block_header *blk = (block_header *)(r->reserve + r->reserve_used);
  r->reserve_used += need;
  blk->size = nsize;
  r->lua_bytes += nsize + sizeof *blk;
  return blk + 1;
}

static void budget_hook(lua_State *L, lua_Debug *ar);
static int check_exhausted(mb__realm *r);

/* Charge a grown block to the running call. An allocator must never raise
 * (LuaJIT corrupts), so when the call must stop, the hook is set to fire at
 * the very next instruction and raises there. */
static inline void charge_alloc(mb__realm *r, size_t grown) {
  if (r->meter) *r->meter += grown; /* the running script's profile */
  if (r->depth == 0 || !r->L || r->exhausted) return;
  r->steps_left -= (int64_t)(grown / ALLOC_STEP_BYTES);
  int stop = r->limits.instruction_budget && r->steps_left <= 0;
  if (!stop && grown >= ALLOC_CHECK_BYTES) stop = check_exhausted(r) != 0;
  if (stop) lua_sethook(r->L, budget_hook, LUA_MASKCOUNT, 1);
}

/* The limit on the Lua state now: none while lua_newstate runs; raised by
 * a headroom while host code works for the realm (saving, delivering,
 * building environments), which may exceed a limit the scripts filled: the
 * limit is theirs, not the host's. */
static size_t lua_limit(const mb__realm *r) {
  size_t limit = r->creating ? 0 : r->limits.memory_limit;
  if (limit && r->host_work) {
    size_t room = limit / 8 > HOST_HEADROOM ? limit / 8 : HOST_HEADROOM;
    limit = limit > SIZE_MAX - room ? SIZE_MAX : limit + room;
  }
  return limit;
}

/* Charges the growth of `ptr` (NULL: a new block) to `nsize` > 0 bytes. */
static inline void charge_growth(mb__realm *r, const void *ptr, size_t nsize) {
  if (!ptr) {
    charge_alloc(r, nsize);
    if (r->meter) *r->meter += sizeof(block_header); /* as the limit counts */
    return;
  }
  size_t old = ((const block_header *)ptr - 1)->size;
  if (nsize > old) charge_alloc(r, nsize - old);
}

/* lua_alloc while the boot reserve is in play: during lua_newstate, and
 * afterwards while blocks carved from the reserve are alive. */
static void *boot_alloc(mb__realm *r, void *ptr, size_t nsize) {
  size_t limit = lua_limit(r);
  if (!in_reserve(r, ptr)) {
    if (nsize) charge_growth(r, ptr, nsize);
    void *p = counted_realloc(r, &r->lua_bytes, limit, ptr, nsize);
    if (p || nsize == 0 || !r->creating) return p;
    /* creating and the host failed: fall back to the reserve */
    p = reserve_alloc(r, nsize);
    if (p && ptr) {
      block_header *old = (block_header *)ptr - 1;
      memcpy(p, ptr, old->size < nsize ? old->size : nsize);
      counted_realloc(r, &r->lua_bytes, 0, ptr, 0);
    }
    return p;
  }
  /* a block of the reserve: move it out, never give it back */
  block_header *old = (block_header *)ptr - 1;
  size_t osz = old->size;
  void *p = NULL;
  if (nsize) {
    p = counted_realloc(r, &r->lua_bytes, limit, NULL, nsize);
    if (!p && r->creating) p = reserve_alloc(r, nsize);
    if (!p) return NULL;
    memcpy(p, ptr, osz < nsize ? osz : nsize);
  }
  r->lua_bytes -= osz + sizeof *old;
  return p;
}

static void *lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  mb__realm *r = ud;
  (void)osize;
  if (r->reserve) return boot_alloc(r, ptr, nsize);
  if (nsize == 0) return counted_realloc(r, &r->lua_bytes, 0, ptr, 0);
  charge_growth(r, ptr, nsize);
  return counted_realloc(r, &r->lua_bytes, lua_limit(r), ptr, nsize);
}

void *mb__realm_host_alloc(mb__realm *r, void *ptr, size_t osize,
                           size_t nsize) {
  (void)osize;
  return counted_realloc(r, &r->host_bytes, 0, ptr, nsize);
}

/* ---- lifetime ------------------------------------------------------------ */

static int message_handler(lua_State *L);
static int trampoline(lua_State *L);

/* The gate's message handler and the trampoline of mb__realm_protect are
 * made once: pushing a C function allocates, and host code must not
 * allocate outside protected mode (LuaJIT panics and exits when it fails). */
static int init_handler(lua_State *L) {
  mb__realm *r = lua_touserdata(L, 1);
  lua_pushcfunction(L, message_handler);
  r->handler_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushcfunction(L, trampoline);
  r->trampoline_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

/* luaopen_jit is what initialises the JIT compiler (CPU features, default
 * parameters: without it nothing is ever compiled, whatever the mode).
 * Its tables go into globals and the loaded/preload tables, which scripts
 * never see (their environments are built from copies); they are dropped
 * anyway. */
static int init_jit(lua_State *L) {
  lua_pushcfunction(L, luaopen_jit);
  lua_call(L, 0, 0);
  lua_pushnil(L);
  lua_setglobal(L, LUA_JITLIBNAME);
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
  if (lua_istable(L, -1)) {
    lua_pushnil(L);
    lua_setfield(L, -2, LUA_JITLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "jit.opt");
  }
  return 0;
}

mb__realm *mb__realm_new(const char *name, const mb_realm_limits *limits,
                         mb_alloc_fn alloc, void *alloc_ud) {
  mb__realm *r = mb__alloc_object(&alloc, &alloc_ud, sizeof *r);
  if (!r) return NULL;
  r->alloc = alloc;
  r->alloc_ud = alloc_ud;
  r->limits = *limits;
  atomic_init(&r->interrupt, 0);
  atomic_init(&r->running, 0);
  size_t len = strlen(name);
  r->name = mb__realm_host_alloc(r, NULL, 0, len + 1);
  if (!r->name) goto fail;
  memcpy(r->name, name, len + 1);
  r->reserve = raw_alloc(r, NULL, 0, BOOT_RESERVE);
  if (!r->reserve) goto fail;
  r->creating = 1;
  r->L = lua_newstate(lua_alloc, r);
  r->creating = 0;
  if (r->reserve_used == 0) {
    raw_alloc(r, r->reserve, BOOT_RESERVE, 0);
    r->reserve = NULL;
  }
  if (!r->L) goto fail;
  if (lua_cpcall(r->L, init_jit, NULL) != 0) goto fail;
  if (lua_cpcall(r->L, init_handler, r) != 0) goto fail;
  lua_sethook(r->L, budget_hook, LUA_MASKCOUNT, HOOK_GRANULE);
  /* After init_jit, which switches the compiler on. */
  luaJIT_setmode(
      r->L, 0,
      LUAJIT_MODE_ENGINE |
          (limits->jit == MB_JIT_ON ? LUAJIT_MODE_ON : LUAJIT_MODE_OFF));
  return r;
fail:
  mb__realm_free(r);
  return NULL;
}

void mb__realm_free(mb__realm *r) {
  if (!r) return;
  if (r->L) lua_close(r->L);
  if (r->reserve) raw_alloc(r, r->reserve, BOOT_RESERVE, 0);
  mb__realm_host_alloc(r, r->error, 0, 0);
  mb__realm_host_alloc(r, r->name, 0, 0);
  r->alloc(r->alloc_ud, r, sizeof *r, 0);
}

lua_State *mb__realm_lua(mb__realm *r) {
  return r->L;
}
const char *mb__realm_name(const mb__realm *r) {
  return r->name;
}
size_t mb__realm_memory(const mb__realm *r) {
  return r->lua_bytes + r->host_bytes + sizeof *r;
}
void mb__realm_set_memory_limit(mb__realm *r, size_t limit) {
  r->limits.memory_limit = limit;
}

void mb__realm_set_limits(mb__realm *r, const mb_realm_limits *limits) {
  r->limits = *limits;
  luaJIT_setmode(
      r->L, 0,
      LUAJIT_MODE_ENGINE |
          (limits->jit == MB_JIT_ON ? LUAJIT_MODE_ON : LUAJIT_MODE_OFF));
}

mb__realm *mb__realm_of(lua_State *L) {
  void *ud = NULL;
  lua_getallocf(L, &ud);
  return ud;
}

/* ---- errors -------------------------------------------------------------- */

static mb_status set_error_v(mb__realm *r, mb_status st, const char *fmt,
                             va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (n < 0) n = 0;
  size_t need = (size_t)n + 1;
  if (need > r->error_size) {
    char *buf = mb__realm_host_alloc(r, r->error, r->error_size, need);
    if (!buf) {
      /* Keep the old buffer; a truncated message beats none. */
      if (r->error_size) vsnprintf(r->error, r->error_size, fmt, ap);
      return st;
    }
    r->error = buf;
    r->error_size = need;
  }
  vsnprintf(r->error, need, fmt, ap);
  return st;
}

mb_status mb__realm_fail(mb__realm *r, mb_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_error_v(r, st, fmt, ap);
  va_end(ap);
  return st;
}

const char *mb__realm_error(const mb__realm *r) {
  return r->error ? r->error : "";
}

/* ---- budget -------------------------------------------------------------- */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Decide whether the running call must stop; sticky once it must. */
static int check_exhausted(mb__realm *r) {
  if (r->exhausted) return r->exhausted;
  if (atomic_load_explicit(&r->interrupt, memory_order_relaxed))
    r->exhausted = INTERRUPTED;
  else if (r->limits.instruction_budget && r->steps_left <= 0)
    r->exhausted = OUT_OF_BUDGET;
  else if (r->limits.deadline_ms) {
    /* The clock starts at the first check (within one hook granule of the
     * start), so calls that end quickly never read it. */
    uint64_t now = now_ns();
    if (!r->deadline_ns)
      r->deadline_ns = now + (uint64_t)r->limits.deadline_ms * 1000000u;
    else if (now >= r->deadline_ns)
      r->exhausted = PAST_DEADLINE;
  }
  return r->exhausted;
}

int mb__realm_raise_budget(lua_State *L) {
  mb__realm *r = mb__realm_of(L);
  if (!r->exhausted) r->exhausted = OUT_OF_BUDGET;
  /* From now on every instruction raises again, so pcall, xpcall and
   * coroutines cannot swallow it; the gate has the last word anyway. */
  lua_sethook(L, lua_gethook(L), LUA_MASKCOUNT, 1);
  lua_pushstring(L, exhaustion_message[r->exhausted]);
  return lua_error(L);
}

int mb__realm_stack_overflow(lua_State *L) {
  mb__realm *r = mb__realm_of(L);
  if (r->depth == 0) return 0;
  if (!r->exhausted) r->exhausted = STACK_OVERFLOW;
  return mb__realm_raise_budget(L);
}

static void budget_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  mb__realm *r = mb__realm_of(L);
  if (r->depth == 0) return; /* not armed (a stray hook from interrupt) */
  if (!r->exhausted) r->steps_left -= lua_gethookcount(L);
  if (check_exhausted(r)) mb__realm_raise_budget(L);
}

void mb__realm_charge(lua_State *L, uint64_t steps) {
  mb__realm *r = mb__realm_of(L);
  if (r->depth == 0) return;
  r->steps_left -= (int64_t)(steps > INT64_MAX / 2 ? INT64_MAX / 2 : steps);
  if (check_exhausted(r)) mb__realm_raise_budget(L);
}

int mb__realm_budget_exhausted(lua_State *L) {
  return mb__realm_of(L)->exhausted != RUNNING;
}

void mb__realm_interrupt(mb__realm *r) {
  atomic_store(&r->interrupt, 1);
  /* Fire at the next instruction the interpreter runs, even when each
   * instruction does much C work. lua_sethook is the one call LuaJIT allows
   * from another thread or a signal handler (its own lua.c does this). A
   * hook left armed after the call returned finds depth 0 and does
   * nothing; the next call re-arms it. */
  if (atomic_load(&r->running))
    lua_sethook(r->L, budget_hook, LUA_MASKCOUNT, 1);
}

void mb__realm_enter_c(lua_State *L) {
  mb__realm *r = mb__realm_of(L);
  if (r->c_depth >= MAX_C_DEPTH) luaL_error(L, "C stack overflow");
  r->c_depth++;
}

void mb__realm_leave_c(lua_State *L) {
  mb__realm *r = mb__realm_of(L);
  if (r->c_depth > 0) r->c_depth--;
}

void mb__realm_set_owner(mb__realm *r, void *owner) {
  r->owner = owner;
}
void *mb__realm_owner(lua_State *L) {
  return mb__realm_of(L)->owner;
}

void mb__realm_set_current(mb__realm *r, void *owner) {
  r->current = owner;
}

void mb__realm_set_meter(mb__realm *r, uint64_t *meter) {
  r->meter = meter;
}
void *mb__realm_current(lua_State *L) {
  return mb__realm_of(L)->current;
}

static void arm(mb__realm *r) {
  r->exhausted = RUNNING;
  r->c_depth = 0;
  atomic_store(&r->interrupt, 0);
  r->steps_left = r->limits.instruction_budget
                      ? (int64_t)(r->limits.instruction_budget > INT64_MAX / 2
                                      ? INT64_MAX / 2
                                      : r->limits.instruction_budget)
                      : INT64_MAX / 2;
  r->deadline_ns = 0;
  atomic_store(&r->running, 1);
}

/* The count hook stays installed between calls (it returns at once when no
 * call runs): setting it costs a dispatch-table rewrite, so it is only
 * reset when a stop or an interrupt made it fire on every instruction. */
static void disarm(mb__realm *r) {
  atomic_store(&r->running, 0);
  if (lua_gethookcount(r->L) != HOOK_GRANULE || !lua_gethook(r->L))
    lua_sethook(r->L, budget_hook, LUA_MASKCOUNT, HOOK_GRANULE);
  r->exhausted = RUNNING;
  r->c_depth = 0;
}

/* ---- the gate ------------------------------------------------------------ */

/* Message handler: adds the traceback. It never calls script code (no
 * __tostring on error objects): it runs with hooks off. */
static int message_handler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) {
    msg =
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* LuaJIT names builtins in tracebacks by address ("[builtin#19]: at
 * 0x7f…"): addresses differ from run to run, and logs must not. */
static void strip_addresses(char *msg) {
  if (!msg) return;
  char *out = msg;
  for (const char *p = msg; *p;) {
    if (strncmp(p, " at 0x", 6) == 0) {
      p += 6;
      while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
        p++;
      continue; /* the output never outruns the input */
    }
    *out++ = *p++;
  }
  *out = 0;
}

mb_status mb__realm_call(mb__realm *r, int nargs, int nresults,
                         const char *label, const char *what) {
  lua_State *L = r->L;
  int fn = lua_gettop(L) - nargs;
  lua_rawgeti(L, LUA_REGISTRYINDEX, r->handler_ref); /* no allocation */
  lua_insert(L, fn);
  int outer = r->depth == 0;
  if (!outer && r->c_depth >= MAX_C_DEPTH) {
    /* A script calling the host calling a script (async callbacks) nests C
     * frames like any other callback: same guard, as a failed call. */
    lua_settop(L, fn - 1);
    return mb__realm_fail(r, MB_ERROR, "%s%s%s failed: C stack overflow",
                          label ? label : "", what && label ? " " : "",
                          what ? what : "");
  }
  if (outer)
    arm(r);
  else
    r->c_depth++;
  r->depth++;
  int host_work = r->host_work; /* scripts never get the host's headroom */
  r->host_work = 0;
  int rc = lua_pcall(L, nargs, nresults, fn);
  r->host_work = host_work;
  r->depth--;
  if (!outer && r->c_depth > 0) r->c_depth--;
  int exhausted = r->exhausted;
  if (outer) disarm(r);

  if (rc == 0 && !exhausted) {
    lua_remove(L, fn);
    return MB_OK;
  }
  mb_status st = exhausted          ? MB_EBUDGET
                 : rc == LUA_ERRMEM ? MB_ENOMEM
                                    : MB_ERROR;
  const char *msg;
  const char *trace = "";
  if (exhausted) {
    /* The script may have caught and replaced the error and even returned
     * normally: the realm's own flag decides, and says what happened. The
     * traceback of where it stopped is kept when the error got through. */
    msg = exhaustion_message[exhausted];
    const char *err = rc != 0 ? lua_tostring(L, -1) : NULL;
    const char *tb = err ? strstr(err, "\nstack traceback:") : NULL;
    if (tb) trace = tb;
  } else if (rc == LUA_ERRMEM) {
    msg = "not enough memory";
  } else {
    msg = lua_tostring(L, -1);
    if (!msg) msg = "(error object is not a string)";
  }
  if (label)
    mb__realm_fail(r, st, "%s%s%s failed: %s%s", label, what ? " " : "",
                   what ? what : "", msg, trace);
  else
    mb__realm_fail(r, st, "%s%s", msg, trace);
  strip_addresses(r->error);
  lua_settop(L, fn - 1);
  /* LuaJIT has no emergency collector: free what the failed call left. */
  if (st == MB_ENOMEM) lua_gc(L, LUA_GCCOLLECT, 0);
  return st;
}

/* The status of a protected host call: on failure the message goes to the
 * realm, the stack goes back to `top`, and what a failed allocation left
 * is collected (LuaJIT has no emergency collector). */
static mb_status host_call_result(mb__realm *r, int rc, int top) {
  if (rc == 0) return MB_OK;
  lua_State *L = r->L;
  mb_status st = rc == LUA_ERRMEM ? MB_ENOMEM : MB_ERROR;
  const char *msg = lua_tostring(L, -1);
  mb__realm_fail(r, st, "%s",
                 rc == LUA_ERRMEM ? "not enough memory"
                 : msg            ? msg
                                  : "error");
  lua_settop(L, top);
  if (st == MB_ENOMEM) lua_gc(L, LUA_GCCOLLECT, 0);
  return st;
}

/* (fn, ud, args...) -> fn(ud, args...): runs a C function protected
 * without creating a closure for it. */
static int trampoline(lua_State *L) {
  lua_CFunction fn = (lua_CFunction)(uintptr_t)lua_touserdata(L, 1);
  lua_remove(L, 1);
  return fn(L);
}

mb_status mb__realm_protect(mb__realm *r, lua_CFunction fn, void *ud, int nargs,
                            int nresults) {
  lua_State *L = r->L;
  int base = lua_gettop(L) - nargs;
  /* none of these allocate: the stack always has LUA_MINSTACK free slots */
  lua_rawgeti(L, LUA_REGISTRYINDEX, r->trampoline_ref);
  lua_pushlightuserdata(L, (void *)(uintptr_t)fn);
  lua_pushlightuserdata(L, ud);
  lua_insert(L, base + 1);
  lua_insert(L, base + 1);
  lua_insert(L, base + 1);
  r->host_work++;
  int rc = lua_pcall(L, nargs + 2, nresults, 0);
  r->host_work--;
  return host_call_result(r, rc, base);
}

typedef struct trusted_call {
  lua_CFunction fn;
  void *ud;
} trusted_call;

static int run_trusted(lua_State *L) {
  trusted_call *tc = lua_touserdata(L, 1);
  lua_pushcfunction(L, tc->fn);
  lua_pushlightuserdata(L, tc->ud);
  lua_call(L, 1, 0);
  return 0;
}

mb_status mb__realm_pcall_trusted(mb__realm *r, lua_CFunction fn, void *ud) {
  lua_State *L = r->L;
  trusted_call tc = {fn, ud};
  int top = lua_gettop(L);
  /* lua_cpcall does not allocate before entering protected mode. */
  r->host_work++;
  int rc = lua_cpcall(L, run_trusted, &tc);
  r->host_work--;
  return host_call_result(r, rc, top);
}
