/* moonbox console DATA_DIR [--load SAVE]: an interactive Lua console in the
 * contexts of a running world. Reads plain lines when stdin is not a
 * terminal, so tests and scripts can pipe commands into it. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "cli/scenario.h"
#include "cli/session.h"

static const char console_help[] =
    "usage: moonbox console DATA_DIR [--load SAVE] [--seed N] [--api-prefix NAME]\n"
    "\n"
    "Lua input runs in the current context (tried as an expression first, then\n"
    "as a statement; incomplete input continues on the next line). Commands:\n"
    "  lua global | luag          the global scripts' context\n"
    "  lua player | luap          the player's context\n"
    "  lua selected ID | luas ID  object ID's context\n"
    "  step [N [DT]]              run N frames (default 1) of DT seconds (0.1)\n"
    "  save FILE | load FILE      save the world, or load a save\n"
    "  reloadlua                  hot-reload every script\n"
    "  help | exit\n";

typedef struct console {
  cli_session *s;
  char context[256]; /* "global", "player" or an object id */
  int interactive;
} console;

/* One line of input, without its newline; NULL at the end. free() it. */
static char *read_line(console *c, const char *prompt) {
  if (c->interactive) {
    char *line = readline(prompt);
    if (line && *line) add_history(line);
    return line;
  }
  size_t cap = 256, len = 0;
  char *buf = malloc(cap);
  int ch;
  while (buf && (ch = getchar()) != EOF && ch != '\n') {
    if (len + 1 == cap) {
      char *bigger = realloc(buf, cap *= 2);
      if (!bigger) break;
      buf = bigger;
    }
    buf[len++] = (char)ch;
  }
  if (!buf || (len == 0 && ch == EOF)) {
    free(buf);
    return NULL;
  }
  buf[len] = 0;
  return buf;
}

static int incomplete(const char *msg) {
  size_t n = strlen(msg);
  return n >= 7 && strcmp(msg + n - 7, "'<eof>'") == 0;
}

static void run_lua(console *c, char *code) {
  const char *target = cli_console_target(c->s, c->context);
  for (;;) {
    const char *result = NULL;
    mb_status st = mb_vm_console(c->s->vm, target, code, &result);
    if (st == MB_ECORRUPT && incomplete(mb_vm_error(c->s->vm))) {
      char *more = read_line(c, ">> ");
      if (!more) break;
      size_t n = strlen(code) + strlen(more) + 2;
      char *joined = malloc(n);
      if (!joined) {
        free(more);
        break;
      }
      snprintf(joined, n, "%s\n%s", code, more);
      free(more);
      free(code);
      code = joined;
      continue;
    }
    fflush(stdout);
    if (st == MB_OK && result && *result) printf("%s\n", result);
    else if (st != MB_OK) fprintf(stderr, "error: %s\n", mb_vm_error(c->s->vm));
    break;
  }
  free(code);
}

static int command(console *c, char *line) {
  char *args = line + strcspn(line, " \t");
  if (*args) *args++ = 0;
  args += strspn(args, " \t");
  cli_session *s = c->s;
  if (!strcmp(line, "exit") || !strcmp(line, "quit")) return 1;
  if (!strcmp(line, "help")) {
    fputs(console_help, stdout);
  } else if ((!strcmp(line, "lua") && !strcmp(args, "global")) || !strcmp(line, "luag")) {
    snprintf(c->context, sizeof c->context, "global");
  } else if ((!strcmp(line, "lua") && !strcmp(args, "player")) || !strcmp(line, "luap")) {
    snprintf(c->context, sizeof c->context, "player");
  } else if ((!strcmp(line, "lua") && !strncmp(args, "selected", 8)) || !strcmp(line, "luas")) {
    const char *id = !strcmp(line, "luas") ? args : args + 8 + strspn(args + 8, " \t");
    mb_object_info info;
    if (!*id || mb_vm_object_info(s->vm, id, &info) != MB_OK)
      fprintf(stderr, "error: no object '%s'\n", id);
    else
      snprintf(c->context, sizeof c->context, "%s", id);
  } else if (!strcmp(line, "step")) {
    long n = *args ? strtol(args, &args, 10) : 1;
    double dt = *args ? strtod(args, NULL) : 0.1;
    if (n < 0 || !(dt >= 0)) fprintf(stderr, "error: step [N [DT]]\n");
    for (long i = 0; i < n; i++) {
      mb_vm_update(s->vm, dt);
      s->world.frames++;
    }
  } else if (!strcmp(line, "save") && *args) {
    if (cli_session_save(s, args) == 0) printf("saved %s\n", args);
  } else if (!strcmp(line, "load") && *args) {
    if (mb_vm_load(s->vm, args, cli_world_host_load, &s->world) != MB_OK)
      fprintf(stderr, "error: cannot load %s: %s\n", args, mb_vm_error(s->vm));
    else
      printf("loaded %s\n", args);
  } else if (!strcmp(line, "reloadlua")) {
    if (mb_vm_reload(s->vm) != MB_OK)
      fprintf(stderr, "error: %s\n", mb_vm_error(s->vm));
    else
      printf("reloaded\n");
  } else {
    return -1; /* not a command */
  }
  return 0;
}

int cmd_console(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    fputs(console_help, stdout);
    return EXIT_OK;
  }
  cli_options o;
  int rc = cli_parse_options(argc, argv, &o, 0);
  if (rc != EXIT_OK) return rc;
  cli_session s;
  rc = cli_session_open(&s, &o);
  if (rc != EXIT_OK) {
    cli_session_close(&s);
    return rc;
  }
  console c = {&s, "global", isatty(0)};
  for (;;) {
    char prompt[300];
    snprintf(prompt, sizeof prompt, "%s> ", c.context);
    fflush(stdout);
    char *line = read_line(&c, prompt);
    if (!line) break;
    char *p = line + strspn(line, " \t");
    if (!*p) {
      free(line);
      continue;
    }
    char copy[512];
    snprintf(copy, sizeof copy, "%s", p);
    int done = strlen(p) < sizeof copy ? command(&c, copy) : -1;
    if (done == 1) {
      free(line);
      break;
    }
    if (done == -1) {
      size_t n = strlen(p) + 1;
      char *code = malloc(n);
      if (code) {
        memcpy(code, p, n);
        run_lua(&c, code);
      }
    }
    free(line);
  }
  if (c.interactive) putchar('\n');
  cli_session_close(&s);
  return EXIT_OK;
}
