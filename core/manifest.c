/* `.omwscripts` manifests (core/manifest.h).
 *
 * Line rules, beyond the header:
 * - Lines end at '\n'; whitespace (space, tab, CR, VT, FF) around the flags
 *   and around the path is trimmed, so CRLF files parse like LF files.
 * - Blank and whitespace-only lines are skipped; a line whose first
 *   non-blank character is '#' is a comment. '#' elsewhere is not special.
 * - A UTF-8 BOM at the very start of the text is skipped.
 * - The flags are everything before the first ':', the path everything
 *   after it. Flags are separated by any run of whitespace and commas;
 *   empty flags ("NPC,,CREATURE", a trailing comma) are ignored, and
 *   repeating a flag is harmless.
 * - Errors, each prefixed with "<file>:<line>: ":
 *     "NUL byte in line"              a NUL anywhere in the line
 *     "expected 'FLAGS: path'"       no ':' in a non-comment line
 *     "unknown flag 'X'"             X is not GLOBAL, CUSTOM, PLAYER or a type
 *     "no flags"                     nothing but separators before ':'
 *     "GLOBAL cannot be combined with other flags"
 *     "missing script path"          nothing after ':'
 *     <normaliser message>           e.g. "bad path '../x': ..."
 *     "script path must end in .lua" (checked after normalisation, so
 *                                     ".LUA" is accepted)
 *     "'p' listed as GLOBAL and as local script"  on the later listing,
 *                                     also when the earlier one came from
 *                                     a previous file
 *   Checks run in this order, so a line reports its first problem only.
 * - Allocation failure reports "<file>: out of memory" and MB_ENOMEM.
 *
 * A file is parsed into a scratch list (with its own index so relisting
 * within the file is O(1)) and merged only when every line is valid and
 * all memory of the merge is allocated; the merge itself cannot fail. */
#include "core/manifest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/alloc.h"
#include "sandbox/vfs.h"

#define NO_INDEX ((size_t)-1)
#define LOCAL_FLAGS (~MB__FLAG_GLOBAL)

struct mb__manifest {
  mb_alloc_fn alloc;
  void *alloc_ud;
  mb__manifest_entry *entries; /* exactly `count` elements */
  size_t count;
  size_t *slots; /* open addressing: entry index + 1, 0 = empty */
  size_t nslots; /* power of two, or 0 */
};

/* ---- memory ------------------------------------------------------------ */

static void *mem_realloc(const mb__manifest *m, void *p, size_t osize,
                         size_t nsize) {
  return m->alloc(m->alloc_ud, p, osize, nsize);
}

static void mem_free(const mb__manifest *m, void *p, size_t osize) {
  if (p) m->alloc(m->alloc_ud, p, osize, 0);
}

/* n * size, or 0 on overflow (callers treat 0 as out of memory). */
static size_t array_bytes(size_t n, size_t size) {
  if (n != 0 && size > (size_t)-1 / n) return 0;
  return n * size;
}

/* ---- path index -------------------------------------------------------- */

/* FNV-1a: paths are short and the table is rebuilt per file. */
static size_t hash_path(const char *s) {
  uint64_t h = 1469598103934665603u;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211u;
  }
  return (size_t)(h ^ (h >> 32));
}

static size_t slots_for(size_t n) {
  size_t s = 8;
  while (s / 2 < n)
    s *= 2; /* load factor ≤ 1/2 keeps probes short */
  return s;
}

/* Slot holding `path` or the empty slot where it would go. `path_of`
 * reads the path of item `i` from either the entries or the scratch list. */
typedef const char *(*path_of_fn)(const void *items, size_t i);

static size_t *slot_find(size_t *slots, size_t nslots, const void *items,
                         path_of_fn path_of, const char *path) {
  size_t mask = nslots - 1;
  size_t i = hash_path(path) & mask;
  while (slots[i] != 0 && strcmp(path_of(items, slots[i] - 1), path) != 0)
    i = (i + 1) & mask;
  return &slots[i];
}

static const char *entry_path(const void *items, size_t i) {
  return ((const mb__manifest_entry *)items)[i].path;
}

/* ---- public: lifetime and queries --------------------------------------- */

mb__manifest *mb__manifest_new(mb_alloc_fn alloc, void *alloc_ud) {
  mb__manifest *m = mb__alloc_object(&alloc, &alloc_ud, sizeof *m);
  if (!m) return NULL;
  m->alloc = alloc;
  m->alloc_ud = alloc_ud;
  return m;
}

void mb__manifest_free(mb__manifest *m) {
  if (!m) return;
  for (size_t i = 0; i < m->count; i++)
    mem_free(m, m->entries[i].path, strlen(m->entries[i].path) + 1);
  mem_free(m, m->entries, m->count * sizeof *m->entries);
  mem_free(m, m->slots, m->nslots * sizeof *m->slots);
  mem_free(m, m, sizeof *m);
}

size_t mb__manifest_count(const mb__manifest *m) {
  return m ? m->count : 0;
}

const mb__manifest_entry *mb__manifest_at(const mb__manifest *m, size_t i) {
  if (!m || i >= m->count) return NULL;
  return &m->entries[i];
}

static size_t find_index(const mb__manifest *m, const char *path) {
  if (m->nslots == 0) return NO_INDEX;
  size_t s = *slot_find(m->slots, m->nslots, m->entries, entry_path, path);
  return s ? s - 1 : NO_INDEX;
}

const mb__manifest_entry *mb__manifest_find(const mb__manifest *m,
                                            const char *path) {
  if (!m || !path) return NULL;
  size_t i = find_index(m, path);
  return i == NO_INDEX ? NULL : &m->entries[i];
}

/* ---- parsing ----------------------------------------------------------- */

typedef struct item {
  char *path;       /* NULL once superseded by a later listing */
  uint64_t flags;   /* flags of this file's listings only */
  size_t old_index; /* entry in the manifest with this path, or NO_INDEX */
} item;

typedef struct scratch {
  const mb__manifest *m;
  item *items;
  size_t nitems, cap;
  size_t *slots;
  size_t nslots;
  size_t live;     /* items with a path */
  size_t relisted; /* live items with old_index != NO_INDEX */
  char *norm;      /* normaliser output buffer */
  size_t normsize;
} scratch;

static const char *item_path(const void *items, size_t i) {
  return ((const item *)items)[i].path;
}

static void scratch_free(scratch *s) {
  for (size_t i = 0; i < s->nitems; i++)
    if (s->items[i].path)
      mem_free(s->m, s->items[i].path, strlen(s->items[i].path) + 1);
  mem_free(s->m, s->items, s->cap * sizeof *s->items);
  mem_free(s->m, s->slots, s->nslots * sizeof *s->slots);
  mem_free(s->m, s->norm, s->normsize);
}

/* Room for one more item and its slot. */
static int scratch_reserve(scratch *s) {
  if (s->nitems == s->cap) {
    size_t ncap = s->cap ? s->cap * 2 : 16;
    size_t bytes = array_bytes(ncap, sizeof *s->items);
    item *p =
        bytes ? mem_realloc(s->m, s->items, s->cap * sizeof *s->items, bytes)
              : NULL;
    if (!p) return 0;
    s->items = p;
    s->cap = ncap;
  }
  if (s->nslots / 2 < s->live + 1) {
    size_t n = slots_for(s->live + 1);
    size_t bytes = array_bytes(n, sizeof(size_t));
    size_t *slots = bytes ? mem_realloc(s->m, NULL, 0, bytes) : NULL;
    if (!slots) return 0;
    memset(slots, 0, bytes);
    for (size_t i = 0; i < s->nitems; i++)
      if (s->items[i].path)
        *slot_find(slots, n, s->items, item_path, s->items[i].path) = i + 1;
    mem_free(s->m, s->slots, s->nslots * sizeof *s->slots);
    s->slots = slots;
    s->nslots = n;
  }
  return 1;
}

static void set_err(char *err, size_t errsize, const char *fmt, ...) {
  if (!err || errsize == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errsize, fmt, ap);
  va_end(ap);
}

static int is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int is_flag_sep(char c) {
  return is_blank(c) || c == ',';
}

static void trim(const char **b, const char **e) {
  while (*b < *e && is_blank(**b))
    ++*b;
  while (*e > *b && is_blank((*e)[-1]))
    --*e;
}

static int ends_with_lua(const char *p) {
  size_t n = strlen(p);
  if (n < 4) return 0;
  p += n - 4;
  return p[0] == '.' && (p[1] | 0x20) == 'l' && (p[2] | 0x20) == 'u' &&
         (p[3] | 0x20) == 'a';
}

static int token_is(const char *tok, size_t n, const char *name) {
  return name && strlen(name) == n && memcmp(tok, name, n) == 0;
}

typedef struct line_ctx {
  const char *file;
  size_t line;
  char *err;
  size_t errsize;
} line_ctx;

#define LINE_ERR(c, ...)                                                       \
  do {                                                                         \
    char msg_[512];                                                            \
    snprintf(msg_, sizeof msg_, __VA_ARGS__);                                  \
    set_err((c)->err, (c)->errsize, "%s:%zu: %s", (c)->file, (c)->line, msg_); \
  } while (0)

/* Flags of the text [b, e), or 0 after reporting an error. */
static uint64_t parse_flags(const line_ctx *c, const char *b, const char *e,
                            const char *const *type_names, size_t ntypes) {
  uint64_t flags = 0;
  while (b < e) {
    while (b < e && is_flag_sep(*b))
      b++;
    const char *t = b;
    while (b < e && !is_flag_sep(*b))
      b++;
    size_t n = (size_t)(b - t);
    if (n == 0) break;
    uint64_t f = 0;
    if (token_is(t, n, "GLOBAL"))
      f = MB__FLAG_GLOBAL;
    else if (token_is(t, n, "CUSTOM"))
      f = MB__FLAG_CUSTOM;
    else if (token_is(t, n, "PLAYER"))
      f = MB__FLAG_PLAYER;
    else
      for (size_t i = 0; i < ntypes && !f; i++)
        if (token_is(t, n, type_names[i])) f = MB__FLAG_TYPE(i);
    if (!f) {
      /* The token may be huge or binary: show a bounded prefix. */
      LINE_ERR(c, "unknown flag '%.*s'", n > 64 ? 64 : (int)n, t);
      return 0;
    }
    flags |= f;
  }
  if (!flags) {
    LINE_ERR(c, "no flags");
    return 0;
  }
  if ((flags & MB__FLAG_GLOBAL) && (flags & LOCAL_FLAGS)) {
    LINE_ERR(c, "GLOBAL cannot be combined with other flags");
    return 0;
  }
  return flags;
}

/* One non-comment line [b, e) (already trimmed, non-empty). */
static mb_status parse_line(scratch *s, const line_ctx *c, const char *b,
                            const char *e, const char *const *type_names,
                            size_t ntypes) {
  const char *colon = memchr(b, ':', (size_t)(e - b));
  if (!colon) {
    LINE_ERR(c, "expected 'FLAGS: path'");
    return MB_ECORRUPT;
  }
  uint64_t flags = parse_flags(c, b, colon, type_names, ntypes);
  if (!flags) return MB_ECORRUPT;

  const char *pb = colon + 1, *pe = e;
  trim(&pb, &pe);
  size_t plen = (size_t)(pe - pb);
  if (plen == 0) {
    LINE_ERR(c, "missing script path");
    return MB_ECORRUPT;
  }
  /* Normalising never lengthens a path. */
  if (s->normsize < plen + 1) {
    size_t n = plen + 1 > 2 * s->normsize ? plen + 1 : 2 * s->normsize;
    char *p = mem_realloc(s->m, s->norm, s->normsize, n);
    if (!p) return MB_ENOMEM;
    s->norm = p;
    s->normsize = n;
  }
  char why[512];
  why[0] = '\0';
  mb_status st =
      mb__vfs_normalize(pb, plen, s->norm, s->normsize, why, sizeof why);
  if (st != MB_OK) {
    LINE_ERR(c, "%s", why);
    return MB_ECORRUPT;
  }
  const char *path = s->norm;
  if (!ends_with_lua(path)) {
    LINE_ERR(c, "script path must end in .lua");
    return MB_ECORRUPT;
  }

  /* An earlier listing: in this file first, else in earlier files. */
  size_t prev = NO_INDEX, old = NO_INDEX;
  uint64_t prev_flags = 0;
  if (s->nslots) {
    size_t slot = *slot_find(s->slots, s->nslots, s->items, item_path, path);
    if (slot) {
      prev = slot - 1;
      prev_flags = s->items[prev].flags;
      old = s->items[prev].old_index;
    }
  }
  if (prev == NO_INDEX) {
    old = find_index(s->m, path);
    if (old != NO_INDEX) prev_flags = s->m->entries[old].flags;
  }
  if ((prev != NO_INDEX || old != NO_INDEX) &&
      !(prev_flags & MB__FLAG_GLOBAL) != !(flags & MB__FLAG_GLOBAL)) {
    LINE_ERR(c, "'%.200s' listed as GLOBAL and as local script", path);
    return MB_ECORRUPT;
  }

  if (!scratch_reserve(s)) return MB_ENOMEM;
  /* Found before the earlier item lets go of its path (the probe reads it). */
  size_t *slot = slot_find(s->slots, s->nslots, s->items, item_path, path);
  char *copy;
  if (prev != NO_INDEX) {
    copy = s->items[prev].path; /* moves to the new, last position */
    s->items[prev].path = NULL;
    s->live--;
    if (old != NO_INDEX) s->relisted--;
  } else {
    size_t len = strlen(path) + 1;
    copy = mem_realloc(s->m, NULL, 0, len);
    if (!copy) return MB_ENOMEM;
    memcpy(copy, path, len);
  }
  item *it = &s->items[s->nitems];
  it->path = copy;
  it->flags = flags | prev_flags;
  it->old_index = old;
  *slot = ++s->nitems;
  s->live++;
  if (old != NO_INDEX) s->relisted++;
  return MB_OK;
}

/* Moves the scratch items after the surviving entries. */
static mb_status merge(mb__manifest *m, scratch *s) {
  if (s->live == 0) return MB_OK;
  size_t count = m->count - s->relisted + s->live;
  size_t ebytes = array_bytes(count, sizeof *m->entries);
  size_t nslots = slots_for(count);
  size_t sbytes = array_bytes(nslots, sizeof *m->slots);
  if (!ebytes || !sbytes) return MB_ENOMEM;
  mb__manifest_entry *entries = mem_realloc(m, NULL, 0, ebytes);
  if (!entries) return MB_ENOMEM;
  size_t *slots = mem_realloc(m, NULL, 0, sbytes);
  if (!slots) {
    mem_free(m, entries, ebytes);
    return MB_ENOMEM;
  }
  memset(slots, 0, sbytes);

  /* Nothing fails from here on. Relisted entries leave their old place. */
  size_t n = 0;
  for (size_t i = 0; i < s->nitems; i++) {
    item *it = &s->items[i];
    if (it->path && it->old_index != NO_INDEX) {
      mb__manifest_entry *old = &m->entries[it->old_index];
      it->flags |= old->flags;
      mem_free(m, old->path, strlen(old->path) + 1);
      old->path = NULL;
    }
  }
  for (size_t i = 0; i < m->count; i++)
    if (m->entries[i].path) entries[n++] = m->entries[i];
  for (size_t i = 0; i < s->nitems; i++) {
    item *it = &s->items[i];
    if (!it->path) continue;
    entries[n].path = it->path;
    entries[n].flags = it->flags;
    n++;
    it->path = NULL; /* owned by the manifest now */
  }
  for (size_t i = 0; i < n; i++)
    *slot_find(slots, nslots, entries, entry_path, entries[i].path) = i + 1;

  mem_free(m, m->entries, m->count * sizeof *m->entries);
  mem_free(m, m->slots, m->nslots * sizeof *m->slots);
  m->entries = entries;
  m->count = n;
  m->slots = slots;
  m->nslots = nslots;
  return MB_OK;
}

mb_status mb__manifest_parse(mb__manifest *m, const char *file_name,
                             const char *text, size_t len,
                             const char *const *type_names, size_t ntypes,
                             char *err, size_t errsize) {
  if (err && errsize) err[0] = '\0';
  if (!file_name) file_name = "<manifest>";
  if (!m || (!text && len) || (!type_names && ntypes)) {
    set_err(err, errsize, "%s: bad arguments", file_name);
    return MB_EINVAL;
  }
  if (ntypes > MB__MAX_TYPES) {
    set_err(err, errsize, "%s: %zu object types, at most %d", file_name, ntypes,
            MB__MAX_TYPES);
    return MB_EINVAL;
  }

  if (!text) text = ""; /* NULL + 0 is undefined behaviour */

  scratch s;
  memset(&s, 0, sizeof s);
  s.m = m;
  line_ctx c = {file_name, 0, err, errsize};
  const char *p = text, *end = text + len;
  if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;

  mb_status st = MB_OK;
  while (p < end && st == MB_OK) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *b = p, *e = nl ? nl : end;
    p = nl ? nl + 1 : end;
    c.line++;
    if (memchr(b, '\0', (size_t)(e - b))) {
      LINE_ERR(&c, "NUL byte in line");
      st = MB_ECORRUPT;
      break;
    }
    trim(&b, &e);
    if (b == e || *b == '#') continue;
    st = parse_line(&s, &c, b, e, type_names, ntypes);
  }
  if (st == MB_OK) st = merge(m, &s);
  if (st == MB_ENOMEM) set_err(err, errsize, "%s: out of memory", file_name);
  scratch_free(&s);
  return st;
}
