#include "CCurl.h"
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

// libcurl is opened on first use (dlopen), not linked: it pulls in some thirty shared
// libraries, and loading them at every start would cost every bocker command ~5 ms although
// only `pull` needs them. The calls below go through this table.
static struct {
    CURLcode (*global_init)(long);
    char *(*version)(void);
    curl_version_info_data *(*version_info)(CURLversion);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    CURLcode (*easy_perform)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} bk_curl_api;
static int bk_curl_loaded;
static char bk_curl_error[512] = "libcurl was not loaded";
static pthread_once_t bk_curl_once = PTHREAD_ONCE_INIT;

static void bk_curl_load(void) {
    void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h) { snprintf(bk_curl_error, sizeof bk_curl_error, "cannot load libcurl: %s", dlerror()); return; }
#define BK_SYM(field, name) if (!(*(void **)&bk_curl_api.field = dlsym(h, name))) { \
        snprintf(bk_curl_error, sizeof bk_curl_error, "libcurl lacks %s", name); return; }
    BK_SYM(global_init, "curl_global_init")
    BK_SYM(version, "curl_version")
    BK_SYM(version_info, "curl_version_info")
    BK_SYM(easy_init, "curl_easy_init")
    BK_SYM(easy_cleanup, "curl_easy_cleanup")
    BK_SYM(easy_reset, "curl_easy_reset")
    BK_SYM(easy_perform, "curl_easy_perform")
    BK_SYM(easy_strerror, "curl_easy_strerror")
    BK_SYM(easy_setopt, "curl_easy_setopt")
    BK_SYM(easy_getinfo, "curl_easy_getinfo")
    BK_SYM(slist_append, "curl_slist_append")
    BK_SYM(slist_free_all, "curl_slist_free_all")
#undef BK_SYM
    bk_curl_loaded = 1;
}

const char *bk_curl_load_error(void) { return bk_curl_loaded ? NULL : bk_curl_error; }

#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init bk_curl_api.global_init
#define curl_version bk_curl_api.version
#define curl_version_info bk_curl_api.version_info
#define curl_easy_init bk_curl_api.easy_init
#define curl_easy_cleanup bk_curl_api.easy_cleanup
#define curl_easy_reset bk_curl_api.easy_reset
#define curl_easy_perform bk_curl_api.easy_perform
#define curl_easy_strerror bk_curl_api.easy_strerror
#define curl_easy_setopt bk_curl_api.easy_setopt
#define curl_easy_getinfo bk_curl_api.easy_getinfo
#define curl_slist_append bk_curl_api.slist_append
#define curl_slist_free_all bk_curl_api.slist_free_all

CURLcode bk_curl_global_init(void) {
    pthread_once(&bk_curl_once, bk_curl_load);
    return bk_curl_loaded ? curl_global_init(CURL_GLOBAL_DEFAULT) : CURLE_FAILED_INIT;
}
const char *bk_curl_version(void) {
    pthread_once(&bk_curl_once, bk_curl_load);
    return bk_curl_loaded ? curl_version() : "libcurl (not loaded)";
}
unsigned int bk_curl_version_num(void) {
    pthread_once(&bk_curl_once, bk_curl_load);
    return bk_curl_loaded ? curl_version_info(CURLVERSION_NOW)->version_num : 0;
}

CURL *bk_curl_easy_init(void) {
    pthread_once(&bk_curl_once, bk_curl_load);
    return bk_curl_loaded ? curl_easy_init() : NULL;
}
void bk_curl_easy_cleanup(CURL *h) { curl_easy_cleanup(h); }
void bk_curl_easy_reset(CURL *h) { curl_easy_reset(h); }
// With CURLOPT_NOSIGNAL (needed in a threaded program) libcurl no longer ignores SIGPIPE itself,
// and a TLS write to a peer that went away would kill the process. Block SIGPIPE in this thread
// (the signal is thread-directed), swallow one that became pending, then restore the mask.
CURLcode bk_curl_easy_perform(CURL *h) {
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    CURLcode rc = curl_easy_perform(h);
    if (!sigismember(&old, SIGPIPE)) {
        sigset_t pending;
        sigemptyset(&pending);
        if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
            struct timespec zero = {0, 0};
            sigtimedwait(&pipe_set, NULL, &zero);
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    return rc;
}
const char *bk_curl_easy_strerror(CURLcode code) { return curl_easy_strerror(code); }

CURLcode bk_curl_setopt_long(CURL *h, CURLoption option, long value) {
    return curl_easy_setopt(h, option, value);
}
CURLcode bk_curl_setopt_off(CURL *h, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(h, option, value);
}
CURLcode bk_curl_setopt_string(CURL *h, CURLoption option, const char *value) {
    return curl_easy_setopt(h, option, value);
}
CURLcode bk_curl_setopt_pointer(CURL *h, CURLoption option, void *value) {
    return curl_easy_setopt(h, option, value);
}
CURLcode bk_curl_setopt_slist(CURL *h, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(h, option, value);
}
CURLcode bk_curl_set_write_callback(CURL *h, bk_curl_data_callback callback, void *context) {
    CURLcode rc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, callback);
    if (rc != CURLE_OK) return rc;
    return curl_easy_setopt(h, CURLOPT_WRITEDATA, context);
}
CURLcode bk_curl_set_header_callback(CURL *h, bk_curl_data_callback callback, void *context) {
    CURLcode rc = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, callback);
    if (rc != CURLE_OK) return rc;
    return curl_easy_setopt(h, CURLOPT_HEADERDATA, context);
}
CURLcode bk_curl_set_read_callback(CURL *h, bk_curl_data_callback callback, void *context) {
    CURLcode rc = curl_easy_setopt(h, CURLOPT_READFUNCTION, callback);
    if (rc != CURLE_OK) return rc;
    return curl_easy_setopt(h, CURLOPT_READDATA, context);
}
CURLcode bk_curl_set_error_buffer(CURL *h, char *buffer) {
    return curl_easy_setopt(h, CURLOPT_ERRORBUFFER, buffer);
}

CURLcode bk_curl_getinfo_long(CURL *h, CURLINFO info, long *out) {
    return curl_easy_getinfo(h, info, out);
}
CURLcode bk_curl_getinfo_off(CURL *h, CURLINFO info, curl_off_t *out) {
    return curl_easy_getinfo(h, info, out);
}
CURLcode bk_curl_getinfo_string(CURL *h, CURLINFO info, const char **out) {
    char *s = NULL;
    CURLcode rc = curl_easy_getinfo(h, info, &s);
    *out = s;
    return rc;
}

struct curl_slist *bk_curl_slist_append(struct curl_slist *list, const char *string) {
    return curl_slist_append(list, string);
}
void bk_curl_slist_free_all(struct curl_slist *list) { curl_slist_free_all(list); }
