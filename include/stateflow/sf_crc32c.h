/* sf_crc32c.h: CRC-32C (Castagnoli), the checksum of the durable log's
 * records and segment headers (runtime/cluster/durlog.c) and of anything
 * else StateFlow writes to disk. Reflected polynomial 0x82F63B78, initial
 * value and final xor 0xFFFFFFFF (RFC 3720 section 12.1): the CRC of the
 * nine ASCII bytes "123456789" is 0xE3069283. */
#ifndef SF_CRC32C_H
#define SF_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of p[0..n). */
uint32_t sf_crc32c(const void *p, size_t n);

/* Continue a CRC over more bytes: sf_crc32c_extend(sf_crc32c(a, na), b, nb)
 * equals the CRC of a followed by b. sf_crc32c_extend(0, p, n) equals
 * sf_crc32c(p, n). */
uint32_t sf_crc32c_extend(uint32_t crc, const void *p, size_t n);

/* The same as sf_crc32c_extend, always through the portable table (the path
 * taken on CPUs without a CRC-32C instruction); for tests. */
uint32_t sf_crc32c_extend_portable(uint32_t crc, const void *p, size_t n);

#endif
