/* mp.h: the little msgpack reading ycsbt needs for native-protocol replies
 * ([21, corr, {"ok": v} | {"error": {"type": t, ...}}]): item headers and
 * skipping whole values, bounds-checked, no allocation, depth-limited. */
#ifndef SF_BENCH_MP_H
#define SF_BENCH_MP_H

#include <stddef.h>
#include <stdint.h>

enum { YC_MP_NIL, YC_MP_BOOL, YC_MP_INT, YC_MP_FLOAT, YC_MP_STR, YC_MP_BIN, YC_MP_ARRAY, YC_MP_MAP,
       YC_MP_EXT };

typedef struct yc_mp_item {
    int kind;
    int64_t i;          /* BOOL (0/1), INT (uint64 above INT64_MAX saturates) */
    uint32_t n;         /* STR/BIN/EXT length, ARRAY/MAP element count */
    const char *data;   /* STR/BIN/EXT payload */
} yc_mp_item;

/* Read one header at *pos (str/bin/ext payloads are stepped over too).
 * 0, or -1 when truncated or invalid. */
int yc_mp_read(const char *buf, size_t len, size_t *pos, yc_mp_item *it);
/* Step over one whole value (at most 64 containers deep). 0 or -1. */
int yc_mp_skip(const char *buf, size_t len, size_t *pos);

#endif
