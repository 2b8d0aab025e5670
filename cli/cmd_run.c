/* moonbox run DATA_DIR [options] and moonbox check DATA_DIR */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    "  --api-prefix NAME package prefix (default 'engine')\n"
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
    int known = !strcmp(a, "--load") || !strcmp(a, "--seed") ||
                !strcmp(a, "--api-prefix") ||
                (allow_run && (!strcmp(a, "--frames") || !strcmp(a, "--dt") ||
                               !strcmp(a, "--save") || !strcmp(a, "--scenario") ||
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
    } else if (!strcmp(a, "--save")) {
      o->save = v;
    } else if (!strcmp(a, "--scenario")) {
      o->scenario = v;
    } else if (!strcmp(a, "--api-prefix")) {
      o->api_prefix = v;
    }
    if (rc != EXIT_OK) return rc;
  }
  if (!o->data_dir) return cli_usage_error("missing DATA_DIR");
  return EXIT_OK;
}

static int wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
  }
  return 0;
}

int cmd_run(int argc, char **argv) {
  if (wants_help(argc, argv)) {
    fputs(run_help, stdout);
    return EXIT_OK;
  }
  cli_options o;
  int rc = cli_parse_options(argc, argv, &o, 1);
  if (rc != EXIT_OK) return rc;
  cli_session s;
  rc = cli_session_open(&s, &o);
  for (long f = 1; rc == EXIT_OK && f <= o.frames; f++) {
    mb_vm_update(s.vm, o.dt);
    s.world.frames++;
    if (o.hash_every && f % o.hash_every == 0) {
      uint64_t h;
      if (cli_session_hash(&s, &h) != 0) {
        rc = EXIT_USAGE;
        break;
      }
      printf("frame %ld state %016" PRIx64 "\n", f, h);
    }
  }
  if (rc == EXIT_OK && o.save && cli_session_save(&s, o.save) != 0)
    rc = EXIT_USAGE;
  if (rc == EXIT_OK && o.strict && mb_vm_script_errors(s.vm) > 0) rc = EXIT_SCRIPT;
  cli_session_close(&s);
  return rc;
}

static const char check_help[] =
    "usage: moonbox check DATA_DIR\n"
    "\n"
    "Compile every script of the manifests, start the world of DATA_DIR and\n"
    "report every error. Exit status: 0 no errors, 1 errors, 2 bad usage.\n";

int cmd_check(int argc, char **argv) {
  if (wants_help(argc, argv)) {
    fputs(check_help, stdout);
    return EXIT_OK;
  }
  cli_options o;
  int rc = cli_parse_options(argc, argv, &o, 0);
  if (rc != EXIT_OK) return rc;
  cli_session s;
  rc = cli_session_open(&s, &o);
  int errors = 0;
  if (rc == EXIT_OK) {
    for (size_t i = 0; i < mb_vm_script_count(s.vm); i++) {
      const char *path = mb_vm_script_path(s.vm, i);
      if (mb_vm_compile_file(s.vm, path) != MB_OK) {
        fprintf(stderr, "%s\n", mb_vm_error(s.vm));
        errors++;
      }
    }
    errors += (int)mb_vm_script_errors(s.vm);
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
