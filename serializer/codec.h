/* Internal interface of the strict Lua value <-> msgpack codec.
 * The public entry points are in include/moonbox.h. */
#ifndef MB_SERIALIZER_CODEC_H
#define MB_SERIALIZER_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include "moonbox.h"
#include "serializer/buffer.h"

/* Engine values travel as msgpack ext types. A registration binds an ext
 * type id to a metatable: a table or userdata whose metatable is exactly
 * that one is encoded by `encode`, and ext payloads of that id are decoded
 * by `decode`.
 *
 * encode: append the payload bytes of the value at `idx` to `out`; return
 *   NULL, or a static message on failure (shown after the path).
 * decode: push exactly one value built from `size` payload bytes; return
 *   NULL, or a static message for a bad payload (then push nothing). It runs
 *   in protected mode and may raise memory errors. */
/* What an encode callback returns when the buffer could not grow. */
extern const char mb__ext_nomem[];

typedef const char *(*mb__ext_encode_fn)(lua_State *L, int idx, mb__buf *out,
                                         void *ud);
typedef const char *(*mb__ext_decode_fn)(lua_State *L, const uint8_t *payload,
                                         size_t size, void *ud);

/* Register ext type `type` (0..127) named `name` (copied, < 32 bytes) for
 * values whose metatable is the table at `mt_idx`. The registry lives in the
 * Lua registry of L (one per lua_State). MB_EINVAL for a bad id, a name too
 * long, or an id or metatable already registered; MB_ENOMEM. Never raises. */
mb_status mb__ext_register(lua_State *L, int type, const char *name, int mt_idx,
                           mb__ext_encode_fn encode, mb__ext_decode_fn decode,
                           void *ud);

/* Append the encoding of the value at `idx` to `out` (owned by the caller;
 * on failure its length is restored). Protected: never raises; on failure
 * pushes the message (MB_EINVAL / MB_ENOMEM). */
mb_status mb__encode(lua_State *L, int idx, const mb_codec_options *opt,
                     mb__buf *out);

/* Decode; as mb_decode(). */
mb_status mb__decode(lua_State *L, const uint8_t *data, size_t size,
                     const mb_codec_options *opt);

/* Lua-callable forms (they raise the message as a Lua error):
 *   encode(value [, root_name]) -> string
 *   decode(string) -> value */
int mb__lua_encode(lua_State *L);
int mb__lua_decode(lua_State *L);

#endif
