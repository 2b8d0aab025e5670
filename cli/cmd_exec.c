/* moonbox exec DATA_DIR FILE.lua */
#include <string.h>

#include "cli/cli.h"

static const char exec_help[] =
    "usage: moonbox exec DATA_DIR FILE.lua\n"
    "\n"
    "Run FILE.lua (a path inside DATA_DIR) once as a global script in a fresh\n"
    "sandbox. Its print() lines go to stdout as 'global[FILE.lua]:\\t...'.\n"
    "Exit status: 0 success, 1 the script failed (error and traceback on\n"
    "stderr), 2 bad usage or unreadable input.\n";

int cmd_exec(int argc, char **argv) {
  if (argc >= 2 && cli_is_help(argv[1])) {
    fputs(exec_help, stdout);
    return EXIT_OK;
  }
  if (argc != 3) return cli_usage_error("exec needs DATA_DIR and FILE.lua (see moonbox exec --help)");
  cli_log log = {0, 0};
  mb_config cfg;
  mb_config_init(&cfg);
  cfg.log = cli_log_fn;
  cfg.log_ud = &log;
  mb_vm *vm = NULL;
  if (mb_vm_new(&cfg, &vm) != MB_OK) return cli_usage_error("cannot create a VM: out of memory");
  int rc = EXIT_OK;
  mb_status st = mb_vm_mount_dir(vm, argv[1]);
  if (st != MB_OK) {
    rc = cli_usage_error("%s", mb_vm_error(vm));
    goto done;
  }
  st = mb_vm_exec_file(vm, cli_vfs_path(argv[1], argv[2]));
  if (st == MB_ENOTFOUND || st == MB_EDENIED || st == MB_EIO) {
    rc = cli_usage_error("%s", mb_vm_error(vm));
  } else if (st != MB_OK) {
    fflush(stdout);
    fprintf(stderr, "%s\n", mb_vm_error(vm));
    rc = EXIT_SCRIPT;
  }
done:
  fflush(stdout);
  mb_vm_free(vm);
  return rc;
}
