/* moonbox: the command-line host. */
#include <string.h>

#include "cli/cli.h"

static const char main_help[] =
    "usage: moonbox COMMAND [ARGS]\n"
    "\n"
    "Run sandboxed game-mod Lua scripts headless.\n"
    "\n"
    "commands:\n"
    "  exec DATA_DIR FILE.lua   run one script in a fresh sandbox, print its output\n"
    "  run DATA_DIR [options]   load manifests and world, run frames, save\n"
    "  check DATA_DIR           load every script, report errors\n"
    "  replay RECORD            re-run a recorded run and compare its state hashes\n"
    "  console DATA_DIR         interactive Lua console in the world's contexts\n"
    "  save info|verify|dump|diff ...   inspect save files\n"
    "\n"
    "moonbox COMMAND --help shows the options of a command.\n"
    "moonbox --version prints the version.\n";

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(main_help, stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (cli_is_help(cmd) || !strcmp(cmd, "help")) {
    fputs(main_help, stdout);
    return EXIT_OK;
  }
  if (!strcmp(cmd, "--version")) {
    printf("moonbox %s\n", mb_version());
    return EXIT_OK;
  }
  if (!strcmp(cmd, "exec")) return cmd_exec(argc - 1, argv + 1);
  if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
  if (!strcmp(cmd, "check")) return cmd_check(argc - 1, argv + 1);
  if (!strcmp(cmd, "replay")) return cmd_replay(argc - 1, argv + 1);
  if (!strcmp(cmd, "console")) return cmd_console(argc - 1, argv + 1);
  if (!strcmp(cmd, "save")) return cmd_save(argc - 1, argv + 1);
  return cli_usage_error("unknown command '%s' (see moonbox --help)", cmd);
}
