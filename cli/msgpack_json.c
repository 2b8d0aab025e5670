/* JSON <-> msgpack for the command: scenario data and the world section
 * go in as msgpack, saves come out as readable JSON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "cli/msgpack_json.h"

/* ---- JSON data → msgpack ------------------------------------------------------ */

/* Pack `v`; on a value scripts could not have sent, write why to err. */
static int pack_json(msgpack_packer *pk, json_t *v, int top, char *path,
                     size_t pathsize, char *err, size_t errsize) {
  size_t len = strlen(path);
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    msgpack_pack_map(pk, json_object_size(v));
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
      msgpack_pack_str(pk, strlen(k));
      msgpack_pack_str_body(pk, k, strlen(k));
      snprintf(path + len, pathsize - len, ".%s", k);
      if (pack_json(pk, x, 0, path, pathsize, err, errsize)) return -1;
      path[len] = 0;
    }
    return 0;
  }
  case JSON_ARRAY: {
    msgpack_pack_array(pk, json_array_size(v));
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
      snprintf(path + len, pathsize - len, "[%zu]", i + 1);
      if (pack_json(pk, x, 0, path, pathsize, err, errsize)) return -1;
      path[len] = 0;
    }
    return 0;
  }
  case JSON_STRING:
    msgpack_pack_str(pk, json_string_length(v));
    msgpack_pack_str_body(pk, json_string_value(v), json_string_length(v));
    return 0;
  case JSON_INTEGER:
    msgpack_pack_int64(pk, json_integer_value(v));
    return 0;
  case JSON_REAL:
    msgpack_pack_double(pk, json_real_value(v));
    return 0;
  case JSON_TRUE:
    msgpack_pack_true(pk);
    return 0;
  case JSON_FALSE:
    msgpack_pack_false(pk);
    return 0;
  case JSON_NULL:
    if (top) {
      msgpack_pack_nil(pk);
      return 0;
    }
    snprintf(err, errsize, "%s: null is not allowed inside data (leave the key out)", path);
    return -1;
  }
  return -1;
}

int cli_json_to_msgpack(json_t *v, char **out, size_t *size, char *err,
                        size_t errsize) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  char path[512] = "data";
  if (pack_json(&pk, v, 1, path, sizeof path, err, errsize)) {
    msgpack_sbuffer_destroy(&sb);
    return -1;
  }
  *out = sb.data;
  *size = sb.size;
  return 0;
}

/* ---- msgpack → JSON ---------------------------------------------------------- */

static json_t *hex_bytes(const char *tag, const void *p, size_t n) {
  char *hex = malloc(n * 2 + 1);
  if (!hex) return json_null();
  hex[0] = 0; /* n may be 0 (found by fuzz_world) */
  for (size_t i = 0; i < n; i++) sprintf(hex + 2 * i, "%02x", ((const unsigned char *)p)[i]);
  json_t *j = json_pack("{s:s}", tag, hex);
  free(hex);
  return j;
}

static double be_double(const char *p) {
  uint64_t u = 0;
  for (int i = 0; i < 8; i++) u = (u << 8) | (unsigned char)p[i];
  double d;
  memcpy(&d, &u, 8);
  return d;
}

json_t *cli_json_number(double d) {
  if (isfinite(d)) return json_real(d);
  return json_pack("{s:s}", "$float", isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
}

/* Engine values as tagged objects; ext ids are those of api/api.h. */
static json_t *ext_json(const msgpack_object_ext *e) {
  if ((e->type == 1 || e->type == 2) && e->size == (uint32_t)(e->type + 1) * 8) {
    json_t *v = json_array();
    for (int i = 0; i <= e->type; i++) json_array_append_new(v, cli_json_number(be_double(e->ptr + 8 * i)));
    return json_pack("{s:s, s:o}", "$ext", e->type == 1 ? "vector2" : "vector3", "value", v);
  }
  if (e->type == 3) {
    json_t *id = json_stringn(e->ptr, e->size);
    if (id) return json_pack("{s:s, s:o}", "$ext", "object", "id", id);
  }
  json_t *j = hex_bytes("bytes", e->ptr, e->size);
  json_object_set_new(j, "$ext", json_integer(e->type));
  return j;
}

static json_t *to_json(const msgpack_object *o) {
  switch (o->type) {
  case MSGPACK_OBJECT_NIL: return json_null();
  case MSGPACK_OBJECT_BOOLEAN: return json_boolean(o->via.boolean);
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    if (o->via.u64 > INT64_MAX) return json_real((double)o->via.u64);
    return json_integer((json_int_t)o->via.u64);
  case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer(o->via.i64);
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64: return cli_json_number(o->via.f64);
  case MSGPACK_OBJECT_STR: {
    /* binary strings are escaped as hex */
    if (o->via.str.size == 0) return json_string("");
    json_t *s = json_stringn(o->via.str.ptr, o->via.str.size);
    return s ? s : hex_bytes("$bytes", o->via.str.ptr, o->via.str.size);
  }
  case MSGPACK_OBJECT_BIN: return hex_bytes("$bytes", o->via.bin.ptr, o->via.bin.size);
  case MSGPACK_OBJECT_EXT: return ext_json(&o->via.ext);
  case MSGPACK_OBJECT_ARRAY: {
    json_t *a = json_array();
    for (uint32_t i = 0; i < o->via.array.size; i++)
      json_array_append_new(a, to_json(&o->via.array.ptr[i]));
    return a;
  }
  case MSGPACK_OBJECT_MAP: {
    int strings = 1;
    for (uint32_t i = 0; i < o->via.map.size; i++)
      strings &= o->via.map.ptr[i].key.type == MSGPACK_OBJECT_STR;
    if (strings) {
      json_t *m = json_object();
      for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_str *k = &o->via.map.ptr[i].key.via.str;
        /* msgpack-c gives empty strings a NULL pointer (fuzz_world) */
        char *key = malloc(k->size + 1);
        if (!key) continue;
        if (k->size) memcpy(key, k->ptr, k->size);
        key[k->size] = 0;
        json_object_set_new(m, key, to_json(&o->via.map.ptr[i].val));
        free(key);
      }
      return m;
    }
    json_t *pairs = json_array();
    for (uint32_t i = 0; i < o->via.map.size; i++)
      json_array_append_new(pairs, json_pack("[o, o]", to_json(&o->via.map.ptr[i].key),
                                             to_json(&o->via.map.ptr[i].val)));
    return json_pack("{s:o}", "$map", pairs);
  }
  }
  return json_null();
}

/* The payload decoded as JSON (or its bytes, if it is not msgpack). */
/* msgpack-c's unpacker sizes its zone from the counts it reads before it
 * checks them against the input (found by fuzz_world: 16 GiB for an array
 * header), so untrusted bytes are walked first: every element takes at
 * least one byte, nesting is bounded. Returns the bytes one value takes,
 * or 0 if they do not hold one. */
static size_t plausible(const uint8_t *p, size_t n, int depth) {
  if (n == 0 || depth > 64) return 0;
  uint8_t b = p[0];
  size_t head = 1, len = 0, count = 0;
  int pairs = 0;
  if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) return 1;
  if ((b & 0xf0) == 0x80) { count = b & 0x0f; pairs = 1; }
  else if ((b & 0xf0) == 0x90) count = b & 0x0f;
  else if ((b & 0xe0) == 0xa0) len = b & 0x1f;
  else {
    static const uint8_t fixed[] = {[0xca] = 4, [0xcb] = 8, [0xcc] = 1, [0xcd] = 2,
                                    [0xce] = 4, [0xcf] = 8, [0xd0] = 1, [0xd1] = 2,
                                    [0xd2] = 4, [0xd3] = 8, [0xd4] = 2, [0xd5] = 3,
                                    [0xd6] = 5, [0xd7] = 9, [0xd8] = 17};
    if (b >= 0xca && b <= 0xd8) return n > fixed[b] ? 1 + (size_t)fixed[b] : 0;
    int width = 0, kind = 0; /* kind 0: bytes, 1: array, 2: map, 3: ext */
    switch (b) {
    case 0xc4: case 0xd9: width = 1; break;
    case 0xc5: case 0xda: width = 2; break;
    case 0xc6: case 0xdb: width = 4; break;
    case 0xc7: width = 1; kind = 3; break;
    case 0xc8: width = 2; kind = 3; break;
    case 0xc9: width = 4; kind = 3; break;
    case 0xdc: width = 2; kind = 1; break;
    case 0xdd: width = 4; kind = 1; break;
    case 0xde: width = 2; kind = 2; break;
    case 0xdf: width = 4; kind = 2; break;
    default: return 0; /* 0xc1 is never used */
    }
    if (n < 1 + (size_t)width) return 0;
    size_t v = 0;
    for (int i = 0; i < width; i++) v = (v << 8) | p[1 + i];
    head = 1 + (size_t)width;
    if (kind == 0) len = v;
    else if (kind == 3) len = v + 1; /* the type byte */
    else { count = v; pairs = kind == 2; }
  }
  if (len) return n - head >= len ? head + len : 0;
  size_t at = head, items = pairs ? 2 * count : count;
  if (items > n - head) return 0; /* each element needs a byte */
  for (size_t i = 0; i < items; i++) {
    size_t used = plausible(p + at, n - at, depth + 1);
    if (!used) return 0;
    at += used;
  }
  return at;
}

json_t *cli_msgpack_to_json(const void *data, size_t size) {
  if (plausible(data, size, 0) != size) return hex_bytes("$bytes", data, size);
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  json_t *j = NULL;
  if (msgpack_unpack_next(&u, data, size, &off) == MSGPACK_UNPACK_SUCCESS && off == size)
    j = to_json(&u.data);
  msgpack_unpacked_destroy(&u);
  return j ? j : hex_bytes("$bytes", data, size);
}

