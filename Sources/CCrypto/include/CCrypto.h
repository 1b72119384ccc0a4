// SHA-256 from OpenSSL's libcrypto (hardware-accelerated), behind a tiny C interface.
#ifndef CCRYPTO_H
#define CCRYPTO_H
#include <stddef.h>
#include <stdint.h>

typedef struct bk_sha256 bk_sha256;

bk_sha256 *bk_sha256_new(void);
void bk_sha256_update(bk_sha256 *h, const void *data, size_t len);
// Writes the 32-byte digest into out and frees h.
void bk_sha256_final(bk_sha256 *h, uint8_t out[32]);
void bk_sha256_free(bk_sha256 *h);

#endif
