/* A headless world: VM, data directory, manifests and world, as `run`,
 * `check`, `console` and `replay` open it. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "cli/session.h"

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.omwscripts directly in DATA_DIR, in byte order of file name. */
static int add_manifests(cli_session *s) {
  DIR *d = opendir(s->data_dir);
  if (!d) return cli_usage_error("cannot read %s", s->data_dir);
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len <= 11 || strcmp(e->d_name + len - 11, ".omwscripts") != 0) continue;
    char **a = realloc(names, (n + 1) * sizeof *a);
    if (!a) break;
    names = a;
    names[n] = malloc(len + 1);
    if (!names[n]) break;
    memcpy(names[n++], e->d_name, len + 1);
  }
  closedir(d);
  if (n) qsort(names, n, sizeof *names, by_name);
  int rc = EXIT_OK;
  for (size_t i = 0; i < n; i++) {
    if (rc == EXIT_OK && mb_vm_add_manifest(s->vm, names[i]) != MB_OK)
      rc = cli_usage_error("%s", mb_vm_error(s->vm));
    free(names[i]);
  }
  free(names);
  return rc;
}

int cli_session_open(cli_session *s, const cli_options *o) {
  memset(s, 0, sizeof *s);
  s->data_dir = o->data_dir;
  s->log.quiet = o->quiet;
  mb_config cfg;
  mb_config_init(&cfg);
  cfg.log = cli_log_fn;
  cfg.log_ud = &s->log;
  cfg.seed = o->seed;
  if (o->api_prefix) cfg.api_prefix = o->api_prefix;
  mb_status st = mb_vm_new(&cfg, &s->vm);
  if (st == MB_EINVAL)
    return cli_usage_error("bad --api-prefix '%s' (a name without dots)", o->api_prefix);
  if (st != MB_OK) return cli_usage_error("cannot create a VM: out of memory");
  if (mb_vm_mount_dir(s->vm, o->data_dir) != MB_OK)
    return cli_usage_error("%s", mb_vm_error(s->vm));
  if (cli_register_types(s->vm) != 0)
    return cli_usage_error("%s", mb_vm_error(s->vm));
  int rc = add_manifests(s);
  if (rc != EXIT_OK) return rc;
  /* Persistent storage is there before any script starts */
  if (o->storage) {
    mb_status ps = mb_vm_load_persistent(s->vm, o->storage);
    if (ps != MB_OK && ps != MB_ENOTFOUND)
      return cli_usage_error("cannot read %s: %s", o->storage, mb_vm_error(s->vm));
  }
  return o->no_start ? EXIT_OK : cli_session_start(s, o);
}

int cli_session_start(cli_session *s, const cli_options *o) {
  char err[1024];
  if (o->load) {
    if (mb_vm_load(s->vm, o->load, cli_world_host_load, &s->world) != MB_OK)
      return cli_usage_error("cannot load %s: %s", o->load, mb_vm_error(s->vm));
    return EXIT_OK;
  }
  if (cli_world_new_game(&s->world, s->vm, o->data_dir, err, sizeof err) != 0)
    return cli_usage_error("%s", err);
  mb_vm_start(s->vm);
  if (cli_world_attach(&s->world, s->vm, err, sizeof err) != 0)
    return cli_usage_error("%s", err);
  return EXIT_OK;
}

int cli_session_save(cli_session *s, const char *path) {
  size_t len;
  char *host = cli_world_dump(&s->world, s->vm, &len);
  mb_status st = mb_vm_save(s->vm, path, host, len);
  free(host);
  if (st != MB_OK) {
    fprintf(stderr, "moonbox: cannot save %s: %s\n", path, mb_vm_error(s->vm));
    return -1;
  }
  return 0;
}

int cli_session_hash(cli_session *s, uint64_t *hash) {
  size_t len;
  char *host = cli_world_dump(&s->world, s->vm, &len);
  mb_status st = mb_vm_state_hash(s->vm, host, len, hash);
  free(host);
  if (st != MB_OK) {
    fprintf(stderr, "moonbox: cannot hash the state: %s\n", mb_vm_error(s->vm));
    return -1;
  }
  return 0;
}

void cli_session_close(cli_session *s) {
  fflush(stdout);
  mb_vm_free(s->vm);
  cli_world_free(&s->world);
}

static int by_seconds(const void *a, const void *b) {
  const mb_profile_entry *x = a, *y = b;
  return x->seconds < y->seconds ? 1 : x->seconds > y->seconds ? -1 : 0;
}

static int by_allocated(const void *a, const void *b) {
  const mb_profile_entry *x = a, *y = b;
  return x->allocated < y->allocated ? 1 : x->allocated > y->allocated ? -1 : 0;
}

void cli_print_profile(mb_vm *vm) {
  size_t n = mb_vm_profile(vm, NULL, 0);
  mb_profile_entry *e = calloc(n + 1, sizeof *e);
  if (!e) return;
  n = mb_vm_profile(vm, e, n);
  size_t top = n < 10 ? n : 10;
  if (n) qsort(e, n, sizeof *e, by_seconds);
  fprintf(stderr, "profile: top scripts by time\n");
  for (size_t i = 0; i < top; i++)
    fprintf(stderr, "  %10.3f ms %8llu calls  %s\n", e[i].seconds * 1e3,
            (unsigned long long)e[i].calls, e[i].label);
  if (n) qsort(e, n, sizeof *e, by_allocated);
  fprintf(stderr, "profile: top scripts by memory (allocated, still held)\n");
  for (size_t i = 0; i < top; i++)
    fprintf(stderr, "  %12llu %10lld bytes  %s\n", (unsigned long long)e[i].allocated,
            (long long)e[i].bytes, e[i].label);
  free(e);
}
