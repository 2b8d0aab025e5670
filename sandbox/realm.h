/* One realm: a lua_State with its own allocator (memory limit), JIT policy
 * and budget, and the one gate through which C calls into script code.
 *
 * Everything that runs script code goes through mb__realm_call(). C
 * functions that do work where the count hook cannot fire (pattern
 * matching, string building, callbacks into Lua) charge that work with
 * mb__realm_charge() and bracket their calls back into Lua with
 * mb__realm_enter_c()/mb__realm_leave_c(), so that neither the budget nor
 * the C stack can be exhausted from inside C. */
#ifndef MB_SANDBOX_REALM_H
#define MB_SANDBOX_REALM_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include "moonbox.h"

typedef struct mb__realm mb__realm;

/* Create a realm with `limits`, allocating through `alloc`/`alloc_ud`
 * (realloc semantics, see mb_alloc_fn). `name` (copied) appears in messages.
 * Returns NULL when out of memory. */
mb__realm *mb__realm_new(const char *name, const mb_realm_limits *limits,
                         mb_alloc_fn alloc, void *alloc_ud);
void mb__realm_free(mb__realm *realm);

lua_State *mb__realm_lua(mb__realm *realm);
const char *mb__realm_name(const mb__realm *realm);

/* The realm that owns `L` (any thread of it). */
mb__realm *mb__realm_of(lua_State *L);

/* Bytes held by the realm's Lua state (as seen by its allocator). */
size_t mb__realm_memory(const mb__realm *realm);
/* Change the memory limit (0 = unlimited). */
void mb__realm_set_memory_limit(mb__realm *realm, size_t limit);
/* Change every limit and the JIT policy (between calls). */
void mb__realm_set_limits(mb__realm *realm, const mb_realm_limits *limits);

/* Host-side memory of the realm's owner: allocated through the same
 * allocator and counted, but never refused by the limit. */
void *mb__realm_host_alloc(mb__realm *realm, void *ptr, size_t osize,
                           size_t nsize);

/* The gate. Calls the function below `nargs` arguments on the realm's stack
 * with the traceback handler in place and the budget armed; `label` (e.g.
 * "global[scripts/x.lua]") and `what` (e.g. "onUpdate") name the call in
 * errors. On MB_OK the `nresults` results are on the stack. On failure
 * nothing is left on the stack and mb__realm_error() holds
 * "<message>\n<traceback>". Never lets a longjmp escape. Nested calls (a
 * script calling the host calling a script) share the outer budget. */
mb_status mb__realm_call(mb__realm *realm, int nargs, int nresults,
                         const char *label, const char *what);

/* Like mb__realm_call, for code that is not a script's (building the
 * environment, loading chunks): protected, no budget. */
mb_status mb__realm_pcall_trusted(mb__realm *realm, lua_CFunction fn,
                                  void *ud);

/* Run host code `fn` protected: the `nargs` values on top of the stack are
 * its arguments after `ud` (a light userdata at index 1); on MB_OK its
 * `nresults` results replace them. Host code that pushes values that may
 * allocate (strings, tables, decoding) runs this way, so a realm at its
 * memory limit fails the operation instead of taking the process down. On
 * failure the arguments are popped and the message is on the realm. */
mb_status mb__realm_protect(mb__realm *realm, lua_CFunction fn, void *ud,
                            int nargs, int nresults);

/* Message of the last failure in this realm (owned by the realm). */
const char *mb__realm_error(const mb__realm *realm);
/* Set the realm's error message (printf-style). Returns `status`. */
mb_status mb__realm_fail(mb__realm *realm, mb_status status, const char *fmt,
                         ...);

/* Charge `steps` units of C-side work (≈ VM instructions) to the running
 * call. Raises the sticky budget error (does not return) when the budget or
 * the deadline is exhausted. Safe to call outside any gate (no-op). */
void mb__realm_charge(lua_State *L, uint64_t steps);

/* Enter/leave a C function that calls back into Lua. Raises "C stack
 * overflow" when too many such calls are nested. */
void mb__realm_enter_c(lua_State *L);
void mb__realm_leave_c(lua_State *L);

/* True when the running call has exceeded its budget (sticky until the gate
 * returns). C functions that caught an error must re-raise when it is. */
int mb__realm_budget_exhausted(lua_State *L);
/* Raise the sticky budget error again (does not return). */
int mb__realm_raise_budget(lua_State *L);

/* A Lua "stack overflow" was caught by the script: at LuaJIT's stack limit
 * the count hook cannot run (it needs stack itself), so a script that
 * keeps catching the overflow (`local function f() while true do pcall(f)
 * end end`) would never be stopped. Marks the running call exhausted
 * ("stack overflow", sticky like a budget error) and raises; returns 0
 * outside any gate. */
int mb__realm_stack_overflow(lua_State *L);

/* Request that the running call stop (thread-safe). */
void mb__realm_interrupt(mb__realm *realm);

/* The realm's owner (the VM), for C functions called from its scripts. */
void mb__realm_set_owner(mb__realm *realm, void *owner);
void *mb__realm_owner(lua_State *L);

/* The "current instance" pointer the gate's caller set for attribution
 * (math.random, memory profile). */
void mb__realm_set_current(mb__realm *realm, void *owner);
/* Count every byte the Lua state allocates (growth only) into `*meter`
 * until it is set again (NULL: stop): attribution for profiles. */
void mb__realm_set_meter(mb__realm *realm, uint64_t *meter);
void *mb__realm_current(lua_State *L);

#endif
