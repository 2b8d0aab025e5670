/* Lua pattern matching for scripts: string.find, match, gmatch and gsub.
 *
 * Same results as LuaJIT 2.1's (Lua 5.1 patterns, %g, %z, %f, a pattern
 * ends at its first "\0" exactly as in LuaJIT), but every step of matching
 * is charged to the realm's instruction budget (LuaJIT's matcher runs in C
 * where the count hook never fires, so `('a'):rep(1e5):find('a*b')` would
 * run for seconds), matcher recursion is bounded ("pattern too complex"),
 * and gsub callbacks into Lua are bracketed with the realm's C-depth guard.
 *
 * The matcher core below is plain C (no Lua) so that tests and the
 * differential fuzzer can drive it directly. */
#ifndef MB_SANDBOX_PATTERN_H
#define MB_SANDBOX_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

/* Push find, match, gmatch, gsub as C functions into the table at index `t`
 * (overwriting LuaJIT's). Only for states created by mb__realm_new: the
 * functions charge the realm's budget and use its C-depth guard. */
void mb__pattern_register(lua_State *L, int t);

/* ---- the matcher core (no Lua) ------------------------------------------- */

#define MB__PATTERN_MAXCAPTURES 32 /* LUA_MAXCAPTURES */
#define MB__PATTERN_MAXDEPTH 200   /* LuaJIT's LJ_MAX_XLEVEL */
/* Work is handed to the charge callback in lumps of about this many steps. */
#define MB__PATTERN_CHARGE_EVERY 1024u

/* Capture lengths that are not lengths. */
#define MB__PATTERN_CAP_UNFINISHED (-1)
#define MB__PATTERN_CAP_POSITION (-2)

typedef enum mb__pattern_error {
  MB__PATTERN_OK = 0,
  MB__PATTERN_ENDS_WITH_ESC,     /* malformed pattern (ends with '%') */
  MB__PATTERN_MISSING_BRACKET,   /* malformed pattern (missing ']') */
  MB__PATTERN_FRONTIER,          /* missing '[' after '%f' in pattern */
  MB__PATTERN_UNBALANCED,        /* unbalanced pattern */
  MB__PATTERN_TOO_COMPLEX,       /* pattern too complex */
  MB__PATTERN_TOO_MANY_CAPTURES, /* too many captures */
  MB__PATTERN_BAD_CLOSE,         /* invalid pattern capture */
  MB__PATTERN_CAPTURE_INDEX,     /* invalid capture index */
  MB__PATTERN_UNFINISHED,        /* unfinished capture */
  MB__PATTERN_BUDGET             /* the charge callback said stop */
} mb__pattern_error;

/* LuaJIT's message for `err` (without position prefix). */
const char *mb__pattern_strerror(int err);

/* Receives `steps` units of work; returns nonzero to stop matching (the
 * matcher then fails with MB__PATTERN_BUDGET). May also longjmp: the
 * matcher holds no resources. */
typedef int (*mb__pattern_charge_fn)(void *ud, uint64_t steps);

typedef struct mb__pattern_capture {
  const char *init;
  ptrdiff_t len; /* or MB__PATTERN_CAP_UNFINISHED / _POSITION */
} mb__pattern_capture;

typedef struct mb__matcher {
  const char *src_init, *src_end; /* subject */
  const char *pat, *pat_end;      /* pattern (may hold "\0": see init) */
  int level;                      /* captures open or closed */
  int depth;                      /* recursion of match() */
  int error;                      /* mb__pattern_error; sticky */
  uint64_t pending;               /* steps not yet charged */
  mb__pattern_charge_fn charge;
  void *charge_ud;
  mb__pattern_capture capture[MB__PATTERN_MAXCAPTURES];
} mb__matcher;

/* Prepare `m` for subject `s`/`slen` and pattern `p`/`plen`. LuaJIT stops
 * reading a pattern at its first "\0"; pass strlen(p) to get that, or the
 * full length to match "\0" literally. `charge` may be NULL (unlimited). */
void mb__matcher_init(mb__matcher *m, const char *s, size_t slen, const char *p,
                      size_t plen, mb__pattern_charge_fn charge,
                      void *charge_ud);

/* Match the pattern from `pat` (inside the pattern) at subject position
 * `at`, with no captures open. Returns the end of the match, or NULL when
 * there is none or on error (m->error says which). */
const char *mb__matcher_match(mb__matcher *m, const char *at, const char *pat);

/* What string.find/match do: try every start from `init` (0-based, at most
 * slen) on, or only `init` when the pattern starts with '^'. On a match
 * returns 1 and sets *start and *end (offsets, end exclusive) and
 * m->capture/level; 0 when none, -1 on error (m->error). Also charges what
 * was pending. */
int mb__pattern_search(mb__matcher *m, size_t init, size_t *start, size_t *end);

/* Hand the pending steps to the charge callback (sets MB__PATTERN_BUDGET
 * and returns nonzero when told to stop). */
int mb__matcher_flush(mb__matcher *m);

#endif
