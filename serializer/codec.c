/* Strict Lua value <-> msgpack codec.
 *
 * Encoding runs inside lua_pcall (a cached trampoline) so that any Lua error
 * — a refusal, which is raised with its path message, or a memory error —
 * unwinds to mb__encode(), which then frees its scratch memory and restores
 * the caller's buffer. The scratch memory (visited set, key arrays) is plain
 * C memory from the buffer's allocator; no Lua object is created while
 * encoding, so encoding never triggers the GC.
 *
 * Decoding also runs under lua_pcall; it allocates only Lua objects, each
 * after its size was checked against the bytes left, so an error leaks
 * nothing (the GC reclaims the partial value).
 */
#include "serializer/codec.h"

#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Registry keys: only their addresses matter (never written). */
static const char key_ext_reg = 0; /* userdata: ext_registry */
static const char key_ext_mts = 0; /* table: metatable -> ext type id */
static const char key_tramp_enc = 0;
static const char key_tramp_dec = 0;
static const char key_tramp_reg = 0;

/* LuaJIT's type tag of FFI cdata (absent from lua.h). */
#define MB_LUA_TCDATA 10

typedef struct ext_entry {
  mb__ext_encode_fn encode;
  mb__ext_decode_fn decode;
  void *ud;
  int used;
  char name[32];
} ext_entry;

typedef struct ext_registry {
  ext_entry e[128];
} ext_registry;

void mb_codec_options_init(mb_codec_options *opt) {
  opt->max_depth = MB_CODEC_DEFAULT_DEPTH;
  opt->root_name = "value";
}

static unsigned depth_of(const mb_codec_options *opt) {
  unsigned d = opt ? opt->max_depth : MB_CODEC_DEFAULT_DEPTH;
  if (d == 0) d = MB_CODEC_DEFAULT_DEPTH;
  return d > MB_CODEC_MAX_DEPTH ? MB_CODEC_MAX_DEPTH : d;
}

/* ------------------------------------------------------------------------ */
/* Big-endian stores and loads.                                              */

static inline void st16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void st32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}
static inline void st64(uint8_t *p, uint64_t v) {
  st32(p, (uint32_t)(v >> 32));
  st32(p + 4, (uint32_t)v);
}
static inline uint16_t ld16(const uint8_t *p) {
  return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t ld32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t ld64(const uint8_t *p) {
  return ((uint64_t)ld32(p) << 32) | ld32(p + 4);
}

/* ------------------------------------------------------------------------ */
/* Encoder                                                                   */

enum { K_NONE, K_INDEX, K_NUM, K_STR, K_BOOL };

/* One step of the path from the root (kept for error messages only). */
typedef struct pkey {
  int type;
  int b;
  double n;
  size_t i;
  const char *s;
  size_t len;
} pkey;

/* A map key awaiting canonical ordering. Strings point into the table's own
 * keys, which stay alive and unchanged while the table is being encoded. */
typedef struct keyrec {
  double n;
  const char *s;
  size_t len;
  int rank; /* 0 number, 1 string, 2 boolean */
  int b;
  size_t voff, vend; /* fast mode: the value's bytes in the output */
} keyrec;

#define VSMALL 16
#define KINLINE 32

typedef struct enc {
  lua_State *L;
  mb__buf *b;
  unsigned max_depth;
  const char *root;
  int mts;            /* stack index of the metatable -> id table, or 0 */
  ext_registry *reg;  /* NULL when nothing is registered */
  const void **vkeys; /* visited tables: open addressing on addresses */
  size_t vcap, vcount;
  keyrec *keys; /* a stack of key arrays, one per map being encoded */
  size_t kcap, ktop;
  int push_result; /* mb_encode_string: push the bytes as a Lua string */
  int slow;        /* canonical-order walk, building paths (for errors) */
  int fast_failed; /* the fast walk hit a refusal: redo it slowly */
  mb__buf tmp;     /* fast mode: map contents while they are reordered */
  mb_status status;
  /* Only written where used (never cleared): */
  const void *anc[MB_CODEC_MAX_DEPTH + 2]; /* tables on the current path */
  pkey path[MB_CODEC_MAX_DEPTH + 2];
  /* Small values (event payloads, timer arguments) need no scratch
   * allocation: the first tables and keys live here. */
  const void *vsmall[VSMALL];
  keyrec kinline[KINLINE];
} enc;

static void *scratch(enc *e, void *p, size_t osize, size_t nsize) {
  return e->b->alloc(e->b->ud, p, osize, nsize);
}

static void enc_oom(enc *e) {
  e->status = MB_ENOMEM;
  lua_pushliteral(e->L, "not enough memory");
  lua_error(e->L);
}

static int is_keyword(const char *s, size_t n) {
  static const char *const kw[] = {
      "and",      "break",  "do",   "else", "elseif", "end",  "false", "for",
      "function", "goto",   "if",   "in",   "local",  "nil",  "not",   "or",
      "repeat",   "return", "then", "true", "until",  "while"};
  for (size_t i = 0; i < sizeof kw / sizeof *kw; i++)
    if (strlen(kw[i]) == n && memcmp(kw[i], s, n) == 0) return 1;
  return 0;
}

static int is_ident(const char *s, size_t n) {
  if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') ||
                  (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
    return 0;
  for (size_t i = 1; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_'))
      return 0;
  }
  return !is_keyword(s, n);
}

static void fmt_number(char *out, size_t n, double d) {
  if (d == floor(d) && fabs(d) < 9.2e18)
    snprintf(out, n, "%lld", (long long)d);
  else
    snprintf(out, n, "%.17g", d);
}

/* Appends a %q-like quoted string, at most 60 source bytes then "...". */
static void add_quoted(luaL_Buffer *lb, const char *s, size_t n) {
  size_t lim = n > 60 ? 60 : n;
  luaL_addchar(lb, '"');
  for (size_t i = 0; i < lim; i++) {
    unsigned char c = (unsigned char)s[i];
    char tmp[8];
    if (c == '"' || c == '\\') {
      luaL_addchar(lb, '\\');
      luaL_addchar(lb, (char)c);
    } else if (c == '\n') {
      luaL_addstring(lb, "\\n");
    } else if (c == '\r') {
      luaL_addstring(lb, "\\r");
    } else if (c < 32 || c == 127) {
      snprintf(tmp, sizeof tmp, "\\%u", c);
      luaL_addstring(lb, tmp);
    } else {
      luaL_addchar(lb, (char)c);
    }
  }
  if (lim < n) luaL_addstring(lb, "...");
  luaL_addchar(lb, '"');
}

/* Raises "<root><path to level>: <reason>". Only here is the path built. */
static void enc_fail(enc *e, unsigned level, const char *fmt, ...) {
  lua_State *L = e->L;
  char reason[160], tmp[64];
  e->status = MB_EINVAL;
  if (!e->slow) { /* no message yet: the slow walk will build it */
    e->fast_failed = 1;
    lua_error(L);
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  e->status = MB_EINVAL;
  luaL_Buffer lb;
  luaL_buffinit(L, &lb);
  luaL_addstring(&lb, e->root);
  for (unsigned k = 1; k <= level; k++) {
    const pkey *p = &e->path[k];
    switch (p->type) {
    case K_INDEX:
      snprintf(tmp, sizeof tmp, "[%zu]", p->i);
      luaL_addstring(&lb, tmp);
      break;
    case K_NUM:
      luaL_addchar(&lb, '[');
      fmt_number(tmp, sizeof tmp, p->n);
      luaL_addstring(&lb, tmp);
      luaL_addchar(&lb, ']');
      break;
    case K_STR:
      if (is_ident(p->s, p->len)) {
        luaL_addchar(&lb, '.');
        luaL_addlstring(&lb, p->s, p->len);
      } else {
        luaL_addchar(&lb, '[');
        add_quoted(&lb, p->s, p->len);
        luaL_addchar(&lb, ']');
      }
      break;
    case K_BOOL:
      luaL_addstring(&lb, p->b ? "[true]" : "[false]");
      break;
    default:
      break;
    }
  }
  luaL_addstring(&lb, ": ");
  luaL_addstring(&lb, reason);
  luaL_pushresult(&lb);
  lua_error(L);
}

static inline uint8_t *wr(enc *e, size_t n) {
  mb__buf *b = e->b;
  if (b->cap - b->len < n && mb__buf_grow(b, n)) enc_oom(e);
  uint8_t *p = b->data + b->len;
  b->len += n;
  return p;
}

static void put_uint(enc *e, uint64_t u) {
  uint8_t *p;
  if (u < 128) {
    *wr(e, 1) = (uint8_t)u;
  } else if (u <= 0xff) {
    p = wr(e, 2);
    p[0] = 0xcc;
    p[1] = (uint8_t)u;
  } else if (u <= 0xffff) {
    p = wr(e, 3);
    p[0] = 0xcd;
    st16(p + 1, (uint16_t)u);
  } else if (u <= 0xffffffffu) {
    p = wr(e, 5);
    p[0] = 0xce;
    st32(p + 1, (uint32_t)u);
  } else {
    p = wr(e, 9);
    p[0] = 0xcf;
    st64(p + 1, u);
  }
}

static void put_neg(enc *e, int64_t i) {
  uint8_t *p;
  if (i >= -32) {
    *wr(e, 1) = (uint8_t)(int8_t)i;
  } else if (i >= -128) {
    p = wr(e, 2);
    p[0] = 0xd0;
    p[1] = (uint8_t)(int8_t)i;
  } else if (i >= -32768) {
    p = wr(e, 3);
    p[0] = 0xd1;
    st16(p + 1, (uint16_t)(int16_t)i);
  } else if (i >= INT32_MIN) {
    p = wr(e, 5);
    p[0] = 0xd2;
    st32(p + 1, (uint32_t)(int32_t)i);
  } else {
    p = wr(e, 9);
    p[0] = 0xd3;
    st64(p + 1, (uint64_t)i);
  }
}

static void put_number(enc *e, double d) {
  /* Integral values in [-2^63, 2^64) become the shortest int; -0.0 stays
   * a float so that it survives the round trip. */
  if (d >= 0) {
    if (d < 18446744073709551616.0) {
      uint64_t u = (uint64_t)d;
      if ((double)u == d && !(u == 0 && signbit(d))) {
        put_uint(e, u);
        return;
      }
    }
  } else if (d >= -9223372036854775808.0) {
    int64_t i = (int64_t)d;
    if ((double)i == d) {
      put_neg(e, i);
      return;
    }
  }
  uint64_t bits;
  memcpy(&bits, &d, 8);
  uint8_t *p = wr(e, 9);
  p[0] = 0xcb;
  st64(p + 1, bits);
}

static void put_str(enc *e, const char *s, size_t n) {
  uint8_t *p;
  if (n > 0xffffffffu) enc_oom(e); /* msgpack cannot say it */
  if (n < 32) {
    p = wr(e, 1 + n);
    *p++ = (uint8_t)(0xa0 | n);
  } else if (n <= 0xff) {
    p = wr(e, 2 + n);
    p[0] = 0xd9;
    p[1] = (uint8_t)n;
    p += 2;
  } else if (n <= 0xffff) {
    p = wr(e, 3 + n);
    p[0] = 0xda;
    st16(p + 1, (uint16_t)n);
    p += 3;
  } else {
    p = wr(e, 5 + n);
    p[0] = 0xdb;
    st32(p + 1, (uint32_t)n);
    p += 5;
  }
  memcpy(p, s, n);
}

static void put_head(enc *e, uint8_t fix, uint8_t b16, size_t n) {
  uint8_t *p;
  if (n < 16) {
    *wr(e, 1) = (uint8_t)(fix | n);
  } else if (n <= 0xffff) {
    p = wr(e, 3);
    p[0] = b16;
    st16(p + 1, (uint16_t)n);
  } else {
    p = wr(e, 5);
    p[0] = (uint8_t)(b16 + 1);
    st32(p + 1, (uint32_t)n);
  }
}

/* --- visited set --------------------------------------------------------- */

/* Addresses of tables allocated one after another stay close together in
 * the set (cache friendly); the high bits are folded in against strides. */
static inline size_t vhash(const void *p, size_t mask) {
  uintptr_t x = (uintptr_t)p;
  return (size_t)((x >> 4) ^ (x >> 24)) & mask;
}

static void vgrow(enc *e) {
  size_t ncap = e->vcap ? e->vcap * 2 : 256;
  const void **nk = scratch(e, NULL, 0, ncap * sizeof *nk);
  if (!nk) enc_oom(e);
  memset(nk, 0, ncap * sizeof *nk);
  if (!e->vcap) { /* leaving the small array: move its tables over */
    for (size_t i = 0; i < e->vcount; i++) {
      size_t h = vhash(e->vsmall[i], ncap - 1);
      while (nk[h])
        h = (h + 1) & (ncap - 1);
      nk[h] = e->vsmall[i];
    }
  }
  for (size_t i = 0; i < e->vcap; i++) {
    if (!e->vkeys[i]) continue;
    size_t h = vhash(e->vkeys[i], ncap - 1);
    while (nk[h])
      h = (h + 1) & (ncap - 1);
    nk[h] = e->vkeys[i];
  }
  if (e->vkeys) scratch(e, e->vkeys, e->vcap * sizeof *e->vkeys, 0);
  e->vkeys = nk;
  e->vcap = ncap;
}

/* Marks table `p` (at nesting `level`) visited; 0 if new, 1 if it is an
 * ancestor on the current path (cycle), 2 if seen elsewhere (shared). The
 * path of ancestors is a small stack, so leaving a table costs nothing. */
static int venter(enc *e, const void *p, unsigned level) {
  if (!e->vcap) {
    for (size_t i = 0; i < e->vcount; i++) {
      if (e->vsmall[i] != p) continue;
      for (unsigned k = 0; k < level; k++)
        if (e->anc[k] == p) return 1;
      return 2;
    }
    if (e->vcount < VSMALL) {
      e->vsmall[e->vcount++] = p;
      e->anc[level] = p;
      return 0;
    }
  }
  if (2 * (e->vcount + 1) > e->vcap) vgrow(e);
  size_t mask = e->vcap - 1, h = vhash(p, mask);
  while (e->vkeys[h]) {
    if (e->vkeys[h] == p) {
      for (unsigned k = 0; k < level; k++)
        if (e->anc[k] == p) return 1;
      return 2;
    }
    h = (h + 1) & mask;
  }
  e->vkeys[h] = p;
  e->vcount++;
  e->anc[level] = p;
  return 0;
}

/* --- keys ---------------------------------------------------------------- */

static int key_cmp(const keyrec *a, const keyrec *b) {
  if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
  if (a->rank == 0) return a->n < b->n ? -1 : (a->n > b->n);
  if (a->rank == 1) {
    if (a->len && b->len && a->s[0] != b->s[0]) /* most keys differ here */
      return (unsigned char)a->s[0] < (unsigned char)b->s[0] ? -1 : 1;
    size_t m = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, m);
    if (c) return c;
    return a->len < b->len ? -1 : (a->len > b->len);
  }
  return a->b - b->b;
}

static int key_qcmp(const void *a, const void *b) {
  return key_cmp(a, b);
}

static void sort_keys(keyrec *k, size_t n) {
  if (n > 24) {
    qsort(k, n, sizeof *k, key_qcmp);
    return;
  }
  for (size_t i = 1; i < n; i++) {
    keyrec t = k[i];
    size_t j = i;
    while (j > 0 && key_cmp(&k[j - 1], &t) > 0) {
      k[j] = k[j - 1];
      j--;
    }
    k[j] = t;
  }
}

static keyrec *kpush(enc *e) {
  if (e->ktop == e->kcap) {
    if (!e->keys) { /* start in the inline array */
      e->keys = e->kinline;
      e->kcap = KINLINE;
      return &e->keys[e->ktop++];
    }
    size_t ncap = e->kcap * 2;
    int inline_keys = e->keys == e->kinline;
    keyrec *nk =
        scratch(e, inline_keys ? NULL : e->keys,
                inline_keys ? 0 : e->kcap * sizeof *nk, ncap * sizeof *nk);
    if (!nk) enc_oom(e);
    if (inline_keys) memcpy(nk, e->kinline, sizeof e->kinline);
    e->keys = nk;
    e->kcap = ncap;
  }
  return &e->keys[e->ktop++];
}

static void put_key(enc *e, const keyrec *k) {
  if (k->rank == 0)
    put_number(e, k->n);
  else if (k->rank == 1)
    put_str(e, k->s, k->len);
  else
    *wr(e, 1) = k->b ? 0xc3 : 0xc2;
}

/* --- values -------------------------------------------------------------- */

static void enc_value(enc *e, int idx, unsigned level);
static void enc_table_fast(enc *e, int idx, unsigned level);

static void enc_ext(enc *e, int idx, unsigned level, int is_table) {
  lua_State *L = e->L;
  /* the metatable is on top */
  int id = -1;
  if (e->mts) {
    lua_rawget(L, e->mts);
    if (lua_type(L, -1) == LUA_TNUMBER) id = (int)lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
  if (id < 0 || id > 127 || !e->reg || !e->reg->e[id].used)
    enc_fail(e, level,
             is_table ? "table with a metatable is not serializable"
                      : "userdata is not serializable");
  const ext_entry *x = &e->reg->e[id];
  /* Room for the longest header (ext32); the header is fitted to the
   * payload afterwards and the payload moved next to it. */
  size_t at = e->b->len;
  wr(e, 6);
  size_t start = e->b->len;
  int top = lua_gettop(L);
  const char *err = x->encode(L, idx, e->b, x->ud);
  lua_settop(L, top);
  if (err == mb__ext_nomem) enc_oom(e);
  if (err) enc_fail(e, level, "%s: %s", x->name, err);
  size_t n = e->b->len - start;
  if (n > 0xffffffffu) enc_fail(e, level, "%s: payload too large", x->name);
  uint8_t *p = e->b->data + at;
  size_t h;
  switch (n) {
  case 1:
    p[0] = 0xd4;
    h = 1;
    break;
  case 2:
    p[0] = 0xd5;
    h = 1;
    break;
  case 4:
    p[0] = 0xd6;
    h = 1;
    break;
  case 8:
    p[0] = 0xd7;
    h = 1;
    break;
  case 16:
    p[0] = 0xd8;
    h = 1;
    break;
  default:
    if (n <= 0xff) {
      p[0] = 0xc7;
      p[1] = (uint8_t)n;
      h = 2;
    } else if (n <= 0xffff) {
      p[0] = 0xc8;
      st16(p + 1, (uint16_t)n);
      h = 3;
    } else {
      p[0] = 0xc9;
      st32(p + 1, (uint32_t)n);
      h = 5;
    }
  }
  p[h] = (uint8_t)id;
  memmove(p + h + 1, p + 6, n);
  e->b->len = at + h + 1 + n;
}

/* The slow walk: keys in canonical order, values fetched with rawget, the
 * path kept up to date. Used only to report a refusal, so that the message
 * (which occurrence of a shared table, which cycle) never depends on the
 * pairs() order. */
static void enc_table_slow(enc *e, int idx, unsigned level) {
  lua_State *L = e->L;
  if (level >= e->max_depth)
    enc_fail(e, level, "tables nested deeper than %u levels", e->max_depth);
  const void *self = lua_topointer(L, idx);
  int seen = venter(e, self, level);
  if (seen == 1) enc_fail(e, level, "table contains itself (cycle)");
  if (seen == 2) enc_fail(e, level, "table is referenced twice (shared)");
  if (!lua_checkstack(L, 4)) enc_fail(e, level, "Lua stack exhausted");

  /* Pass 1: count the entries and check for keys exactly 1..n. */
  size_t n = lua_objlen(L, idx), count = 0;
  int isarr = 1;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    count++;
    if (isarr) {
      if (lua_type(L, -1) == LUA_TNUMBER) {
        double d = lua_tonumber(L, -1);
        if (!(d >= 1 && d <= (double)n && d == (double)(size_t)d)) isarr = 0;
      } else {
        isarr = 0;
      }
    }
  }
  pkey *pk = &e->path[level + 1];
  if (isarr && count > 0 && count == n) {
    put_head(e, 0x90, 0xdc, n);
    pk->type = K_INDEX;
    for (size_t i = 1; i <= n; i++) {
      pk->i = i;
      lua_rawgeti(L, idx, (int)i);
      enc_value(e, lua_gettop(L), level + 1);
      lua_pop(L, 1);
    }
    return;
  }

  /* A map: collect the keys, sort them canonically, emit. */
  size_t kbase = e->ktop;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    keyrec *k = kpush(e);
    switch (lua_type(L, -1)) {
    case LUA_TNUMBER:
      k->rank = 0;
      k->n = lua_tonumber(L, -1);
      if (k->n == 0) k->n = 0.0; /* -0.0 and 0 are one key */
      break;
    case LUA_TSTRING:
      k->rank = 1;
      k->s = lua_tolstring(L, -1, &k->len);
      break;
    case LUA_TBOOLEAN:
      k->rank = 2;
      k->b = lua_toboolean(L, -1);
      break;
    default:
      enc_fail(e, level, "key of type %s is not serializable",
               lua_typename(L, lua_type(L, -1)));
    }
  }
  if (count) sort_keys(e->keys + kbase, count);
  put_head(e, 0x80, 0xde, count);
  for (size_t j = 0; j < count; j++) {
    const keyrec *k = &e->keys[kbase + j];
    put_key(e, k);
    switch (k->rank) {
    case 0:
      pk->type = K_NUM;
      pk->n = k->n;
      lua_pushnumber(L, k->n);
      break;
    case 1:
      pk->type = K_STR;
      pk->s = k->s;
      pk->len = k->len;
      lua_pushlstring(L, k->s, k->len);
      break;
    default:
      pk->type = K_BOOL;
      pk->b = k->b;
      lua_pushboolean(L, k->b);
    }
    lua_rawget(L, idx);
    enc_value(e, lua_gettop(L), level + 1);
    lua_pop(L, 1);
  }
  e->ktop = kbase;
}

/* Length of the msgpack object at p (our own output, so trusted). */
static size_t mp_len(const uint8_t *p) {
  uint8_t c = *p;
  size_t n, h, len;
  if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) return 1;
  if (c >= 0xa0 && c <= 0xbf) return 1 + (size_t)(c & 0x1f);
  if (c <= 0x9f) { /* fixmap, fixarray */
    n = (size_t)(c & 0x0f) * (c <= 0x8f ? 2 : 1);
    h = 1;
  } else {
    switch (c) {
    case 0xcb:
    case 0xcf:
    case 0xd3:
      return 9;
    case 0xca:
    case 0xce:
    case 0xd2:
      return 5;
    case 0xcd:
    case 0xd1:
      return 3;
    case 0xcc:
    case 0xd0:
      return 2;
    case 0xd4:
      return 3;
    case 0xd5:
      return 4;
    case 0xd6:
      return 6;
    case 0xd7:
      return 10;
    case 0xd8:
      return 18;
    case 0xd9:
      return 2 + (size_t)p[1];
    case 0xda:
      return 3 + (size_t)ld16(p + 1);
    case 0xdb:
      return 5 + (size_t)ld32(p + 1);
    case 0xc7:
      return 3 + (size_t)p[1];
    case 0xc8:
      return 4 + (size_t)ld16(p + 1);
    case 0xc9:
      return 6 + (size_t)ld32(p + 1);
    case 0xdc:
      n = ld16(p + 1);
      h = 3;
      break;
    case 0xdd:
      n = ld32(p + 1);
      h = 5;
      break;
    case 0xde:
      n = 2 * (size_t)ld16(p + 1);
      h = 3;
      break;
    case 0xdf:
      n = 2 * (size_t)ld32(p + 1);
      h = 5;
      break;
    default:
      return 1;
    }
  }
  len = h;
  for (size_t i = 0; i < n; i++)
    len += mp_len(p + len);
  return len;
}

#define cstart_of(start) ((start) + 5)

/* The fast walk met a key that breaks the 1..n run after `count` values:
 * give those values key records (keys 1..count) by measuring their bytes. */
static void seq_to_keys(enc *e, size_t cstart, size_t count) {
  size_t off = cstart;
  for (size_t i = 0; i < count; i++) {
    keyrec *k = kpush(e);
    k->rank = 0;
    k->n = (double)(i + 1);
    k->voff = off;
    off += mp_len(e->b->data + off);
    k->vend = off;
  }
}

/* The fast walk: one lua_next pass that encodes each value as it comes,
 * recording where its bytes went; then the header is fitted (arrays) or
 * the pairs are copied out and written back in canonical key order (maps).
 * No rawget, no string re-interning. */
static void enc_table_fast(enc *e, int idx, unsigned level) {
  lua_State *L = e->L;
  mb__buf *b = e->b;
  if (level >= e->max_depth) enc_fail(e, level, "too deep");
  const void *self = lua_topointer(L, idx);
  if (venter(e, self, level)) enc_fail(e, level, "shared or cycle");
  if (!lua_checkstack(L, 4)) enc_fail(e, level, "Lua stack exhausted");
  size_t start = b->len;
  wr(e, 5); /* room for the longest header */
  size_t kbase = e->ktop, count = 0;
  int seq = 1;
  lua_pushnil(L);
  int vi = lua_gettop(L) + 1; /* where lua_next leaves each value */
  while (lua_next(L, idx)) {
    if (seq) {
      /* Keys 1, 2, 3, ... so far: no key records needed. */
      if (lua_type(L, -2) == LUA_TNUMBER &&
          lua_tonumber(L, -2) == (double)(count + 1)) {
        enc_value(e, vi, level + 1);
        lua_pop(L, 1);
        count++;
        continue;
      }
      seq = 0;
      seq_to_keys(e, cstart_of(start), count);
    }
    keyrec *k = kpush(e);
    switch (lua_type(L, -2)) {
    case LUA_TNUMBER:
      k->rank = 0;
      k->n = lua_tonumber(L, -2);
      if (k->n == 0) k->n = 0.0; /* -0.0 and 0 are one key */
      break;
    case LUA_TSTRING:
      k->rank = 1;
      k->s = lua_tolstring(L, -2, &k->len);
      break;
    case LUA_TBOOLEAN:
      k->rank = 2;
      k->b = lua_toboolean(L, -2);
      break;
    default:
      enc_fail(e, level, "bad key");
    }
    k->voff = b->len;
    enc_value(e, vi, level + 1);
    e->keys[kbase + count].vend = b->len;
    lua_pop(L, 1);
    count++;
  }
  size_t cstart = start + 5, clen = b->len - cstart;
  if (count && seq) {
    /* an array in index order already: fit the header */
    size_t h = count < 16 ? 1 : count <= 0xffff ? 3 : 5;
    uint8_t *p = b->data + start;
    if (h < 5) memmove(p + h, p + 5, clen);
    b->len = start;
    put_head(e, 0x90, 0xdc, count);
    b->len = start + h + clen;
  } else if (count == 0) {
    b->len = start;
    *wr(e, 1) = 0x80;
  } else {
    keyrec *ks = e->keys + kbase;
    sort_keys(ks, count);
    int arr = 1;
    for (size_t j = 0; j < count && arr; j++)
      arr = ks[j].rank == 0 && ks[j].n == (double)(j + 1);
    b->len = cstart;
    e->tmp.len = 0;
    if (mb__buf_append(&e->tmp, b->data + cstart, clen)) enc_oom(e);
    b->len = start;
    if (arr)
      put_head(e, 0x90, 0xdc, count);
    else
      put_head(e, 0x80, 0xde, count);
    for (size_t j = 0; j < count; j++) {
      const keyrec *k = &e->keys[kbase + j];
      if (!arr) put_key(e, k);
      size_t n = k->vend - k->voff;
      memcpy(wr(e, n), e->tmp.data + (k->voff - cstart), n);
    }
  }
  e->ktop = kbase;
}

static void enc_value(enc *e, int idx, unsigned level) {
  lua_State *L = e->L;
  switch (lua_type(L, idx)) {
  case LUA_TNIL:
    *wr(e, 1) = 0xc0;
    return;
  case LUA_TBOOLEAN:
    *wr(e, 1) = lua_toboolean(L, idx) ? 0xc3 : 0xc2;
    return;
  case LUA_TNUMBER:
    put_number(e, lua_tonumber(L, idx));
    return;
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    put_str(e, s, n);
    return;
  }
  case LUA_TTABLE:
    if (lua_getmetatable(L, idx))
      enc_ext(e, idx, level, 1);
    else if (e->slow)
      enc_table_slow(e, idx, level);
    else
      enc_table_fast(e, idx, level);
    return;
  case LUA_TUSERDATA:
    if (lua_getmetatable(L, idx)) {
      enc_ext(e, idx, level, 0);
      return;
    }
    enc_fail(e, level, "userdata is not serializable");
    return;
  case LUA_TLIGHTUSERDATA:
    enc_fail(e, level, "userdata is not serializable");
    return;
  case LUA_TFUNCTION:
    enc_fail(e, level, "function is not serializable");
    return;
  case LUA_TTHREAD:
    enc_fail(e, level, "thread is not serializable");
    return;
  case MB_LUA_TCDATA:
    enc_fail(e, level, "cdata is not serializable");
    return;
  default:
    enc_fail(e, level, "value of type %s is not serializable",
             lua_typename(L, lua_type(L, idx)));
  }
}

const char mb__ext_nomem[] = "not enough memory";

/* pcall'ed: (value, enc*) */
static int enc_tramp(lua_State *L) {
  enc *e = lua_touserdata(L, 2);
  lua_pushlightuserdata(L, (void *)&key_ext_mts);
  lua_rawget(L, LUA_REGISTRYINDEX);
  e->mts = lua_istable(L, 3) ? 3 : 0;
  lua_pushlightuserdata(L, (void *)&key_ext_reg);
  lua_rawget(L, LUA_REGISTRYINDEX);
  e->reg = lua_touserdata(L, 4);
  enc_value(e, 1, 0);
  if (e->push_result) {
    lua_pushlstring(L, (const char *)e->b->data, e->b->len);
    return 1;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Decoder                                                                   */

/* Interned key strings seen recently, kept in stack slots: pushing a cached
 * key is a copy, where lua_pushlstring hashes and compares. */
#define KCACHE 64
/* String values this short share the cache: enum-like values repeat. */
#define SHORT_VALUE 4

/* Shapes: the key sequences of small string-keyed maps. A shape met
 * SHAPE_HITS times in one input gets a constructor compiled from generated
 * Lua source, `function(a0, ...) local t = {[k0] = 0, ...} t[k0] = a0 ...
 * return t end`: copying the template table and overwriting its slots costs
 * less than inserting n new keys through the C API (measured: about half,
 * with or without the JIT). Records in an array share a shape. */
#define SHAPES 16
#define SHAPE_MAX_KEYS 16
#define SHAPE_KEY_MAX 40 /* longest key a template holds */
#define SHAPE_HITS 4
/* A constructor takes up to about 2 KiB (measured: 0.4 for 2 short keys,
 * 1.9 for 16 keys of 32 bytes): one per SHAPE_INPUT bytes of input keeps
 * the decoder's memory a small multiple of its input. */
#define SHAPE_INPUT 1024
#define EXPECT 16 /* depths remembered (modulo) */

typedef struct shape {
  unsigned n, hits; /* n 0: an empty entry */
  uint32_t hash;
  int compiled; /* 1: its constructor is in its stack slot; -1: failed */
  unsigned gen; /* changes when the entry is taken over or compiled */
  const uint8_t *key[SHAPE_MAX_KEYS]; /* the bytes of its first occurrence */
  uint8_t len[SHAPE_MAX_KEYS];
} shape;

typedef struct dec {
  lua_State *L;
  const uint8_t *start, *p, *end;
  unsigned max_depth;
  ext_registry *reg;
  mb_status status;
  int cbase; /* first cache slot, 0: no cache */
  const uint8_t *cp[KCACHE];
  size_t cl[KCACHE];
  int sbase; /* first shape constructor slot, 0: no shapes */
  shape shapes[SHAPES];
  shape *expect[EXPECT]; /* by depth: the shape of the last small map */
  size_t compiles;       /* constructors this input may still have */
} dec;

#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* A decoded map key, for duplicate checks without asking Lua. */
typedef struct kdesc {
  const uint8_t *at; /* where it starts, for errors */
  int type;          /* 0 number, 1 string, 2 boolean */
  unsigned h; /* strings: key cache slot, also the duplicate filter bit */
  double n;
  const uint8_t *s;
  size_t len;
} kdesc;

static void dec_fail(dec *d, const uint8_t *at, const char *fmt, ...) {
  char reason[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  d->status = MB_ECORRUPT;
  char msg[260];
  snprintf(msg, sizeof msg, "byte %zu: %s", (size_t)(at - d->start), reason);
  lua_pushstring(d->L, msg);
  lua_error(d->L);
}

static inline size_t left(const dec *d) {
  return (size_t)(d->end - d->p);
}

/* Reads an n-byte big-endian length field after the type byte at `at`. */
static inline uint32_t dlen(dec *d, const uint8_t *at, int n,
                            const char *what) {
  if (left(d) < (size_t)n)
    dec_fail(d, at, "truncated %s header (needs %d bytes, %zu left)", what, n,
             left(d));
  uint32_t v = n == 1 ? d->p[0] : n == 2 ? ld16(d->p) : ld32(d->p);
  d->p += n;
  return v;
}

static void dec_value(dec *d, unsigned depth);

static void dec_str(dec *d, const uint8_t *at, size_t n, const char *what) {
  if (left(d) < n)
    dec_fail(d, at, "truncated %s (needs %zu bytes, %zu left)", what, n,
             left(d));
  lua_pushlstring(d->L, (const char *)d->p, n);
  d->p += n;
}

static inline unsigned key_slot(const uint8_t *s, size_t n);
static void push_key_str(dec *d, const uint8_t *s, size_t n, unsigned h);

/* The scalars that fill most tables, decoded in line: for them the call
 * into dec_value and its switch cost more than the value. Needs a byte at
 * d->p; returns 0, consuming nothing, for anything else or anything
 * truncated, which dec_value then decodes or reports. */
static inline int dec_scalar(dec *d) {
  lua_State *L = d->L;
  uint8_t c = d->p[0];
  if (c <= 0x7f || c >= 0xe0) { /* fixints */
    d->p++;
    lua_pushnumber(L, (int8_t)c);
    return 1;
  }
  if ((c & 0xe0) == 0xa0 && left(d) > (size_t)(c & 0x1f)) { /* fixstr */
    size_t n = c & 0x1f;
    const uint8_t *s = d->p + 1;
    if (n <= SHORT_VALUE)
      push_key_str(d, s, n, key_slot(s, n));
    else
      lua_pushlstring(L, (const char *)s, n);
    d->p += 1 + n;
    return 1;
  }
  if (c == 0xc2 || c == 0xc3) {
    d->p++;
    lua_pushboolean(L, c == 0xc3);
    return 1;
  }
  if (c == 0xcb && left(d) >= 9) {
    uint64_t bits = ld64(d->p + 1);
    double f;
    memcpy(&f, &bits, 8);
    d->p += 9;
    lua_pushnumber(L, f);
    return 1;
  }
  return 0;
}

/* A value inside a table, where nil is refused. */
static inline void dec_elem(dec *d, unsigned depth) {
  if (d->p < d->end) {
    if (*d->p == 0xc0) dec_fail(d, d->p, "nil value in table");
    if (dec_scalar(d)) return;
  }
  dec_value(d, depth);
}

static void dec_array(dec *d, const uint8_t *at, size_t n, unsigned depth) {
  lua_State *L = d->L;
  if (left(d) < n)
    dec_fail(d, at, "truncated array (declares %zu elements, %zu bytes left)",
             n, left(d));
  if (depth + 1 > d->max_depth)
    dec_fail(d, at, "tables nested deeper than %u levels", d->max_depth);
  if (!lua_checkstack(L, 2)) dec_fail(d, at, "Lua stack exhausted");
  lua_createtable(L, n > 0x7fffffff ? 0x7fffffff : (int)n, 0);
  for (size_t i = 1; i <= n; i++) {
    dec_elem(d, depth + 1);
    lua_rawseti(L, -2, (int)i);
  }
}

/* Keys are short: a byte loop beats a call to memcmp. */
static inline int same_bytes(const uint8_t *a, const uint8_t *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i]) return 0;
  return 1;
}

static inline unsigned key_slot(const uint8_t *s, size_t n) {
  return n ? (unsigned)(s[0] + s[n - 1] * 8u + n * 4u) & (KCACHE - 1) : 0;
}

static void push_key_str(dec *d, const uint8_t *s, size_t n, unsigned h) {
  lua_State *L = d->L;
  if (d->cbase && n && n <= 40) {
    if (d->cl[h] == n && same_bytes(d->cp[h], s, n)) {
      lua_pushvalue(L, d->cbase + (int)h);
      return;
    }
    lua_pushlstring(L, (const char *)s, n);
    lua_pushvalue(L, -1);
    lua_replace(L, d->cbase + (int)h);
    d->cp[h] = s;
    d->cl[h] = n;
    return;
  }
  lua_pushlstring(L, (const char *)s, n);
}

/* Decodes a map key (a number, string or boolean) into k; push_key pushes
 * it later. Inlined: the calls cost a tenth of decoding a record. */
static ALWAYS_INLINE void dec_key(dec *d, kdesc *k, unsigned depth) {
  const uint8_t *at = k->at = d->p;
  if (at >= d->end) dec_fail(d, at, "truncated input (needs 1 byte, 0 left)");
  uint8_t c = *at;
  if ((c & 0xe0) == 0xa0 || (c >= 0xd9 && c <= 0xdb) ||
      (c >= 0xc4 && c <= 0xc6)) {
    const char *what = c >= 0xc4 && c <= 0xc6 ? "binary" : "string";
    size_t n;
    d->p++;
    if ((c & 0xe0) == 0xa0)
      n = c & 0x1f;
    else
      n = dlen(d, at, 1 << (c >= 0xd9 ? c - 0xd9 : c - 0xc4), what);
    if (left(d) < n)
      dec_fail(d, at, "truncated %s (needs %zu bytes, %zu left)", what, n,
               left(d));
    k->type = 1;
    k->s = d->p;
    k->len = n;
    k->h = key_slot(k->s, n);
    d->p += n;
    return;
  }
  if (c == 0xc2 || c == 0xc3) {
    d->p++;
    k->type = 2;
    k->n = c == 0xc3;
    return;
  }
  if (c == 0xc0) dec_fail(d, at, "nil key");
  if ((c >= 0x80 && c <= 0x9f) || (c >= 0xdc && c <= 0xdf) ||
      (c >= 0xc7 && c <= 0xc9) || (c >= 0xd4 && c <= 0xd8))
    dec_fail(d, at, "key is not a number, string or boolean");
  dec_value(d, depth); /* a number (or 0xc1, refused there) */
  k->type = 0;
  k->n = lua_tonumber(d->L, -1);
  lua_pop(d->L, 1);
  if (k->n != k->n) dec_fail(d, at, "NaN key");
}

static void push_key(dec *d, const kdesc *k) {
  if (k->type == 1)
    push_key_str(d, k->s, k->len, k->h);
  else if (k->type == 2)
    lua_pushboolean(d->L, k->n != 0);
  else
    lua_pushnumber(d->L, k->n);
}

static int same_key(const kdesc *a, const kdesc *b) {
  if (a->type != b->type) return 0;
  if (a->type != 1) return a->n == b->n; /* 1 == 1.0, 0 == -0.0 */
  /* Bytes, not Lua: asking for the interned pointer costs an API call per
   * key. At most 16 keys share a map, so this stays linear in the input. */
  return a->len == b->len && !memcmp(a->s, b->s, a->len);
}

/* Whether key i of a small map repeats an earlier one. String keys with
 * distinct cache slots differ, so most keys need one bit test. */
static int repeats(const kdesc *kd, size_t i, uint64_t *slots) {
  if (kd[i].type == 1) {
    uint64_t bit = (uint64_t)1 << kd[i].h;
    int maybe = (*slots & bit) != 0;
    *slots |= bit;
    if (!maybe) return 0;
  }
  for (size_t j = 0; j < i; j++)
    if (same_key(&kd[j], &kd[i])) return 1;
  return 0;
}

/* The shape of a small map's keys kd[0..n), or NULL when templates are off
 * or the keys do not qualify. A new shape takes its slot over. */
static shape *find_shape(dec *d, const kdesc *kd, size_t n) {
  if (!d->sbase || n < 2) return NULL;
  uint32_t h = (uint32_t)n;
  for (size_t i = 0; i < n; i++) {
    if (kd[i].type != 1 || kd[i].len > SHAPE_KEY_MAX) return NULL;
    h = h * 31 + kd[i].h + (uint32_t)kd[i].len * 7;
  }
  shape *sh = &d->shapes[h & (SHAPES - 1)];
  int same = sh->n == n && sh->hash == h;
  for (size_t i = 0; same && i < n; i++)
    same =
        sh->len[i] == kd[i].len && same_bytes(sh->key[i], kd[i].s, kd[i].len);
  if (!same) {
    sh->gen++;
    sh->n = (unsigned)n;
    sh->hash = h;
    sh->hits = 0;
    sh->compiled = 0;
    for (size_t i = 0; i < n; i++) {
      sh->key[i] = kd[i].s;
      sh->len[i] = (uint8_t)kd[i].len;
    }
  }
  sh->hits++;
  return sh;
}

/* Appends a Lua string literal of any bytes: every byte as \ddd. */
static char *put_literal(char *o, const uint8_t *s, size_t n) {
  *o++ = '"';
  for (size_t i = 0; i < n; i++)
    o += sprintf(o, "\\%u", s[i]);
  *o++ = '"';
  return o;
}

/* Compiles the constructor of `sh` into its stack slot. Returns 0 when it
 * could not (out of memory): the shape then stays without one. */
static int compile_shape(dec *d, shape *sh) {
  lua_State *L = d->L;
  /* per key: "a16," + "[lit]=0," + "t[lit]=a16 ", a literal 4 bytes/byte */
  char src[128 + SHAPE_MAX_KEYS * (2 * (SHAPE_KEY_MAX * 4 + 2) + 32)];
  char *o = src;
  o += sprintf(o, "return function(");
  for (unsigned i = 0; i < sh->n; i++)
    o += sprintf(o, "%sa%u", i ? "," : "", i);
  o += sprintf(o, ")\nlocal t = {");
  for (unsigned i = 0; i < sh->n; i++) {
    *o++ = '[';
    o = put_literal(o, sh->key[i], sh->len[i]);
    o += sprintf(o, "]=0,");
  }
  o += sprintf(o, "}\n");
  for (unsigned i = 0; i < sh->n; i++) {
    o += sprintf(o, "t[");
    o = put_literal(o, sh->key[i], sh->len[i]);
    o += sprintf(o, "]=a%u ", i);
  }
  o += sprintf(o, "\nreturn t end\n");
  if (luaL_loadbuffer(L, src, (size_t)(o - src), "=decoder shape")) {
    lua_pop(L, 1);
    return 0;
  }
  lua_call(L, 0, 1); /* the chunk returns the constructor */
  lua_replace(L, d->sbase + (int)(sh - d->shapes));
  sh->gen++;
  return 1;
}

static void dec_map(dec *d, const uint8_t *at, size_t n, unsigned depth) {
  lua_State *L = d->L;
  if (left(d) / 2 < n)
    dec_fail(d, at, "truncated map (declares %zu entries, %zu bytes left)", n,
             left(d));
  if (depth + 1 > d->max_depth)
    dec_fail(d, at, "tables nested deeper than %u levels", d->max_depth);
  if (n > SHAPE_MAX_KEYS) {
    /* Large maps: keys and values in turn, duplicates asked of the table.
     * Room: the table, a key, a value or the duplicate probe. */
    if (!lua_checkstack(L, 4)) dec_fail(d, at, "Lua stack exhausted");
    lua_createtable(L, 0, n > 0x7fffffff ? 0x7fffffff : (int)n);
    for (size_t i = 0; i < n; i++) {
      kdesc k;
      dec_key(d, &k, depth + 1);
      push_key(d, &k);
      lua_pushvalue(L, -1);
      lua_rawget(L, -3);
      if (!lua_isnil(L, -1)) dec_fail(d, k.at, "duplicate key");
      lua_pop(L, 1);
      dec_elem(d, depth + 1);
      lua_rawset(L, -3);
    }
    return;
  }
  /* Small maps. When the map before at this depth had a shape with a
   * constructor, this one is expected to share it: its values go on the
   * stack above the constructor, each key checked against the shape. At the
   * first key that differs, the table is built from what is on the stack and
   * the rest decoded as usual. Room: the slot, n values, a key and a value. */
  if (!lua_checkstack(L, (int)n + 3)) dec_fail(d, at, "Lua stack exhausted");
  kdesc kd[SHAPE_MAX_KEYS];
  uint64_t slots = 0;
  size_t i = 0;
  shape *sh = d->sbase ? d->expect[depth % EXPECT] : NULL;
  if (sh && sh->n == n && sh->compiled == 1) {
    /* A map among the values may take the shape's entry over: then the
     * keys were compared partly with another shape's. */
    unsigned gen = sh->gen;
    int slot = lua_gettop(L) + 1;
    lua_pushvalue(L, d->sbase + (int)(sh - d->shapes));
    for (; i < n; i++) { /* a shape's keys differ: no duplicate checks */
      dec_key(d, &kd[i], depth + 1);
      if (kd[i].type != 1 || kd[i].len != sh->len[i] ||
          !same_bytes(kd[i].s, sh->key[i], kd[i].len))
        break;
      dec_elem(d, depth + 1);
    }
    if (i == n && sh->gen == gen) {
      lua_call(L, (int)n, 1);
      return;
    }
    /* Off the shape at key i (or all n decoded under a changed entry):
     * check the keys decoded, then build the table from the stack. */
    for (size_t j = 0; j < n && j <= i; j++)
      if (repeats(kd, j, &slots)) dec_fail(d, kd[j].at, "duplicate key");
    lua_createtable(L, 0, (int)n);
    lua_replace(L, slot);
    for (size_t j = 0; j < i; j++) {
      push_key(d, &kd[j]);
      lua_pushvalue(L, slot + 1 + (int)j);
      lua_rawset(L, slot);
    }
    lua_settop(L, slot);
    if (i < n) {
      push_key(d, &kd[i]); /* decoded and checked, its value not yet */
      dec_elem(d, depth + 1);
      lua_rawset(L, -3);
      i++;
    }
  } else {
    lua_createtable(L, 0, (int)n);
  }
  for (; i < n; i++) {
    dec_key(d, &kd[i], depth + 1);
    if (repeats(kd, i, &slots)) dec_fail(d, kd[i].at, "duplicate key");
    push_key(d, &kd[i]);
    dec_elem(d, depth + 1);
    lua_rawset(L, -3);
  }
  sh = find_shape(d, kd, n);
  if (sh && !sh->compiled && sh->hits >= SHAPE_HITS && d->compiles) {
    d->compiles--;
    sh->compiled = compile_shape(d, sh) ? 1 : -1;
  }
  if (d->sbase) d->expect[depth % EXPECT] = sh && sh->compiled == 1 ? sh : NULL;
}

static void dec_ext(dec *d, const uint8_t *at, size_t n) {
  lua_State *L = d->L;
  if (left(d) < n + 1)
    dec_fail(d, at, "truncated ext value (needs %zu bytes, %zu left)", n + 1,
             left(d));
  int type = (int8_t)d->p[0];
  const uint8_t *payload = d->p + 1;
  d->p += n + 1;
  if (type < 0 || !d->reg || !d->reg->e[type].used)
    dec_fail(d, at, "unknown ext type %d", type);
  const ext_entry *x = &d->reg->e[type];
  if (!lua_checkstack(L, 8)) dec_fail(d, at, "Lua stack exhausted");
  int top = lua_gettop(L);
  const char *err = x->decode(L, payload, n, x->ud);
  if (err) {
    lua_settop(L, top);
    dec_fail(d, at, "bad %s value: %s", x->name, err);
  }
  if (lua_gettop(L) != top + 1) {
    lua_settop(L, top);
    dec_fail(d, at, "bad %s value: decoder pushed no value", x->name);
  }
}

static void dec_value(dec *d, unsigned depth) {
  lua_State *L = d->L;
  const uint8_t *at = d->p;
  if (at >= d->end) dec_fail(d, at, "truncated input (needs 1 byte, 0 left)");
  if (dec_scalar(d)) return;
  uint8_t c = *d->p++;
  if (c <= 0x8f) {
    dec_map(d, at, c & 0x0f, depth);
    return;
  }
  if (c <= 0x9f) {
    dec_array(d, at, c & 0x0f, depth);
    return;
  }
  if (c <= 0xbf) {
    dec_str(d, at, c & 0x1f, "string");
    return;
  }
  static const int fixlen[] = {1, 2, 4, 8, 16};
  switch (c) {
  case 0xc0:
    lua_pushnil(L);
    return;
  case 0xc4:
  case 0xc5:
  case 0xc6:
    dec_str(d, at, dlen(d, at, 1 << (c - 0xc4), "binary"), "binary");
    return;
  case 0xc7:
  case 0xc8:
  case 0xc9:
    dec_ext(d, at, dlen(d, at, 1 << (c - 0xc7), "ext"));
    return;
  case 0xca: {
    if (left(d) < 4)
      dec_fail(d, at, "truncated float (needs 4 bytes, %zu left)", left(d));
    uint32_t bits = ld32(d->p);
    float f;
    memcpy(&f, &bits, 4);
    d->p += 4;
    lua_pushnumber(L, f);
    return;
  }
  case 0xcb: {
    if (left(d) < 8)
      dec_fail(d, at, "truncated float (needs 8 bytes, %zu left)", left(d));
    uint64_t bits = ld64(d->p);
    double f;
    memcpy(&f, &bits, 8);
    d->p += 8;
    lua_pushnumber(L, f);
    return;
  }
  case 0xcc:
  case 0xcd:
  case 0xce:
  case 0xcf:
  case 0xd0:
  case 0xd1:
  case 0xd2:
  case 0xd3: {
    size_t n = (size_t)1 << ((c - 0xcc) & 3);
    if (left(d) < n)
      dec_fail(d, at, "truncated integer (needs %zu bytes, %zu left)", n,
               left(d));
    uint64_t u = n == 1   ? d->p[0]
                 : n == 2 ? ld16(d->p)
                 : n == 4 ? ld32(d->p)
                          : ld64(d->p);
    d->p += n;
    if (c <= 0xcf) {
      lua_pushnumber(L, (lua_Number)u);
    } else {
      int64_t i = n == 1   ? (int8_t)u
                  : n == 2 ? (int16_t)u
                  : n == 4 ? (int32_t)u
                           : (int64_t)u;
      lua_pushnumber(L, (lua_Number)i);
    }
    return;
  }
  case 0xd4:
  case 0xd5:
  case 0xd6:
  case 0xd7:
  case 0xd8:
    dec_ext(d, at, (size_t)fixlen[c - 0xd4]);
    return;
  case 0xd9:
  case 0xda:
  case 0xdb:
    dec_str(d, at, dlen(d, at, 1 << (c - 0xd9), "string"), "string");
    return;
  case 0xdc:
  case 0xdd:
    dec_array(d, at, dlen(d, at, c == 0xdc ? 2 : 4, "array"), depth);
    return;
  case 0xde:
  case 0xdf:
    dec_map(d, at, dlen(d, at, c == 0xde ? 2 : 4, "map"), depth);
    return;
  default: /* 0xc1 */
    dec_fail(d, at, "invalid byte 0x%02x", c);
  }
}

/* pcall'ed: (dec*) -> value */
static int dec_tramp(lua_State *L) {
  dec *d = lua_touserdata(L, 1);
  lua_pushlightuserdata(L, (void *)&key_ext_reg);
  lua_rawget(L, LUA_REGISTRYINDEX);
  d->reg = lua_touserdata(L, -1);
  lua_pop(L, 1);
  /* Each table checks the stack room it uses itself; a scalar fills a
   * slot its table has checked. This is the top-level value's slot. */
  if (!lua_checkstack(L, 2)) dec_fail(d, d->p, "Lua stack exhausted");
  size_t size = (size_t)(d->end - d->p);
  if (size >= 256 && lua_checkstack(L, KCACHE + SHAPES + 8)) {
    d->cbase = lua_gettop(L) + 1;
    lua_settop(L, d->cbase + KCACHE - 1); /* nils */
    memset(d->cl, 0, sizeof d->cl);
    if (size >= SHAPE_INPUT) {
      d->sbase = d->cbase + KCACHE;
      lua_settop(L, d->sbase + SHAPES - 1);
      memset(d->shapes, 0, sizeof d->shapes);
      memset(d->expect, 0, sizeof d->expect);
      d->compiles = size / SHAPE_INPUT;
    }
  }
  dec_value(d, 0);
  if (d->p != d->end)
    dec_fail(d, d->p, "%zu trailing bytes", (size_t)(d->end - d->p));
  return 1;
}

/* ------------------------------------------------------------------------ */
/* Registration                                                              */

typedef struct reg_args {
  int type;
  const char *name;
  mb__ext_encode_fn encode;
  mb__ext_decode_fn decode;
  void *ud;
  mb_status status;
} reg_args;

/* pcall'ed: (metatable, reg_args*) */
static int reg_tramp(lua_State *L) {
  reg_args *a = lua_touserdata(L, 2);
  lua_settop(L, 2);
  lua_pushlightuserdata(L, (void *)&key_ext_reg);
  lua_rawget(L, LUA_REGISTRYINDEX);
  if (!lua_isuserdata(L, 3)) {
    lua_pop(L, 1);
    ext_registry *r = lua_newuserdata(L, sizeof *r);
    memset(r, 0, sizeof *r);
    lua_pushlightuserdata(L, (void *)&key_ext_reg);
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
  }
  ext_registry *r = lua_touserdata(L, 3);
  lua_pushlightuserdata(L, (void *)&key_ext_mts);
  lua_rawget(L, LUA_REGISTRYINDEX);
  if (!lua_istable(L, 4)) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushlightuserdata(L, (void *)&key_ext_mts);
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
  }
  lua_pushvalue(L, 1);
  lua_rawget(L, 4);
  int mt_taken = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (r->e[a->type].used || mt_taken) {
    a->status = MB_EINVAL;
    return 0;
  }
  lua_pushvalue(L, 1);
  lua_pushnumber(L, a->type);
  lua_rawset(L, 4);
  ext_entry *x = &r->e[a->type];
  x->encode = a->encode;
  x->decode = a->decode;
  x->ud = a->ud;
  snprintf(x->name, sizeof x->name, "%s", a->name);
  x->used = 1;
  return 0;
}

/* cpcall'ed once per lua_State: caches the trampolines in the registry, so
 * later calls push them without allocating (outside protected mode). */
static int setup_tramps(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&key_tramp_enc);
  lua_pushcfunction(L, enc_tramp);
  lua_rawset(L, LUA_REGISTRYINDEX);
  lua_pushlightuserdata(L, (void *)&key_tramp_dec);
  lua_pushcfunction(L, dec_tramp);
  lua_rawset(L, LUA_REGISTRYINDEX);
  lua_pushlightuserdata(L, (void *)&key_tramp_reg);
  lua_pushcfunction(L, reg_tramp);
  lua_rawset(L, LUA_REGISTRYINDEX);
  return 0;
}

/* Pushes the trampoline under `key`; on failure pushes a message and
 * returns the Lua error code. */
static int push_tramp(lua_State *L, const char *key) {
  lua_pushlightuserdata(L, (void *)key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  if (lua_isfunction(L, -1)) return 0;
  lua_pop(L, 1);
  int rc = lua_cpcall(L, setup_tramps, NULL);
  if (rc) return rc;
  lua_pushlightuserdata(L, (void *)key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  return 0;
}

static mb_status lua_rc_status(int rc, mb_status own) {
  if (rc == LUA_ERRMEM) return MB_ENOMEM;
  return own != MB_OK ? own : MB_ERROR;
}

mb_status mb__ext_register(lua_State *L, int type, const char *name, int mt_idx,
                           mb__ext_encode_fn encode, mb__ext_decode_fn decode,
                           void *ud) {
  if (type < 0 || type > 127 || !name || strlen(name) >= 32 || !encode ||
      !decode || !lua_istable(L, mt_idx))
    return MB_EINVAL;
  if (mt_idx < 0 && mt_idx > LUA_REGISTRYINDEX)
    mt_idx = lua_gettop(L) + mt_idx + 1;
  reg_args a = {type, name, encode, decode, ud, MB_OK};
  int rc = push_tramp(L, &key_tramp_reg);
  if (rc) {
    lua_pop(L, 1);
    return MB_ENOMEM;
  }
  lua_pushvalue(L, mt_idx);
  lua_pushlightuserdata(L, &a);
  rc = lua_pcall(L, 2, 0, 0);
  if (rc) {
    lua_pop(L, 1);
    return lua_rc_status(rc, MB_OK);
  }
  return a.status;
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                              */

static mb_status encode_impl(lua_State *L, int idx, const mb_codec_options *opt,
                             mb__buf *out, int push_result) {
  if (idx < 0 && idx > LUA_REGISTRYINDEX) idx = lua_gettop(L) + idx + 1;
  enc ectx, *e = &ectx; /* the path array is only read after a failure */
  memset(e, 0, offsetof(enc, anc));
  e->L = L;
  e->b = out;
  e->max_depth = depth_of(opt);
  e->root = opt && opt->root_name ? opt->root_name : "value";
  e->push_result = push_result;
  size_t start = out->len;
  mb__buf_init(&e->tmp, out->alloc, out->ud);
  int rc = push_tramp(L, &key_tramp_enc);
  if (rc == 0) {
    lua_pushvalue(L, idx);
    lua_pushlightuserdata(L, e);
    rc = lua_pcall(L, 2, push_result ? 1 : 0, 0);
  }
  if (rc != 0 && e->fast_failed) {
    /* Refused: walk again in canonical order to name the right path. */
    lua_pop(L, 1);
    out->len = start;
    if (e->vkeys) memset(e->vkeys, 0, e->vcap * sizeof *e->vkeys);
    e->vcount = 0; /* the small array or the hash, whichever is in use */
    e->ktop = 0;
    e->slow = 1;
    e->status = MB_OK;
    rc = push_tramp(L, &key_tramp_enc);
    if (rc == 0) {
      lua_pushvalue(L, idx);
      lua_pushlightuserdata(L, e);
      rc = lua_pcall(L, 2, push_result ? 1 : 0, 0);
    }
  }
  mb__buf_free(&e->tmp);
  if (e->vkeys) out->alloc(out->ud, e->vkeys, e->vcap * sizeof *e->vkeys, 0);
  if (e->keys && e->keys != e->kinline)
    out->alloc(out->ud, e->keys, e->kcap * sizeof *e->keys, 0);
  mb_status st = e->status;
  if (rc == 0) return MB_OK;
  out->len = start;
  return lua_rc_status(rc, st);
}

mb_status mb__encode(lua_State *L, int idx, const mb_codec_options *opt,
                     mb__buf *out) {
  return encode_impl(L, idx, opt, out, 0);
}

mb_status mb_encode(lua_State *L, int idx, const mb_codec_options *opt,
                    mb_alloc_fn alloc, void *alloc_ud, void **out,
                    size_t *size) {
  mb__buf b;
  mb__buf_init(&b, alloc, alloc_ud);
  *out = NULL;
  *size = 0;
  mb_status st = encode_impl(L, idx, opt, &b, 0);
  if (st != MB_OK) {
    mb__buf_free(&b);
    return st;
  }
  *out = mb__buf_detach(&b, size);
  if (!*out) {
    mb__buf_free(&b);
    lua_pushliteral(L, "not enough memory");
    return MB_ENOMEM;
  }
  return MB_OK;
}

mb_status mb_encode_string(lua_State *L, int idx, const mb_codec_options *opt) {
  /* Scratch bytes come from the state's own allocator (lua_Alloc has the
   * semantics of mb_alloc_fn), so its memory limit covers them. */
  void *aud;
  lua_Alloc af = lua_getallocf(L, &aud);
  mb__buf b;
  mb__buf_init(&b, af, aud);
  mb_status st = encode_impl(L, idx, opt, &b, 1);
  mb__buf_free(&b);
  return st;
}

mb_status mb__decode(lua_State *L, const uint8_t *data, size_t size,
                     const mb_codec_options *opt) {
  dec d;
  d.L = L;
  d.start = d.p = data ? data : (const uint8_t *)"";
  d.end = d.start + (data ? size : 0);
  d.max_depth = depth_of(opt);
  d.reg = NULL;
  d.status = MB_OK;
  d.cbase = 0;
  d.sbase = 0;
  d.compiles = 0;
  int rc = push_tramp(L, &key_tramp_dec);
  if (rc == 0) {
    lua_pushlightuserdata(L, &d);
    rc = lua_pcall(L, 1, 1, 0);
  }
  if (rc == 0) return MB_OK;
  return lua_rc_status(rc, d.status);
}

mb_status mb_decode(lua_State *L, const void *data, size_t size,
                    const mb_codec_options *opt) {
  return mb__decode(L, data, size, opt);
}

int mb__lua_encode(lua_State *L) {
  mb_codec_options opt;
  mb_codec_options_init(&opt);
  opt.root_name = luaL_optstring(L, 2, "value");
  luaL_checkany(L, 1);
  if (mb_encode_string(L, 1, &opt) != MB_OK) return lua_error(L);
  return 1;
}

int mb__lua_decode(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  if (mb__decode(L, (const uint8_t *)s, n, NULL) != MB_OK) return lua_error(L);
  return 1;
}
