/* Fuzz path normalisation and lookups of the VFS.
 *
 * Input: byte 0 picks buffer sizes, byte 1 when the allocator starts
 * failing (0xff: never), the rest is the path. Checked invariants:
 * normalised paths are canonical and idempotent, refusals carry a message,
 * messages are always terminated, read/exists/list agree, lookups are
 * case-insensitive, allocation failures only ever give MB_ENOMEM and
 * nothing leaks. The fixture directory holds mixed-case files and a
 * symbolic link pointing outside it. */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/vfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                               \
  do {                                                                         \
    if (!(c)) {                                                                \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);    \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* ---- a counting allocator that can fail -------------------------------- */

typedef struct fz_alloc {
  long fail_after; /* -1: never */
  size_t bytes;
} fz_alloc;

static void *fz_alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize) {
  fz_alloc *a = ud;
  if (nsize == 0) {
    a->bytes -= osize;
    free(ptr);
    return NULL;
  }
  if (a->fail_after == 0) return NULL;
  if (a->fail_after > 0) a->fail_after--;
  void *p = realloc(ptr, nsize);
  if (p) a->bytes += nsize - osize; /* osize must be exact: checks it */
  return p;
}

/* ---- fixture ----------------------------------------------------------- */

static char fixture[64];

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void cleanup(void) {
  if (fixture[0]) nftw(fixture, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void put(const char *rel, const char *content) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", fixture, rel);
  FILE *f = fopen(path, "wb");
  CHECK(f);
  fputs(content, f);
  fclose(f);
}

static void mkd(const char *rel) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", fixture, rel);
  CHECK(mkdir(path, 0755) == 0);
}

static void setup(void) {
  strcpy(fixture, "/tmp/mb-fuzz-vfs-XXXXXX");
  CHECK(mkdtemp(fixture));
  atexit(cleanup);
  mkd("Scripts");
  mkd("Scripts/Sub");
  mkd("data");
  put("Scripts/Foo.lua", "foo");
  put("Scripts/Sub/Bar.LUA", "bar");
  put("data/a.txt", "disk a");
  put("Readme.TXT", "readme");
  put("x.omwscripts", "x");
  char link[256];
  snprintf(link, sizeof link, "%s/Link", fixture);
  CHECK(symlink("/etc", link) == 0);
  snprintf(link, sizeof link, "%s/data/pw", fixture);
  CHECK(symlink("/etc/passwd", link) == 0);
}

/* ---- checks ------------------------------------------------------------ */

static void check_canonical(const char *out) {
  size_t n = strlen(out);
  CHECK(n > 0);
  CHECK(out[0] != '/' && out[n - 1] != '/');
  CHECK(!strchr(out, '\\') && !strchr(out, ':') && !strstr(out, "//"));
  for (const char *p = out; *p; p++)
    CHECK(!(*p >= 'A' && *p <= 'Z'));
  /* no "." or ".." segment */
  const char *s = out;
  for (;;) {
    const char *e = strchr(s, '/');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    CHECK(!(len == 1 && s[0] == '.'));
    CHECK(!(len == 2 && s[0] == '.' && s[1] == '.'));
    if (!e) break;
    s = e + 1;
  }
}

typedef struct listing {
  int count;
  char last[512];
  mb__vfs *vfs;
  const fz_alloc *alloc;
} listing;

static void on_name(void *ud, const char *name) {
  listing *l = ud;
  CHECK(strlen(name) < sizeof l->last);
  CHECK(l->count == 0 || strcmp(l->last, name) < 0); /* sorted, unique */
  strcpy(l->last, name);
  l->count++;
  if (l->alloc->fail_after < 0) CHECK(mb__vfs_exists(l->vfs, name));
}

/* The VFS used by one input; NULL when allocation failed (then every
 * failure must have been MB_ENOMEM). */
static mb__vfs *build(fz_alloc *a) {
  mb__vfs *vfs = mb__vfs_new(fz_alloc_fn, a);
  if (!vfs) return NULL;
  char err[128];
  mb_status st = mb__vfs_mount_dir(vfs, fixture, err, sizeof err);
  CHECK(st == MB_OK || st == MB_ENOMEM);
  static const char *const files[][2] = {
      {"data/A.TXT", "mem a"}, {"mem/x.lua", "mem x"}, {"b.omwscripts", "b"}};
  for (size_t i = 0; i < 3; i++) {
    st = mb__vfs_mount_file(vfs, files[i][0], files[i][1], strlen(files[i][1]),
                            err, sizeof err);
    CHECK(st == MB_OK || st == MB_ENOMEM);
  }
  return vfs;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!fixture[0]) setup();
  if (size < 2 || size > 4096) return 0;
  uint8_t mode = data[0], fail = data[1];
  const char *path = (const char *)data + 2;
  size_t len = size - 2;

  /* normalisation with a buffer size and message size chosen by the input */
  static const size_t outsizes[] = {0, 1, 2, 8, 64, 8192};
  static const size_t errsizes[] = {0, 1, 5, 300};
  size_t outsize = outsizes[mode % 6], errsize = errsizes[(mode / 6) % 4];
  char out[8192], out2[8192], err[300], err2[300];
  memset(err, 'z', sizeof err);
  mb_status st = mb__vfs_normalize(path, len, out, outsize, err, errsize);
  if (errsize) CHECK(memchr(err, '\0', errsize));
  if (st == MB_OK) {
    CHECK(strlen(out) <= len && strlen(out) < outsize);
    check_canonical(out);
    /* idempotent */
    CHECK(mb__vfs_normalize(out, strlen(out), out2, sizeof out2, NULL, 0) ==
          MB_OK);
    CHECK(strcmp(out, out2) == 0);
    if (errsize) CHECK(err[0] == '\0');
  } else {
    CHECK(st == MB_EDENIED || st == MB_EINVAL);
    if (outsize) CHECK(out[0] == '\0');
    if (errsize >= 300) CHECK(strncmp(err, "bad path '", 10) == 0);
  }
  /* the verdict does not depend on buffer sizes (beyond "too small") */
  mb_status full =
      mb__vfs_normalize(path, len, out2, sizeof out2, err2, sizeof err2);
  CHECK(full == MB_OK || full == MB_EDENIED);
  if (st == MB_OK) CHECK(full == MB_OK && strcmp(out, out2) == 0);
  if (st == MB_EDENIED) CHECK(full == MB_EDENIED);
  if (full != MB_OK) CHECK(strncmp(err2, "bad path '", 10) == 0);

  if (memchr(path, '\0', len)) return 0; /* the rest takes C strings */
  char cpath[4096], upper[4096];
  memcpy(cpath, path, len);
  cpath[len] = '\0';
  for (size_t i = 0; i <= len; i++)
    upper[i] =
        cpath[i] >= 'a' && cpath[i] <= 'z' ? (char)(cpath[i] - 32) : cpath[i];

  fz_alloc a = {fail == 0xff ? -1 : (long)fail, 0};
  mb__vfs *vfs = build(&a);
  if (vfs) {
    char *buf = NULL, *buf2 = NULL;
    size_t n = 0, n2 = 0;
    st = mb__vfs_read(vfs, cpath, &buf, &n, err, sizeof err);
    CHECK(memchr(err, '\0', sizeof err));
    if (st == MB_OK) {
      CHECK(buf && buf[n] == '\0');
      if (full == MB_OK && strcmp(out2, "data/a.txt") == 0)
        CHECK(n == 5 && memcmp(buf, "mem a", 5) == 0); /* memory shadows */
      if (full == MB_OK && strcmp(out2, "scripts/foo.lua") == 0)
        CHECK(n == 3 && memcmp(buf, "foo", 3) == 0);
      /* lookups ignore ASCII case */
      mb_status st2 = mb__vfs_read(vfs, upper, &buf2, &n2, err2, sizeof err2);
      CHECK(st2 == MB_OK || st2 == MB_ENOMEM);
      if (st2 == MB_OK) {
        CHECK(n2 == n && memcmp(buf, buf2, n) == 0);
        mb__vfs_release(vfs, buf2, n2);
      }
      mb__vfs_release(vfs, buf, n);
    } else {
      CHECK(buf == NULL && n == 0);
      CHECK(st == MB_ENOTFOUND || st == MB_EDENIED || st == MB_ENOMEM ||
            st == MB_EINVAL);
      CHECK(strncmp(err, "cannot ", 7) == 0 ||
            strncmp(err, "bad path", 8) == 0);
      /* short paths are refused without allocating */
      if (full != MB_OK && len < 200) CHECK(st == MB_EDENIED);
      if (full == MB_OK && strncmp(out2, "link/", 5) == 0 && st != MB_ENOMEM)
        CHECK(st == MB_EDENIED || st == MB_ENOTFOUND);
    }
    /* exists agrees with read when memory is plentiful */
    if (a.fail_after < 0)
      CHECK(mb__vfs_exists(vfs, cpath) == (st == MB_OK));
    else
      (void)mb__vfs_exists(vfs, cpath);

    listing l = {0, "", vfs, &a};
    st = mb__vfs_list(vfs, cpath, (mode & 0x80) ? ".LUA" : "", on_name, &l, err,
                      sizeof err);
    CHECK(st == MB_OK || st == MB_EDENIED || st == MB_EINVAL ||
          st == MB_ENOMEM);
    CHECK(memchr(err, '\0', sizeof err));
    mb__vfs_free(vfs);
  }
  CHECK(a.bytes == 0); /* no leak, and every free gave the right size */
  return 0;
}
