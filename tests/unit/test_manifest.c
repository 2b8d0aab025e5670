/* core/manifest.c: `.omwscripts` parsing, merging and lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/manifest.h"
#include "sandbox/vfs.h"
#include "tests/unit/testutil.h"

static const char *const types[] = {"ACTIVATOR", "NPC", "CREATURE", "CONTAINER",
                                    "MISC_ITEM"};
#define NTYPES (sizeof types / sizeof types[0])
#define T_NPC MB__FLAG_TYPE(1)
#define T_CREATURE MB__FLAG_TYPE(2)
#define T_CONTAINER MB__FLAG_TYPE(3)

static char err[512];

static mb_status parse_n(mb__manifest *m, const char *file, const char *text,
                         size_t len) {
  err[0] = 'x';
  err[1] = '\0';
  return mb__manifest_parse(m, file, text, len, types, NTYPES, err, sizeof err);
}

static mb_status parse(mb__manifest *m, const char *file, const char *text) {
  return parse_n(m, file, text, strlen(text));
}

static void assert_entry(const mb__manifest *m, size_t i, const char *path,
                         uint64_t flags) {
  const mb__manifest_entry *e = mb__manifest_at(m, i);
  assert_non_null(e);
  assert_string_equal(e->path, path);
  assert_int_equal(e->flags, flags);
  assert_ptr_equal(mb__manifest_find(m, path), e);
}

/* Parses `text` as mods/a.omwscripts into a fresh manifest, expects one
 * entry. */
static void expect_one(const char *text, const char *path, uint64_t flags) {
  mb__manifest *m = mb__manifest_new(NULL, NULL);
  assert_non_null(m);
  assert_int_equal(parse(m, "mods/a.omwscripts", text), MB_OK);
  assert_string_equal(err, "");
  assert_int_equal(mb__manifest_count(m), 1);
  assert_entry(m, 0, path, flags);
  mb__manifest_free(m);
}

static void expect_error(const char *text, size_t len, const char *msg) {
  mb__manifest *m = mb__manifest_new(NULL, NULL);
  assert_non_null(m);
  assert_int_equal(parse_n(m, "mods/a.omwscripts", text, len), MB_ECORRUPT);
  assert_string_equal(err, msg);
  assert_int_equal(mb__manifest_count(m), 0);
  mb__manifest_free(m);
}
#define EXPECT_ERROR(text, msg) expect_error(text, strlen(text), msg)

/* ---- valid forms ------------------------------------------------------- */

static void flags_separated_by_spaces(void **state) {
  (void)state;
  expect_one("NPC CREATURE: scripts/a.lua\n", "scripts/a.lua",
             T_NPC | T_CREATURE);
  expect_one("NPC \t\v CREATURE\f:scripts/a.lua", "scripts/a.lua",
             T_NPC | T_CREATURE);
}

static void flags_separated_by_commas(void **state) {
  (void)state;
  expect_one("NPC,CREATURE,CONTAINER:scripts/a.lua\n", "scripts/a.lua",
             T_NPC | T_CREATURE | T_CONTAINER);
}

static void flags_mixed_separators_and_empty_flags(void **state) {
  (void)state;
  expect_one("  NPC , CREATURE,\tPLAYER  :   scripts/a.lua  \n",
             "scripts/a.lua", T_NPC | T_CREATURE | MB__FLAG_PLAYER);
  /* Empty flags between or around commas are ignored. */
  expect_one("NPC,,CREATURE,: scripts/a.lua", "scripts/a.lua",
             T_NPC | T_CREATURE);
  expect_one(",CUSTOM , ,: scripts/a.lua", "scripts/a.lua", MB__FLAG_CUSTOM);
  /* Repeating a flag is harmless, also GLOBAL. */
  expect_one("NPC NPC: a.lua", "a.lua", T_NPC);
  expect_one("GLOBAL,GLOBAL: a.lua", "a.lua", MB__FLAG_GLOBAL);
}

static void builtin_and_type_flags(void **state) {
  (void)state;
  expect_one("GLOBAL: g.lua", "g.lua", MB__FLAG_GLOBAL);
  expect_one("CUSTOM: c.lua", "c.lua", MB__FLAG_CUSTOM);
  expect_one("PLAYER: p.lua", "p.lua", MB__FLAG_PLAYER);
  /* Type i of the host's list is MB__FLAG_TYPE(i). */
  for (size_t i = 0; i < NTYPES; i++) {
    char line[64];
    snprintf(line, sizeof line, "%s: t.lua", types[i]);
    expect_one(line, "t.lua", MB__FLAG_TYPE(i));
  }
  expect_one("PLAYER MISC_ITEM ACTIVATOR CUSTOM: t.lua", "t.lua",
             MB__FLAG_PLAYER | MB__FLAG_TYPE(4) | MB__FLAG_TYPE(0) |
                 MB__FLAG_CUSTOM);
}

static void all_sixty_types(void **state) {
  (void)state;
  char names[MB__MAX_TYPES][8];
  const char *list[MB__MAX_TYPES];
  for (int i = 0; i < MB__MAX_TYPES; i++) {
    snprintf(names[i], sizeof names[i], "T%d", i);
    list[i] = names[i];
  }
  mb__manifest *m = mb__manifest_new(NULL, NULL);
  assert_int_equal(mb__manifest_parse(m, "f", "T0 T59: a.lua\nT31: b.lua",
                                      strlen("T0 T59: a.lua\nT31: b.lua"), list,
                                      MB__MAX_TYPES, err, sizeof err),
                   MB_OK);
  assert_entry(m, 0, "a.lua", MB__FLAG_TYPE(0) | MB__FLAG_TYPE(59));
  assert_int_equal(mb__manifest_at(m, 0)->flags,
                   ((uint64_t)1 << 3) | ((uint64_t)1 << 62));
  assert_entry(m, 1, "b.lua", MB__FLAG_TYPE(31));
  /* One too many types: a host mistake, not a manifest error. */
  const char *many[MB__MAX_TYPES + 1];
  memcpy(many, list, sizeof list);
  many[MB__MAX_TYPES] = "EXTRA";
  assert_int_equal(mb__manifest_parse(m, "f", "T0: c.lua", 9, many,
                                      MB__MAX_TYPES + 1, err, sizeof err),
                   MB_EINVAL);
  assert_int_equal(mb__manifest_count(m), 2);
  mb__manifest_free(m);
}

static void paths_are_normalised(void **state) {
  (void)state;
  expect_one("NPC: Scripts\\MyMod//./Npc.LUA", "scripts/mymod/npc.lua", T_NPC);
  /* Inner spaces belong to the path; '#' after the start is no comment. */
  expect_one("NPC:  my mod/a#b.lua \t", "my mod/a#b.lua", T_NPC);
}

static void crlf_comments_blank_lines(void **state) {
  (void)state;
  mb__manifest *m = mb__manifest_new(NULL, NULL);
  const char *text = "# a comment: NPC: x.lua\r\n"
                     "\r\n"
                     "   \t \r\n"
                     "  # indented comment\r\n"
                     "NPC: a.lua\r\n"
                     "\n"
                     "PLAYER : b.lua\r\n"
                     "#NCP: broken.lua\r\n"
                     "GLOBAL: c.lua"; /* no final newline */
  assert_int_equal(parse(m, "f", text), MB_OK);
  assert_int_equal(mb__manifest_count(m), 3);
  assert_entry(m, 0, "a.lua", T_NPC);
  assert_entry(m, 1, "b.lua", MB__FLAG_PLAYER);
  assert_entry(m, 2, "c.lua", MB__FLAG_GLOBAL);
  mb__manifest_free(m);
}

static void bom_is_skipped(void **state) {
  (void)state;
  expect_one("\xEF\xBB\xBFNPC: a.lua\r\n", "a.lua", T_NPC);
  expect_one("\xEF\xBB\xBF# comment\nNPC: a.lua", "a.lua", T_NPC);
  /* Only at the start: elsewhere it is part of a flag. */
  EXPECT_ERROR("NPC: a.lua\n\xEF\xBB\xBFNPC: b.lua",
               "mods/a.omwscripts:2: unknown flag '\xEF\xBB\xBFNPC'");
}

static void empty_and_comment_only_files(void **state) {
  (void)state;
  mb__manifest *m = mb__manifest_new(NULL, NULL);
  assert_int_equal(parse(m, "f", ""), MB_OK);
  assert_int_equal(parse_n(m, "f", NULL, 0), MB_OK);
  assert_int_equal(parse(m, "f", "\xEF\xBB\xBF"), MB_OK);
  assert_int_equal(parse(m, "f", "# nothing\n\n  \r\n"), MB_OK);
  assert_int_equal(mb__manifest_count(m), 0);
  assert_null(mb__manifest_at(m, 0));
  assert_null(mb__manifest_find(m, "a.lua"));
  mb__manifest_free(m);
}

static void files_append_in_host_order(void **state) {
  (void)state;
  mb__manifest *m = mb__manifest_new(NULL, NULL);
  assert_int_equal(parse(m, "a", "NPC: a1.lua\nGLOBAL: a2.lua\n"), MB_OK);
  assert_int_equal(parse(m, "b", "PLAYER: b1.lua\n"), MB_OK);
  assert_int_equal(parse(m, "c", "CUSTOM: c1.lua\nCREATURE: c2.lua\n"), MB_OK);
  assert_int_equal(mb__manifest_count(m), 5);
  assert_entry(m, 0, "a1.lua", T_NPC);
  assert_entry(m, 1, "a2.lua", MB__FLAG_GLOBAL);
  assert_entry(m, 2, "b1.lua", MB__FLAG_PLAYER);
  assert_entry(m, 3, "c1.lua", MB__FLAG_CUSTOM);
  assert_entry(m, 4, "c2.lua", T_CREATURE);
  mb__manifest_free(m);
}

static void relisting_in_one_file_moves_and_merges(void **state) {
  (void)state;
  mb__manifest *m = mb__manifest_new(NULL, NULL);
  assert_int_equal(parse(m, "f",
                         "NPC: x.lua\n"
                         "PLAYER: y.lua\n"
                         "CREATURE: X.LUA\n"
                         "GLOBAL: g.lua\n"
                         "GLOBAL: g.lua\n"
                         "CUSTOM: z.lua\n"),
                   MB_OK);
  assert_int_equal(mb__manifest_count(m), 4);
  assert_entry(m, 0, "y.lua", MB__FLAG_PLAYER);
  assert_entry(m, 1, "x.lua", T_NPC | T_CREATURE);
  assert_entry(m, 2, "g.lua", MB__FLAG_GLOBAL);
  assert_entry(m, 3, "z.lua", MB__FLAG_CUSTOM);
  mb__manifest_free(m);
}

static void relisting_across_files_moves_and_merges(void **state) {
  (void)state;
  mb__manifest *m = mb__manifest_new(NULL, NULL);
  assert_int_equal(parse(m, "a", "NPC: x.lua\nPLAYER: y.lua\nGLOBAL: g.lua"),
                   MB_OK);
  assert_int_equal(parse(m, "b",
                         "CONTAINER: w.lua\nCREATURE: x.lua\n"
                         "GLOBAL: g.lua\nCUSTOM: x.lua"),
                   MB_OK);
  assert_int_equal(mb__manifest_count(m), 4);
  assert_entry(m, 0, "y.lua", MB__FLAG_PLAYER);
  assert_entry(m, 1, "w.lua", T_CONTAINER);
  assert_entry(m, 2, "g.lua", MB__FLAG_GLOBAL);
  assert_entry(m, 3, "x.lua", T_NPC | T_CREATURE | MB__FLAG_CUSTOM);
  /* A third file relisting the first entry only. */
  assert_int_equal(parse(m, "c", "PLAYER: y.lua"), MB_OK);
  assert_entry(m, 0, "w.lua", T_CONTAINER);
  assert_entry(m, 3, "y.lua", MB__FLAG_PLAYER);
  assert_int_equal(mb__manifest_count(m), 4);
  mb__manifest_free(m);
}

static void long_lines(void **state) {
  (void)state;
  size_t n = 100000;
  char *text = malloc(n + 64);
  char *path = malloc(n + 8);
  assert_non_null(text);
  assert_non_null(path);
  memset(path, 'a', n);
  memcpy(path + n, ".lua", 5);
  snprintf(text, n + 64, "NPC:%s\n", path);
  expect_one(text, path, T_NPC);
  free(text);
  free(path);
}

static void find_among_thousands(void **state) {
  (void)state;
  enum { N = 5000 };
  size_t cap = (size_t)N * 40;
  char *text = malloc(cap);
  assert_non_null(text);
  size_t len = 0;
  for (int i = 0; i < N; i++)
    len += (size_t)snprintf(text + len, cap - len, "%s: mod%d/s%d.lua\n",
                            i % 2 ? "NPC" : "GLOBAL", i % 7, i);
  mb__manifest *m = mb__manifest_new(NULL, NULL);
  assert_int_equal(parse_n(m, "big", text, len), MB_OK);
  /* Many small files after it, each relisting an early script. */
  for (int i = 1; i < 400; i += 2) {
    char line[64];
    snprintf(line, sizeof line, "CREATURE: mod%d/s%d.lua", i % 7, i);
    assert_int_equal(parse(m, "small", line), MB_OK);
  }
  assert_int_equal(mb__manifest_count(m), N);
  for (int i = 0; i < N; i++) {
    char p[32];
    snprintf(p, sizeof p, "mod%d/s%d.lua", i % 7, i);
    const mb__manifest_entry *e = mb__manifest_find(m, p);
    assert_non_null(e);
    assert_string_equal(e->path, p);
    uint64_t want = i % 2 ? T_NPC : MB__FLAG_GLOBAL;
    if (i % 2 && i < 400) want |= T_CREATURE;
    assert_int_equal(e->flags, want);
  }
  assert_entry(m, N - 1, "mod0/s399.lua", T_NPC | T_CREATURE);
  assert_entry(m, 0, "mod0/s0.lua", MB__FLAG_GLOBAL);
  assert_null(mb__manifest_find(m, "mod0/s5000.lua"));
  assert_null(mb__manifest_find(m, "MOD0/S0.LUA")); /* not normalised */
  mb__manifest_free(m);
  free(text);
}

/* ---- errors ------------------------------------------------------------- */

static void error_unknown_flag(void **state) {
  (void)state;
  EXPECT_ERROR("NPC: a.lua\n# c\n\nNCP: b.lua\n",
               "mods/a.omwscripts:4: unknown flag 'NCP'");
  /* Flags are case-sensitive, as in OpenMW. */
  EXPECT_ERROR("npc: a.lua", "mods/a.omwscripts:1: unknown flag 'npc'");
  EXPECT_ERROR("Global: a.lua", "mods/a.omwscripts:1: unknown flag 'Global'");
  EXPECT_ERROR("NPC;CREATURE: a.lua",
               "mods/a.omwscripts:1: unknown flag 'NPC;CREATURE'");
  /* A huge flag is shown shortened. */
  char text[300], want[200];
  memset(text, 'Q', 200);
  memcpy(text + 200, ": a.lua", 8);
  snprintf(want, sizeof want, "mods/a.omwscripts:1: unknown flag '%.64s'",
           text);
  EXPECT_ERROR(text, want);
}

static void error_no_colon(void **state) {
  (void)state;
  EXPECT_ERROR("NPC a.lua", "mods/a.omwscripts:1: expected 'FLAGS: path'");
  EXPECT_ERROR("\r\nNPC\r\n", "mods/a.omwscripts:2: expected 'FLAGS: path'");
}

static void error_no_flags(void **state) {
  (void)state;
  EXPECT_ERROR(": a.lua", "mods/a.omwscripts:1: no flags");
  EXPECT_ERROR("  , ,\t: a.lua", "mods/a.omwscripts:1: no flags");
}

static void error_global_combined(void **state) {
  (void)state;
  EXPECT_ERROR("GLOBAL NPC: a.lua",
               "mods/a.omwscripts:1: GLOBAL cannot be combined with other "
               "flags");
  EXPECT_ERROR("PLAYER,GLOBAL: a.lua",
               "mods/a.omwscripts:1: GLOBAL cannot be combined with other "
               "flags");
}

static void error_missing_path(void **state) {
  (void)state;
  EXPECT_ERROR("NPC:", "mods/a.omwscripts:1: missing script path");
  EXPECT_ERROR("NPC:  \t\r\n", "mods/a.omwscripts:1: missing script path");
}

static void error_bad_path_uses_normaliser_message(void **state) {
  (void)state;
  const char *bad[] = {"../x.lua",   "/abs/x.lua", "C:/x.lua",
                       "a/../x.lua", "a/x.lua/",   "a:b.lua"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char out[64], why[256], text[64], want[400];
    assert_int_not_equal(mb__vfs_normalize(bad[i], strlen(bad[i]), out,
                                           sizeof out, why, sizeof why),
                         MB_OK);
    assert_true(why[0] != '\0');
    snprintf(text, sizeof text, "NPC: ok.lua\r\nNPC: %s\r\n", bad[i]);
    snprintf(want, sizeof want, "mods/a.omwscripts:2: %s", why);
    EXPECT_ERROR(text, want);
  }
}

static void error_bad_path_example(void **state) {
  (void)state;
  /* The wording sandbox/vfs.h gives as its example. */
  EXPECT_ERROR("NPC: ../x.lua", "mods/a.omwscripts:1: bad path '../x.lua': "
                                "'..' segments are not allowed");
}

static void error_not_lua(void **state) {
  (void)state;
  EXPECT_ERROR("NPC: a.txt",
               "mods/a.omwscripts:1: script path must end in .lua");
  EXPECT_ERROR("NPC: a.lua.bak",
               "mods/a.omwscripts:1: script path must end in .lua");
  EXPECT_ERROR("NPC: lua", "mods/a.omwscripts:1: script path must end in .lua");
  expect_one("NPC: A.LuA", "a.lua", T_NPC);
}

static void error_nul_byte(void **state) {
  (void)state;
  static const char text[] = "NPC: a.lua\nNPC: b\0.lua\nNPC: c.lua\n";
  expect_error(text, sizeof text - 1, "mods/a.omwscripts:2: NUL byte in line");
  /* Also inside a comment. */
  static const char text2[] = "# hi\0there\nNPC: a.lua";
  expect_error(text2, sizeof text2 - 1,
               "mods/a.omwscripts:1: NUL byte in line");
}

static void error_global_and_local(void **state) {
  (void)state;
  EXPECT_ERROR("NPC: a.lua\nCUSTOM: b.lua\nGLOBAL: A.lua\n",
               "mods/a.omwscripts:3: 'a.lua' listed as GLOBAL and as local "
               "script");
  EXPECT_ERROR("GLOBAL: a.lua\n\nNPC: a.lua\n",
               "mods/a.omwscripts:3: 'a.lua' listed as GLOBAL and as local "
               "script");
  /* Against an earlier file, reported at the later line. */
  mb__manifest *m = mb__manifest_new(NULL, NULL);
  assert_int_equal(parse(m, "mods/a.omwscripts", "GLOBAL: g.lua\nNPC: n.lua"),
                   MB_OK);
  assert_int_equal(parse(m, "mods/b.omwscripts", "PLAYER: x.lua\nNPC: g.lua"),
                   MB_ECORRUPT);
  assert_string_equal(err, "mods/b.omwscripts:2: 'g.lua' listed as GLOBAL "
                           "and as local script");
  assert_int_equal(parse(m, "mods/c.omwscripts", "GLOBAL: n.lua"), MB_ECORRUPT);
  assert_string_equal(err, "mods/c.omwscripts:1: 'n.lua' listed as GLOBAL "
                           "and as local script");
  assert_int_equal(mb__manifest_count(m), 2);
  mb__manifest_free(m);
}

static void error_reports_first_bad_line(void **state) {
  (void)state;
  EXPECT_ERROR("NPC: a.lua\nNPC a.lua\nNCP: b.lua\n",
               "mods/a.omwscripts:2: expected 'FLAGS: path'");
}

static void error_is_atomic(void **state) {
  (void)state;
  mb__manifest *m = mb__manifest_new(NULL, NULL);
  assert_int_equal(parse(m, "a", "NPC: x.lua\nPLAYER: y.lua"), MB_OK);
  const mb__manifest_entry *before = mb__manifest_at(m, 0);
  /* Relists x (would move it and add CREATURE), adds z, then fails. */
  assert_int_equal(parse(m, "b", "CREATURE: x.lua\nCUSTOM: z.lua\nNCP: w.lua"),
                   MB_ECORRUPT);
  assert_string_equal(err, "b:3: unknown flag 'NCP'");
  assert_int_equal(mb__manifest_count(m), 2);
  assert_ptr_equal(mb__manifest_at(m, 0), before);
  assert_entry(m, 0, "x.lua", T_NPC);
  assert_entry(m, 1, "y.lua", MB__FLAG_PLAYER);
  assert_null(mb__manifest_find(m, "z.lua"));
  /* The manifest still works after the failure. */
  assert_int_equal(parse(m, "c", "CREATURE: x.lua"), MB_OK);
  assert_entry(m, 0, "y.lua", MB__FLAG_PLAYER);
  assert_entry(m, 1, "x.lua", T_NPC | T_CREATURE);
  mb__manifest_free(m);
}

static void error_buffer_handling(void **state) {
  (void)state;
  mb__manifest *m = mb__manifest_new(NULL, NULL);
  /* No buffer, or a tiny one: still the right status, truncated message. */
  assert_int_equal(
      mb__manifest_parse(m, "f", "NCP: a.lua", 10, types, NTYPES, NULL, 0),
      MB_ECORRUPT);
  char small[8];
  assert_int_equal(mb__manifest_parse(m, "f", "NCP: a.lua", 10, types, NTYPES,
                                      small, sizeof small),
                   MB_ECORRUPT);
  assert_string_equal(small, "f:1: un");
  /* Success clears the message. */
  assert_int_equal(parse(m, "f", "NPC: a.lua"), MB_OK);
  assert_string_equal(err, "");
  assert_int_equal(
      mb__manifest_parse(NULL, "f", "", 0, types, NTYPES, err, sizeof err),
      MB_EINVAL);
  mb__manifest_free(m);
  mb__manifest_free(NULL);
  assert_int_equal(mb__manifest_count(NULL), 0);
  assert_null(mb__manifest_find(NULL, "a.lua"));
}

/* ---- memory ------------------------------------------------------------- */

static const char *const oom_files[][2] = {
    {"a", "\xEF\xBB\xBFNPC: a1.lua\r\nGLOBAL: g.lua\r\nNPC: a2.lua\r\n"
          "CREATURE: a1.lua\r\n"},
    {"b", "# c\nPLAYER: b1.lua\nCUSTOM: a2.lua\nGLOBAL: g.lua\n"
          "NPC: b2.lua\nNPC: b3.lua\nNPC: b4.lua\nNPC: b5.lua\nNPC: b6.lua\n"
          "NPC: b7.lua\nNPC: b8.lua\nNPC: b9.lua\nNPC: b10.lua\n"
          "NPC: b11.lua\nNPC: b12.lua\nNPC: b13.lua\nNPC: b14.lua\n"
          "NPC: b15.lua\nNPC: b16.lua\nNPC: b17.lua\nNPC: b18.lua\n"
          "PLAYER: b2.lua\n"},
    {"c", "NPC: a1.lua\nNCP: broken.lua\n"}, /* always rejected */
    {"d", "CONTAINER: d1.lua\n"},
};

static void check_oom_result(const mb__manifest *m) {
  const char *order[] = {"a1.lua", "b1.lua", "a2.lua", "g.lua", "b3.lua"};
  assert_int_equal(mb__manifest_count(m), 22);
  for (size_t i = 0; i < 5; i++)
    assert_string_equal(mb__manifest_at(m, i)->path, order[i]);
  assert_entry(m, 0, "a1.lua", T_NPC | T_CREATURE);
  assert_entry(m, 2, "a2.lua", T_NPC | MB__FLAG_CUSTOM);
  assert_entry(m, 3, "g.lua", MB__FLAG_GLOBAL);
  assert_entry(m, 20, "b2.lua", T_NPC | MB__FLAG_PLAYER);
  assert_entry(m, 21, "d1.lua", T_CONTAINER);
}

/* Every allocation fails in turn: each call is MB_OK or MB_ENOMEM, a failed
 * call changes nothing, and nothing leaks. */
static void oom_sweep(void **state) {
  (void)state;
  int done = 0;
  long k;
  for (k = 0; !done && k < 10000; k++) {
    mbt_alloc a = {.fail_after = k};
    mb__manifest *m = mb__manifest_new(mbt_alloc_fn, &a);
    if (!m) {
      assert_int_equal(a.bytes, 0);
      continue;
    }
    int all_ok = 1;
    for (size_t f = 0; f < 4; f++) {
      size_t n = mb__manifest_count(m);
      const mb__manifest_entry *first = mb__manifest_at(m, 0);
      mb_status st = parse(m, oom_files[f][0], oom_files[f][1]);
      if (f == 2) {
        /* Out of memory before reaching line 2, or the parse error. */
        assert_true(st == MB_ECORRUPT || st == MB_ENOMEM);
      } else {
        assert_true(st == MB_OK || st == MB_ENOMEM);
      }
      if (st == MB_ENOMEM) {
        char want[32];
        snprintf(want, sizeof want, "%s: out of memory", oom_files[f][0]);
        assert_string_equal(err, want);
      }
      if (st != MB_OK) {
        assert_int_equal(mb__manifest_count(m), n);
        assert_ptr_equal(mb__manifest_at(m, 0), first);
        if (f != 2) all_ok = 0;
      }
    }
    if (all_ok) {
      check_oom_result(m);
      done = 1;
    }
    mb__manifest_free(m);
    assert_int_equal(a.bytes, 0);
  }
  assert_true(done);
  assert_true(k > 10); /* the sweep really exercised failures */
}

static void byte_limit_sweep(void **state) {
  (void)state;
  /* Tight byte limits fail the bigger blocks (hash tables, arrays). */
  int done = 0;
  for (size_t limit = 64; !done && limit < 65536; limit += 16) {
    mbt_alloc a = {.fail_after = -1, .limit = limit};
    mb__manifest *m = mb__manifest_new(mbt_alloc_fn, &a);
    if (!m) continue;
    mb_status st1 = parse(m, "a", oom_files[0][1]);
    mb_status st2 = parse(m, "b", oom_files[1][1]);
    assert_true(st1 == MB_OK || st1 == MB_ENOMEM);
    assert_true(st2 == MB_OK || st2 == MB_ENOMEM);
    if (st1 == MB_ENOMEM) assert_int_equal(mb__manifest_count(m), 0);
    done = st1 == MB_OK && st2 == MB_OK;
    if (done) assert_int_equal(mb__manifest_count(m), 21);
    mb__manifest_free(m);
    assert_int_equal(a.bytes, 0);
  }
  assert_true(done);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(flags_separated_by_spaces),
      cmocka_unit_test(flags_separated_by_commas),
      cmocka_unit_test(flags_mixed_separators_and_empty_flags),
      cmocka_unit_test(builtin_and_type_flags),
      cmocka_unit_test(all_sixty_types),
      cmocka_unit_test(paths_are_normalised),
      cmocka_unit_test(crlf_comments_blank_lines),
      cmocka_unit_test(bom_is_skipped),
      cmocka_unit_test(empty_and_comment_only_files),
      cmocka_unit_test(files_append_in_host_order),
      cmocka_unit_test(relisting_in_one_file_moves_and_merges),
      cmocka_unit_test(relisting_across_files_moves_and_merges),
      cmocka_unit_test(long_lines),
      cmocka_unit_test(find_among_thousands),
      cmocka_unit_test(error_unknown_flag),
      cmocka_unit_test(error_no_colon),
      cmocka_unit_test(error_no_flags),
      cmocka_unit_test(error_global_combined),
      cmocka_unit_test(error_missing_path),
      cmocka_unit_test(error_bad_path_uses_normaliser_message),
      cmocka_unit_test(error_bad_path_example),
      cmocka_unit_test(error_not_lua),
      cmocka_unit_test(error_nul_byte),
      cmocka_unit_test(error_global_and_local),
      cmocka_unit_test(error_reports_first_bad_line),
      cmocka_unit_test(error_is_atomic),
      cmocka_unit_test(error_buffer_handling),
      cmocka_unit_test(oom_sweep),
      cmocka_unit_test(byte_limit_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
