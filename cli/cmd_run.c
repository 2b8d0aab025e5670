/* moonbox run, replay and check */
#define _DEFAULT_SOURCE /* realpath */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/scenario.h"
#include "cli/session.h"

static const char run_help[] =
    "usage: moonbox run DATA_DIR [options]\n"
    "\n"
    "Load the manifests (*.omwscripts in DATA_DIR, in name order) and the world\n"
    "(DATA_DIR/world.json, or one active player), then run frames.\n"
    "\n"
    "  --frames N        frames to run (default 1; 0 only loads and saves)\n"
    "  --dt SECONDS      simulation time per frame (default 0.1)\n"
    "  --load SAVE       continue the world of a save instead of world.json\n"
    "  --save SAVE       save after the last frame\n"
    "  --hash-every N    print 'frame <n> state <hash>' every N frames\n"
    "  --seed N          seed of every script's math.random (default 0)\n"
    "  --storage FILE    Persistent storage sections: read at start, written at exit\n"
    "  --api-prefix NAME package prefix (default 'engine')\n"
    "  --scenario FILE   host inputs at given frames (JSON list, see docs)\n"
    "  --record FILE     write what this run did, for 'moonbox replay FILE'\n"
    "  --profile         print the top scripts by time and memory at exit\n"
    "  --strict          exit 1 if any script error happened\n"
    "  --quiet           print only script output and errors\n"
    "\n"
    "Exit status: 0 success; 1 script errors under --strict; 2 bad usage or\n"
    "unreadable input.\n";

static int parse_long(const char *opt, const char *s, long min, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (!*s || *end || errno || v < min)
    return cli_usage_error("%s needs an integer >= %ld, got '%s'", opt, min, s);
  *out = v;
  return EXIT_OK;
}

int cli_parse_options(int argc, char **argv, cli_options *o, int allow_run) {
  memset(o, 0, sizeof *o);
  o->frames = 1;
  o->dt = 0.1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int rc = EXIT_OK;
    if (a[0] != '-') {
      if (o->data_dir) return cli_usage_error("unexpected argument '%s'", a);
      o->data_dir = a;
      continue;
    }
    if (!strcmp(a, "--strict")) { o->strict = 1; continue; }
    if (!strcmp(a, "--quiet")) { o->quiet = 1; continue; }
    if (allow_run && !strcmp(a, "--profile")) { o->profile = 1; continue; }
    int known = !strcmp(a, "--load") || !strcmp(a, "--seed") ||
                !strcmp(a, "--storage") ||
                !strcmp(a, "--api-prefix") ||
                (allow_run && (!strcmp(a, "--frames") || !strcmp(a, "--dt") ||
                               !strcmp(a, "--save") || !strcmp(a, "--scenario") ||
                               !strcmp(a, "--record") ||
                               !strcmp(a, "--hash-every")));
    if (!known) return cli_usage_error("unknown option '%s'", a);
    if (!v) return cli_usage_error("%s needs a value", a);
    i++;
    if (!strcmp(a, "--frames")) {
      rc = parse_long(a, v, 0, &o->frames);
    } else if (!strcmp(a, "--hash-every")) {
      rc = parse_long(a, v, 1, &o->hash_every);
    } else if (!strcmp(a, "--dt")) {
      char *end;
      o->dt = strtod(v, &end);
      if (!*v || *end || !(o->dt >= 0) || isinf(o->dt))
        rc = cli_usage_error("--dt needs a number >= 0, got '%s'", v);
    } else if (!strcmp(a, "--seed")) {
      char *end;
      errno = 0;
      o->seed = strtoull(v, &end, 10);
      if (!*v || *end || errno || v[0] == '-')
        rc = cli_usage_error("--seed needs an unsigned integer, got '%s'", v);
    } else if (!strcmp(a, "--load")) {
      o->load = v;
    } else if (!strcmp(a, "--storage")) {
      o->storage = v;
    } else if (!strcmp(a, "--save")) {
      o->save = v;
    } else if (!strcmp(a, "--scenario")) {
      o->scenario = v;
    } else if (!strcmp(a, "--record")) {
      o->record = v;
    } else if (!strcmp(a, "--api-prefix")) {
      o->api_prefix = v;
    }
    if (rc != EXIT_OK) return rc;
  }
  if (!o->data_dir) return cli_usage_error("missing DATA_DIR");
  return EXIT_OK;
}

/* ---- the frame loop, shared by run and replay ------------------------------ */

typedef struct digest_ctx {
  json_t *sections; /* label → hex */
} digest_ctx;

static void collect_section(void *ud, const char *label, uint64_t hash) {
  digest_ctx *d = ud;
  char hex[17];
  snprintf(hex, sizeof hex, "%016" PRIx64, hash);
  json_object_set_new(d->sections, label, json_string(hex));
}

/* The state hash and, when `sections` is not NULL, each section's. */
static int state_of(cli_session *s, uint64_t *hash, json_t **sections) {
  if (cli_session_hash(s, hash) != 0) return -1;
  if (!sections) return 0;
  size_t len;
  char *host = cli_world_dump(&s->world, s->vm, &len);
  digest_ctx d = {json_object()};
  mb_status st = mb_vm_state_digest(s->vm, host, len, collect_section, &d);
  free(host);
  if (st != MB_OK) {
    json_decref(d.sections);
    return -1;
  }
  *sections = d.sections;
  return 0;
}

/* Which sections of two digests differ, as one readable line. */
static void describe_difference(json_t *want, json_t *got) {
  const char *k;
  json_t *v;
  int n = 0;
  fputs("  differing sections:", stderr);
  json_object_foreach(want, k, v) {
    json_t *g = json_object_get(got, k);
    if (!g) fprintf(stderr, "%s %s (missing)", n++ ? "," : "", k);
    else if (!json_equal(g, v)) fprintf(stderr, "%s %s (changed)", n++ ? "," : "", k);
  }
  json_object_foreach(got, k, v) {
    if (!json_object_get(want, k)) fprintf(stderr, "%s %s (new)", n++ ? "," : "", k);
  }
  if (!n) fputs(" none (the hash covers the same sections)", stderr);
  fputc('\n', stderr);
}

typedef struct run_ctx {
  const cli_options *o;
  scenario sc;
  json_t *record;        /* --record: hashes collected here */
  json_t *expect;        /* replay: the recorded hashes */
  size_t expect_at;
  int replay_failed;
} run_ctx;

static void progress(long f, long frames) {
  static long last = -1;
  long pct = frames ? f * 100 / frames : 100;
  if (pct == last && f != frames) return;
  last = pct;
  fprintf(stderr, "\r[%-40.*s] %3ld%% frame %ld/%ld", (int)(pct * 40 / 100),
          "########################################", pct, f, frames);
  if (f == frames) fputc('\n', stderr);
}

static int run_frames(cli_session *s, run_ctx *r) {
  const cli_options *o = r->o;
  size_t cursor = 0;
  long every = o->hash_every ? o->hash_every : (r->record || r->expect) ? 1 : 0;
  int bar = isatty(2) && !o->quiet && o->frames >= 100;
  for (long f = 1; f <= o->frames; f++) {
    if (scenario_apply(&r->sc, s, f, &cursor) != 0) return EXIT_USAGE;
    mb_vm_update(s->vm, o->dt);
    s->world.frames++;
    if (bar) progress(f, o->frames);
    if (!every || f % every) continue;
    uint64_t h;
    json_t *sections = NULL;
    if (state_of(s, &h, (r->record || r->expect) ? &sections : NULL) != 0)
      return EXIT_USAGE;
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, h);
    if (o->hash_every && f % o->hash_every == 0) printf("frame %ld state %s\n", f, hex);
    if (r->record) {
      json_array_append_new(r->record, json_pack("{s:I, s:s, s:o}", "frame",
                                                 (json_int_t)f, "state", hex,
                                                 "sections", sections));
      sections = NULL;
    }
    if (r->expect) {
      json_t *want = json_array_get(r->expect, r->expect_at);
      if (want && json_integer_value(json_object_get(want, "frame")) == f) {
        r->expect_at++;
        const char *ws = json_string_value(json_object_get(want, "state"));
        if (!ws || strcmp(ws, hex) != 0) {
          fflush(stdout);
          fprintf(stderr, "replay: frame %ld differs: recorded state %s, got %s\n", f,
                  ws ? ws : "?", hex);
          describe_difference(json_object_get(want, "sections"), sections);
          json_decref(sections);
          r->replay_failed = 1;
          return EXIT_SCRIPT;
        }
      }
    }
    json_decref(sections);
  }
  return EXIT_OK;
}

static int finish(cli_session *s, const cli_options *o, int rc) {
  if (rc == EXIT_OK && o->save && cli_session_save(s, o->save) != 0) rc = EXIT_USAGE;
  if (rc == EXIT_OK && o->storage && mb_vm_save_persistent(s->vm, o->storage) != MB_OK) {
    fprintf(stderr, "moonbox: cannot write %s: %s\n", o->storage, mb_vm_error(s->vm));
    rc = EXIT_USAGE;
  }
  if (!s->vm) return rc; /* the session never opened */
  if (o->profile) cli_print_profile(s->vm);
  /* console input from a scenario is a script too */
  if (rc == EXIT_OK && o->strict &&
      (mb_vm_script_errors(s->vm) > 0 || s->console_errors > 0))
    rc = EXIT_SCRIPT;
  return rc;
}

static json_t *options_json(const cli_options *o, const char *data_dir) {
  json_t *j = json_pack("{s:s, s:I, s:f, s:I, s:I}", "dataDir", data_dir, "frames",
                        (json_int_t)o->frames, "dt", o->dt, "seed",
                        (json_int_t)o->seed, "hashEvery", (json_int_t)o->hash_every);
  if (o->api_prefix) json_object_set_new(j, "apiPrefix", json_string(o->api_prefix));
  if (o->load) json_object_set_new(j, "load", json_string(o->load));
  return j;
}

int cmd_run(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    fputs(run_help, stdout);
    return EXIT_OK;
  }
  cli_options o;
  int rc = cli_parse_options(argc, argv, &o, 1);
  if (rc != EXIT_OK) return rc;
  run_ctx r;
  memset(&r, 0, sizeof r);
  r.o = &o;
  char err[1024];
  /* a bad scenario is refused before anything runs */
  if (o.scenario && scenario_load(&r.sc, o.scenario, err, sizeof err) != 0)
    return cli_usage_error("%s", err);
  cli_session s;
  rc = cli_session_open(&s, &o);
  if (rc == EXIT_OK && scenario_check_objects(&r.sc, &s, err, sizeof err) != 0)
    rc = cli_usage_error("%s: %s", o.scenario, err);
  if (o.profile && s.vm) mb_vm_set_profiling(s.vm, 1);
  if (o.record) r.record = json_array();
  if (rc == EXIT_OK) rc = run_frames(&s, &r);
  rc = finish(&s, &o, rc);
  if (o.record && rc != EXIT_USAGE) {
    char dir[4096];
    const char *abs = realpath(o.data_dir, dir) ? dir : o.data_dir;
    json_t *rec = json_pack("{s:s, s:i, s:o, s:O, s:o}", "moonbox", "record",
                            "version", 1, "options", options_json(&o, abs),
                            "scenario", r.sc.json ? r.sc.json : json_array(),
                            "hashes", r.record);
    r.record = NULL;
    if (json_dump_file(rec, o.record, JSON_INDENT(1) | JSON_SORT_KEYS) != 0) {
      fprintf(stderr, "moonbox: cannot write %s\n", o.record);
      rc = EXIT_USAGE;
    }
    json_decref(rec);
  }
  json_decref(r.record);
  scenario_free(&r.sc);
  cli_session_close(&s);
  return rc;
}

static const char replay_help[] =
    "usage: moonbox replay RECORD [--quiet]\n"
    "\n"
    "Re-run a run recorded with 'moonbox run --record RECORD' (same data\n"
    "directory, options and inputs) and check its state hashes frame by frame.\n"
    "Exit status: 0 every hash matches; 1 a frame differs (the first one and\n"
    "its differing sections are named on stderr); 2 bad usage or input.\n";

int cmd_replay(int argc, char **argv) {
  if (cli_wants_help(argc, argv) || argc < 2) {
    fputs(replay_help, argc < 2 ? stderr : stdout);
    return argc < 2 ? EXIT_USAGE : EXIT_OK;
  }
  json_error_t je;
  json_t *rec = json_load_file(argv[1], JSON_REJECT_DUPLICATES, &je);
  if (!rec) return cli_usage_error("%s:%d: %s", argv[1], je.line, je.text);
  json_t *opt = json_object_get(rec, "options");
  cli_options o;
  memset(&o, 0, sizeof o);
  if (!json_is_object(opt) ||
      strcmp(json_string_value(json_object_get(rec, "moonbox")) ? json_string_value(json_object_get(rec, "moonbox")) : "", "record") ||
      !json_is_string(json_object_get(opt, "dataDir"))) {
    json_decref(rec);
    return cli_usage_error("%s is not a moonbox record", argv[1]);
  }
  o.data_dir = json_string_value(json_object_get(opt, "dataDir"));
  o.frames = (long)json_integer_value(json_object_get(opt, "frames"));
  o.dt = json_number_value(json_object_get(opt, "dt"));
  o.seed = (uint64_t)json_integer_value(json_object_get(opt, "seed"));
  o.hash_every = (long)json_integer_value(json_object_get(opt, "hashEvery"));
  o.api_prefix = json_string_value(json_object_get(opt, "apiPrefix"));
  o.load = json_string_value(json_object_get(opt, "load"));
  o.quiet = argc > 2 && !strcmp(argv[2], "--quiet");
  run_ctx r;
  memset(&r, 0, sizeof r);
  r.o = &o;
  r.expect = json_object_get(rec, "hashes");
  char err[1024];
  if (scenario_from_json(&r.sc, json_object_get(rec, "scenario"), err, sizeof err) != 0) {
    json_decref(rec);
    return cli_usage_error("%s: %s", argv[1], err);
  }
  cli_session s;
  int rc = cli_session_open(&s, &o);
  if (rc == EXIT_OK) rc = run_frames(&s, &r);
  if (rc == EXIT_OK)
    printf("replay ok: %ld frames, %zu state hashes match\n", o.frames, r.expect_at);
  scenario_free(&r.sc);
  cli_session_close(&s);
  json_decref(rec);
  return rc;
}

static const char check_help[] =
    "usage: moonbox check DATA_DIR\n"
    "\n"
    "Compile every script of the manifests, start the world of DATA_DIR and\n"
    "report every error. Exit status: 0 no errors, 1 errors, 2 bad usage.\n";

int cmd_check(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    fputs(check_help, stdout);
    return EXIT_OK;
  }
  cli_options o;
  int rc = cli_parse_options(argc, argv, &o, 0);
  if (rc != EXIT_OK) return rc;
  cli_session s;
  o.no_start = 1;
  rc = cli_session_open(&s, &o);
  int errors = 0;
  if (rc == EXIT_OK) {
    /* every script compiles, even those nothing attaches ... */
    for (size_t i = 0; i < mb_vm_script_count(s.vm); i++) {
      const char *path = mb_vm_script_path(s.vm, i);
      if (mb_vm_compile_file(s.vm, path) != MB_OK) {
        fprintf(stderr, "%s\n", mb_vm_error(s.vm));
        errors++;
      }
    }
    /* ... and only then does the world start: a broken file is one error */
    if (!errors) {
      rc = cli_session_start(&s, &o);
      errors += (int)mb_vm_script_errors(s.vm);
    }
  }
  if (rc == EXIT_OK) {
    if (errors) {
      fprintf(stderr, "%d error%s\n", errors, errors == 1 ? "" : "s");
      rc = EXIT_SCRIPT;
    } else if (!o.quiet) {
      printf("%zu scripts ok\n", mb_vm_script_count(s.vm));
    }
  }
  cli_session_close(&s);
  return rc;
}
