/* Fuzz the save-file reader: any bytes must be read or refused with a
 * message, never crash or leak; what was read must be written back and
 * read again to the same sections (write(read(.)) is a fixpoint). */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "serializer/codec.h"
#include "serializer/savefile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const mb_save *a, const mb_save *b) {
  if (mb_save_section_count(a) != mb_save_section_count(b)) abort();
  if (mb_save_field_count(a) != mb_save_field_count(b)) abort();
  for (size_t i = 0; i < mb_save_section_count(a); i++) {
    mb_save_section x, y;
    mb_save_section_at(a, i, &x);
    mb_save_section_at(b, i, &y);
    if (strcmp(x.kind, y.kind) || strcmp(x.container, y.container) ||
        strcmp(x.path, y.path) || x.size != y.size ||
        x.checksum != y.checksum || x.checksum_ok != y.checksum_ok ||
        (x.size && memcmp(x.payload, y.payload, x.size)))
      abort();
  }
}

static int check(const uint8_t *data, size_t size);

/* The footer checksum guards the index, so random bytes seldom get past it;
 * each input is therefore also tried with that checksum recomputed, which
 * lets the fuzzer reach the index parser and the section checks. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check(data, size);
  if (size < 48 || size > (1u << 20) || memcmp(data, "MBSAVE\r\n", 8) != 0)
    return 0;
  uint8_t *copy = malloc(size);
  memcpy(copy, data, size);
  uint8_t *foot = copy + size - 32;
  uint64_t ioff = 0, isize = 0;
  for (int i = 7; i >= 0; i--) {
    ioff = (ioff << 8) | foot[i];
    isize = (isize << 8) | foot[8 + i];
  }
  if (ioff >= 16 && ioff <= size - 32 && isize == size - 32 - ioff) {
    uint64_t sum =
        XXH3_64bits_withSeed(copy + ioff, (size_t)isize, XXH3_64bits(copy, 16));
    for (int i = 0; i < 8; i++)
      foot[16 + i] = (uint8_t)(sum >> (8 * i));
    check(copy, size);
  }
  free(copy);
  return 0;
}

static int check(const uint8_t *data, size_t size) {
  static lua_State *L;
  if (!L) L = luaL_newstate();
  mb_save *s, *r;
  if (mb_save_new(NULL, NULL, &s) || mb_save_new(NULL, NULL, &r)) abort();
  mb_status st = mb_save_read_memory(s, data, size);
  mb_save_state ss = mb_save_get_state(s);
  if (st != MB_OK) {
    if (st != MB_ECORRUPT || !mb_save_error(s)[0]) abort();
    if (ss != MB_SAVE_CORRUPT && ss != MB_SAVE_NOT_A_SAVE) abort();
    if (mb_save_section_count(s) != 0) abort();
  } else {
    if (ss != MB_SAVE_INTACT && ss != MB_SAVE_DAMAGED) abort();
    void *out, *out2;
    size_t n, n2;
    if (mb_save_write_memory(s, &out, &n) != MB_OK) abort();
    if (mb_save_read_memory(r, out, n) != MB_OK) abort();
    if (mb_save_header_ok(s) && mb_save_field_count(s) > 0) {
      mb_save_field f;
      if (mb_save_field_get(r, "format", &f) != MB_OK) abort();
    }
    /* the header is rewritten, so fields may gain "format"; sections and
     * their checksum verdicts survive exactly */
    if (mb_save_section_count(s) != mb_save_section_count(r)) abort();
    for (size_t i = 0; i < mb_save_section_count(s); i++) {
      mb_save_section x, y;
      mb_save_section_at(s, i, &x);
      mb_save_section_at(r, i, &y);
      if (strcmp(x.kind, y.kind) || x.size != y.size ||
          x.checksum_ok != y.checksum_ok || x.checksum != y.checksum)
        abort();
      if (x.checksum_ok && x.size < 4096) {
        mb_decode(L, x.payload, x.size, NULL); /* exercise; any result */
        lua_settop(L, 0);
      }
    }
    if (mb_save_write_memory(r, &out2, &n2) != MB_OK) abort();
    if (n != n2 || memcmp(out, out2, n) != 0) abort();
    mb_save *t;
    if (mb_save_new(NULL, NULL, &t) || mb_save_read_memory(t, out2, n2))
      abort();
    same(r, t);
    mb_save_free(t);
    mb_save_release(s, out, n);
    mb_save_release(r, out2, n2);
  }
  mb_save_free(s);
  mb_save_free(r);
  return 0;
}
