/* Budgeted Lua 5.1 pattern matching (string.find/match/gmatch/gsub).
 *
 * The matcher follows the structure of LuaJIT 2.1's lib_string.c on
 * purpose: scripts must see the same results, the same errors, and even
 * the same "pattern too complex" limit (LuaJIT counts nested calls of its
 * match function, so we recurse at exactly the same places). What differs
 * is the plumbing: errors travel back as codes (so the core needs no Lua
 * and can be fuzzed on its own), and every step is counted and handed to a
 * charge callback, which for scripts is the realm's budget. */
#include "sandbox/pattern.h"

#include <limits.h>
#include <string.h>

#include <lauxlib.h>

#include "sandbox/realm.h"

#define L_ESC '%'
/* Characters that make find() use the matcher instead of a plain search. */
#define SPECIALS "^$*+?.([%-"

static const char *const error_message[] = {
    "",
    "malformed pattern (ends with '%')",
    "malformed pattern (missing ']')",
    "missing '[' after '%f' in pattern",
    "unbalanced pattern",
    "pattern too complex",
    "too many captures",
    "invalid pattern capture",
    "invalid capture index",
    "unfinished capture",
    "instruction budget exceeded",
};

const char *mb__pattern_strerror(int err) {
  if (err < 0 || (size_t)err >= sizeof error_message / sizeof *error_message)
    return "pattern error";
  return error_message[err];
}

/* ---- character classes -------------------------------------------------- */

/* LuaJIT's classes are ASCII-only and ignore the C locale; so are ours. */
static int is_digit(int c) {
  return c >= '0' && c <= '9';
}
static int is_lower(int c) {
  return c >= 'a' && c <= 'z';
}
static int is_upper(int c) {
  return c >= 'A' && c <= 'Z';
}
static int is_alpha(int c) {
  return is_lower(c) || is_upper(c);
}
static int is_alnum(int c) {
  return is_alpha(c) || is_digit(c);
}
static int is_graph(int c) {
  return c > 0x20 && c < 0x7f;
}

/* Does byte `c` belong to class letter `cl` (as in "%a")? A letter that
 * names no class, and any other character, stands for itself. */
static int class_matches(int c, int cl) {
  int res;
  if (!is_alpha(cl)) return cl == c;
  switch (cl | 0x20) {
  case 'a':
    res = is_alpha(c);
    break;
  case 'c':
    res = c < 0x20 || c == 0x7f;
    break;
  case 'd':
    res = is_digit(c);
    break;
  case 'g':
    res = is_graph(c);
    break;
  case 'l':
    res = is_lower(c);
    break;
  case 'p':
    res = is_graph(c) && !is_alnum(c);
    break;
  case 's':
    res = c == ' ' || (c >= '\t' && c <= '\r');
    break;
  case 'u':
    res = is_upper(c);
    break;
  case 'w':
    res = is_alnum(c);
    break;
  case 'x':
    res = is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
    break;
  case 'z':
    res = c == 0;
    break;
  default:
    return cl == c;
  }
  return is_upper(cl) ? !res : res;
}

/* `p` is at '[', `ec` at the ']' closing the set. */
static int bracket_matches(int c, const char *p, const char *ec) {
  int in = 1;
  if (p[1] == '^') {
    in = 0;
    p++;
  }
  while (++p < ec) {
    if (*p == L_ESC) {
      p++;
      if (class_matches(c, (unsigned char)*p)) return in;
    } else if (p[1] == '-' && p + 2 < ec) {
      p += 2;
      if ((unsigned char)p[-2] <= c && c <= (unsigned char)*p) return in;
    } else if ((unsigned char)*p == c) {
      return in;
    }
  }
  return !in;
}

/* One pattern item [p, ep) against byte `c`. */
static int single_matches(int c, const char *p, const char *ep) {
  switch (*p) {
  case '.':
    return 1;
  case L_ESC:
    return class_matches(c, (unsigned char)p[1]);
  case '[':
    return bracket_matches(c, p, ep - 1);
  default:
    return (unsigned char)*p == c;
  }
}

/* ---- the matcher -------------------------------------------------------- */

static const char *fail(mb__matcher *m, int err) {
  if (!m->error) m->error = err;
  return NULL;
}

int mb__matcher_flush(mb__matcher *m) {
  uint64_t steps = m->pending;
  m->pending = 0;
  if (steps && m->charge && m->charge(m->charge_ud, steps)) {
    fail(m, MB__PATTERN_BUDGET);
    return 1;
  }
  return 0;
}

/* Counting is a cheap add and compare; the callback (which may check the
 * clock) only runs once a lump has built up. Nonzero: stop. */
static inline int spend(mb__matcher *m, uint64_t steps) {
  m->pending += steps;
  return m->pending >= MB__PATTERN_CHARGE_EVERY ? mb__matcher_flush(m) : 0;
}

/* What testing one item costs: a set is scanned for every byte tried, so
 * a long set costs more (else "[" .. ("x"):rep(1e5) .. "]*" would do 1e5
 * times the work it is charged for). */
static uint64_t item_cost(const char *p, const char *ep) {
  return 1 + (uint64_t)((ep - p) >> 3);
}

/* End of the item at `p` (a '%x', a set or one byte), or NULL on error. */
static const char *class_end(mb__matcher *m, const char *p) {
  const char *pend = m->pat_end;
  char c = *p++;
  if (c == L_ESC) {
    if (p >= pend) return fail(m, MB__PATTERN_ENDS_WITH_ESC);
    return p + 1;
  }
  if (c == '[') {
    if (p < pend && *p == '^') p++;
    /* The first byte is taken as is, so "[]]" is a set holding ']'. */
    do {
      if (p >= pend) return fail(m, MB__PATTERN_MISSING_BRACKET);
      c = *p++;
      if (c == L_ESC && p < pend) p++;
    } while (p >= pend || *p != ']');
    return p + 1;
  }
  return p;
}

static const char *do_match(mb__matcher *m, const char *s, const char *p);

/* "%bxy" at `p` (pointing at x). */
static const char *match_balance(mb__matcher *m, const char *s, const char *p) {
  if (p >= m->pat_end || p + 1 >= m->pat_end)
    return fail(m, MB__PATTERN_UNBALANCED);
  if (s >= m->src_end || *s != *p) return NULL;
  char open = p[0], close = p[1];
  int depth = 1;
  while (++s < m->src_end) {
    if (spend(m, 1)) return NULL;
    if (*s == close) {
      if (--depth == 0) return s + 1;
    } else if (*s == open) {
      depth++;
    }
  }
  return NULL;
}

/* Greedy repetition of item [p, ep) followed by the rest at ep + 1. */
static const char *max_expand(mb__matcher *m, const char *s, const char *p,
                              const char *ep) {
  uint64_t cost = item_cost(p, ep);
  ptrdiff_t i = 0;
  while (s + i < m->src_end && single_matches((unsigned char)s[i], p, ep)) {
    i++;
    if (spend(m, cost)) return NULL;
  }
  /* Back off one repetition at a time until the rest matches. */
  for (; i >= 0; i--) {
    const char *res = do_match(m, s + i, ep + 1);
    if (res || m->error) return res;
  }
  return NULL;
}

/* Lazy repetition ('-'). */
static const char *min_expand(mb__matcher *m, const char *s, const char *p,
                              const char *ep) {
  uint64_t cost = item_cost(p, ep);
  for (;;) {
    const char *res = do_match(m, s, ep + 1);
    if (res || m->error) return res;
    if (s < m->src_end && single_matches((unsigned char)*s, p, ep)) {
      s++;
      if (spend(m, cost)) return NULL;
    } else {
      return NULL;
    }
  }
}

static const char *start_capture(mb__matcher *m, const char *s, const char *p,
                                 ptrdiff_t what) {
  int level = m->level;
  if (level >= MB__PATTERN_MAXCAPTURES)
    return fail(m, MB__PATTERN_TOO_MANY_CAPTURES);
  m->capture[level].init = s;
  m->capture[level].len = what;
  m->level = level + 1;
  const char *res = do_match(m, s, p);
  if (!res) m->level--; /* undo */
  return res;
}

static const char *end_capture(mb__matcher *m, const char *s, const char *p) {
  int l = m->level - 1;
  while (l >= 0 && m->capture[l].len != MB__PATTERN_CAP_UNFINISHED)
    l--;
  if (l < 0) return fail(m, MB__PATTERN_BAD_CLOSE);
  m->capture[l].len = s - m->capture[l].init;
  const char *res = do_match(m, s, p);
  if (!res) m->capture[l].len = MB__PATTERN_CAP_UNFINISHED; /* undo */
  return res;
}

/* Back reference "%1".."%9" ("%0" is an invalid index, as in LuaJIT). */
static const char *match_backref(mb__matcher *m, const char *s, int digit) {
  int l = digit - '1';
  if (l < 0 || l >= m->level || m->capture[l].len == MB__PATTERN_CAP_UNFINISHED)
    return fail(m, MB__PATTERN_CAPTURE_INDEX);
  /* A position capture's negative length, taken as size_t, never fits:
   * a back reference to "()" never matches (LuaJIT does the same). */
  size_t len = (size_t)m->capture[l].len;
  if ((size_t)(m->src_end - s) < len) return NULL;
  if (spend(m, 1 + (len >> 3))) return NULL;
  return memcmp(m->capture[l].init, s, len) == 0 ? s + len : NULL;
}

/* Match pattern `p` at subject `s`. Tail positions loop instead of
 * recursing; only the places where LuaJIT's match() recurses do, so the
 * depth limit trips on the same patterns. */
static const char *do_match(mb__matcher *m, const char *s, const char *p) {
  const char *pend = m->pat_end;
  if (++m->depth > MB__PATTERN_MAXDEPTH)
    return fail(m, MB__PATTERN_TOO_COMPLEX);
  for (;;) {
    if (spend(m, 1)) {
      s = NULL;
      break;
    }
    if (p >= pend) break; /* end of pattern: matched */
    switch (*p) {
    case '(':
      if (p + 1 < pend && p[1] == ')')
        s = start_capture(m, s, p + 2, MB__PATTERN_CAP_POSITION);
      else
        s = start_capture(m, s, p + 1, MB__PATTERN_CAP_UNFINISHED);
      goto done;
    case ')':
      s = end_capture(m, s, p + 1);
      goto done;
    case '$':
      if (p + 1 == pend) { /* only a final '$' anchors */
        if (s != m->src_end) s = NULL;
        goto done;
      }
      break;
    case L_ESC:
      if (p + 1 >= pend) break; /* class_end reports it */
      if (p[1] == 'b') {
        s = match_balance(m, s, p + 2);
        if (!s) goto done;
        p += 4;
        continue;
      }
      if (p[1] == 'f') {
        p += 2;
        if (p >= pend || *p != '[') {
          s = fail(m, MB__PATTERN_FRONTIER);
          goto done;
        }
        const char *ep = class_end(m, p);
        if (!ep) {
          s = NULL;
          goto done;
        }
        /* Outside the subject counts as "\0" on both sides. */
        int prev = s == m->src_init ? 0 : (unsigned char)s[-1];
        int cur = s < m->src_end ? (unsigned char)*s : 0;
        if (spend(m, 2 * item_cost(p, ep)) ||
            bracket_matches(prev, p, ep - 1) ||
            !bracket_matches(cur, p, ep - 1)) {
          s = NULL;
          goto done;
        }
        p = ep;
        continue;
      }
      if (is_digit((unsigned char)p[1])) {
        s = match_backref(m, s, (unsigned char)p[1]);
        if (!s) goto done;
        p += 2;
        continue;
      }
      break;
    default:
      break;
    }
    /* A single item, maybe with a quantifier. */
    const char *ep = class_end(m, p);
    if (!ep || spend(m, item_cost(p, ep) - 1)) {
      s = NULL;
      goto done;
    }
    int hit = s < m->src_end && single_matches((unsigned char)*s, p, ep);
    switch (ep < pend ? *ep : '\0') {
    case '?':
      if (hit) {
        const char *res = do_match(m, s + 1, ep + 1);
        if (res || m->error) {
          s = res;
          goto done;
        }
      }
      p = ep + 1;
      continue;
    case '*':
      s = max_expand(m, s, p, ep);
      goto done;
    case '+':
      s = hit ? max_expand(m, s + 1, p, ep) : NULL;
      goto done;
    case '-':
      s = min_expand(m, s, p, ep);
      goto done;
    default:
      if (!hit) {
        s = NULL;
        goto done;
      }
      s++;
      p = ep;
      continue;
    }
  }
done:
  m->depth--;
  return m->error ? NULL : s;
}

void mb__matcher_init(mb__matcher *m, const char *s, size_t slen, const char *p,
                      size_t plen, mb__pattern_charge_fn charge,
                      void *charge_ud) {
  m->src_init = s;
  m->src_end = s + slen;
  m->pat = p;
  m->pat_end = p + plen;
  m->level = 0;
  m->depth = 0;
  m->error = MB__PATTERN_OK;
  m->pending = 0;
  m->charge = charge;
  m->charge_ud = charge_ud;
}

const char *mb__matcher_match(mb__matcher *m, const char *at, const char *pat) {
  m->level = 0;
  m->depth = 0;
  return do_match(m, at, pat);
}

int mb__pattern_search(mb__matcher *m, size_t init, size_t *start,
                       size_t *end) {
  const char *p = m->pat;
  int anchor = 0;
  if (p < m->pat_end && *p == '^') {
    p++;
    anchor = 1;
  }
  size_t slen = (size_t)(m->src_end - m->src_init);
  if (init > slen) init = slen;
  for (size_t at = init; at <= slen; at++) {
    const char *e = mb__matcher_match(m, m->src_init + at, p);
    if (e) {
      *start = at;
      *end = (size_t)(e - m->src_init);
      return mb__matcher_flush(m) ? -1 : 1;
    }
    if (m->error || anchor) break;
  }
  if (m->error) return -1;
  return mb__matcher_flush(m) ? -1 : 0;
}

/* ---- the Lua functions --------------------------------------------------- */

static int charge_realm(void *ud, uint64_t steps) {
  mb__realm_charge(ud, steps); /* raises (longjmp) when exhausted */
  return 0;
}

static int raise_match_error(lua_State *L, const mb__matcher *m) {
  if (m->error == MB__PATTERN_BUDGET) return mb__realm_raise_budget(L);
  /* luaL_error prefixes the caller's position, as LuaJIT's errors do. */
  return luaL_error(L, "%s", mb__pattern_strerror(m->error));
}

/* LuaJIT reads patterns up to their first "\0" (see pattern.h). */
static size_t pattern_length(const char *p, size_t len) {
  const char *nul = memchr(p, '\0', len);
  return nul ? (size_t)(nul - p) : len;
}

static void init_matcher(lua_State *L, mb__matcher *m, const char *s,
                         size_t slen, const char *p, size_t plen) {
  mb__matcher_init(m, s, slen, p, pattern_length(p, plen), charge_realm, L);
}

static void push_capture(lua_State *L, const mb__matcher *m, int i,
                         const char *s, const char *e) {
  if (i >= m->level) {
    if (i != 0) luaL_error(L, "%s", error_message[MB__PATTERN_CAPTURE_INDEX]);
    lua_pushlstring(L, s, (size_t)(e - s)); /* the whole match */
    return;
  }
  ptrdiff_t len = m->capture[i].len;
  if (len == MB__PATTERN_CAP_UNFINISHED)
    luaL_error(L, "%s", error_message[MB__PATTERN_UNFINISHED]);
  if (len == MB__PATTERN_CAP_POSITION)
    lua_pushinteger(L, m->capture[i].init - m->src_init + 1);
  else
    lua_pushlstring(L, m->capture[i].init, (size_t)len);
}

/* `s` NULL: only the explicit captures (find). */
static int push_captures(lua_State *L, const mb__matcher *m, const char *s,
                         const char *e) {
  int n = (m->level == 0 && s) ? 1 : m->level;
  luaL_checkstack(L, n, "too many captures");
  for (int i = 0; i < n; i++)
    push_capture(L, m, i, s, e);
  return n;
}

/* LuaJIT converts the init argument with a truncating 32-bit conversion;
 * out of range (and NaN) gives INT32_MIN there, as x86's cvttsd2si does. */
static int32_t opt_int32(lua_State *L, int arg, int32_t def) {
  if (lua_isnoneornil(L, arg)) return def;
  lua_Number n = luaL_checknumber(L, arg);
  if (n >= -2147483648.0 && n < 2147483648.0) return (int32_t)n;
  return INT32_MIN;
}

static int has_specials(const char *p, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (p[i] && strchr(SPECIALS, p[i])) return 1;
  return 0;
}

/* find(s, p, init, true): plain search, charged (a naive search can take
 * |s| * |p| steps). */
static const char *plain_find(lua_State *L, const char *s, size_t slen,
                              const char *p, size_t plen) {
  if (plen == 0) return s;
  if (plen > slen) return NULL;
  const char *cur = s, *last = s + (slen - plen);
  const char *found = NULL;
  uint64_t pending = 0;
  while (cur <= last) {
    const char *hit = memchr(cur, p[0], (size_t)(last - cur) + 1);
    if (!hit) {
      pending += (uint64_t)(last - cur) >> 6;
      break;
    }
    pending += 1 + ((uint64_t)(hit - cur) >> 6) + (plen >> 3);
    if (memcmp(hit + 1, p + 1, plen - 1) == 0) {
      found = hit;
      break;
    }
    cur = hit + 1;
    if (pending >= MB__PATTERN_CHARGE_EVERY) {
      mb__realm_charge(L, pending);
      pending = 0;
    }
  }
  mb__realm_charge(L, pending);
  return found;
}

static int find_aux(lua_State *L, int find) {
  size_t slen, plen;
  const char *s = luaL_checklstring(L, 1, &slen);
  const char *p = luaL_checklstring(L, 2, &plen);
  int64_t start = opt_int32(L, 3, 1);
  /* Negative counts from the end; past the end clamps to the end (5.1). */
  if (start < 0)
    start += (int64_t)slen;
  else
    start--;
  if (start < 0) start = 0;
  size_t init = (size_t)start > slen ? slen : (size_t)start;

  if (find && (lua_toboolean(L, 4) || !has_specials(p, plen))) {
    const char *q = plain_find(L, s + init, slen - init, p, plen);
    if (q) {
      lua_pushinteger(L, q - s + 1);
      lua_pushinteger(L, q - s + (ptrdiff_t)plen);
      return 2;
    }
  } else {
    mb__matcher m;
    size_t a, b;
    init_matcher(L, &m, s, slen, p, plen);
    int r = mb__pattern_search(&m, init, &a, &b);
    if (r < 0) return raise_match_error(L, &m);
    if (r > 0) {
      if (!find) return push_captures(L, &m, s + a, s + b);
      lua_pushinteger(L, (lua_Integer)a + 1);
      lua_pushinteger(L, (lua_Integer)b);
      return push_captures(L, &m, NULL, NULL) + 2;
    }
  }
  lua_pushnil(L);
  return 1;
}

static int pat_find(lua_State *L) {
  return find_aux(L, 1);
}

static int pat_match(lua_State *L) {
  return find_aux(L, 0);
}

/* Upvalues: subject, pattern, offset of the next try. As in 5.1 and
 * LuaJIT, '^' is not an anchor here but an ordinary byte. */
static int gmatch_next(lua_State *L) {
  size_t slen, plen;
  const char *s = lua_tolstring(L, lua_upvalueindex(1), &slen);
  const char *p = lua_tolstring(L, lua_upvalueindex(2), &plen);
  size_t pos = (size_t)lua_tonumber(L, lua_upvalueindex(3));
  mb__matcher m;
  init_matcher(L, &m, s, slen, p, plen);
  for (size_t at = pos; at <= slen; at++) {
    const char *e = mb__matcher_match(&m, s + at, p);
    if (e) {
      size_t next = (size_t)(e - s);
      if (next == at) next++; /* an empty match must still move on */
      lua_pushnumber(L, (lua_Number)next);
      lua_replace(L, lua_upvalueindex(3));
      mb__matcher_flush(&m);
      return push_captures(L, &m, s + at, e);
    }
    if (m.error) return raise_match_error(L, &m);
  }
  mb__matcher_flush(&m);
  return 0;
}

static int pat_gmatch(lua_State *L) {
  luaL_checkstring(L, 1);
  luaL_checkstring(L, 2);
  lua_settop(L, 2);
  lua_pushnumber(L, 0);
  lua_pushcclosure(L, gmatch_next, 3);
  return 1;
}

/* Run by lua_pcall for a table replacement with a metatable (__index may
 * run script code). */
static int protected_gettable(lua_State *L) {
  lua_gettable(L, 1);
  return 1;
}

/* Call the function below `nargs` arguments for one result, bracketed by
 * the C-depth guard. lua_call would skip mb__realm_leave_c when the
 * callback raises, so call protected and rethrow the same error value. */
static void guarded_call(lua_State *L, int nargs) {
  mb__realm_enter_c(L);
  int rc = lua_pcall(L, nargs, 1, 0);
  mb__realm_leave_c(L);
  if (rc != 0) lua_error(L);
  /* The callback may have caught the budget error and returned. */
  if (mb__realm_budget_exhausted(L)) mb__realm_raise_budget(L);
}

/* A string replacement: "%0".."%9" are captures, "%" + anything else is
 * that byte (so "%%" is '%' and a final '%' adds the "\0" that ends every
 * Lua string, exactly as LuaJIT does). */
static void add_string(lua_State *L, mb__matcher *m, luaL_Buffer *b,
                       const char *s, const char *e) {
  size_t len;
  const char *r = lua_tolstring(L, 3, &len);
  if (spend(m, 1 + (len >> 3))) raise_match_error(L, m);
  for (size_t i = 0; i < len; i++) {
    if (r[i] != L_ESC) {
      luaL_addchar(b, r[i]);
      continue;
    }
    i++; /* r[len] is the terminating "\0", readable */
    int c = (unsigned char)r[i];
    if (!is_digit(c)) {
      luaL_addchar(b, (char)c);
    } else if (c == '0') {
      luaL_addlstring(b, s, (size_t)(e - s));
    } else {
      push_capture(L, m, c - '1', s, e);
      luaL_addvalue(b);
    }
  }
}

static void add_value(lua_State *L, mb__matcher *m, luaL_Buffer *b,
                      const char *s, const char *e) {
  switch (lua_type(L, 3)) {
  case LUA_TNUMBER:
  case LUA_TSTRING:
    add_string(L, m, b, s, e);
    return;
  case LUA_TFUNCTION: {
    lua_pushvalue(L, 3);
    int n = push_captures(L, m, s, e);
    guarded_call(L, n);
    break;
  }
  case LUA_TTABLE:
    if (lua_getmetatable(L, 3)) {
      lua_pop(L, 1);
      lua_pushvalue(L, lua_upvalueindex(1)); /* protected_gettable */
      lua_pushvalue(L, 3);
      push_capture(L, m, 0, s, e);
      guarded_call(L, 2);
    } else {
      push_capture(L, m, 0, s, e);
      lua_rawget(L, 3); /* no metatable: no script code can run */
    }
    break;
  default:
    break;
  }
  if (!lua_toboolean(L, -1)) { /* nil or false: keep the original */
    lua_pop(L, 1);
    lua_pushlstring(L, s, (size_t)(e - s));
  } else if (!lua_isstring(L, -1)) {
    luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
  }
  luaL_addvalue(b);
}

static int pat_gsub(lua_State *L) {
  size_t slen, plen;
  const char *src = luaL_checklstring(L, 1, &slen);
  const char *p = luaL_checklstring(L, 2, &plen);
  int tr = lua_type(L, 3);
  int max_n = luaL_optint(L, 4, (int)(slen + 1));
  if (!(tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION ||
        tr == LUA_TTABLE))
    luaL_argerror(L, 3, "string/function/table expected");
  mb__matcher m;
  init_matcher(L, &m, src, slen, p, plen);
  const char *pat = m.pat;
  int anchor = 0;
  if (pat < m.pat_end && *pat == '^') {
    pat++;
    anchor = 1;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  const char *s = src, *end = src + slen;
  int n = 0;
  while (n < max_n) {
    const char *e = mb__matcher_match(&m, s, pat);
    if (m.error) return raise_match_error(L, &m);
    if (e) {
      n++;
      add_value(L, &m, &b, s, e);
    }
    if (e && e > s)
      s = e;
    else if (s < end)
      luaL_addchar(&b, *s++);
    else
      break;
    if (anchor) break;
  }
  luaL_addlstring(&b, s, (size_t)(end - s));
  mb__matcher_flush(&m);
  luaL_pushresult(&b);
  lua_pushinteger(L, n);
  return 2;
}

void mb__pattern_register(lua_State *L, int t) {
  if (t < 0 && t > LUA_REGISTRYINDEX) t = lua_gettop(L) + t + 1;
  lua_pushcfunction(L, pat_find);
  lua_setfield(L, t, "find");
  lua_pushcfunction(L, pat_match);
  lua_setfield(L, t, "match");
  lua_pushcfunction(L, pat_gmatch);
  lua_setfield(L, t, "gmatch");
  lua_pushcfunction(L, protected_gettable);
  lua_pushcclosure(L, pat_gsub, 1);
  lua_setfield(L, t, "gsub");
}
