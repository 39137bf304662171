/* sf_pack.h: msgpack-c's packer writing into an sf_buf, the one msgpack
 * writer of the project (every encoder packs through it). */
#ifndef SF_PACK_H
#define SF_PACK_H

#include <msgpack.h>

#include "stateflow/sf_buf.h"

/* Make pk append to b (b must outlive pk's use). */
void sf_buf_packer_init(msgpack_packer *pk, sf_buf *b);

#endif
