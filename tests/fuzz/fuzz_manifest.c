/* Fuzz core/manifest.c: the input is one or more `.omwscripts` files
 * separated by the bytes FF FE (never valid UTF-8, so no real text needs
 * them). If the input starts with '!', the next byte is the number of
 * allocations that succeed before every later one fails.
 *
 * After each parse: errors leave the manifest exactly as it was and carry
 * a message; on success every entry has a non-empty normalised .lua path,
 * known flags, GLOBAL alone, no duplicates, and earlier scripts are kept
 * with at least their flags. The allocator checks every `osize` and that
 * nothing leaks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/manifest.h"
#include "sandbox/vfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const type_names[] = {
    "ACTIVATOR", "ARMOR",      "BOOK",     "CLOTHING",  "CONTAINER", "CREATURE",
    "DOOR",      "INGREDIENT", "LIGHT",    "MISC_ITEM", "NPC",       "POTION",
    "WEAPON",    "APPARATUS",  "LOCKPICK", "PROBE",     "REPAIR"};
#define NTYPES (sizeof type_names / sizeof type_names[0])

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "fuzz_manifest: %s:%d: check failed: %s\n", __FILE__,    \
              __LINE__, #cond);                                                \
      abort();                                                                 \
    }                                                                          \
  } while (0)

typedef struct counting {
  long fail_after; /* -1: never */
  size_t bytes;
} counting;

/* Sizes live in a header so a wrong `osize` from the library is caught. */
static void *fuzz_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  counting *c = ud;
  size_t *old = ptr ? (size_t *)ptr - 2 : NULL;
  CHECK(!old || old[0] == osize);
  CHECK(old || osize == 0);
  if (nsize == 0) {
    if (old) {
      c->bytes -= old[0];
      free(old);
    }
    return NULL;
  }
  if (c->fail_after == 0) return NULL;
  if (c->fail_after > 0) c->fail_after--;
  size_t *blk = realloc(old, nsize + 2 * sizeof(size_t));
  if (!blk) return NULL;
  c->bytes = c->bytes - osize + nsize;
  blk[0] = nsize;
  return blk + 2;
}

typedef struct snapshot {
  char **paths;
  uint64_t *flags;
  size_t n;
} snapshot;

static void snap_take(snapshot *s, const mb__manifest *m) {
  s->n = mb__manifest_count(m);
  s->paths = calloc(s->n + 1, sizeof *s->paths);
  s->flags = calloc(s->n + 1, sizeof *s->flags);
  CHECK(s->paths && s->flags);
  for (size_t i = 0; i < s->n; i++) {
    const mb__manifest_entry *e = mb__manifest_at(m, i);
    size_t len = strlen(e->path) + 1;
    s->paths[i] = malloc(len); /* strdup is not C11 */
    CHECK(s->paths[i]);
    memcpy(s->paths[i], e->path, len);
    s->flags[i] = e->flags;
  }
}

static void snap_free(snapshot *s) {
  for (size_t i = 0; i < s->n; i++)
    free(s->paths[i]);
  free(s->paths);
  free(s->flags);
}

static void check_entries(const mb__manifest *m) {
  const uint64_t known = MB__FLAG_GLOBAL | MB__FLAG_CUSTOM | MB__FLAG_PLAYER |
                         (((uint64_t)1 << NTYPES) - 1) << 3;
  size_t n = mb__manifest_count(m);
  CHECK(mb__manifest_at(m, n) == NULL);
  for (size_t i = 0; i < n; i++) {
    const mb__manifest_entry *e = mb__manifest_at(m, i);
    CHECK(e && e->path);
    size_t len = strlen(e->path);
    CHECK(len >= 4 && strcmp(e->path + len - 4, ".lua") == 0);
    /* Normalised: normalising again gives the same path. */
    char *again = malloc(len + 1);
    char why[256];
    CHECK(again);
    CHECK(mb__vfs_normalize(e->path, len, again, len + 1, why, sizeof why) ==
          MB_OK);
    CHECK(strcmp(again, e->path) == 0);
    free(again);
    CHECK(e->flags != 0 && (e->flags & ~known) == 0);
    CHECK(!(e->flags & MB__FLAG_GLOBAL) || e->flags == MB__FLAG_GLOBAL);
    /* find() returns this very entry, so no path appears twice. */
    CHECK(mb__manifest_find(m, e->path) == e);
  }
}

static void parse_one(mb__manifest *m, const char *name, const uint8_t *text,
                      size_t len) {
  snapshot before;
  snap_take(&before, m);
  char err[256];
  mb_status st = mb__manifest_parse(m, name, (const char *)text, len,
                                    type_names, NTYPES, err, sizeof err);
  CHECK(st == MB_OK || st == MB_ECORRUPT || st == MB_ENOMEM);
  CHECK(memchr(err, '\0', sizeof err) != NULL);
  if (st == MB_OK) {
    CHECK(err[0] == '\0');
    check_entries(m);
    /* Every earlier script is still there with at least its flags. */
    CHECK(mb__manifest_count(m) >= before.n);
    for (size_t i = 0; i < before.n; i++) {
      const mb__manifest_entry *e = mb__manifest_find(m, before.paths[i]);
      CHECK(e && (e->flags & before.flags[i]) == before.flags[i]);
    }
  } else {
    size_t nlen = strlen(name);
    CHECK(strncmp(err, name, nlen) == 0 && err[nlen] == ':');
    CHECK(mb__manifest_count(m) == before.n);
    for (size_t i = 0; i < before.n; i++) {
      const mb__manifest_entry *e = mb__manifest_at(m, i);
      CHECK(strcmp(e->path, before.paths[i]) == 0);
      CHECK(e->flags == before.flags[i]);
    }
  }
  snap_free(&before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  counting c = {-1, 0};
  if (!data) data = (const uint8_t *)""; /* keeps `data + 0` defined */
  if (size >= 2 && data[0] == '!') {
    c.fail_after = data[1];
    data += 2;
    size -= 2;
  }
  mb__manifest *m = mb__manifest_new(fuzz_alloc, &c);
  if (!m) {
    CHECK(c.fail_after == 0);
    CHECK(c.bytes == 0);
    return 0;
  }
  size_t start = 0, file = 0;
  for (size_t i = 0; i <= size; i++) {
    if (i < size && !(i + 1 < size && data[i] == 0xFF && data[i + 1] == 0xFE))
      continue;
    char name[32];
    snprintf(name, sizeof name, "mods/f%zu.omwscripts", file++);
    parse_one(m, name, data + start, i - start);
    start = i + 2;
    i++;
  }
  mb__manifest_free(m);
  CHECK(c.bytes == 0);
  return 0;
}
