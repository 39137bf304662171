/* sf_value.h: how values travel (DESIGN 5.1). State, arguments, results and
 * frames are msgpack; these extension types carry what msgpack lacks. A
 * reference's payload is itself msgpack: the array [entity, key]. A tuple's
 * and a set's payload is a msgpack array of their elements. */
#ifndef SF_VALUE_H
#define SF_VALUE_H

#define SF_EXT_TUPLE 1
#define SF_EXT_SET 2
#define SF_EXT_REF 3

#define SF_VALUE_MAX_DEPTH 64              /* nesting limit for every decoder */
#define SF_VALUE_MAX_BYTES (16u << 20)     /* largest single encoded value */

#endif
