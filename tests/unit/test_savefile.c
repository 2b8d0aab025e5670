/* Tests of the save-file container (serializer/savefile.c). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <msgpack.h>
#include <xxhash.h>

#include "serializer/codec.h"
#include "serializer/savefile.h"
#include "tests/unit/testutil.h"

static mb_save *new_save(void) {
  mb_save *s;
  assert_int_equal(mb_save_new(NULL, NULL, &s), MB_OK);
  return s;
}

/* A small save: header fields of every type and four sections. */
static void fill(mb_save *s, int order) {
  assert_int_equal(
      mb_save_set_str(s, MB_SAVE_FIELD_CREATED_BY, "moonbox 0.1.0"), MB_OK);
  assert_int_equal(mb_save_set_int(s, MB_SAVE_FIELD_CREATED_AT, 1700000000),
                   MB_OK);
  assert_int_equal(
      mb_save_set_uint(s, MB_SAVE_FIELD_VM_SEED, 0xfedcba9876543210ull), MB_OK);
  assert_int_equal(mb_save_set_float(s, MB_SAVE_FIELD_VM_TIME, 12.5), MB_OK);
  assert_int_equal(mb_save_set_bool(s, "paused", 1), MB_OK);
  assert_int_equal(mb_save_set_int(s, "negative", -5), MB_OK);
  const char *k[4][3] = {{"script", "global", "scripts/a.lua"},
                         {"script", "guard_1", "scripts/patrol.lua"},
                         {"host", "", "world"},
                         {"storage", "global", "Settings"}};
  const char *p[4] = {"\x81\xa1x\x01", "\x93\x01\x02\x03", "\xa5hello", ""};
  size_t n[4] = {4, 4, 6, 0};
  for (int j = 0; j < 4; j++) {
    int i = order ? 3 - j : j;
    assert_int_equal(mb_save_put(s, k[i][0], k[i][1], k[i][2], p[i], n[i]),
                     MB_OK);
  }
}

static uint8_t *to_memory(mb_save *s, size_t *n) {
  void *d;
  assert_int_equal(mb_save_write_memory(s, &d, n), MB_OK);
  return d;
}

static void test_round_trip(void **state) {
  (void)state;
  mb_save *s = new_save();
  assert_int_equal(mb_save_get_state(s), MB_SAVE_NEW);
  fill(s, 0);
  size_t n;
  uint8_t *d = to_memory(s, &n);
  assert_memory_equal(d, "MBSAVE\r\n\x01\x00\x00\x00\x00\x00\x00\x00", 16);
  assert_memory_equal(d + n - 8, "MBSAVEND", 8);

  mb_save *r = new_save();
  assert_int_equal(mb_save_read_memory(r, d, n), MB_OK);
  assert_int_equal(mb_save_get_state(r), MB_SAVE_INTACT);
  assert_true(mb_save_header_ok(r));
  unsigned ma, mi;
  mb_save_version(r, &ma, &mi);
  assert_int_equal(ma, 1);
  assert_int_equal(mi, 0);
  mb_save_field f;
  assert_int_equal(mb_save_field_get(r, "format", &f), MB_OK);
  assert_string_equal(f.str, "moonbox-save");
  assert_int_equal(mb_save_field_get(r, "created_by", &f), MB_OK);
  assert_int_equal(f.type, MB_FIELD_STR);
  assert_string_equal(f.str, "moonbox 0.1.0");
  assert_int_equal(mb_save_field_get(r, "created_at", &f), MB_OK);
  assert_int_equal(f.type, MB_FIELD_INT);
  assert_int_equal(f.i, 1700000000);
  assert_int_equal(mb_save_field_get(r, "vm_seed", &f), MB_OK);
  assert_int_equal(f.type, MB_FIELD_UINT);
  assert_true(f.u == 0xfedcba9876543210ull);
  assert_int_equal(mb_save_field_get(r, "vm_time", &f), MB_OK);
  assert_int_equal(f.type, MB_FIELD_FLOAT);
  assert_true(f.f == 12.5);
  assert_int_equal(mb_save_field_get(r, "paused", &f), MB_OK);
  assert_int_equal(f.type, MB_FIELD_BOOL);
  assert_int_equal(f.i, 1);
  assert_int_equal(mb_save_field_get(r, "negative", &f), MB_OK);
  assert_int_equal(f.i, -5);
  assert_int_equal(mb_save_field_get(r, "nope", &f), MB_ENOTFOUND);
  assert_int_equal(mb_save_field_count(r), 7);
  /* fields come sorted by key */
  assert_int_equal(mb_save_field_at(r, 0, &f), MB_OK);
  assert_string_equal(f.key, "created_at");
  assert_int_equal(mb_save_field_at(r, 7, &f), MB_EINVAL);

  assert_int_equal(mb_save_section_count(r), 4);
  mb_save_section x;
  /* sorted by identity: host, script global, script guard_1, storage */
  assert_int_equal(mb_save_section_at(r, 0, &x), MB_OK);
  assert_string_equal(x.kind, "host");
  assert_string_equal(x.container, "");
  assert_string_equal(x.path, "world");
  assert_int_equal(x.size, 6);
  assert_memory_equal(x.payload, "\xa5hello", 6);
  assert_true(x.checksum_ok);
  assert_true(x.checksum == XXH3_64bits("\xa5hello", 6));
  size_t i;
  assert_int_equal(
      mb_save_find(r, "script", "guard_1", "scripts/patrol.lua", &i), MB_OK);
  assert_int_equal(i, 2);
  assert_int_equal(
      mb_save_find(r, "script", "guard_2", "scripts/patrol.lua", &i),
      MB_ENOTFOUND);
  assert_int_equal(mb_save_section_at(r, 3, &x), MB_OK);
  assert_string_equal(x.kind, "storage");
  assert_int_equal(x.size, 0);
  char label[64];
  mb_save_section_label(r, 2, label, sizeof label);
  assert_string_equal(label, "guard_1[scripts/patrol.lua]");
  mb_save_section_label(r, 0, label, sizeof label);
  assert_string_equal(label, "host:[world]");
  mb_save_section_label(r, SIZE_MAX, label, sizeof label);
  assert_string_equal(label, "header");

  /* the same contents inserted in another order give the same bytes, and
   * re-writing what was read gives the same bytes */
  mb_save *s2 = new_save();
  fill(s2, 1);
  size_t n2, n3;
  uint8_t *d2 = to_memory(s2, &n2);
  uint8_t *d3 = to_memory(r, &n3);
  assert_int_equal(n, n2);
  assert_memory_equal(d, d2, n);
  assert_int_equal(n, n3);
  assert_memory_equal(d, d3, n);
  mb_save_release(s2, d2, n2);
  mb_save_release(r, d3, n3);
  mb_save_release(s, d, n);
  mb_save_free(s);
  mb_save_free(s2);
  mb_save_free(r);
  mb_save_free(NULL);
}

static void test_api_edges(void **state) {
  (void)state;
  mb_save *s = new_save();
  assert_int_equal(mb_save_put(s, "", "a", "b", "x", 1), MB_EINVAL);
  assert_int_equal(mb_save_put(s, "script", "a", "b", NULL, 1), MB_EINVAL);
  assert_int_equal(mb_save_put(s, "script", NULL, NULL, NULL, 0), MB_OK);
  assert_int_equal(mb_save_put(s, "script", "a", "b", "1", 1), MB_OK);
  assert_int_equal(mb_save_put(s, "script", "a", "b", "22", 2), MB_OK);
  assert_int_equal(mb_save_section_count(s), 2); /* replaced */
  mb_save_section x;
  assert_int_equal(mb_save_section_at(s, 1, &x), MB_OK);
  assert_int_equal(x.size, 2);
  assert_int_equal(mb_save_section_at(s, 2, &x), MB_EINVAL);
  assert_int_equal(mb_save_remove(s, 0), MB_OK);
  assert_int_equal(mb_save_remove(s, 1), MB_EINVAL);
  assert_int_equal(mb_save_section_count(s), 1);
  assert_int_equal(mb_save_set_str(s, "k", "v1"), MB_OK);
  assert_int_equal(mb_save_set_int(s, "k", 3), MB_OK);
  assert_int_equal(mb_save_field_count(s), 1);
  /* a host "format" field is replaced by the library's */
  assert_int_equal(mb_save_set_str(s, "format", "mine"), MB_OK);
  size_t n;
  uint8_t *d = to_memory(s, &n);
  mb_save *r = new_save();
  assert_int_equal(mb_save_read_memory(r, d, n), MB_OK);
  mb_save_field f;
  assert_int_equal(mb_save_field_get(r, "format", &f), MB_OK);
  assert_string_equal(f.str, "moonbox-save");
  assert_int_equal(mb_save_field_count(r), 2);
  mb_save_clear(r);
  assert_int_equal(mb_save_section_count(r), 0);
  assert_int_equal(mb_save_get_state(r), MB_SAVE_NEW);
  mb_save_release(s, d, n);
  mb_save_free(s);
  mb_save_free(r);
}

static int count_bad(const mb_save *r) {
  int bad = 0;
  mb_save_section x;
  for (size_t i = 0; i < mb_save_section_count(r); i++) {
    mb_save_section_at(r, i, &x);
    bad += !x.checksum_ok;
  }
  return bad;
}

/* Locates payload `p` (n bytes) inside the file bytes. */
static size_t find_bytes(const uint8_t *d, size_t n, const char *p, size_t pn) {
  for (size_t i = 0; i + pn <= n; i++)
    if (memcmp(d + i, p, pn) == 0) return i;
  fail_msg("bytes not found");
  return 0;
}

static void test_bad_section_kept(void **state) {
  (void)state;
  mb_save *s = new_save();
  fill(s, 0);
  size_t n;
  uint8_t *d = to_memory(s, &n);
  size_t at = find_bytes(d, n, "\x93\x01\x02\x03", 4);
  d[at + 2] ^= 0x40;
  mb_save *r = new_save();
  assert_int_equal(mb_save_read_memory(r, d, n), MB_OK);
  assert_int_equal(mb_save_get_state(r), MB_SAVE_DAMAGED);
  assert_string_equal(mb_save_error(r), "1 checksum failed");
  assert_int_equal(count_bad(r), 1);
  size_t i;
  assert_int_equal(
      mb_save_find(r, "script", "guard_1", "scripts/patrol.lua", &i), MB_OK);
  mb_save_section x;
  mb_save_section_at(r, i, &x);
  assert_false(x.checksum_ok);
  assert_memory_equal(x.payload, "\x93\x01\x42\x03", 4);
  uint64_t stored = x.checksum;
  assert_true(stored == XXH3_64bits("\x93\x01\x02\x03", 4));
  /* the others load */
  assert_int_equal(mb_save_find(r, "script", "global", "scripts/a.lua", &i),
                   MB_OK);
  mb_save_section_at(r, i, &x);
  assert_true(x.checksum_ok);
  /* written back unchanged: the next read reports it bad again */
  assert_int_equal(
      mb_save_put(r, "script", "global", "scripts/a.lua", "\xc3", 1), MB_OK);
  size_t n2;
  uint8_t *d2 = to_memory(r, &n2);
  mb_save *r2 = new_save();
  assert_int_equal(mb_save_read_memory(r2, d2, n2), MB_OK);
  assert_int_equal(mb_save_get_state(r2), MB_SAVE_DAMAGED);
  assert_int_equal(
      mb_save_find(r2, "script", "guard_1", "scripts/patrol.lua", &i), MB_OK);
  mb_save_section y;
  mb_save_section_at(r2, i, &y);
  assert_false(y.checksum_ok);
  assert_memory_equal(y.payload, "\x93\x01\x42\x03", 4);
  assert_true(y.checksum == stored);
  /* put_raw carries a kept section over to a fresh save */
  mb_save *s3 = new_save();
  assert_int_equal(mb_save_put_raw(s3, y.kind, y.container, y.path, y.payload,
                                   y.size, y.checksum),
                   MB_OK);
  mb_save_section z;
  mb_save_section_at(s3, 0, &z);
  assert_false(z.checksum_ok);
  assert_int_equal(
      mb_save_put_raw(s3, "host", "", "w", "ab", 2, XXH3_64bits("ab", 2)),
      MB_OK);
  assert_int_equal(mb_save_find(s3, "host", "", "w", &i), MB_OK);
  mb_save_section_at(s3, i, &z);
  assert_true(z.checksum_ok);
  mb_save_release(r, d2, n2);
  mb_save_release(s, d, n);
  mb_save_free(s);
  mb_save_free(s3);
  mb_save_free(r);
  mb_save_free(r2);
}

static void test_bad_header(void **state) {
  (void)state;
  mb_save *s = new_save();
  fill(s, 0);
  size_t n;
  uint8_t *d = to_memory(s, &n);
  size_t at = find_bytes(d, n, "moonbox 0.1.0", 13);
  d[at] = 'M';
  mb_save *r = new_save();
  assert_int_equal(mb_save_read_memory(r, d, n), MB_OK);
  assert_int_equal(mb_save_get_state(r), MB_SAVE_DAMAGED);
  assert_false(mb_save_header_ok(r));
  assert_int_equal(mb_save_field_count(r), 0);
  assert_int_equal(mb_save_section_count(r), 4);
  assert_int_equal(count_bad(r), 0);
  mb_save_release(s, d, n);
  mb_save_free(s);
  mb_save_free(r);
}

/* Flip every byte (several patterns) and truncate at every length: always
 * a clear error or a reported checksum failure, never silence or a crash. */
static void test_corruption_everywhere(void **state) {
  (void)state;
  mb_save *s = new_save();
  fill(s, 0);
  size_t n;
  uint8_t *d = to_memory(s, &n);
  uint8_t *m = malloc(n + 16);
  mb_save *r = new_save();
  static const uint8_t pat[] = {0x01, 0x80, 0xff, 0x10};
  int corrupt = 0, damaged = 0, notsave = 0;
  for (size_t i = 0; i < n; i++) {
    for (size_t k = 0; k < sizeof pat; k++) {
      memcpy(m, d, n);
      m[i] ^= pat[k];
      mb_status st = mb_save_read_memory(r, m, n);
      mb_save_state ss = mb_save_get_state(r);
      if (st == MB_OK) {
        assert_int_equal(ss, MB_SAVE_DAMAGED);
        assert_true(count_bad(r) == 1 || !mb_save_header_ok(r));
        damaged++;
      } else {
        assert_int_equal(st, MB_ECORRUPT);
        assert_true(ss == MB_SAVE_CORRUPT || ss == MB_SAVE_NOT_A_SAVE);
        assert_true(strlen(mb_save_error(r)) > 10);
        assert_int_equal(mb_save_section_count(r), 0);
        if (ss == MB_SAVE_CORRUPT)
          corrupt++;
        else
          notsave++;
      }
    }
  }
  assert_int_equal(notsave, 8 * (int)sizeof pat); /* only the magic */
  assert_true(corrupt > 0 && damaged > 0);
  for (size_t len = 0; len < n; len++) {
    assert_int_equal(mb_save_read_memory(r, d, len), MB_ECORRUPT);
    mb_save_state ss = mb_save_get_state(r);
    assert_true(ss == (len < 8 ? MB_SAVE_NOT_A_SAVE : MB_SAVE_CORRUPT));
    if (len >= 48)
      assert_string_equal(
          mb_save_error(r),
          "save file footer missing: the file is truncated or damaged");
  }
  /* bytes appended after the footer */
  memcpy(m, d, n);
  memcpy(m + n, "junk", 4);
  assert_int_equal(mb_save_read_memory(r, m, n + 4), MB_ECORRUPT);
  assert_int_equal(mb_save_read_memory(r, d, n), MB_OK);
  assert_int_equal(mb_save_get_state(r), MB_SAVE_INTACT);
  free(m);
  mb_save_release(s, d, n);
  mb_save_free(s);
  mb_save_free(r);
}

/* ---- hand-built files: versions, unknown fields ------------------------ */

static void pk_str(msgpack_packer *pk, const char *s) {
  msgpack_pack_str(pk, strlen(s));
  msgpack_pack_str_body(pk, s, strlen(s));
}

/* Builds a save by hand with msgpack-c: version major.minor, an extra index
 * key, and extra elements in index entries (what a later minor may add). */
static uint8_t *craft(unsigned major, unsigned minor, int extras, size_t *n) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  uint8_t pre[16] = "MBSAVE\r\n";
  pre[8] = (uint8_t)major;
  pre[9] = (uint8_t)(major >> 8);
  pre[10] = (uint8_t)minor;
  pre[11] = (uint8_t)(minor >> 8);
  msgpack_sbuffer_write(&sb, (const char *)pre, 16);
  size_t hoff = sb.size;
  msgpack_pack_map(&pk, extras ? 3 : 2);
  pk_str(&pk, "format");
  pk_str(&pk, "moonbox-save");
  pk_str(&pk, "created_by");
  pk_str(&pk, "a future version");
  if (extras) {
    pk_str(&pk, "future_thing"); /* an array: skipped by this reader */
    msgpack_pack_array(&pk, 2);
    msgpack_pack_nil(&pk);
    msgpack_pack_true(&pk);
  }
  size_t hsize = sb.size - hoff;
  uint64_t hsum = XXH3_64bits(sb.data + hoff, hsize);
  size_t poff = sb.size;
  msgpack_sbuffer_write(&sb, "\x01\x02", 2);
  uint64_t psum = XXH3_64bits("\x01\x02", 2);
  size_t ioff = sb.size;
  msgpack_pack_map(&pk, extras ? 3 : 2);
  if (extras) {
    pk_str(&pk, "attachments");
    msgpack_pack_map(&pk, 1);
    pk_str(&pk, "x");
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "abc", 3);
  }
  pk_str(&pk, "header");
  msgpack_pack_array(&pk, extras ? 4 : 3);
  msgpack_pack_uint64(&pk, hoff);
  msgpack_pack_uint64(&pk, hsize);
  msgpack_pack_uint64(&pk, hsum);
  if (extras) msgpack_pack_double(&pk, 1.5);
  pk_str(&pk, "sections");
  msgpack_pack_array(&pk, extras == 2 ? 2 : 1);
  if (extras == 2) { /* the same identity twice (an empty second copy) */
    msgpack_pack_array(&pk, 6);
    pk_str(&pk, "npc_brain");
    pk_str(&pk, "guard_1");
    pk_str(&pk, "ai");
    msgpack_pack_uint64(&pk, poff);
    msgpack_pack_uint64(&pk, 0);
    msgpack_pack_uint64(&pk, XXH3_64bits("", 0));
    extras = 0;
  }
  msgpack_pack_array(&pk, extras ? 8 : 6);
  pk_str(&pk, "npc_brain"); /* a kind this host may not know */
  pk_str(&pk, "guard_1");
  pk_str(&pk, "ai");
  msgpack_pack_uint64(&pk, poff);
  msgpack_pack_uint64(&pk, 2);
  msgpack_pack_uint64(&pk, psum);
  if (extras) {
    msgpack_pack_int(&pk, -3);
    pk_str(&pk, "compressed?");
  }
  size_t isize = sb.size - ioff;
  uint8_t foot[32];
  uint64_t v[3] = {
      ioff, isize,
      XXH3_64bits_withSeed(sb.data + ioff, isize, XXH3_64bits(sb.data, 16))};
  for (int k = 0; k < 3; k++)
    for (int b = 0; b < 8; b++)
      foot[8 * k + b] = (uint8_t)(v[k] >> (8 * b));
  memcpy(foot + 24, "MBSAVEND", 8);
  msgpack_sbuffer_write(&sb, (const char *)foot, 32);
  *n = sb.size;
  return (uint8_t *)sb.data; /* malloc'ed by msgpack_sbuffer */
}

static void test_versions_and_unknowns(void **state) {
  (void)state;
  mb_save *r = new_save();
  size_t n;
  uint8_t *d = craft(1, 0, 0, &n);
  assert_int_equal(mb_save_read_memory(r, d, n), MB_OK);
  assert_int_equal(mb_save_get_state(r), MB_SAVE_INTACT);
  free(d);
  /* a later minor with unknown index keys, entry elements, header types */
  d = craft(1, 7, 1, &n);
  if (mb_save_read_memory(r, d, n) != MB_OK) fail_msg("%s", mb_save_error(r));
  assert_int_equal(mb_save_get_state(r), MB_SAVE_INTACT);
  unsigned ma, mi;
  mb_save_version(r, &ma, &mi);
  assert_int_equal(ma, 1);
  assert_int_equal(mi, 7);
  assert_int_equal(mb_save_field_count(r), 2);
  mb_save_section x;
  assert_int_equal(mb_save_section_at(r, 0, &x), MB_OK);
  assert_string_equal(x.kind, "npc_brain");
  assert_true(x.checksum_ok);
  /* an unknown kind survives a rewrite (written as 1.0) */
  size_t n2;
  void *d2;
  assert_int_equal(mb_save_write_memory(r, &d2, &n2), MB_OK);
  mb_save *r2 = new_save();
  assert_int_equal(mb_save_read_memory(r2, d2, n2), MB_OK);
  size_t i;
  assert_int_equal(mb_save_find(r2, "npc_brain", "guard_1", "ai", &i), MB_OK);
  mb_save_release(r, d2, n2);
  mb_save_free(r2);
  free(d);
  /* two sections with one identity: structural damage */
  d = craft(1, 0, 2, &n);
  assert_int_equal(mb_save_read_memory(r, d, n), MB_ECORRUPT);
  assert_string_equal(mb_save_error(r),
                      "duplicate section npc_brain:guard_1[ai]");
  assert_int_equal(mb_save_get_state(r), MB_SAVE_CORRUPT);
  free(d);
  /* another major is refused with a clear message */
  d = craft(2, 0, 0, &n);
  assert_int_equal(mb_save_read_memory(r, d, n), MB_ECORRUPT);
  assert_string_equal(mb_save_error(r),
                      "unsupported save format 2.0 (this reader reads 1.x)");
  free(d);
  mb_save_free(r);
}

/* ---- files -------------------------------------------------------------- */

static char tmpdir[256];

static int files_setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mb_test_savefile_XXXXXX");
  assert_non_null(mkdtemp(tmpdir));
  return 0;
}

static int files_teardown(void **state) {
  (void)state;
  DIR *dir = opendir(tmpdir);
  struct dirent *e;
  char p[512];
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.') continue;
    snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
    unlink(p);
  }
  closedir(dir);
  chmod(tmpdir, 0700);
  rmdir(tmpdir);
  return 0;
}

static int count_files(void) {
  DIR *dir = opendir(tmpdir);
  struct dirent *e;
  int c = 0;
  while ((e = readdir(dir)) != NULL)
    c += e->d_name[0] != '.';
  closedir(dir);
  return c;
}

static void remove_others(const char *keep) {
  DIR *dir = opendir(tmpdir);
  struct dirent *e;
  char p[512];
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.' || strcmp(e->d_name, keep) == 0) continue;
    snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
    unlink(p);
  }
  closedir(dir);
}

typedef struct reports {
  char text[2048];
  int count;
} reports;

static void collect(void *ud, const char *what, const char *message) {
  reports *r = ud;
  size_t l = strlen(r->text);
  snprintf(r->text + l, sizeof r->text - l, "%s: %s\n", what, message);
  r->count++;
}

static void write_raw(const char *path, const void *d, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(d, 1, n, f), n);
  fclose(f);
}

static void test_files_and_verify(void **state) {
  (void)state;
  char path[300];
  snprintf(path, sizeof path, "%s/game.sav", tmpdir);
  mb_save *s = new_save();
  fill(s, 0);
  assert_int_equal(mb_save_write_file(s, path), MB_OK);
  assert_int_equal(count_files(), 1); /* no temporary left */
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0644);
  reports rep = {{0}, 0};
  assert_int_equal(mb_save_verify_file(path, NULL, NULL, collect, &rep), 0);
  assert_int_equal(rep.count, 0);
  mb_save *r = new_save();
  assert_int_equal(mb_save_read_file(r, path), MB_OK);
  assert_int_equal(mb_save_section_count(r), 4);

  /* a bad section: exit 1, named */
  size_t n;
  uint8_t *d = to_memory(s, &n);
  d[find_bytes(d, n, "\x93\x01\x02\x03", 4) + 1] ^= 1;
  d[find_bytes(d, n, "\xa5hello", 6) + 1] ^= 1;
  write_raw(path, d, n);
  assert_int_equal(mb_save_verify_file(path, NULL, NULL, collect, &rep), 1);
  assert_int_equal(rep.count, 2);
  assert_non_null(strstr(rep.text, "host:[world]: checksum mismatch (stored "));
  assert_non_null(
      strstr(rep.text, "\nguard_1[scripts/patrol.lua]: checksum mismatch"));
  /* truncated: exit 1 */
  memset(&rep, 0, sizeof rep);
  write_raw(path, d, n - 1);
  assert_int_equal(mb_save_verify_file(path, NULL, NULL, collect, &rep), 1);
  assert_int_equal(rep.count, 1);
  assert_non_null(strstr(rep.text, "file: "));
  assert_non_null(strstr(rep.text, "footer missing"));
  assert_int_equal(mb_save_read_file(r, path), MB_ECORRUPT);
  assert_memory_equal(mb_save_error(r), path, strlen(path));
  /* not a save at all: exit 2 */
  memset(&rep, 0, sizeof rep);
  write_raw(path, "hello, world\n", 13);
  assert_int_equal(mb_save_verify_file(path, NULL, NULL, collect, &rep), 2);
  assert_non_null(strstr(rep.text, "not a moonbox save file"));
  assert_int_equal(mb_save_read_file(r, path), MB_ECORRUPT);
  assert_int_equal(mb_save_get_state(r), MB_SAVE_NOT_A_SAVE);
  /* missing: exit 2 */
  memset(&rep, 0, sizeof rep);
  char missing[300];
  snprintf(missing, sizeof missing, "%s/nope.sav", tmpdir);
  assert_int_equal(mb_save_verify_file(missing, NULL, NULL, collect, &rep), 2);
  assert_int_equal(mb_save_read_file(r, missing), MB_ENOTFOUND);
  assert_int_equal(mb_save_get_state(r), MB_SAVE_UNREADABLE);
  /* a directory: exit 2 */
  assert_int_equal(mb_save_verify_file(tmpdir, NULL, NULL, NULL, NULL), 2);
  mb_save_release(s, d, n);
  mb_save_free(s);
  mb_save_free(r);
}

/* A write that dies at any byte leaves the old save intact. */
static void test_atomic_write(void **state) {
  (void)state;
  char path[300];
  snprintf(path, sizeof path, "%s/atomic.sav", tmpdir);
  mb_save *old = new_save();
  fill(old, 0);
  assert_int_equal(mb_save_write_file(old, path), MB_OK);
  size_t on;
  uint8_t *od = to_memory(old, &on);
  mb_save *s = new_save();
  fill(s, 0);
  assert_int_equal(mb_save_put(s, "script", "global", "new.lua", "\x01", 1),
                   MB_OK);
  size_t nn;
  uint8_t *nd = to_memory(s, &nn);
  mb_save *r = new_save();
  for (long cut = 0; cut < (long)nn; cut += 7) {
    for (int crash = 0; crash < 2; crash++) {
      mb__save_set_write_fault(s, cut, crash);
      assert_int_equal(mb_save_write_file(s, path), MB_EIO);
      assert_non_null(strstr(mb_save_error(s), "simulated fault"));
      assert_int_equal(mb_save_read_file(r, path), MB_OK);
      assert_int_equal(mb_save_get_state(r), MB_SAVE_INTACT);
      assert_int_equal(mb_save_section_count(r), 4);
      /* after a failure the temporary is gone; after a "crash" it stays
       * behind (as it would), but the save is still the old one */
      assert_int_equal(count_files(), crash ? 2 : 1);
      remove_others("atomic.sav");
      /* the old file's bytes are exactly what was there */
      FILE *f = fopen(path, "rb");
      uint8_t buf[4096];
      size_t got = fread(buf, 1, sizeof buf, f);
      fclose(f);
      assert_int_equal(got, on);
      assert_memory_equal(buf, od, on);
    }
  }
  /* and a clean write replaces it */
  assert_int_equal(mb_save_write_file(s, path), MB_OK);
  assert_int_equal(mb_save_read_file(r, path), MB_OK);
  assert_int_equal(mb_save_section_count(r), 5);
  /* an unwritable directory: MB_EIO, old file untouched */
  chmod(tmpdir, 0500);
  if (access(tmpdir, W_OK) != 0) { /* root ignores modes */
    assert_int_equal(mb_save_write_file(old, path), MB_EIO);
    assert_non_null(strstr(mb_save_error(old), "temporary file"));
    assert_int_equal(mb_save_read_file(r, path), MB_OK);
    assert_int_equal(mb_save_section_count(r), 5);
  }
  chmod(tmpdir, 0700);
  mb_save_release(old, od, on);
  mb_save_release(s, nd, nn);
  mb_save_free(old);
  mb_save_free(s);
  mb_save_free(r);
}

static void test_oom(void **state) {
  (void)state;
  mb_save *src = new_save();
  fill(src, 0);
  size_t n;
  uint8_t *d = to_memory(src, &n);
  int ok = 0;
  for (long k = 0; k < 100 && !ok; k++) {
    mbt_alloc a;
    memset(&a, 0, sizeof a);
    a.fail_after = k;
    mb_save *s;
    mb_status st = mb_save_new(mbt_alloc_fn, &a, &s);
    if (st != MB_OK) {
      assert_int_equal(st, MB_ENOMEM);
      assert_null(s);
      continue;
    }
    st = mb_save_read_memory(s, d, n);
    if (st == MB_OK) {
      void *o;
      size_t on;
      st = mb_save_write_memory(s, &o, &on);
      if (st == MB_OK) {
        assert_int_equal(on, n);
        assert_memory_equal(o, d, n);
        mb_save_release(s, o, on);
        ok = 1;
      }
    }
    if (!ok) assert_int_equal(st, MB_ENOMEM);
    mb_save_free(s);
    assert_int_equal(a.bytes, 0);
  }
  assert_true(ok);
  mb_save_release(src, d, n);
  mb_save_free(src);
}

/* Lua values saved as sections and loaded back. */
static void test_with_codec(void **state) {
  (void)state;
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  assert_int_equal(
      luaL_dostring(L, "return {hp = 10, inv = {'a', 'b'}, pos = {x = 1.5}}"),
      0);
  void *p;
  size_t pn;
  assert_int_equal(mb_encode(L, -1, NULL, NULL, NULL, &p, &pn), MB_OK);
  mb_save *s = new_save();
  assert_int_equal(mb_save_put(s, "script", "player", "scripts/p.lua", p, pn),
                   MB_OK);
  free(p);
  size_t n;
  uint8_t *d = to_memory(s, &n);
  mb_save *r = new_save();
  assert_int_equal(mb_save_read_memory(r, d, n), MB_OK);
  mb_save_section x;
  mb_save_section_at(r, 0, &x);
  assert_int_equal(mb_decode(L, x.payload, x.size, NULL), MB_OK);
  lua_getfield(L, -1, "pos");
  lua_getfield(L, -1, "x");
  assert_true(lua_tonumber(L, -1) == 1.5);
  mb_save_release(s, d, n);
  mb_save_free(s);
  mb_save_free(r);
  lua_close(L);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_api_edges),
      cmocka_unit_test(test_bad_section_kept),
      cmocka_unit_test(test_bad_header),
      cmocka_unit_test(test_corruption_everywhere),
      cmocka_unit_test(test_versions_and_unknowns),
      cmocka_unit_test_setup_teardown(test_files_and_verify, files_setup,
                                      files_teardown),
      cmocka_unit_test_setup_teardown(test_atomic_write, files_setup,
                                      files_teardown),
      cmocka_unit_test(test_oom),
      cmocka_unit_test(test_with_codec),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
