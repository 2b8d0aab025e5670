#include <stdarg.h>
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

const char *cli_vfs_path(const char *data_dir, const char *file) {
  size_t n = strlen(data_dir);
  while (n > 1 && data_dir[n - 1] == '/') n--;
  if (strncmp(file, data_dir, n) == 0 && file[n] == '/') {
    file += n;
    while (*file == '/') file++;
  }
  return file;
}
