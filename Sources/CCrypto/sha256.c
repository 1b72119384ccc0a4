#include "CCrypto.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <openssl/evp.h>

// libcrypto is opened on first use (dlopen), not linked: relocating it at every start cost
// each bocker command about a millisecond, and only pull and layer extraction hash.
static struct {
    EVP_MD_CTX *(*ctx_new)(void);
    void (*ctx_free)(EVP_MD_CTX *);
    const EVP_MD *(*sha256)(void);
    int (*init)(EVP_MD_CTX *, const EVP_MD *, ENGINE *);
    int (*update)(EVP_MD_CTX *, const void *, size_t);
    int (*final)(EVP_MD_CTX *, unsigned char *, unsigned int *);
} api;
static int loaded;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
    void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!h) return;
    if (!(*(void **)&api.ctx_new = dlsym(h, "EVP_MD_CTX_new"))) return;
    if (!(*(void **)&api.ctx_free = dlsym(h, "EVP_MD_CTX_free"))) return;
    if (!(*(void **)&api.sha256 = dlsym(h, "EVP_sha256"))) return;
    if (!(*(void **)&api.init = dlsym(h, "EVP_DigestInit_ex"))) return;
    if (!(*(void **)&api.update = dlsym(h, "EVP_DigestUpdate"))) return;
    if (!(*(void **)&api.final = dlsym(h, "EVP_DigestFinal_ex"))) return;
    loaded = 1;
}

struct bk_sha256 { EVP_MD_CTX *ctx; };

bk_sha256 *bk_sha256_new(void) {
    pthread_once(&once, load);
    if (!loaded) return NULL;
    EVP_MD_CTX *ctx = api.ctx_new();
    if (!ctx) return NULL;
    if (api.init(ctx, api.sha256(), NULL) != 1) { api.ctx_free(ctx); return NULL; }
    bk_sha256 *h = (bk_sha256 *)malloc(sizeof *h);
    if (!h) { api.ctx_free(ctx); return NULL; }
    h->ctx = ctx;
    return h;
}

void bk_sha256_update(bk_sha256 *h, const void *data, size_t len) {
    api.update(h->ctx, data, len);
}

void bk_sha256_final(bk_sha256 *h, uint8_t out[32]) {
    unsigned int n = 0;
    api.final(h->ctx, out, &n);
    bk_sha256_free(h);
}

void bk_sha256_free(bk_sha256 *h) {
    if (!h) return;
    api.ctx_free(h->ctx);
    free(h);
}
