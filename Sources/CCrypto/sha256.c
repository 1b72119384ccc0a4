#include "CCrypto.h"
#include <openssl/evp.h>

struct bk_sha256 { EVP_MD_CTX *ctx; };

bk_sha256 *bk_sha256_new(void) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) return NULL;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) { EVP_MD_CTX_free(ctx); return NULL; }
    bk_sha256 *h = (bk_sha256 *)OPENSSL_malloc(sizeof *h);
    if (!h) { EVP_MD_CTX_free(ctx); return NULL; }
    h->ctx = ctx;
    return h;
}

void bk_sha256_update(bk_sha256 *h, const void *data, size_t len) {
    EVP_DigestUpdate(h->ctx, data, len);
}

void bk_sha256_final(bk_sha256 *h, uint8_t out[32]) {
    unsigned int n = 0;
    EVP_DigestFinal_ex(h->ctx, out, &n);
    bk_sha256_free(h);
}

void bk_sha256_free(bk_sha256 *h) {
    if (!h) return;
    EVP_MD_CTX_free(h->ctx);
    OPENSSL_free(h);
}
