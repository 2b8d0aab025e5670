/* The save-file container.
 *
 * Layout (all integers of the fixed parts little-endian; full description
 * in serializer/FORMAT.md):
 *
 *   preamble  16 bytes  "MBSAVE\r\n", u16 major, u16 minor, u32 flags (0)
 *   header    msgpack map of named fields (keys sorted bytewise)
 *   payloads  the section payloads, one after the other
 *   index     msgpack map {"header": [offset, size, xxh3],
 *                          "sections": [[kind, container, path,
 *                                        offset, size, xxh3], ...]}
 *   footer    32 bytes  u64 index offset, u64 index size,
 *                       u64 XXH3_64bits_withSeed(index, seed =
 *                           XXH3_64bits(preamble)), "MBSAVEND"
 *
 * Every byte is covered by a check: the preamble and index by the footer's
 * checksum, the footer by its own magic and the index location (the index
 * must end where the footer starts), the header and each payload by its own
 * XXH3-64 in the index. Truncation anywhere loses the footer. Structural
 * damage fails the read (MB_ECORRUPT); a bad header or payload checksum only
 * marks that part, so the other sections still load.
 *
 * Readers of major 1 accept any minor: unknown index keys and extra
 * elements of index entries are skipped, unknown header value types are
 * skipped, and unknown section kinds are kept like any other section.
 */
#define _POSIX_C_SOURCE 200809L
#include "serializer/savefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "sandbox/alloc.h"
#include "serializer/buffer.h"

typedef struct field {
  char *key; /* one block: key\0 then, for strings, value\0 */
  size_t block;
  mb_save_field_type type;
  const char *str;
  size_t str_len;
  int64_t i;
  uint64_t u;
  double f;
} field;

typedef struct section {
  char *block; /* kind\0container\0path\0payload */
  size_t block_size;
  const char *container, *path;
  const uint8_t *payload;
  size_t size;
  uint64_t checksum;
  int ok;
} section;

struct mb_save {
  mb_alloc_fn alloc;
  void *ud;
  field *fields;
  size_t nfields, capfields;
  section *secs;
  size_t nsecs, capsecs;
  mb_save_state state;
  unsigned major, minor;
  int header_ok;
  long fault_bytes;
  int fault_crash;
  char err[512];
};

uint64_t mb__save_checksum(const void *data, size_t size) {
  return XXH3_64bits(data, size);
}

static void *xalloc(mb_save *s, void *p, size_t o, size_t n) {
  return s->alloc(s->ud, p, o, n);
}

static mb_status fail(mb_save *s, mb_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static mb_status fail(mb_save *s, mb_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->err, sizeof s->err, fmt, ap);
  va_end(ap);
  return st;
}

mb_status mb_save_new(mb_alloc_fn alloc, void *alloc_ud, mb_save **out) {
  *out = NULL;
  mb_save *s = mb__alloc_object(&alloc, &alloc_ud, sizeof *s);
  if (!s) return MB_ENOMEM;
  s->alloc = alloc;
  s->ud = alloc_ud;
  s->fault_bytes = -1;
  s->header_ok = 1;
  *out = s;
  return MB_OK;
}

void mb_save_clear(mb_save *s) {
  if (!s) return;
  for (size_t i = 0; i < s->nfields; i++)
    xalloc(s, s->fields[i].key, s->fields[i].block, 0);
  for (size_t i = 0; i < s->nsecs; i++)
    xalloc(s, s->secs[i].block, s->secs[i].block_size, 0);
  if (s->fields) xalloc(s, s->fields, s->capfields * sizeof *s->fields, 0);
  if (s->secs) xalloc(s, s->secs, s->capsecs * sizeof *s->secs, 0);
  s->fields = NULL;
  s->secs = NULL;
  s->nfields = s->capfields = s->nsecs = s->capsecs = 0;
  s->state = MB_SAVE_NEW;
  s->major = s->minor = 0;
  s->header_ok = 1;
}

void mb_save_free(mb_save *s) {
  if (!s) return;
  mb_save_clear(s);
  xalloc(s, s, sizeof *s, 0);
}

const char *mb_save_error(const mb_save *s) {
  return s->err;
}

mb_save_state mb_save_get_state(const mb_save *s) {
  return s->state;
}

int mb_save_header_ok(const mb_save *s) {
  return s->header_ok;
}

void mb_save_version(const mb_save *s, unsigned *major, unsigned *minor) {
  *major = s->major;
  *minor = s->minor;
}

void mb__save_set_write_fault(mb_save *s, long bytes, int crash) {
  s->fault_bytes = bytes;
  s->fault_crash = crash;
}

/* ---- header fields ------------------------------------------------------ */

size_t mb_save_field_count(const mb_save *s) {
  return s->nfields;
}

static void field_out(const field *f, mb_save_field *out) {
  out->key = f->key;
  out->type = f->type;
  out->str = f->str;
  out->str_len = f->str_len;
  out->i = f->i;
  out->u = f->u;
  out->f = f->f;
}

mb_status mb_save_field_at(const mb_save *s, size_t i, mb_save_field *out) {
  if (i >= s->nfields) return MB_EINVAL;
  field_out(&s->fields[i], out);
  return MB_OK;
}

/* Position of `key` (or where it would go). */
static size_t field_pos(const mb_save *s, const char *key, size_t klen,
                        int *found) {
  size_t lo = 0, hi = s->nfields;
  *found = 0;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    const char *k = s->fields[mid].key;
    size_t ml = strlen(k);
    int c = memcmp(k, key, ml < klen ? ml : klen);
    if (c == 0) c = ml < klen ? -1 : (ml > klen);
    if (c == 0) {
      *found = 1;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

mb_status mb_save_field_get(const mb_save *s, const char *key,
                            mb_save_field *out) {
  int found;
  size_t i = field_pos(s, key, strlen(key), &found);
  if (!found) return MB_ENOTFOUND;
  field_out(&s->fields[i], out);
  return MB_OK;
}

/* Adds or replaces a field; the key (and string value) are copied. */
static mb_status field_set(mb_save *s, const char *key, size_t klen,
                           const field *v) {
  if (memchr(key, 0, klen)) return fail(s, MB_EINVAL, "bad header key");
  size_t slen = v->type == MB_FIELD_STR ? v->str_len + 1 : 0;
  size_t block = klen + 1 + slen;
  char *mem = xalloc(s, NULL, 0, block);
  if (!mem) return fail(s, MB_ENOMEM, "out of memory");
  memcpy(mem, key, klen);
  mem[klen] = 0;
  field nf = *v;
  nf.key = mem;
  nf.block = block;
  if (v->type == MB_FIELD_STR) {
    memcpy(mem + klen + 1, v->str, v->str_len);
    mem[klen + 1 + v->str_len] = 0;
    nf.str = mem + klen + 1;
  } else {
    nf.str = NULL;
    nf.str_len = 0;
  }
  int found;
  size_t i = field_pos(s, key, klen, &found);
  if (found) {
    xalloc(s, s->fields[i].key, s->fields[i].block, 0);
    s->fields[i] = nf;
    return MB_OK;
  }
  if (s->nfields == s->capfields) {
    size_t nc = s->capfields ? s->capfields * 2 : 8;
    field *nfs =
        xalloc(s, s->fields, s->capfields * sizeof *nfs, nc * sizeof *nfs);
    if (!nfs) {
      xalloc(s, mem, block, 0);
      return fail(s, MB_ENOMEM, "out of memory");
    }
    s->fields = nfs;
    s->capfields = nc;
  }
  memmove(&s->fields[i + 1], &s->fields[i],
          (s->nfields - i) * sizeof *s->fields);
  s->fields[i] = nf;
  s->nfields++;
  return MB_OK;
}

mb_status mb_save_set_str(mb_save *s, const char *key, const char *value) {
  field f = {0};
  f.type = MB_FIELD_STR;
  f.str = value;
  f.str_len = strlen(value);
  return field_set(s, key, strlen(key), &f);
}

mb_status mb_save_set_int(mb_save *s, const char *key, int64_t value) {
  field f = {0};
  f.type = MB_FIELD_INT;
  f.i = value;
  f.u = (uint64_t)value;
  return field_set(s, key, strlen(key), &f);
}

mb_status mb_save_set_uint(mb_save *s, const char *key, uint64_t value) {
  field f = {0};
  f.type = value > INT64_MAX ? MB_FIELD_UINT : MB_FIELD_INT;
  f.u = value;
  f.i = value > INT64_MAX ? 0 : (int64_t)value;
  return field_set(s, key, strlen(key), &f);
}

mb_status mb_save_set_float(mb_save *s, const char *key, double value) {
  field f = {0};
  f.type = MB_FIELD_FLOAT;
  f.f = value;
  return field_set(s, key, strlen(key), &f);
}

mb_status mb_save_set_bool(mb_save *s, const char *key, int value) {
  field f = {0};
  f.type = MB_FIELD_BOOL;
  f.i = value != 0;
  return field_set(s, key, strlen(key), &f);
}

/* ---- sections ----------------------------------------------------------- */

size_t mb_save_section_count(const mb_save *s) {
  return s->nsecs;
}

mb_status mb_save_section_at(const mb_save *s, size_t i, mb_save_section *out) {
  if (i >= s->nsecs) return MB_EINVAL;
  const section *x = &s->secs[i];
  out->kind = x->block;
  out->container = x->container;
  out->path = x->path;
  out->payload = x->payload;
  out->size = x->size;
  out->checksum = x->checksum;
  out->checksum_ok = x->ok;
  return MB_OK;
}

static int ident_cmp(const section *x, const char *kind, const char *container,
                     const char *path) {
  int c = strcmp(x->block, kind);
  if (c == 0) c = strcmp(x->container, container);
  if (c == 0) c = strcmp(x->path, path);
  return c;
}

static size_t sec_pos(const mb_save *s, const char *kind, const char *container,
                      const char *path, int *found) {
  size_t lo = 0, hi = s->nsecs;
  *found = 0;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = ident_cmp(&s->secs[mid], kind, container, path);
    if (c == 0) {
      *found = 1;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

mb_status mb_save_find(const mb_save *s, const char *kind,
                       const char *container, const char *path, size_t *index) {
  int found;
  size_t i =
      sec_pos(s, kind, container ? container : "", path ? path : "", &found);
  if (!found) return MB_ENOTFOUND;
  *index = i;
  return MB_OK;
}

/* Adds or replaces a section from (pointer, length) strings. `replace` 0:
 * a duplicate identity is an error (used by the reader). */
static mb_status sec_put(mb_save *s, const char *kind, size_t kl,
                         const char *cont, size_t cl, const char *path,
                         size_t pl, const void *payload, size_t size,
                         uint64_t checksum, int ok, int replace) {
  if (kl == 0) return fail(s, MB_EINVAL, "section kind is empty");
  if (memchr(kind, 0, kl) || memchr(cont, 0, cl) || memchr(path, 0, pl))
    return fail(s, MB_EINVAL, "section names may not contain NUL bytes");
  if (size > SIZE_MAX - kl - cl - pl - 3)
    return fail(s, MB_ENOMEM, "out of memory");
  size_t bsize = kl + cl + pl + 3 + size;
  char *b = xalloc(s, NULL, 0, bsize);
  if (!b) return fail(s, MB_ENOMEM, "out of memory");
  memcpy(b, kind, kl);
  b[kl] = 0;
  memcpy(b + kl + 1, cont, cl);
  b[kl + 1 + cl] = 0;
  memcpy(b + kl + cl + 2, path, pl);
  b[kl + cl + pl + 2] = 0;
  if (size) memcpy(b + kl + cl + pl + 3, payload, size);
  section x;
  x.block = b;
  x.block_size = bsize;
  x.container = b + kl + 1;
  x.path = b + kl + cl + 2;
  x.payload = (const uint8_t *)b + kl + cl + pl + 3;
  x.size = size;
  x.checksum = checksum;
  x.ok = ok;
  int found;
  size_t i = sec_pos(s, x.block, x.container, x.path, &found);
  if (found) {
    if (!replace) {
      /* (the names are only NUL-terminated in the copy: report, then free) */
      fail(s, MB_ECORRUPT, "duplicate section %s:%s[%s]", x.block, x.container,
           x.path);
      xalloc(s, b, bsize, 0);
      return MB_ECORRUPT;
    }
    xalloc(s, s->secs[i].block, s->secs[i].block_size, 0);
    s->secs[i] = x;
    return MB_OK;
  }
  if (s->nsecs == s->capsecs) {
    size_t nc = s->capsecs ? s->capsecs * 2 : 16;
    section *ns = xalloc(s, s->secs, s->capsecs * sizeof *ns, nc * sizeof *ns);
    if (!ns) {
      xalloc(s, b, bsize, 0);
      return fail(s, MB_ENOMEM, "out of memory");
    }
    s->secs = ns;
    s->capsecs = nc;
  }
  memmove(&s->secs[i + 1], &s->secs[i], (s->nsecs - i) * sizeof *s->secs);
  s->secs[i] = x;
  s->nsecs++;
  return MB_OK;
}

mb_status mb_save_put(mb_save *s, const char *kind, const char *container,
                      const char *path, const void *payload, size_t size) {
  if (!kind || (!payload && size)) return fail(s, MB_EINVAL, "bad argument");
  container = container ? container : "";
  path = path ? path : "";
  return sec_put(s, kind, strlen(kind), container, strlen(container), path,
                 strlen(path), payload, size, mb__save_checksum(payload, size),
                 1, 1);
}

mb_status mb_save_put_raw(mb_save *s, const char *kind, const char *container,
                          const char *path, const void *payload, size_t size,
                          uint64_t checksum) {
  if (!kind || (!payload && size)) return fail(s, MB_EINVAL, "bad argument");
  container = container ? container : "";
  path = path ? path : "";
  return sec_put(s, kind, strlen(kind), container, strlen(container), path,
                 strlen(path), payload, size, checksum,
                 mb__save_checksum(payload, size) == checksum, 1);
}

mb_status mb_save_remove(mb_save *s, size_t i) {
  if (i >= s->nsecs) return MB_EINVAL;
  xalloc(s, s->secs[i].block, s->secs[i].block_size, 0);
  memmove(&s->secs[i], &s->secs[i + 1], (s->nsecs - i - 1) * sizeof *s->secs);
  s->nsecs--;
  return MB_OK;
}

void mb_save_section_label(const mb_save *s, size_t i, char *buf, size_t len) {
  if (!len) return;
  if (i == SIZE_MAX) {
    snprintf(buf, len, "header");
  } else if (i >= s->nsecs) {
    snprintf(buf, len, "?");
  } else if (strcmp(s->secs[i].block, "script") == 0) {
    snprintf(buf, len, "%s[%s]", s->secs[i].container, s->secs[i].path);
  } else {
    snprintf(buf, len, "%s:%s[%s]", s->secs[i].block, s->secs[i].container,
             s->secs[i].path);
  }
}

/* ---- writing ------------------------------------------------------------ */

static void le16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void le32(uint8_t *p, uint32_t v) {
  le16(p, (uint16_t)v);
  le16(p + 2, (uint16_t)(v >> 16));
}
static void le64(uint8_t *p, uint64_t v) {
  le32(p, (uint32_t)v);
  le32(p + 4, (uint32_t)(v >> 32));
}
static uint16_t rle16(const uint8_t *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t rle32(const uint8_t *p) {
  return rle16(p) | ((uint32_t)rle16(p + 2) << 16);
}
static uint64_t rle64(const uint8_t *p) {
  return rle32(p) | ((uint64_t)rle32(p + 4) << 32);
}

/* Minimal canonical msgpack writers (shortest forms). */
static int mp_byte(mb__buf *b, uint8_t c) {
  return mb__buf_append(b, &c, 1);
}

static int mp_be(mb__buf *b, uint8_t tag, uint64_t v, int n) {
  uint8_t t[9];
  t[0] = tag;
  for (int i = 0; i < n; i++)
    t[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
  return mb__buf_append(b, t, 1 + (size_t)n);
}

static int mp_uint(mb__buf *b, uint64_t u) {
  if (u < 128) return mp_byte(b, (uint8_t)u);
  if (u <= 0xff) return mp_be(b, 0xcc, u, 1);
  if (u <= 0xffff) return mp_be(b, 0xcd, u, 2);
  if (u <= 0xffffffffu) return mp_be(b, 0xce, u, 4);
  return mp_be(b, 0xcf, u, 8);
}

static int mp_int(mb__buf *b, int64_t i) {
  if (i >= 0) return mp_uint(b, (uint64_t)i);
  if (i >= -32) return mp_byte(b, (uint8_t)(int8_t)i);
  if (i >= -128) return mp_be(b, 0xd0, (uint64_t)i & 0xff, 1);
  if (i >= -32768) return mp_be(b, 0xd1, (uint64_t)i & 0xffff, 2);
  if (i >= INT32_MIN) return mp_be(b, 0xd2, (uint64_t)i & 0xffffffffu, 4);
  return mp_be(b, 0xd3, (uint64_t)i, 8);
}

static int mp_str(mb__buf *b, const char *s, size_t n) {
  int rc;
  if (n < 32)
    rc = mp_byte(b, (uint8_t)(0xa0 | n));
  else if (n <= 0xff)
    rc = mp_be(b, 0xd9, n, 1);
  else if (n <= 0xffff)
    rc = mp_be(b, 0xda, n, 2);
  else
    rc = mp_be(b, 0xdb, n, 4);
  return rc ? rc : mb__buf_append(b, s, n);
}

static int mp_head(mb__buf *b, uint8_t fix, uint8_t b16, size_t n) {
  if (n < 16) return mp_byte(b, (uint8_t)(fix | n));
  if (n <= 0xffff) return mp_be(b, b16, n, 2);
  return mp_be(b, (uint8_t)(b16 + 1), n, 4);
}

static int write_header(const mb_save *s, mb__buf *b) {
  /* "format" is always written; a field of that name set by the host is
   * replaced. Keys are sorted, so the map is canonical. */
  static const char fmt_key[] = MB_SAVE_FIELD_FORMAT;
  static const char fmt_val[] = "moonbox-save";
  int have = 0;
  for (size_t i = 0; i < s->nfields; i++)
    if (strcmp(s->fields[i].key, fmt_key) == 0) have = 1;
  if (mp_head(b, 0x80, 0xde, s->nfields + !have)) return -1;
  int done = 0;
  for (size_t i = 0; i <= s->nfields; i++) {
    if (!done && (i == s->nfields || strcmp(s->fields[i].key, fmt_key) >= 0)) {
      done = 1;
      if (mp_str(b, fmt_key, strlen(fmt_key)) ||
          mp_str(b, fmt_val, strlen(fmt_val)))
        return -1;
      if (have) continue; /* skip the host's own "format" */
    }
    if (i == s->nfields) break;
    const field *f = &s->fields[i];
    if (mp_str(b, f->key, strlen(f->key))) return -1;
    int rc = 0;
    switch (f->type) {
    case MB_FIELD_STR:
      rc = mp_str(b, f->str, f->str_len);
      break;
    case MB_FIELD_INT:
      rc = mp_int(b, f->i);
      break;
    case MB_FIELD_UINT:
      rc = mp_uint(b, f->u);
      break;
    case MB_FIELD_BOOL:
      rc = mp_byte(b, f->i ? 0xc3 : 0xc2);
      break;
    case MB_FIELD_FLOAT: {
      uint64_t bits;
      memcpy(&bits, &f->f, 8);
      rc = mp_be(b, 0xcb, bits, 8);
      break;
    }
    }
    if (rc) return -1;
  }
  return 0;
}

static mb_status build(mb_save *s, mb__buf *b) {
  uint8_t pre[MB__SAVE_PREAMBLE_SIZE];
  memcpy(pre, MB__SAVE_MAGIC, 8);
  le16(pre + 8, MB_SAVE_FORMAT_MAJOR);
  le16(pre + 10, MB_SAVE_FORMAT_MINOR);
  le32(pre + 12, 0);
  if (mb__buf_append(b, pre, sizeof pre)) goto oom;
  size_t hoff = b->len;
  if (write_header(s, b)) goto oom;
  size_t hsize = b->len - hoff;
  uint64_t hsum = mb__save_checksum(b->data + hoff, hsize);
  size_t total = 0;
  for (size_t i = 0; i < s->nsecs; i++)
    total += s->secs[i].size;
  if (mb__buf_reserve(b, total)) goto oom;
  /* Payloads are copied; their checksums are the stored ones (computed at
   * mb_save_put, or carried over for a kept bad section). */
  size_t *offs = NULL;
  if (s->nsecs) {
    offs = xalloc(s, NULL, 0, s->nsecs * sizeof *offs);
    if (!offs) goto oom;
  }
  for (size_t i = 0; i < s->nsecs; i++) {
    offs[i] = b->len;
    mb__buf_append(b, s->secs[i].payload, s->secs[i].size);
  }
  size_t ioff = b->len;
  int rc = mp_head(b, 0x80, 0xde, 2) || mp_str(b, "header", 6) ||
           mp_head(b, 0x90, 0xdc, 3) || mp_uint(b, hoff) || mp_uint(b, hsize) ||
           mp_be(b, 0xcf, hsum, 8) || mp_str(b, "sections", 8) ||
           mp_head(b, 0x90, 0xdc, s->nsecs);
  for (size_t i = 0; !rc && i < s->nsecs; i++) {
    const section *x = &s->secs[i];
    rc = mp_head(b, 0x90, 0xdc, 6) || mp_str(b, x->block, strlen(x->block)) ||
         mp_str(b, x->container, strlen(x->container)) ||
         mp_str(b, x->path, strlen(x->path)) || mp_uint(b, offs[i]) ||
         mp_uint(b, x->size) || mp_be(b, 0xcf, x->checksum, 8);
  }
  if (offs) xalloc(s, offs, s->nsecs * sizeof *offs, 0);
  if (rc) goto oom;
  size_t isize = b->len - ioff;
  uint8_t foot[MB__SAVE_FOOTER_SIZE];
  le64(foot, ioff);
  le64(foot + 8, isize);
  le64(foot + 16, XXH3_64bits_withSeed(b->data + ioff, isize,
                                       XXH3_64bits(b->data, sizeof pre)));
  memcpy(foot + 24, MB__SAVE_END_MAGIC, 8);
  if (mb__buf_append(b, foot, sizeof foot)) goto oom;
  return MB_OK;
oom:
  mb__buf_free(b);
  return fail(s, MB_ENOMEM, "out of memory");
}

mb_status mb_save_write_memory(mb_save *s, void **data, size_t *size) {
  mb__buf b;
  mb__buf_init(&b, s->alloc, s->ud);
  *data = NULL;
  *size = 0;
  mb_status st = build(s, &b);
  if (st != MB_OK) return st;
  *data = mb__buf_detach(&b, size);
  if (!*data) {
    mb__buf_free(&b);
    return fail(s, MB_ENOMEM, "out of memory");
  }
  return MB_OK;
}

void mb_save_release(mb_save *s, void *data, size_t size) {
  if (data) xalloc(s, data, size, 0);
}

static mb_status write_all(mb_save *s, int fd, const uint8_t *p, size_t n,
                           const char *tmp) {
  size_t lim = n;
  if (s->fault_bytes >= 0 && (size_t)s->fault_bytes < n)
    lim = (size_t)s->fault_bytes;
  size_t done = 0;
  while (done < lim) {
    ssize_t w = write(fd, p + done, lim - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return fail(s, MB_EIO, "cannot write %s: %s", tmp, strerror(errno));
    }
    done += (size_t)w;
  }
  if (lim < n) return fail(s, MB_EIO, "cannot write %s: simulated fault", tmp);
  return MB_OK;
}

mb_status mb_save_write_file(mb_save *s, const char *path) {
  mb__buf b;
  mb__buf_init(&b, s->alloc, s->ud);
  mb_status st = build(s, &b);
  if (st != MB_OK) return st;
  size_t plen = strlen(path);
  size_t tlen = plen + sizeof ".tmp-XXXXXX";
  char *tmp = xalloc(s, NULL, 0, tlen);
  if (!tmp) {
    mb__buf_free(&b);
    return fail(s, MB_ENOMEM, "out of memory");
  }
  snprintf(tmp, tlen, "%s.tmp-XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    st = fail(s, MB_EIO, "cannot create a temporary file next to %s: %s", path,
              strerror(errno));
    goto out;
  }
  {
    /* mkstemp makes the file 0600; keep the mode of the save it replaces
     * (or the usual 0644 for a new one). */
    struct stat old;
    fchmod(fd, stat(path, &old) == 0 ? (old.st_mode & 0777) : 0644);
  }
  st = write_all(s, fd, b.data, b.len, tmp);
  if (st != MB_OK && s->fault_bytes >= 0 && s->fault_crash) {
    close(fd); /* a "crash": nothing is cleaned up or renamed */
    s->fault_bytes = -1;
    goto out;
  }
  s->fault_bytes = -1;
  if (st == MB_OK && fsync(fd) != 0)
    st = fail(s, MB_EIO, "cannot flush %s: %s", tmp, strerror(errno));
  if (close(fd) != 0 && st == MB_OK)
    st = fail(s, MB_EIO, "cannot close %s: %s", tmp, strerror(errno));
  if (st == MB_OK && rename(tmp, path) != 0)
    st = fail(s, MB_EIO, "cannot rename %s to %s: %s", tmp, path,
              strerror(errno));
  if (st != MB_OK) {
    unlink(tmp);
    goto out;
  }
  /* Make the rename itself durable. */
  {
    char *slash = strrchr(tmp, '/');
    const char *dir = ".";
    if (slash) {
      *slash = 0;
      dir = slash == tmp ? "/" : tmp;
    }
    int dfd = open(dir, O_RDONLY);
    if (dfd >= 0) {
      fsync(dfd);
      close(dfd);
    }
  }
out:
  xalloc(s, tmp, tlen, 0);
  mb__buf_free(&b);
  return st;
}

/* ---- reading ------------------------------------------------------------ */

/* A bounds-checked msgpack cursor for the index and header. */
typedef struct cur {
  const uint8_t *p, *end;
} cur;

static int rd_byte(cur *c, uint8_t *v) {
  if (c->p >= c->end) return -1;
  *v = *c->p++;
  return 0;
}

static int rd_be(cur *c, int n, uint64_t *v) {
  if (c->end - c->p < n) return -1;
  uint64_t x = 0;
  for (int i = 0; i < n; i++)
    x = (x << 8) | c->p[i];
  c->p += n;
  *v = x;
  return 0;
}

static int rd_count(cur *c, uint8_t fixbase, uint8_t b16, size_t *n) {
  uint8_t t;
  uint64_t v;
  if (rd_byte(c, &t)) return -1;
  if ((t & 0xf0) == fixbase) {
    *n = t & 0x0f;
  } else if (t == b16 || t == b16 + 1) {
    if (rd_be(c, t == b16 ? 2 : 4, &v)) return -1;
    *n = (size_t)v;
  } else {
    return -1;
  }
  /* each element needs at least one byte */
  if (*n > (size_t)(c->end - c->p)) return -1;
  return 0;
}

static int rd_str(cur *c, const char **s, size_t *n) {
  uint8_t t;
  uint64_t v;
  if (rd_byte(c, &t)) return -1;
  if ((t & 0xe0) == 0xa0) {
    v = t & 0x1f;
  } else if (t >= 0xd9 && t <= 0xdb) {
    if (rd_be(c, 1 << (t - 0xd9), &v)) return -1;
  } else {
    return -1;
  }
  if (v > (uint64_t)(c->end - c->p)) return -1;
  *s = (const char *)c->p;
  *n = (size_t)v;
  c->p += v;
  return 0;
}

static int rd_uint(cur *c, uint64_t *u) {
  uint8_t t;
  if (rd_byte(c, &t)) return -1;
  if (t < 0x80) {
    *u = t;
    return 0;
  }
  if (t >= 0xcc && t <= 0xcf) return rd_be(c, 1 << (t - 0xcc), u);
  return -1;
}

static int rd_skip(cur *c, int depth) {
  uint8_t t;
  uint64_t v;
  size_t n;
  if (depth > 32 || c->p >= c->end) return -1;
  t = *c->p;
  if (t < 0x80 || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) {
    c->p++;
    return 0;
  }
  if ((t >= 0x80 && t <= 0x8f) || t == 0xde || t == 0xdf) {
    if (rd_count(c, 0x80, 0xde, &n)) return -1;
    for (size_t i = 0; i < 2 * n; i++)
      if (rd_skip(c, depth + 1)) return -1;
    return 0;
  }
  if ((t >= 0x90 && t <= 0x9f) || t == 0xdc || t == 0xdd) {
    if (rd_count(c, 0x90, 0xdc, &n)) return -1;
    for (size_t i = 0; i < n; i++)
      if (rd_skip(c, depth + 1)) return -1;
    return 0;
  }
  c->p++;
  size_t skip;
  if ((t & 0xe0) == 0xa0) {
    skip = t & 0x1f;
  } else if (t >= 0xc4 && t <= 0xc6) {
    if (rd_be(c, 1 << (t - 0xc4), &v)) return -1;
    skip = (size_t)v;
  } else if (t >= 0xd9 && t <= 0xdb) {
    if (rd_be(c, 1 << (t - 0xd9), &v)) return -1;
    skip = (size_t)v;
  } else if (t >= 0xc7 && t <= 0xc9) {
    if (rd_be(c, 1 << (t - 0xc7), &v)) return -1;
    skip = (size_t)v + 1;
    if (v > SIZE_MAX - 1) return -1;
  } else if (t == 0xca) {
    skip = 4;
  } else if (t == 0xcb) {
    skip = 8;
  } else if (t >= 0xcc && t <= 0xd3) {
    skip = (size_t)1 << ((t - 0xcc) & 3);
  } else if (t >= 0xd4 && t <= 0xd8) {
    skip = ((size_t)1 << (t - 0xd4)) + 1;
  } else {
    return -1; /* 0xc1 */
  }
  if (skip > (size_t)(c->end - c->p)) return -1;
  c->p += skip;
  return 0;
}

static int str_is(const char *s, size_t n, const char *lit) {
  return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* Header: a map of str keys; values of known types are kept. */
static mb_status parse_header(mb_save *s, const uint8_t *p, size_t n) {
  cur c = {p, p + n};
  size_t count;
  if (rd_count(&c, 0x80, 0xde, &count))
    return fail(s, MB_ECORRUPT, "header is not a msgpack map");
  for (size_t i = 0; i < count; i++) {
    const char *k;
    size_t kl;
    if (rd_str(&c, &k, &kl))
      return fail(s, MB_ECORRUPT, "header key %zu is not a string", i);
    if (c.p >= c.end) return fail(s, MB_ECORRUPT, "header truncated");
    uint8_t t = *c.p;
    field f = {0};
    int known = 1;
    uint64_t v;
    if (t < 0x80 || (t >= 0xcc && t <= 0xcf)) {
      if (rd_uint(&c, &v)) return fail(s, MB_ECORRUPT, "header truncated");
      f.type = v > INT64_MAX ? MB_FIELD_UINT : MB_FIELD_INT;
      f.u = v;
      f.i = v > INT64_MAX ? 0 : (int64_t)v;
    } else if (t >= 0xe0 || (t >= 0xd0 && t <= 0xd3)) {
      c.p++;
      int64_t x;
      if (t >= 0xe0) {
        x = (int8_t)t;
      } else {
        int nb = 1 << (t - 0xd0);
        if (rd_be(&c, nb, &v)) return fail(s, MB_ECORRUPT, "header truncated");
        x = nb == 1   ? (int8_t)v
            : nb == 2 ? (int16_t)v
            : nb == 4 ? (int32_t)v
                      : (int64_t)v;
      }
      f.type = MB_FIELD_INT;
      f.i = x;
      f.u = (uint64_t)x;
    } else if (t == 0xca || t == 0xcb) {
      c.p++;
      if (rd_be(&c, t == 0xca ? 4 : 8, &v))
        return fail(s, MB_ECORRUPT, "header truncated");
      f.type = MB_FIELD_FLOAT;
      if (t == 0xca) {
        uint32_t b32 = (uint32_t)v;
        float fl;
        memcpy(&fl, &b32, 4);
        f.f = fl;
      } else {
        memcpy(&f.f, &v, 8);
      }
    } else if (t == 0xc2 || t == 0xc3) {
      c.p++;
      f.type = MB_FIELD_BOOL;
      f.i = t == 0xc3;
    } else if ((t & 0xe0) == 0xa0 || (t >= 0xd9 && t <= 0xdb)) {
      if (rd_str(&c, &f.str, &f.str_len))
        return fail(s, MB_ECORRUPT, "header truncated");
      f.type = MB_FIELD_STR;
      if (memchr(f.str, 0, f.str_len)) known = 0;
    } else {
      known = 0; /* a type a later minor version may use: skipped */
      if (rd_skip(&c, 0)) return fail(s, MB_ECORRUPT, "header truncated");
    }
    if (known && !memchr(k, 0, kl)) {
      mb_status st = field_set(s, k, kl, &f);
      if (st != MB_OK) return st;
    }
  }
  if (c.p != c.end) return fail(s, MB_ECORRUPT, "header has trailing bytes");
  return MB_OK;
}

static mb_status read_impl(mb_save *s, const uint8_t *d, size_t n) {
  if (n < 8 || memcmp(d, MB__SAVE_MAGIC, 8) != 0) {
    s->state = MB_SAVE_NOT_A_SAVE;
    return fail(s, MB_ECORRUPT, "not a moonbox save file (no MBSAVE magic)");
  }
  s->state = MB_SAVE_CORRUPT;
  if (n < MB__SAVE_PREAMBLE_SIZE + MB__SAVE_FOOTER_SIZE)
    return fail(s, MB_ECORRUPT,
                "truncated save file: %zu bytes, a save has at least %d", n,
                MB__SAVE_PREAMBLE_SIZE + MB__SAVE_FOOTER_SIZE);
  const uint8_t *foot = d + n - MB__SAVE_FOOTER_SIZE;
  if (memcmp(foot + 24, MB__SAVE_END_MAGIC, 8) != 0)
    return fail(s, MB_ECORRUPT,
                "save file footer missing: the file is truncated or damaged");
  uint64_t ioff = rle64(foot), isize = rle64(foot + 8);
  size_t index_end = n - MB__SAVE_FOOTER_SIZE;
  if (ioff < MB__SAVE_PREAMBLE_SIZE || ioff > index_end ||
      isize != index_end - ioff)
    return fail(s, MB_ECORRUPT,
                "save file footer damaged: index location out of range");
  if (XXH3_64bits_withSeed(d + ioff, (size_t)isize,
                           XXH3_64bits(d, MB__SAVE_PREAMBLE_SIZE)) !=
      rle64(foot + 16))
    return fail(s, MB_ECORRUPT,
                "save file index checksum mismatch: preamble or index "
                "damaged");
  s->major = rle16(d + 8);
  s->minor = rle16(d + 10);
  if (s->major != MB_SAVE_FORMAT_MAJOR)
    return fail(s, MB_ECORRUPT,
                "unsupported save format %u.%u (this reader reads %d.x)",
                s->major, s->minor, MB_SAVE_FORMAT_MAJOR);

  cur c = {d + ioff, d + index_end};
  size_t nkeys;
  uint64_t hoff = 0, hsize = 0, hsum = 0;
  int have_header = 0, have_sections = 0;
  if (rd_count(&c, 0x80, 0xde, &nkeys))
    return fail(s, MB_ECORRUPT, "save file index is not a map");
  for (size_t k = 0; k < nkeys; k++) {
    const char *name;
    size_t nl, cnt;
    if (rd_str(&c, &name, &nl))
      return fail(s, MB_ECORRUPT, "save file index key is not a string");
    if (str_is(name, nl, "header")) {
      if (have_header || rd_count(&c, 0x90, 0xdc, &cnt) || cnt < 3 ||
          rd_uint(&c, &hoff) || rd_uint(&c, &hsize) || rd_uint(&c, &hsum))
        return fail(s, MB_ECORRUPT, "save file index: bad header entry");
      for (size_t j = 3; j < cnt; j++)
        if (rd_skip(&c, 0))
          return fail(s, MB_ECORRUPT, "save file index: bad header entry");
      have_header = 1;
    } else if (str_is(name, nl, "sections")) {
      if (have_sections || rd_count(&c, 0x90, 0xdc, &cnt))
        return fail(s, MB_ECORRUPT, "save file index: bad section list");
      have_sections = 1;
      uint64_t prev_end = 0;
      for (size_t j = 0; j < cnt; j++) {
        size_t ecnt, kl, cl, pl;
        const char *kind, *cont, *path;
        uint64_t off, size, sum;
        if (rd_count(&c, 0x90, 0xdc, &ecnt) || ecnt < 6 ||
            rd_str(&c, &kind, &kl) || rd_str(&c, &cont, &cl) ||
            rd_str(&c, &path, &pl) || rd_uint(&c, &off) || rd_uint(&c, &size) ||
            rd_uint(&c, &sum))
          return fail(s, MB_ECORRUPT, "save file index: bad section entry %zu",
                      j);
        for (size_t e = 6; e < ecnt; e++)
          if (rd_skip(&c, 0))
            return fail(s, MB_ECORRUPT,
                        "save file index: bad section entry %zu", j);
        if (off < MB__SAVE_PREAMBLE_SIZE || off > ioff || size > ioff - off ||
            off < prev_end)
          return fail(s, MB_ECORRUPT,
                      "save file index: section %.*s:%.*s[%.*s] lies "
                      "outside its place",
                      (int)(kl > 100 ? 100 : kl), kind,
                      (int)(cl > 100 ? 100 : cl), cont,
                      (int)(pl > 100 ? 100 : pl), path);
        prev_end = off + size;
        const uint8_t *payload = d + off;
        mb_status st =
            sec_put(s, kind, kl, cont, cl, path, pl, payload, (size_t)size, sum,
                    mb__save_checksum(payload, (size_t)size) == sum, 0);
        if (st == MB_EINVAL) st = MB_ECORRUPT;
        if (st != MB_OK) return st;
      }
    } else if (rd_skip(&c, 0)) {
      return fail(s, MB_ECORRUPT, "save file index is malformed");
    }
  }
  if (c.p != c.end)
    return fail(s, MB_ECORRUPT, "save file index has trailing bytes");
  if (!have_header || !have_sections)
    return fail(s, MB_ECORRUPT, "save file index lacks the %s entry",
                have_header ? "sections" : "header");
  if (hoff < MB__SAVE_PREAMBLE_SIZE || hoff > ioff || hsize > ioff - hoff)
    return fail(s, MB_ECORRUPT,
                "save file index: header lies outside the "
                "file");
  s->header_ok = mb__save_checksum(d + hoff, (size_t)hsize) == hsum;
  if (s->header_ok) {
    mb_status st = parse_header(s, d + hoff, (size_t)hsize);
    if (st != MB_OK) return st;
  }
  int bad = !s->header_ok;
  for (size_t i = 0; i < s->nsecs; i++)
    bad |= !s->secs[i].ok;
  s->state = bad ? MB_SAVE_DAMAGED : MB_SAVE_INTACT;
  s->err[0] = 0;
  if (bad) {
    size_t nbad = !s->header_ok;
    for (size_t i = 0; i < s->nsecs; i++)
      nbad += !s->secs[i].ok;
    fail(s, MB_OK, "%zu checksum%s failed", nbad, nbad == 1 ? "" : "s");
  }
  return MB_OK;
}

mb_status mb_save_read_memory(mb_save *s, const void *data, size_t size) {
  mb_save_clear(s);
  s->err[0] = 0;
  mb_status st = read_impl(s, data ? data : "", data ? size : 0);
  if (st != MB_OK) {
    mb_save_state state = s->state;
    char keep[sizeof s->err];
    memcpy(keep, s->err, sizeof keep);
    mb_save_clear(s);
    s->state = st == MB_ENOMEM ? MB_SAVE_NEW : state;
    memcpy(s->err, keep, sizeof keep);
  }
  return st;
}

mb_status mb_save_read_file(mb_save *s, const char *path) {
  mb_save_clear(s);
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    int e = errno;
    s->state = MB_SAVE_UNREADABLE;
    return fail(s, e == ENOENT ? MB_ENOTFOUND : MB_EIO, "cannot open %s: %s",
                path, strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    s->state = MB_SAVE_UNREADABLE;
    return fail(s, MB_EIO, "cannot read %s: not a regular file", path);
  }
  size_t n = (size_t)st.st_size;
  uint8_t *buf = xalloc(s, NULL, 0, n ? n : 1);
  if (!buf) {
    close(fd);
    return fail(s, MB_ENOMEM, "out of memory reading %s", path);
  }
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  int e = errno;
  close(fd);
  if (got != n) {
    xalloc(s, buf, n ? n : 1, 0);
    s->state = MB_SAVE_UNREADABLE;
    return fail(s, MB_EIO, "cannot read %s: %s", path,
                got < n ? "short read" : strerror(e));
  }
  mb_status rc = mb_save_read_memory(s, buf, n);
  xalloc(s, buf, n ? n : 1, 0);
  if (rc != MB_OK) { /* prefix the message with the path */
    size_t pl = strlen(path);
    if (pl > 200) pl = 200;
    memmove(s->err + pl + 2, s->err, sizeof s->err - pl - 3);
    memcpy(s->err, path, pl);
    s->err[pl] = ':';
    s->err[pl + 1] = ' ';
    s->err[sizeof s->err - 1] = 0;
  }
  return rc;
}

int mb_save_verify_file(const char *path, mb_alloc_fn alloc, void *alloc_ud,
                        mb_save_report_fn report, void *report_ud) {
  mb_save *s;
  if (mb_save_new(alloc, alloc_ud, &s) != MB_OK) {
    if (report) report(report_ud, "file", "out of memory");
    return 2;
  }
  mb_status st = mb_save_read_file(s, path);
  int rc = 0;
  if (st != MB_OK) {
    if (report) report(report_ud, "file", s->err);
    rc = (s->state == MB_SAVE_CORRUPT) ? 1 : 2;
  } else {
    char label[512], msg[160];
    if (!s->header_ok) {
      rc = 1;
      if (report) report(report_ud, "header", "checksum mismatch");
    }
    for (size_t i = 0; i < s->nsecs; i++) {
      if (s->secs[i].ok) continue;
      rc = 1;
      mb_save_section_label(s, i, label, sizeof label);
      snprintf(msg, sizeof msg,
               "checksum mismatch (stored %016llx, payload %016llx)",
               (unsigned long long)s->secs[i].checksum,
               (unsigned long long)mb__save_checksum(s->secs[i].payload,
                                                     s->secs[i].size));
      if (report) report(report_ud, label, msg);
    }
  }
  mb_save_free(s);
  return rc;
}
