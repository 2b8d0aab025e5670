/* Internal interface of the save-file container. The public API (mb_save_*)
 * is declared in include/moonbox.h; the layout is in FORMAT.md. */
#ifndef MB_SERIALIZER_SAVEFILE_H
#define MB_SERIALIZER_SAVEFILE_H

#include <stddef.h>
#include <stdint.h>

#include "moonbox.h"

/* Sizes of the fixed parts of a save file. */
#define MB__SAVE_PREAMBLE_SIZE 16
#define MB__SAVE_FOOTER_SIZE 32
#define MB__SAVE_MAGIC "MBSAVE\r\n"
#define MB__SAVE_END_MAGIC "MBSAVEND"

/* The checksum of a payload (XXH3-64). */
uint64_t mb__save_checksum(const void *data, size_t size);

/* Test hook: make the next mb_save_write_file() stop after writing `bytes`
 * bytes of the temporary file, as if the process died there (`crash` = 1:
 * the temporary file is left behind and nothing renamed) or the disk failed
 * (`crash` = 0: the normal error path runs). `bytes` < 0 disables it. */
void mb__save_set_write_fault(mb_save *save, long bytes, int crash);

#endif
