/* pack.c: msgpack-c's packer onto an sf_buf (sf_pack.h). */
#include "stateflow/sf_pack.h"

static int buf_write(void *data, const char *p, size_t n)
{
    sf_buf_append((sf_buf *)data, p, n);
    return 0;
}

void sf_buf_packer_init(msgpack_packer *pk, sf_buf *b) { msgpack_packer_init(pk, b, buf_write); }
