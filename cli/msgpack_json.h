/* JSON <-> msgpack (see msgpack_json.c). */
#ifndef MB_CLI_MSGPACK_JSON_H
#define MB_CLI_MSGPACK_JSON_H

#include <stddef.h>

#include <jansson.h>

/* A JSON value as msgpack bytes (malloc'd, *out). null is refused inside
 * objects and arrays (scripts cannot hold nil in tables): -1 and a reason
 * naming the path from "data". */
int cli_json_to_msgpack(json_t *v, char **out, size_t *size, char *err,
                        size_t errsize);

/* msgpack bytes as JSON: engine values as {"$ext": …}, binary strings as
 * {"$bytes": hex}, non-finite numbers as {"$float": …}, maps with other
 * than string keys as {"$map": [[k, v], …]}. Bytes that are not one
 * msgpack value come back as {"$bytes": hex}. */
json_t *cli_msgpack_to_json(const void *data, size_t size);

/* A number as JSON: non-finite ones as {"$float": "nan"|"inf"|"-inf"}. */
json_t *cli_json_number(double d);

#endif
