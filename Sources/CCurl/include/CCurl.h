// libcurl's easy interface behind non-variadic C functions Swift can call: curl_easy_setopt and
// curl_easy_getinfo are variadic, so each option type gets its own wrapper. Swift imports the
// CURLoption / CURLINFO / CURLcode constants from <curl/curl.h> itself. Body and header data reach
// Swift through plain C function pointers plus a context pointer (CURLOPT_WRITEDATA/HEADERDATA).
#ifndef CCURL_H
#define CCURL_H
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <stddef.h>

// Same shape as curl_write_callback: (data, 1, length, context) -> bytes consumed.
typedef size_t (*bk_curl_data_callback)(char *data, size_t size, size_t nmemb, void *context);

// Why libcurl (opened with dlopen on first use) is unavailable, or NULL once it is loaded.
const char *bk_curl_load_error(void);

// curl_global_init(CURL_GLOBAL_DEFAULT); safe to call more than once (Swift calls it once).
CURLcode bk_curl_global_init(void);
const char *bk_curl_version(void);
// The libcurl version as 0xXXYYZZ (7.88.1 -> 0x075801).
unsigned int bk_curl_version_num(void);

CURL *bk_curl_easy_init(void);
void bk_curl_easy_cleanup(CURL *h);
// Clears options but keeps live connections (keep-alive) and the DNS cache.
void bk_curl_easy_reset(CURL *h);
// curl_easy_perform with SIGPIPE blocked in the calling thread (and a pending one swallowed).
CURLcode bk_curl_easy_perform(CURL *h);
const char *bk_curl_easy_strerror(CURLcode code);

CURLcode bk_curl_setopt_long(CURL *h, CURLoption option, long value);
CURLcode bk_curl_setopt_off(CURL *h, CURLoption option, curl_off_t value);
CURLcode bk_curl_setopt_string(CURL *h, CURLoption option, const char *value);
CURLcode bk_curl_setopt_pointer(CURL *h, CURLoption option, void *value);
CURLcode bk_curl_setopt_slist(CURL *h, CURLoption option, struct curl_slist *value);
// CURLOPT_WRITEFUNCTION + CURLOPT_WRITEDATA.
CURLcode bk_curl_set_write_callback(CURL *h, bk_curl_data_callback callback, void *context);
// CURLOPT_HEADERFUNCTION + CURLOPT_HEADERDATA (one call per header line, status lines included).
CURLcode bk_curl_set_header_callback(CURL *h, bk_curl_data_callback callback, void *context);
// The request body's source (CURLOPT_READFUNCTION/READDATA): fills data, returns the bytes given
// (0 at the end, CURL_READFUNC_ABORT to stop).
CURLcode bk_curl_set_read_callback(CURL *h, bk_curl_data_callback callback, void *context);
// An error buffer of CURL_ERROR_SIZE bytes owned by the caller (CURLOPT_ERRORBUFFER).
CURLcode bk_curl_set_error_buffer(CURL *h, char *buffer);

CURLcode bk_curl_getinfo_long(CURL *h, CURLINFO info, long *out);
CURLcode bk_curl_getinfo_off(CURL *h, CURLINFO info, curl_off_t *out);
// The string stays owned by the handle and is valid until the next transfer or cleanup.
CURLcode bk_curl_getinfo_string(CURL *h, CURLINFO info, const char **out);

struct curl_slist *bk_curl_slist_append(struct curl_slist *list, const char *string);
void bk_curl_slist_free_all(struct curl_slist *list);

// CURL_ERROR_SIZE, for sizing the error buffer from Swift.
enum { BK_CURL_ERROR_SIZE = CURL_ERROR_SIZE };

#endif
