/* moonbox save info|verify|dump|diff: inspect save files. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "moonbox.h"
#include "cli/msgpack_json.h"

static const char save_help[] =
    "usage: moonbox save info FILE     header fields and sections\n"
    "       moonbox save verify FILE   check every checksum\n"
    "       moonbox save dump FILE     the whole save as JSON\n"
    "       moonbox save diff A B      which sections and values differ\n"
    "\n"
    "Exit status: verify: 0 all checksums hold, 1 some fail or the file is\n"
    "damaged, 2 not a save; diff: 0 same, 1 different; info and dump: 0, or\n"
    "1 for a save whose structure is broken, 2 for a file that is not a save\n"
    "or cannot be read.\n";

/* Read a save; prints why and returns NULL when it cannot. */
static mb_save *open_save(const char *path, int *rc) {
  mb_save *save;
  if (mb_save_new(NULL, NULL, &save) != MB_OK) {
    *rc = cli_usage_error("out of memory");
    return NULL;
  }
  if (mb_save_read_file(save, path) != MB_OK) {
    mb_save_state st = mb_save_get_state(save);
    *rc = st == MB_SAVE_CORRUPT ? EXIT_SCRIPT : EXIT_USAGE;
    fprintf(stderr, "moonbox: %s: %s\n", path, mb_save_error(save));
    mb_save_free(save);
    return NULL;
  }
  *rc = EXIT_OK;
  return save;
}

/* ---- commands ------------------------------------------------------------------- */

static json_t *header_json(const mb_save *save) {
  json_t *h = json_object();
  for (size_t i = 0; i < mb_save_field_count(save); i++) {
    mb_save_field f;
    mb_save_field_at(save, i, &f);
    json_t *v = f.type == MB_FIELD_STR    ? json_stringn(f.str, f.str_len)
                : f.type == MB_FIELD_INT  ? json_integer(f.i)
                : f.type == MB_FIELD_UINT ? json_real((double)f.u)
                : f.type == MB_FIELD_BOOL ? json_boolean(f.i)
                                          : cli_json_number(f.f);
    json_object_set_new(h, f.key, v ? v : json_null());
  }
  return h;
}

static int save_info(const char *path) {
  int rc;
  mb_save *save = open_save(path, &rc);
  if (!save) return rc;
  unsigned major, minor;
  mb_save_version(save, &major, &minor);
  printf("%s: moonbox save, format %u.%u, %s\n", path, major, minor,
         mb_save_get_state(save) == MB_SAVE_INTACT ? "intact" : "DAMAGED");
  json_t *h = header_json(save);
  const char *k;
  json_t *v;
  json_object_foreach(h, k, v) {
    char *text = json_dumps(v, JSON_ENCODE_ANY);
    printf("  %-12s %s\n", k, text ? text : "?");
    free(text);
  }
  json_decref(h);
  size_t n = mb_save_section_count(save);
  printf("%zu sections:\n", n);
  for (size_t i = 0; i < n; i++) {
    mb_save_section s;
    char label[512];
    mb_save_section_at(save, i, &s);
    mb_save_section_label(save, i, label, sizeof label);
    printf("  %-10s %-48s %8zu bytes%s\n", s.kind, label, s.size,
           s.checksum_ok ? "" : "  CHECKSUM MISMATCH");
  }
  mb_save_free(save);
  return EXIT_OK;
}

static void report(void *ud, const char *what, const char *message) {
  (void)ud;
  fprintf(stderr, "%s: %s\n", what, message);
}

static int save_verify(const char *path) {
  int rc = mb_save_verify_file(path, NULL, NULL, report, NULL);
  if (rc == 0) printf("%s: every checksum holds\n", path);
  return rc;
}

static int save_dump(const char *path) {
  int rc;
  mb_save *save = open_save(path, &rc);
  if (!save) return rc;
  unsigned major, minor;
  mb_save_version(save, &major, &minor);
  json_t *sections = json_array();
  for (size_t i = 0; i < mb_save_section_count(save); i++) {
    mb_save_section s;
    mb_save_section_at(save, i, &s);
    json_array_append_new(sections, json_pack("{s:s, s:s, s:s, s:b, s:o}", "kind", s.kind,
                                              "container", s.container, "path", s.path,
                                              "checksumOk", s.checksum_ok, "value",
                                              cli_msgpack_to_json(s.payload, s.size)));
  }
  char version[32];
  snprintf(version, sizeof version, "%u.%u", major, minor);
  json_t *root = json_pack("{s:s, s:o, s:o}", "format", version, "header",
                           header_json(save), "sections", sections);
  json_dumpf(root, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
  putchar('\n');
  json_decref(root);
  mb_save_free(save);
  return EXIT_OK;
}

/* Print each value path where two decoded payloads differ. */
static int diff_values(const char *label, const char *path, json_t *a, json_t *b) {
  if (json_equal(a, b)) return 0;
  if (json_is_object(a) && json_is_object(b)) {
    int n = 0;
    const char *k;
    json_t *v;
    char sub[1024];
    json_object_foreach(a, k, v) {
      snprintf(sub, sizeof sub, "%s.%s", path, k);
      json_t *w = json_object_get(b, k);
      if (!w) {
        printf("%s: %s: removed\n", label, sub);
        n++;
      } else {
        n += diff_values(label, sub, v, w);
      }
    }
    json_object_foreach(b, k, v) {
      if (!json_object_get(a, k)) {
        snprintf(sub, sizeof sub, "%s.%s", path, k);
        printf("%s: %s: added\n", label, sub);
        n++;
      }
    }
    return n;
  }
  if (json_is_array(a) && json_is_array(b) && json_array_size(a) == json_array_size(b)) {
    int n = 0;
    char sub[1024];
    for (size_t i = 0; i < json_array_size(a); i++) {
      snprintf(sub, sizeof sub, "%s[%zu]", path, i + 1);
      n += diff_values(label, sub, json_array_get(a, i), json_array_get(b, i));
    }
    return n;
  }
  char *x = json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT);
  char *y = json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT);
  printf("%s: %s: %s -> %s\n", label, *path ? path : "(value)", x ? x : "?", y ? y : "?");
  free(x);
  free(y);
  return 1;
}

static int save_diff(const char *pa, const char *pb) {
  int rc;
  mb_save *a = open_save(pa, &rc);
  if (!a) return EXIT_USAGE;
  mb_save *b = open_save(pb, &rc);
  if (!b) {
    mb_save_free(a);
    return EXIT_USAGE;
  }
  int differences = 0;
  for (size_t i = 0; i < mb_save_section_count(a); i++) {
    mb_save_section s, t;
    char label[512];
    size_t j;
    mb_save_section_at(a, i, &s);
    mb_save_section_label(a, i, label, sizeof label);
    if (mb_save_find(b, s.kind, s.container, s.path, &j) != MB_OK) {
      printf("%s: only in %s\n", label, pa);
      differences++;
      continue;
    }
    mb_save_section_at(b, j, &t);
    if (s.size == t.size && memcmp(s.payload, t.payload, s.size) == 0) continue;
    json_t *x = cli_msgpack_to_json(s.payload, s.size), *y = cli_msgpack_to_json(t.payload, t.size);
    int n = diff_values(label, "", x, y);
    if (!n) printf("%s: bytes differ\n", label);
    differences += n ? n : 1;
    json_decref(x);
    json_decref(y);
  }
  for (size_t j = 0; j < mb_save_section_count(b); j++) {
    mb_save_section t;
    char label[512];
    size_t i;
    mb_save_section_at(b, j, &t);
    if (mb_save_find(a, t.kind, t.container, t.path, &i) == MB_OK) continue;
    mb_save_section_label(b, j, label, sizeof label);
    printf("%s: only in %s\n", label, pb);
    differences++;
  }
  mb_save_free(a);
  mb_save_free(b);
  if (!differences) printf("no differences\n");
  return differences ? EXIT_SCRIPT : EXIT_OK;
}

int cmd_save(int argc, char **argv) {
  if (argc >= 2 && cli_is_help(argv[1])) {
    fputs(save_help, stdout);
    return EXIT_OK;
  }
  if (argc == 3 && !strcmp(argv[1], "info")) return save_info(argv[2]);
  if (argc == 3 && !strcmp(argv[1], "verify")) return save_verify(argv[2]);
  if (argc == 3 && !strcmp(argv[1], "dump")) return save_dump(argv[2]);
  if (argc == 4 && !strcmp(argv[1], "diff")) return save_diff(argv[2], argv[3]);
  fputs(save_help, stderr);
  return EXIT_USAGE;
}
