#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

void cli_log_fn(void *ud, mb_log_level level, const char *msg) {
  cli_log *log = ud;
  if (level == MB_LOG_PRINT) {
    fputs(msg, stdout);
    fputc('\n', stdout);
    return;
  }
  if (level == MB_LOG_ERROR) log->errors++;
  if (log->quiet && level < MB_LOG_WARN) return;
  fflush(stdout); /* keep prints and errors in order on a shared terminal */
  fputs(msg, stderr);
  fputc('\n', stderr);
}

int cli_usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("moonbox: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return EXIT_USAGE;
}

void cli_out_of_memory(void) {
  fputs("moonbox: out of memory\n", stderr);
  exit(EXIT_USAGE);
}

char *cli_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (!d) cli_out_of_memory();
  return memcpy(d, s, n);
}

int cli_is_help(const char *arg) {
  return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

int cli_wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (cli_is_help(argv[i])) return 1;
  return 0;
}

const char *cli_vfs_path(const char *data_dir, const char *file) {
  size_t n = strlen(data_dir);
  while (n > 1 && data_dir[n - 1] == '/') n--;
  if (strncmp(file, data_dir, n) == 0 && file[n] == '/') {
    file += n;
    while (*file == '/') file++;
  }
  return file;
}
