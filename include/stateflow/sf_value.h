/* sf_value.h: how values travel (DESIGN 5.1). State, arguments, results and
 * frames are msgpack; these extension types carry what msgpack lacks. A
 * reference's payload is itself msgpack: the array [entity, key]. A tuple's
 * and a set's payload is a msgpack array of their elements. */
#ifndef SF_VALUE_H
#define SF_VALUE_H

#define SF_EXT_TUPLE 1
#define SF_EXT_SET 2
#define SF_EXT_REF 3
/* Values beyond JSON (docs/ir.md, "Value encoding"): each payload is one
 * msgpack array too. */
#define SF_EXT_FROZENSET 4  /* [elements...], sorted like a set's */
#define SF_EXT_BIGINT 5     /* [str]: decimal digits of an int outside int64 */
#define SF_EXT_BYTEARRAY 6  /* [bin] */
#define SF_EXT_DECIMAL 7    /* [str]: str(Decimal) */
#define SF_EXT_DATETIME 8   /* [y, mo, d, h, mi, s, us, fold] + tz */
#define SF_EXT_DATE 9       /* [y, mo, d] */
#define SF_EXT_TIME 10      /* [h, mi, s, us, fold] + tz */
#define SF_EXT_TIMEDELTA 11 /* [days, seconds, microseconds], normalised */
#define SF_EXT_ENUM 12      /* [qualname, member name, member value] */
#define SF_EXT_DATACLASS 13 /* [qualname, {field: value, ...}] */
/* tz (optional, three more elements): kind (0 datetime.timezone, 1
 * zoneinfo.ZoneInfo), UTC offset in microseconds (nil: none), and the
 * timezone's name (kind 0, nil when it has none) or the zone key (kind 1). */
#define SF_EXT_LAST 13

#define SF_VALUE_MAX_INT_DIGITS 4300       /* Python's own str(int) limit */

#define SF_VALUE_MAX_DEPTH 64              /* nesting limit for every decoder */
#define SF_VALUE_MAX_BYTES (16u << 20)     /* largest single encoded value */

#endif
