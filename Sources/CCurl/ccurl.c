#include "CCurl.h"
#include <pthread.h>
#include <signal.h>
#include <time.h>

CURLcode bk_curl_global_init(void) { return curl_global_init(CURL_GLOBAL_DEFAULT); }
const char *bk_curl_version(void) { return curl_version(); }
unsigned int bk_curl_version_num(void) { return curl_version_info(CURLVERSION_NOW)->version_num; }

CURL *bk_curl_easy_init(void) { return curl_easy_init(); }
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
