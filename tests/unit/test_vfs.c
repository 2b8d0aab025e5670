/* The virtual filesystem: normalisation, refusals, mounts, shadowing,
 * confinement (symbolic links), listing and out-of-memory behaviour. */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/vfs.h"
#include "tests/unit/testutil.h"

/* ---- fixtures ---------------------------------------------------------- */

static char *make_tmpdir(void) {
  char *dir = strdup("/tmp/mb-vfs-XXXXXX");
  assert_non_null(dir);
  assert_non_null(mkdtemp(dir));
  return dir;
}

/* Write `content` to root/rel, creating parent directories. */
static void put(const char *root, const char *rel, const char *content) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  for (char *p = path + strlen(root) + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(path, 0755) != 0) assert_int_equal(errno, EEXIST);
    *p = '/';
  }
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs(content, f);
  fclose(f);
}

static void put_dir(const char *root, const char *rel) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  assert_int_equal(mkdir(path, 0755), 0);
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void rm_tree(char *dir) {
  assert_int_equal(nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
  free(dir);
}

/* Read `path` and compare with `expect`. */
static void assert_reads(mb__vfs *vfs, const char *path, const char *expect) {
  char err[256] = "";
  char *data = NULL;
  size_t size = 0;
  mb_status st = mb__vfs_read(vfs, path, &data, &size, err, sizeof err);
  if (st != MB_OK) fprintf(stderr, "read %s: %s\n", path, err);
  assert_int_equal(st, MB_OK);
  assert_string_equal(err, "");
  assert_int_equal(size, strlen(expect));
  assert_memory_equal(data, expect, size);
  assert_int_equal(data[size], '\0');
  mb__vfs_release(vfs, data, size);
}

/* Read `path`, expect failure `status` with a message containing `msg`. */
static void assert_read_fails(mb__vfs *vfs, const char *path, mb_status status,
                              const char *msg) {
  char err[256] = "x";
  char *data = (char *)1;
  size_t size = 1;
  mb_status st = mb__vfs_read(vfs, path, &data, &size, err, sizeof err);
  if (st != status || !strstr(err, msg))
    fprintf(stderr, "read %s: status %d, '%s'\n", path, (int)st, err);
  assert_int_equal(st, status);
  assert_null(data);
  assert_int_equal(size, 0);
  assert_non_null(strstr(err, msg));
}

/* "mem/" and 400 times `c`: longer than any stack buffer. */
static const char *long_path(char c) {
  static char buf[405];
  memcpy(buf, "mem/", 4);
  memset(buf + 4, c, 400);
  buf[404] = '\0';
  return buf;
}

static mb__vfs *vfs_with_dirs(const char *a, const char *b) {
  mb__vfs *vfs = mb__vfs_new(NULL, NULL);
  char err[256];
  assert_non_null(vfs);
  if (a) assert_int_equal(mb__vfs_mount_dir(vfs, a, err, sizeof err), MB_OK);
  if (b) assert_int_equal(mb__vfs_mount_dir(vfs, b, err, sizeof err), MB_OK);
  return vfs;
}

static void mount_mem(mb__vfs *vfs, const char *path, const char *data) {
  char err[256];
  mb_status st =
      mb__vfs_mount_file(vfs, path, data, strlen(data), err, sizeof err);
  if (st != MB_OK) fprintf(stderr, "mount %s: %s\n", path, err);
  assert_int_equal(st, MB_OK);
}

/* ---- normalisation ----------------------------------------------------- */

static void test_normalize_table(void **state) {
  (void)state;
  static const char *const table[][2] = {
      {"a", "a"},
      {"A", "a"},
      {"Scripts/Foo.LUA", "scripts/foo.lua"},
      {"scripts\\foo.lua", "scripts/foo.lua"},
      {"a//b///c", "a/b/c"},
      {"a\\\\b/\\c", "a/b/c"},
      {"./a", "a"},
      {"a/./b", "a/b"},
      {"a/.", "a"},
      {"././a/./././b/.", "a/b"},
      {".a/b.", ".a/b."},
      {"...", "..."},
      {"a/.../b", "a/.../b"},
      {"..a/b..", "..a/b.."},
      {"MiXeD_123-Case.OMWScripts", "mixed_123-case.omwscripts"},
      {"\xc3\x89t\xc3\xa9.lua", "\xc3\x89t\xc3\xa9.lua"}, /* ASCII fold only */
      {"a b/c d", "a b/c d"},
      {"1/2", "1/2"},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    char out[64], err[128] = "x";
    mb_status st = mb__vfs_normalize(table[i][0], strlen(table[i][0]), out,
                                     sizeof out, err, sizeof err);
    if (st != MB_OK || strcmp(out, table[i][1]) != 0)
      fprintf(stderr, "normalize '%s' -> '%s' (%s)\n", table[i][0], out, err);
    assert_int_equal(st, MB_OK);
    assert_string_equal(out, table[i][1]);
    assert_string_equal(err, "");
  }
}

/* Expect refusal `status` and exactly the message `msg`. */
static void assert_refused(const char *path, size_t len, mb_status status,
                           const char *msg) {
  char out[64] = "junk", err[256] = "";
  mb_status st = mb__vfs_normalize(path, len, out, sizeof out, err, sizeof err);
  if (st != status || strcmp(err, msg) != 0)
    fprintf(stderr, "normalize: status %d, '%s'\n", (int)st, err);
  assert_int_equal(st, status);
  assert_string_equal(err, msg);
  assert_string_equal(out, "");
}

static void test_refuse_empty(void **state) {
  (void)state;
  assert_refused("", 0, MB_EDENIED, "bad path '': empty path");
  assert_refused(".", 1, MB_EDENIED, "bad path '.': empty path");
  assert_refused("./.", 3, MB_EDENIED, "bad path './.': empty path");
  assert_refused(NULL, 0, MB_EDENIED, "bad path '': empty path");
}

static void test_refuse_absolute(void **state) {
  (void)state;
  assert_refused("/etc/passwd", 11, MB_EDENIED,
                 "bad path '/etc/passwd': absolute paths are not allowed");
  assert_refused("\\x", 2, MB_EDENIED,
                 "bad path '\\x': absolute paths are not allowed");
  assert_refused("//x", 3, MB_EDENIED,
                 "bad path '//x': absolute paths are not allowed");
  assert_refused("C:x", 3, MB_EDENIED,
                 "bad path 'C:x': absolute paths are not allowed");
  assert_refused("c:\\windows", 10, MB_EDENIED,
                 "bad path 'c:\\windows': absolute paths are not allowed");
  assert_refused("Z:", 2, MB_EDENIED,
                 "bad path 'Z:': absolute paths are not allowed");
}

static void test_refuse_dotdot(void **state) {
  (void)state;
  assert_refused("../x", 4, MB_EDENIED,
                 "bad path '../x': '..' segments are not allowed");
  assert_refused("a/../b", 6, MB_EDENIED,
                 "bad path 'a/../b': '..' segments are not allowed");
  assert_refused("a\\..", 4, MB_EDENIED,
                 "bad path 'a\\..': '..' segments are not allowed");
  assert_refused("..", 2, MB_EDENIED,
                 "bad path '..': '..' segments are not allowed");
}

static void test_refuse_nul(void **state) {
  (void)state;
  assert_refused("a\0b", 3, MB_EDENIED,
                 "bad path 'a\\0b': NUL bytes are not allowed");
  assert_refused("\0", 1, MB_EDENIED,
                 "bad path '\\0': NUL bytes are not allowed");
  /* other control bytes are shown escaped too */
  assert_refused("\n/..", 4, MB_EDENIED,
                 "bad path '\\x0a/..': '..' segments are not allowed");
}

static void test_refuse_trailing_slash(void **state) {
  (void)state;
  assert_refused("dir/", 4, MB_EDENIED, "bad path 'dir/': empty segment");
  assert_refused("dir\\", 4, MB_EDENIED, "bad path 'dir\\': empty segment");
  assert_refused("a/b//", 5, MB_EDENIED, "bad path 'a/b//': empty segment");
  assert_refused("./", 2, MB_EDENIED, "bad path './': empty segment");
}

static void test_refuse_colon(void **state) {
  (void)state;
  assert_refused(
      "ab:c", 4, MB_EDENIED,
      "bad path 'ab:c': ':' is not allowed (drive letters and streams)");
  assert_refused(
      "dir/file.lua::$DATA", 19, MB_EDENIED,
      "bad path 'dir/file.lua::$DATA': ':' is not allowed (drive letters "
      "and streams)");
  assert_refused(
      "x/C:/y", 6, MB_EDENIED,
      "bad path 'x/C:/y': ':' is not allowed (drive letters and streams)");
}

static void test_normalize_buffer_and_message_limits(void **state) {
  (void)state;
  char out[4], err[16];
  assert_int_equal(
      mb__vfs_normalize("abcd", 4, out, sizeof out, err, sizeof err),
      MB_EINVAL);
  assert_string_equal(out, "");
  assert_int_equal(strlen(err), sizeof err - 1); /* truncated, terminated */
  assert_int_equal(mb__vfs_normalize("abc", 3, out, sizeof out, err, 0), MB_OK);
  assert_string_equal(out, "abc");
  assert_int_equal(mb__vfs_normalize("a", 1, out, 0, NULL, 0), MB_EINVAL);
  /* "./abcd" fits after dropping "." */
  assert_int_equal(mb__vfs_normalize("./a/./b", 7, out, sizeof out, NULL, 0),
                   MB_OK);
  assert_string_equal(out, "a/b");
  /* a very long path is cut short in the message, which keeps its reason */
  char longpath[1000], big[512];
  memset(longpath, 'x', sizeof longpath);
  longpath[sizeof longpath - 1] = '/';
  assert_int_equal(mb__vfs_normalize(longpath, sizeof longpath, big, sizeof big,
                                     big, sizeof big),
                   MB_EINVAL);
  assert_non_null(strstr(big, "...': path too long"));
  char err1[1] = "x";
  assert_int_equal(mb__vfs_normalize("", 0, out, sizeof out, err1, 1),
                   MB_EDENIED);
  assert_int_equal(err1[0], '\0');
}

/* ---- directory mounts -------------------------------------------------- */

static void test_mount_dir_read(void **state) {
  (void)state;
  char *root = make_tmpdir();
  put(root, "init.lua", "return 1\n");
  put(root, "scripts/deep/er/x.lua", "deep");
  put(root, "empty.txt", "");
  mb__vfs *vfs = vfs_with_dirs(root, NULL);
  assert_reads(vfs, "init.lua", "return 1\n");
  assert_reads(vfs, "scripts/deep/er/x.lua", "deep");
  assert_reads(vfs, "scripts\\\\deep\\./er//x.lua", "deep");
  assert_reads(vfs, "empty.txt", "");
  assert_read_fails(vfs, "missing.lua", MB_ENOTFOUND,
                    "cannot read 'missing.lua': no such file");
  assert_read_fails(vfs, "scripts/missing/x.lua", MB_ENOTFOUND, "no such file");
  assert_read_fails(vfs, "init.lua/x", MB_ENOTFOUND, "no such file");
  assert_read_fails(vfs, "../x", MB_EDENIED,
                    "bad path '../x': '..' segments are not allowed");
  mb__vfs_free(vfs);
  rm_tree(root);
}

static void test_mount_dir_errors(void **state) {
  (void)state;
  char *root = make_tmpdir();
  put(root, "file", "x");
  char path[512], err[512];
  mb__vfs *vfs = mb__vfs_new(NULL, NULL);
  snprintf(path, sizeof path, "%s/missing", root);
  assert_int_equal(mb__vfs_mount_dir(vfs, path, err, sizeof err), MB_ENOTFOUND);
  assert_non_null(strstr(err, "cannot mount '"));
  assert_non_null(strstr(err, "missing'"));
  snprintf(path, sizeof path, "%s/file", root);
  assert_int_equal(mb__vfs_mount_dir(vfs, path, err, sizeof err), MB_EINVAL);
  assert_non_null(strstr(err, "not a directory"));
  assert_int_equal(mb__vfs_mount_dir(vfs, "", err, sizeof err), MB_EINVAL);
  /* the failed mounts left nothing behind */
  assert_read_fails(vfs, "file", MB_ENOTFOUND, "no such file");
  mb__vfs_free(vfs);
  mb__vfs_free(NULL);
  rm_tree(root);
}

static void test_case_insensitive(void **state) {
  (void)state;
  char *root = make_tmpdir();
  put(root, "Scripts/MyMod/Player.LUA", "player");
  put(root, "README.md", "readme");
  mb__vfs *vfs = vfs_with_dirs(root, NULL);
  assert_reads(vfs, "scripts/mymod/player.lua", "player");
  assert_reads(vfs, "SCRIPTS/MYMOD/PLAYER.LUA", "player");
  assert_reads(vfs, "Scripts\\MyMod\\Player.LUA", "player");
  assert_reads(vfs, "readme.MD", "readme");
  assert_int_equal(mb__vfs_exists(vfs, "sCrIpTs/mYmOd/pLaYeR.lUa"), 1);
  mb__vfs_free(vfs);
  rm_tree(root);
}

static void test_case_duplicates_deterministic(void **state) {
  (void)state;
  char *root = make_tmpdir();
  /* No exact lower-case name: the byte-wise smallest match wins. */
  put(root, "Foo.lua", "upper F");
  put(root, "fOo.lua", "upper O");
  put(root, "FOO.lua", "all upper");
  mb__vfs *vfs = vfs_with_dirs(root, NULL);
  assert_reads(vfs, "foo.lua", "all upper");
  /* An exact lower-case name is taken first. */
  put(root, "foo.lua", "lower");
  assert_reads(vfs, "FOO.LUA", "lower");
  mb__vfs_free(vfs);
  rm_tree(root);
}

static void test_shadow_dir_over_dir(void **state) {
  (void)state;
  char *a = make_tmpdir(), *b = make_tmpdir();
  put(a, "scripts/x.lua", "old");
  put(a, "only_a.lua", "a");
  put(b, "Scripts/X.lua", "new");
  put(b, "only_b.lua", "b");
  mb__vfs *vfs = vfs_with_dirs(a, b);
  assert_reads(vfs, "scripts/x.lua", "new");
  assert_reads(vfs, "only_a.lua", "a");
  assert_reads(vfs, "only_b.lua", "b");
  mb__vfs_free(vfs);
  vfs = vfs_with_dirs(b, a); /* the other order */
  assert_reads(vfs, "scripts/x.lua", "old");
  mb__vfs_free(vfs);
  rm_tree(a);
  rm_tree(b);
}

static void test_shadow_mem_over_dir(void **state) {
  (void)state;
  char *a = make_tmpdir();
  put(a, "x.lua", "disk");
  put(a, "y.lua", "disk y");
  mb__vfs *vfs = vfs_with_dirs(a, NULL);
  mount_mem(vfs, "X.LUA", "memory");
  assert_reads(vfs, "x.lua", "memory");
  assert_reads(vfs, "y.lua", "disk y");
  mb__vfs_free(vfs);
  rm_tree(a);
}

static void test_shadow_dir_over_mem(void **state) {
  (void)state;
  char *a = make_tmpdir();
  put(a, "x.lua", "disk");
  mb__vfs *vfs = mb__vfs_new(NULL, NULL);
  mount_mem(vfs, "x.lua", "memory");
  mount_mem(vfs, "sub/z.lua", "memory z");
  char err[256];
  assert_int_equal(mb__vfs_mount_dir(vfs, a, err, sizeof err), MB_OK);
  assert_reads(vfs, "x.lua", "disk");
  assert_reads(vfs, "sub/z.lua", "memory z");
  mb__vfs_free(vfs);
  rm_tree(a);
}

static void test_mount_file_replaces(void **state) {
  (void)state;
  mb__vfs *vfs = mb__vfs_new(NULL, NULL);
  char err[256];
  mount_mem(vfs, "a/b.lua", "one");
  mount_mem(vfs, "other.lua", "other");
  mount_mem(vfs, "A\\B.lua", "two");
  assert_reads(vfs, "a/b.lua", "two");
  assert_reads(vfs, "other.lua", "other");
  assert_int_equal(mb__vfs_mount_file(vfs, "empty", NULL, 0, err, sizeof err),
                   MB_OK);
  assert_reads(vfs, "empty", "");
  /* binary data with NUL bytes is kept whole */
  assert_int_equal(mb__vfs_mount_file(vfs, "bin", "a\0b", 3, err, sizeof err),
                   MB_OK);
  char *data;
  size_t size;
  assert_int_equal(mb__vfs_read(vfs, "BIN", &data, &size, err, sizeof err),
                   MB_OK);
  assert_int_equal(size, 3);
  assert_memory_equal(data, "a\0b\0", 4);
  mb__vfs_release(vfs, data, size);
  assert_int_equal(mb__vfs_mount_file(vfs, "../x", "x", 1, err, sizeof err),
                   MB_EDENIED);
  assert_string_equal(err, "bad path '../x': '..' segments are not allowed");
  assert_int_equal(mb__vfs_mount_file(vfs, "x/", "x", 1, err, sizeof err),
                   MB_EDENIED);
  /* long paths work the same (no fixed-size buffers) */
  mount_mem(vfs, long_path('Q'), "long");
  assert_reads(vfs, long_path('q'), "long");
  char bad[600];
  snprintf(bad, sizeof bad, "%s/../x", long_path('q'));
  assert_read_fails(vfs, bad, MB_EDENIED, "'..' segments are not allowed");
  mb__vfs_free(vfs);
}

/* ---- confinement ------------------------------------------------------- */

static void test_symlink_refused(void **state) {
  (void)state;
  char *outside = make_tmpdir(), *root = make_tmpdir();
  char target[512], link[512];
  put(outside, "secret.txt", "secret");
  snprintf(target, sizeof target, "%s/secret.txt", outside);
  snprintf(link, sizeof link, "%s/escape.lua", root);
  assert_int_equal(symlink(target, link), 0);
  snprintf(link, sizeof link, "%s/escdir", root);
  assert_int_equal(symlink(outside, link), 0);
  /* even a link to a file inside the mount is not followed */
  put(root, "real.lua", "real");
  snprintf(link, sizeof link, "%s/inner.lua", root);
  assert_int_equal(symlink("real.lua", link), 0);
  mb__vfs *vfs = vfs_with_dirs(root, NULL);
  assert_read_fails(vfs, "escape.lua", MB_EDENIED,
                    "symbolic links are not followed");
  assert_read_fails(vfs, "ESCAPE.lua", MB_EDENIED, "cannot read 'ESCAPE.lua'");
  assert_read_fails(vfs, "escdir/secret.txt", MB_EDENIED,
                    "symbolic links are not followed");
  assert_read_fails(vfs, "inner.lua", MB_EDENIED,
                    "symbolic links are not followed");
  assert_int_equal(mb__vfs_exists(vfs, "escape.lua"), 0);
  assert_int_equal(mb__vfs_exists(vfs, "escdir/secret.txt"), 0);
  assert_reads(vfs, "real.lua", "real");
  mb__vfs_free(vfs);
  /* A link does not hide a real file of an older mount. */
  char *older = make_tmpdir();
  put(older, "escape.lua", "older");
  vfs = vfs_with_dirs(older, root);
  assert_reads(vfs, "escape.lua", "older");
  mb__vfs_free(vfs);
  rm_tree(older);
  rm_tree(root);
  rm_tree(outside);
}

static void test_read_directory_fails(void **state) {
  (void)state;
  char *root = make_tmpdir();
  put(root, "Scripts/x.lua", "x");
  mb__vfs *vfs = vfs_with_dirs(root, NULL);
  assert_read_fails(vfs, "scripts", MB_ENOTFOUND, "is a directory, not a file");
  assert_int_equal(mb__vfs_exists(vfs, "scripts"), 0);
  mb__vfs_free(vfs);
  rm_tree(root);
}

static void test_fifo_not_regular(void **state) {
  (void)state;
  char *root = make_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/pipe.lua", root);
  assert_int_equal(mkfifo(path, 0600), 0);
  mb__vfs *vfs = vfs_with_dirs(root, NULL);
  /* must neither block nor read it */
  assert_read_fails(vfs, "pipe.lua", MB_EDENIED, "not a regular file");
  assert_int_equal(mb__vfs_exists(vfs, "pipe.lua"), 0);
  mb__vfs_free(vfs);
  rm_tree(root);
}

static void test_large_and_unsized_files(void **state) {
  (void)state;
  char *root = make_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/huge.bin", root);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, ((off_t)64 << 20) + 1), 0); /* sparse */
  close(fd);
  mb__vfs *vfs = vfs_with_dirs(root, NULL);
  assert_read_fails(vfs, "huge.bin", MB_EINVAL, "file too large");
  mb__vfs_free(vfs);
  rm_tree(root);
  /* procfs files report size 0: the reader must not trust st_size */
  if (access("/proc/self/status", R_OK) == 0) {
    vfs = vfs_with_dirs("/proc/self", NULL);
    char err[256], *data;
    size_t size;
    assert_int_equal(mb__vfs_read(vfs, "status", &data, &size, err, sizeof err),
                     MB_OK);
    assert_true(size > 100);
    assert_int_equal(strlen(data), size);
    assert_non_null(strstr(data, "Name:"));
    mb__vfs_release(vfs, data, size);
    mb__vfs_free(vfs);
  }
}

/* ---- exists and list --------------------------------------------------- */

static void test_exists(void **state) {
  (void)state;
  char *root = make_tmpdir();
  put(root, "a/B.txt", "b");
  mb__vfs *vfs = vfs_with_dirs(root, NULL);
  mount_mem(vfs, "m/x", "x");
  assert_int_equal(mb__vfs_exists(vfs, "a/b.txt"), 1);
  assert_int_equal(mb__vfs_exists(vfs, "A\\B.TXT"), 1);
  assert_int_equal(mb__vfs_exists(vfs, "m/x"), 1);
  assert_int_equal(mb__vfs_exists(vfs, "M/X"), 1);
  assert_int_equal(mb__vfs_exists(vfs, "a"), 0);
  assert_int_equal(mb__vfs_exists(vfs, "m"), 0);
  assert_int_equal(mb__vfs_exists(vfs, "a/c.txt"), 0);
  assert_int_equal(mb__vfs_exists(vfs, "../a/b.txt"), 0);
  assert_int_equal(mb__vfs_exists(vfs, "/a/b.txt"), 0);
  assert_int_equal(mb__vfs_exists(vfs, ""), 0);
  assert_int_equal(mb__vfs_exists(vfs, NULL), 0);
  mb__vfs_free(vfs);
  rm_tree(root);
}

typedef struct listed {
  char text[1024];
  int count;
} listed;

static void collect(void *ud, const char *name) {
  listed *l = ud;
  size_t len = strlen(l->text);
  snprintf(l->text + len, sizeof l->text - len, "%s;", name);
  l->count++;
}

static void test_list(void **state) {
  (void)state;
  char *a = make_tmpdir(), *b = make_tmpdir();
  put(a, "Zeta.omwscripts", "");
  put(a, "alpha.OMWSCRIPTS", "");
  put(a, "notes.txt", "");
  put(a, "sub/inner.omwscripts", "");
  put_dir(a, "dir.omwscripts"); /* a directory is not a file */
  put(b, "ALPHA.omwscripts", "");
  put(b, "beta.omwscripts", "");
  char link[512];
  snprintf(link, sizeof link, "%s/link.omwscripts", b);
  assert_int_equal(symlink("beta.omwscripts", link), 0);
  mb__vfs *vfs = vfs_with_dirs(a, b);
  mount_mem(vfs, "Mem.OmwScripts", "");
  mount_mem(vfs, "sub/m.omwscripts", "");
  mount_mem(vfs, "sub/deeper/n.omwscripts", "");
  char err[256];
  listed l = {"", 0};
  assert_int_equal(
      mb__vfs_list(vfs, "", ".omwscripts", collect, &l, err, sizeof err),
      MB_OK);
  assert_string_equal(l.text, "alpha.omwscripts;beta.omwscripts;mem.omwscripts;"
                              "zeta.omwscripts;");
  memset(&l, 0, sizeof l);
  assert_int_equal(
      mb__vfs_list(vfs, "SUB", ".OMWSCRIPTS", collect, &l, err, sizeof err),
      MB_OK);
  assert_string_equal(l.text, "sub/inner.omwscripts;sub/m.omwscripts;");
  memset(&l, 0, sizeof l);
  assert_int_equal(mb__vfs_list(vfs, ".", NULL, collect, &l, err, sizeof err),
                   MB_OK);
  assert_string_equal(l.text, "alpha.omwscripts;beta.omwscripts;mem.omwscripts;"
                              "notes.txt;zeta.omwscripts;");
  memset(&l, 0, sizeof l);
  assert_int_equal(
      mb__vfs_list(vfs, "nowhere", "", collect, &l, err, sizeof err), MB_OK);
  assert_int_equal(l.count, 0);
  assert_int_equal(mb__vfs_list(vfs, "../x", "", collect, &l, err, sizeof err),
                   MB_EDENIED);
  assert_string_equal(err, "bad path '../x': '..' segments are not allowed");
  mb__vfs_free(vfs);
  rm_tree(a);
  rm_tree(b);
}

/* ---- out of memory ----------------------------------------------------- */

static void count_name(void *ud, const char *name) {
  (void)name;
  ++*(int *)ud;
}

/* Run one operation; on MB_ENOMEM check the VFS still works by retrying
 * with the allocator healed. Returns 1 if the operation ran out. */
static int oom_step(mbt_alloc *a, mb__vfs *vfs, int op, const char *dir) {
  char err[256];
  for (int attempt = 0;; attempt++) {
    mb_status st = MB_OK;
    char *data = NULL;
    size_t size = 0;
    int n = 0;
    switch (op) {
    case 0:
      st = mb__vfs_mount_dir(vfs, dir, err, sizeof err);
      break;
    case 1:
      st = mb__vfs_mount_file(vfs, "mem/one.omwscripts", "one", 3, err,
                              sizeof err);
      break;
    case 2:
      st = mb__vfs_mount_file(vfs, "Mem/One.omwscripts", "uno", 3, err,
                              sizeof err);
      break;
    case 3:
      st = mb__vfs_read(vfs, "scripts/X.lua", &data, &size, err, sizeof err);
      if (st == MB_OK) {
        assert_string_equal(data, "disk x");
        mb__vfs_release(vfs, data, size);
      }
      break;
    case 4:
      st = mb__vfs_read(vfs, "mem/one.omwscripts", &data, &size, err,
                        sizeof err);
      if (st == MB_OK) {
        assert_string_equal(data, "uno");
        mb__vfs_release(vfs, data, size);
      }
      break;
    case 5:
      st =
          mb__vfs_list(vfs, "", ".omwscripts", count_name, &n, err, sizeof err);
      if (st == MB_OK) assert_int_equal(n, 20);
      break;
    case 6:
      st = mb__vfs_list(vfs, "MEM", "", count_name, &n, err, sizeof err);
      if (st == MB_OK) assert_int_equal(n, 1);
      break;
    case 7:
      n = mb__vfs_exists(vfs, "scripts/x.lua");
      if (attempt > 0) assert_int_equal(n, 1);
      break;
    case 8: /* paths too long for the stack buffer are allocated */
      st = mb__vfs_mount_file(vfs, long_path('Y'), "long", 4, err, sizeof err);
      break;
    case 9:
      st = mb__vfs_read(vfs, long_path('y'), &data, &size, err, sizeof err);
      if (st == MB_OK) {
        assert_string_equal(data, "long");
        mb__vfs_release(vfs, data, size);
      }
      break;
    }
    if (st == MB_OK) return attempt > 0;
    assert_int_equal(st, MB_ENOMEM);
    assert_non_null(strstr(err, "out of memory"));
    assert_int_equal(attempt, 0);
    a->fail_after = -1; /* heal and retry: the VFS must still work */
  }
}

static void test_oom(void **state) {
  (void)state;
  char *root = make_tmpdir();
  put(root, "Scripts/X.lua", "disk x");
  for (int i = 0; i < 20; i++) { /* enough names to grow the list array */
    char name[64];
    snprintf(name, sizeof name, "m%02d.OMWScripts", i);
    put(root, name, "");
  }
  for (long k = 0;; k++) {
    mbt_alloc a = {k, 0, 0, 0, 0};
    mb__vfs *vfs = mb__vfs_new(mbt_alloc_fn, &a);
    int failed = vfs == NULL;
    if (vfs) {
      for (int op = 0; op < 10; op++)
        failed |= oom_step(&a, vfs, op, root);
      mb__vfs_free(vfs);
    }
    assert_int_equal(a.bytes, 0); /* nothing leaked */
    if (!failed) break;
    assert_true(k < 10000);
  }
  rm_tree(root);
}

static void test_custom_allocator_balanced(void **state) {
  (void)state;
  char *root = make_tmpdir();
  put(root, "a.lua", "aaa");
  mbt_alloc a = {-1, 0, 0, 0, 0};
  mb__vfs *vfs = mb__vfs_new(mbt_alloc_fn, &a);
  assert_non_null(vfs);
  char err[256];
  assert_int_equal(mb__vfs_mount_dir(vfs, root, err, sizeof err), MB_OK);
  size_t before = a.bytes;
  char *data;
  size_t size;
  assert_int_equal(mb__vfs_read(vfs, "A.LUA", &data, &size, err, sizeof err),
                   MB_OK);
  assert_int_equal(a.bytes, before + size + 1); /* exactly size + 1 */
  mb__vfs_release(vfs, data, size);
  assert_int_equal(a.bytes, before);
  mb__vfs_free(vfs);
  assert_int_equal(a.bytes, 0);
  rm_tree(root);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_normalize_table),
      cmocka_unit_test(test_refuse_empty),
      cmocka_unit_test(test_refuse_absolute),
      cmocka_unit_test(test_refuse_dotdot),
      cmocka_unit_test(test_refuse_nul),
      cmocka_unit_test(test_refuse_trailing_slash),
      cmocka_unit_test(test_refuse_colon),
      cmocka_unit_test(test_normalize_buffer_and_message_limits),
      cmocka_unit_test(test_mount_dir_read),
      cmocka_unit_test(test_mount_dir_errors),
      cmocka_unit_test(test_case_insensitive),
      cmocka_unit_test(test_case_duplicates_deterministic),
      cmocka_unit_test(test_shadow_dir_over_dir),
      cmocka_unit_test(test_shadow_mem_over_dir),
      cmocka_unit_test(test_shadow_dir_over_mem),
      cmocka_unit_test(test_mount_file_replaces),
      cmocka_unit_test(test_symlink_refused),
      cmocka_unit_test(test_read_directory_fails),
      cmocka_unit_test(test_fifo_not_regular),
      cmocka_unit_test(test_large_and_unsized_files),
      cmocka_unit_test(test_exists),
      cmocka_unit_test(test_list),
      cmocka_unit_test(test_oom),
      cmocka_unit_test(test_custom_allocator_balanced),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
