// The layer reader: decompression (zlib / zstd) on a helper thread, hashing and libarchive's tar
// parser on the caller's thread. See CArchive.h.
#define _GNU_SOURCE
#include "CArchive.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

// libarchive is opened on first use (dlopen), not linked: it and its libraries would
// otherwise load at every bocker start although only `pull` extracts layers.
#include <dlfcn.h>
static __typeof__(&archive_entry_atime) bk_p_archive_entry_atime;
static __typeof__(&archive_entry_atime_is_set) bk_p_archive_entry_atime_is_set;
static __typeof__(&archive_entry_atime_nsec) bk_p_archive_entry_atime_nsec;
static __typeof__(&archive_entry_filetype) bk_p_archive_entry_filetype;
static __typeof__(&archive_entry_gid) bk_p_archive_entry_gid;
static __typeof__(&archive_entry_hardlink) bk_p_archive_entry_hardlink;
static __typeof__(&archive_entry_hardlink_utf8) bk_p_archive_entry_hardlink_utf8;
static __typeof__(&archive_entry_mtime) bk_p_archive_entry_mtime;
static __typeof__(&archive_entry_mtime_nsec) bk_p_archive_entry_mtime_nsec;
static __typeof__(&archive_entry_pathname) bk_p_archive_entry_pathname;
static __typeof__(&archive_entry_pathname_utf8) bk_p_archive_entry_pathname_utf8;
static __typeof__(&archive_entry_perm) bk_p_archive_entry_perm;
static __typeof__(&archive_entry_rdevmajor) bk_p_archive_entry_rdevmajor;
static __typeof__(&archive_entry_rdevminor) bk_p_archive_entry_rdevminor;
static __typeof__(&archive_entry_size) bk_p_archive_entry_size;
static __typeof__(&archive_entry_size_is_set) bk_p_archive_entry_size_is_set;
static __typeof__(&archive_entry_symlink) bk_p_archive_entry_symlink;
static __typeof__(&archive_entry_symlink_utf8) bk_p_archive_entry_symlink_utf8;
static __typeof__(&archive_entry_uid) bk_p_archive_entry_uid;
static __typeof__(&archive_entry_xattr_count) bk_p_archive_entry_xattr_count;
static __typeof__(&archive_entry_xattr_next) bk_p_archive_entry_xattr_next;
static __typeof__(&archive_entry_xattr_reset) bk_p_archive_entry_xattr_reset;
static __typeof__(&archive_error_string) bk_p_archive_error_string;
static __typeof__(&archive_read_data_block) bk_p_archive_read_data_block;
static __typeof__(&archive_read_free) bk_p_archive_read_free;
static __typeof__(&archive_read_new) bk_p_archive_read_new;
static __typeof__(&archive_read_next_header) bk_p_archive_read_next_header;
static __typeof__(&archive_read_open) bk_p_archive_read_open;
static __typeof__(&archive_read_support_format_empty) bk_p_archive_read_support_format_empty;
static __typeof__(&archive_read_support_format_tar) bk_p_archive_read_support_format_tar;
static __typeof__(&archive_set_error) bk_p_archive_set_error;
static int bk_archive_loaded;
static char bk_archive_error[256] = "libarchive was not loaded";
static pthread_once_t bk_archive_once = PTHREAD_ONCE_INIT;

static void bk_archive_load(void) {
    void *h = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
    if (!h) { snprintf(bk_archive_error, sizeof bk_archive_error, "cannot load libarchive: %s", dlerror()); return; }
    if (!(*(void **)&bk_p_archive_entry_atime = dlsym(h, "archive_entry_atime"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_atime"); return; }
    if (!(*(void **)&bk_p_archive_entry_atime_is_set = dlsym(h, "archive_entry_atime_is_set"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_atime_is_set"); return; }
    if (!(*(void **)&bk_p_archive_entry_atime_nsec = dlsym(h, "archive_entry_atime_nsec"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_atime_nsec"); return; }
    if (!(*(void **)&bk_p_archive_entry_filetype = dlsym(h, "archive_entry_filetype"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_filetype"); return; }
    if (!(*(void **)&bk_p_archive_entry_gid = dlsym(h, "archive_entry_gid"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_gid"); return; }
    if (!(*(void **)&bk_p_archive_entry_hardlink = dlsym(h, "archive_entry_hardlink"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_hardlink"); return; }
    if (!(*(void **)&bk_p_archive_entry_hardlink_utf8 = dlsym(h, "archive_entry_hardlink_utf8"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_hardlink_utf8"); return; }
    if (!(*(void **)&bk_p_archive_entry_mtime = dlsym(h, "archive_entry_mtime"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_mtime"); return; }
    if (!(*(void **)&bk_p_archive_entry_mtime_nsec = dlsym(h, "archive_entry_mtime_nsec"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_mtime_nsec"); return; }
    if (!(*(void **)&bk_p_archive_entry_pathname = dlsym(h, "archive_entry_pathname"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_pathname"); return; }
    if (!(*(void **)&bk_p_archive_entry_pathname_utf8 = dlsym(h, "archive_entry_pathname_utf8"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_pathname_utf8"); return; }
    if (!(*(void **)&bk_p_archive_entry_perm = dlsym(h, "archive_entry_perm"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_perm"); return; }
    if (!(*(void **)&bk_p_archive_entry_rdevmajor = dlsym(h, "archive_entry_rdevmajor"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_rdevmajor"); return; }
    if (!(*(void **)&bk_p_archive_entry_rdevminor = dlsym(h, "archive_entry_rdevminor"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_rdevminor"); return; }
    if (!(*(void **)&bk_p_archive_entry_size = dlsym(h, "archive_entry_size"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_size"); return; }
    if (!(*(void **)&bk_p_archive_entry_size_is_set = dlsym(h, "archive_entry_size_is_set"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_size_is_set"); return; }
    if (!(*(void **)&bk_p_archive_entry_symlink = dlsym(h, "archive_entry_symlink"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_symlink"); return; }
    if (!(*(void **)&bk_p_archive_entry_symlink_utf8 = dlsym(h, "archive_entry_symlink_utf8"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_symlink_utf8"); return; }
    if (!(*(void **)&bk_p_archive_entry_uid = dlsym(h, "archive_entry_uid"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_uid"); return; }
    if (!(*(void **)&bk_p_archive_entry_xattr_count = dlsym(h, "archive_entry_xattr_count"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_xattr_count"); return; }
    if (!(*(void **)&bk_p_archive_entry_xattr_next = dlsym(h, "archive_entry_xattr_next"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_xattr_next"); return; }
    if (!(*(void **)&bk_p_archive_entry_xattr_reset = dlsym(h, "archive_entry_xattr_reset"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_entry_xattr_reset"); return; }
    if (!(*(void **)&bk_p_archive_error_string = dlsym(h, "archive_error_string"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_error_string"); return; }
    if (!(*(void **)&bk_p_archive_read_data_block = dlsym(h, "archive_read_data_block"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_read_data_block"); return; }
    if (!(*(void **)&bk_p_archive_read_free = dlsym(h, "archive_read_free"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_read_free"); return; }
    if (!(*(void **)&bk_p_archive_read_new = dlsym(h, "archive_read_new"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_read_new"); return; }
    if (!(*(void **)&bk_p_archive_read_next_header = dlsym(h, "archive_read_next_header"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_read_next_header"); return; }
    if (!(*(void **)&bk_p_archive_read_open = dlsym(h, "archive_read_open"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_read_open"); return; }
    if (!(*(void **)&bk_p_archive_read_support_format_empty = dlsym(h, "archive_read_support_format_empty"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_read_support_format_empty"); return; }
    if (!(*(void **)&bk_p_archive_read_support_format_tar = dlsym(h, "archive_read_support_format_tar"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_read_support_format_tar"); return; }
    if (!(*(void **)&bk_p_archive_set_error = dlsym(h, "archive_set_error"))) { snprintf(bk_archive_error, sizeof bk_archive_error, "libarchive lacks archive_set_error"); return; }
    bk_archive_loaded = 1;
}

const char *bk_archive_load_error(void) {
    pthread_once(&bk_archive_once, bk_archive_load);
    return bk_archive_loaded ? NULL : bk_archive_error;
}

#define archive_entry_atime bk_p_archive_entry_atime
#define archive_entry_atime_is_set bk_p_archive_entry_atime_is_set
#define archive_entry_atime_nsec bk_p_archive_entry_atime_nsec
#define archive_entry_filetype bk_p_archive_entry_filetype
#define archive_entry_gid bk_p_archive_entry_gid
#define archive_entry_hardlink bk_p_archive_entry_hardlink
#define archive_entry_hardlink_utf8 bk_p_archive_entry_hardlink_utf8
#define archive_entry_mtime bk_p_archive_entry_mtime
#define archive_entry_mtime_nsec bk_p_archive_entry_mtime_nsec
#define archive_entry_pathname bk_p_archive_entry_pathname
#define archive_entry_pathname_utf8 bk_p_archive_entry_pathname_utf8
#define archive_entry_perm bk_p_archive_entry_perm
#define archive_entry_rdevmajor bk_p_archive_entry_rdevmajor
#define archive_entry_rdevminor bk_p_archive_entry_rdevminor
#define archive_entry_size bk_p_archive_entry_size
#define archive_entry_size_is_set bk_p_archive_entry_size_is_set
#define archive_entry_symlink bk_p_archive_entry_symlink
#define archive_entry_symlink_utf8 bk_p_archive_entry_symlink_utf8
#define archive_entry_uid bk_p_archive_entry_uid
#define archive_entry_xattr_count bk_p_archive_entry_xattr_count
#define archive_entry_xattr_next bk_p_archive_entry_xattr_next
#define archive_entry_xattr_reset bk_p_archive_entry_xattr_reset
#define archive_error_string bk_p_archive_error_string
#define archive_read_data_block bk_p_archive_read_data_block
#define archive_read_free bk_p_archive_read_free
#define archive_read_new bk_p_archive_read_new
#define archive_read_next_header bk_p_archive_read_next_header
#define archive_read_open bk_p_archive_read_open
#define archive_read_support_format_empty bk_p_archive_read_support_format_empty
#define archive_read_support_format_tar bk_p_archive_read_support_format_tar
#define archive_set_error bk_p_archive_set_error

#define NSLOTS 4
#define IN_SIZE (256 * 1024)

enum { P_MORE = 0, P_END = 1, P_ERR = -1 };

struct slot {
    unsigned char *data;
    size_t len;
};

struct bk_layer {
    struct archive *a;
    struct archive_entry *entry;
    int opened;
    int fd, comp;
    size_t bufsz;
    bk_hash_fn hash;
    void *hash_ctx;
    uint64_t total;
    uint64_t limit;      // 0: none; else the most uncompressed bytes the stream may hold
    int over_limit;
    char err[512];

    // Decompressor state (only the producer touches it).
    z_stream z;
    int z_inited, z_member_done;
    ZSTD_DCtx *zd;
    size_t z_last;
    unsigned char *in;
    size_t in_pos, in_len;
    int in_eof;
    char perr[256];

    // Pipeline between the producer and the consumer (libarchive's read callback).
    int threaded, th_started;
    // Where the hash runs: on the producer for plain and zstd streams (cheap to produce, so the
    // hash overlaps extraction), on the consumer for gzip (inflate is the bottleneck there).
    int hash_in_producer;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct slot slots[NSLOTS];
    int prod_idx, cons_idx, ready, busy;
    int prod_done, prod_failed, cancel;
};

static void set_perr(bk_layer *l, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->perr, sizeof l->perr, fmt, ap);
    va_end(ap);
}

// ---- producing uncompressed bytes ----

// 1 when input is available, 0 at the end of the file, -1 on a read error.
static int fill_input(bk_layer *l) {
    if (l->in_pos < l->in_len) return 1;
    if (l->in_eof) return 0;
    for (;;) {
        ssize_t n = read(l->fd, l->in, IN_SIZE);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            set_perr(l, "cannot read layer: %s", strerror(errno));
            return -1;
        }
        if (n == 0) {
            l->in_eof = 1;
            return 0;
        }
        l->in_pos = 0;
        l->in_len = (size_t)n;
        return 1;
    }
}

static int produce_none(bk_layer *l, unsigned char *buf, size_t cap, size_t *len) {
    size_t pos = 0;
    while (pos < cap) {
        if (l->in_eof) break;
        ssize_t n = read(l->fd, buf + pos, cap - pos);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            set_perr(l, "cannot read layer: %s", strerror(errno));
            return P_ERR;
        }
        if (n == 0) {
            l->in_eof = 1;
            break;
        }
        pos += (size_t)n;
    }
    *len = pos;
    return l->in_eof ? P_END : P_MORE;
}

static int produce_gzip(bk_layer *l, unsigned char *buf, size_t cap, size_t *len) {
    size_t pos = 0;
    *len = 0;
    while (pos < cap) {
        int f = fill_input(l);
        if (f < 0) return P_ERR;
        if (l->z_member_done) {
            if (f == 0) {
                *len = pos;
                return P_END;
            }
            // Another gzip member follows (concatenated gzip); anything else is garbage.
            if (l->in[l->in_pos] != 0x1f) {
                set_perr(l, "invalid gzip data: trailing garbage after the compressed stream");
                return P_ERR;
            }
            inflateReset(&l->z);
            l->z_member_done = 0;
        }
        // At the end of the input, inflate may still hold output; anything short of the stream's
        // end without progress is a truncated stream.
        size_t before = pos;
        l->z.next_in = f ? l->in + l->in_pos : l->in;
        l->z.avail_in = f ? (uInt)(l->in_len - l->in_pos) : 0;
        l->z.next_out = buf + pos;
        l->z.avail_out = (uInt)(cap - pos);
        int r = inflate(&l->z, Z_NO_FLUSH);
        if (f) l->in_pos = l->in_len - l->z.avail_in;
        pos = cap - l->z.avail_out;
        if (f == 0 && r != Z_STREAM_END && pos == before) {
            set_perr(l, "invalid gzip data: unexpected end of the compressed stream");
            return P_ERR;
        }
        if (r == Z_STREAM_END) {
            l->z_member_done = 1;
        } else if (r != Z_OK && r != Z_BUF_ERROR) {
            set_perr(l, "invalid gzip data: %s", l->z.msg ? l->z.msg : zError(r));
            return P_ERR;
        }
    }
    *len = pos;
    return P_MORE;
}

static int produce_zstd(bk_layer *l, unsigned char *buf, size_t cap, size_t *len) {
    ZSTD_outBuffer ob = {buf, cap, 0};
    *len = 0;
    while (ob.pos < ob.size) {
        int f = fill_input(l);
        if (f < 0) return P_ERR;
        if (f == 0 && l->z_last == 0) {
            *len = ob.pos;
            return P_END;
        }
        // At the end of the input the decoder may still hold output; a frame left unfinished
        // without progress is a truncated stream.
        size_t before = ob.pos;
        ZSTD_inBuffer ib = {l->in, f ? l->in_len : 0, f ? l->in_pos : 0};
        size_t r = ZSTD_decompressStream(l->zd, &ob, &ib);
        if (ZSTD_isError(r)) {
            set_perr(l, "invalid zstd data: %s", ZSTD_getErrorName(r));
            return P_ERR;
        }
        if (f) l->in_pos = ib.pos;
        l->z_last = r;
        if (f == 0 && r != 0 && ob.pos == before) {
            set_perr(l, "invalid zstd data: unexpected end of the compressed stream");
            return P_ERR;
        }
    }
    *len = ob.pos;
    return P_MORE;
}

static int produce(bk_layer *l, unsigned char *buf, size_t cap, size_t *len) {
    switch (l->comp) {
    case BK_COMP_GZIP: return produce_gzip(l, buf, cap, len);
    case BK_COMP_ZSTD: return produce_zstd(l, buf, cap, len);
    default: return produce_none(l, buf, cap, len);
    }
}

static void *producer_main(void *arg) {
    bk_layer *l = arg;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        while (!l->cancel && l->ready + l->busy >= NSLOTS) pthread_cond_wait(&l->cv, &l->mu);
        if (l->cancel) {
            pthread_mutex_unlock(&l->mu);
            return NULL;
        }
        int idx = l->prod_idx;
        pthread_mutex_unlock(&l->mu);

        size_t len = 0;
        int r = produce(l, l->slots[idx].data, l->bufsz, &len);
        if (r != P_ERR && len > 0 && l->hash_in_producer && l->hash) l->hash(l->hash_ctx, l->slots[idx].data, len);

        pthread_mutex_lock(&l->mu);
        if (len > 0 && r != P_ERR) {
            l->slots[idx].len = len;
            l->prod_idx = (idx + 1) % NSLOTS;
            l->ready++;
        }
        if (r != P_MORE) {
            l->prod_done = 1;
            l->prod_failed = r == P_ERR;
        }
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        if (r != P_MORE) return NULL;
    }
}

// The next chunk of uncompressed bytes (hashed and counted): its length, 0 at the end, -1 on
// error (l->err set).
static ssize_t next_chunk(bk_layer *l, const void **out) {
    unsigned char *data;
    size_t len;
    if (l->over_limit) return -1;
    if (!l->threaded) {
        if (l->prod_done) return 0;
        int r = produce(l, l->slots[0].data, l->bufsz, &len);
        if (r == P_ERR) {
            l->prod_done = 1;
            snprintf(l->err, sizeof l->err, "%s", l->perr);
            return -1;
        }
        if (r == P_END) l->prod_done = 1;
        data = l->slots[0].data;
    } else {
        pthread_mutex_lock(&l->mu);
        if (l->busy) {
            l->busy = 0;
            l->cons_idx = (l->cons_idx + 1) % NSLOTS;
            pthread_cond_broadcast(&l->cv);
        }
        while (l->ready == 0 && !l->prod_done) pthread_cond_wait(&l->cv, &l->mu);
        if (l->ready == 0) {
            int failed = l->prod_failed;
            pthread_mutex_unlock(&l->mu);
            if (failed) {
                snprintf(l->err, sizeof l->err, "%s", l->perr);
                return -1;
            }
            return 0;
        }
        l->ready--;
        l->busy = 1;
        data = l->slots[l->cons_idx].data;
        len = l->slots[l->cons_idx].len;
        pthread_mutex_unlock(&l->mu);
    }
    if (len > 0) {
        if (l->hash && !(l->threaded && l->hash_in_producer)) l->hash(l->hash_ctx, data, len);
        l->total += len;
        if (l->limit && l->total > l->limit) {
            // A decompression bomb stops here, before libarchive (and the disk) sees the rest.
            l->over_limit = 1;
            snprintf(l->err, sizeof l->err, "the uncompressed layer exceeds %llu bytes", (unsigned long long)l->limit);
            return -1;
        }
    }
    *out = data;
    return (ssize_t)len;
}

static la_ssize_t read_cb(struct archive *a, void *ctx, const void **buf) {
    bk_layer *l = ctx;
    ssize_t n = next_chunk(l, buf);
    if (n < 0) {
        archive_set_error(a, EIO, "%s", l->err);
        return -1;
    }
    return n;
}

// ---- public ----

bk_layer *bk_layer_open(int fd, int compression, size_t buf_size, bk_hash_fn hash, void *hash_ctx) {
    if (bk_archive_load_error()) { errno = ELIBACC; return NULL; }
    bk_layer *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->fd = fd;
    l->comp = compression;
    l->bufsz = buf_size < 65536 ? 65536 : buf_size;
    l->hash = hash;
    l->hash_ctx = hash_ctx;
    l->z_last = 1;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);

    for (int i = 0; i < NSLOTS; i++) {
        if (!(l->slots[i].data = malloc(l->bufsz))) goto fail;
    }
    if (compression != BK_COMP_NONE && !(l->in = malloc(IN_SIZE))) goto fail;
    if (compression == BK_COMP_GZIP) {
        if (inflateInit2(&l->z, 15 + 32) != Z_OK) goto fail;
        l->z_inited = 1;
    } else if (compression == BK_COMP_ZSTD) {
        if (!(l->zd = ZSTD_createDCtx())) goto fail;
    }
    if (!(l->a = archive_read_new())) goto fail;
    archive_read_support_format_tar(l->a);
    archive_read_support_format_empty(l->a);

    l->hash_in_producer = compression != BK_COMP_GZIP;
    l->threaded = 1;
    if (pthread_create(&l->th, NULL, producer_main, l) == 0) {
        l->th_started = 1;
    } else {
        l->threaded = 0;  // read and decompress on the caller's thread, into slot 0
    }
    return l;
fail:
    bk_layer_free(l);
    return NULL;
}

static int kind_of(struct archive_entry *e) {
    if (archive_entry_hardlink(e) || archive_entry_hardlink_utf8(e)) return BK_KIND_HARDLINK;
    switch (archive_entry_filetype(e)) {
    case AE_IFREG: return BK_KIND_FILE;
    case AE_IFDIR: return BK_KIND_DIR;
    case AE_IFLNK: return BK_KIND_SYMLINK;
    case AE_IFCHR: return BK_KIND_CHAR;
    case AE_IFBLK: return BK_KIND_BLOCK;
    case AE_IFIFO: return BK_KIND_FIFO;
    case AE_IFSOCK: return BK_KIND_SOCKET;
    default: return BK_KIND_OTHER;
    }
}

int bk_layer_next(bk_layer *l, bk_entry *out) {
    if (!l->opened) {
        if (archive_read_open(l->a, l, NULL, read_cb, NULL) != ARCHIVE_OK) return -1;
        l->opened = 1;
    }
    int r = archive_read_next_header(l->a, &l->entry);
    if (r == ARCHIVE_EOF) return 0;
    if (r < ARCHIVE_WARN) return -1;
    struct archive_entry *e = l->entry;
    memset(out, 0, sizeof *out);
    out->path = archive_entry_pathname(e);
    if (!out->path) out->path = archive_entry_pathname_utf8(e);
    if (!out->path) out->path = "";
    out->kind = kind_of(e);
    if (out->kind == BK_KIND_HARDLINK) {
        out->link = archive_entry_hardlink(e);
        if (!out->link) out->link = archive_entry_hardlink_utf8(e);
    } else if (out->kind == BK_KIND_SYMLINK) {
        out->link = archive_entry_symlink(e);
        if (!out->link) out->link = archive_entry_symlink_utf8(e);
        if (!out->link) out->link = "";
    }
    out->perm = archive_entry_perm(e) & 07777;
    out->uid = archive_entry_uid(e);
    out->gid = archive_entry_gid(e);
    out->size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    out->mtime = archive_entry_mtime(e);
    out->mtime_nsec = archive_entry_mtime_nsec(e);
    out->atime_set = archive_entry_atime_is_set(e);
    out->atime = archive_entry_atime(e);
    out->atime_nsec = archive_entry_atime_nsec(e);
    out->rdev_major = (uint32_t)archive_entry_rdevmajor(e);
    out->rdev_minor = (uint32_t)archive_entry_rdevminor(e);
    out->xattr_count = archive_entry_xattr_count(e);
    return 1;
}

void bk_layer_xattr_reset(bk_layer *l) {
    if (l->entry) archive_entry_xattr_reset(l->entry);
}

int bk_layer_xattr_next(bk_layer *l, const char **name, const void **value, size_t *size) {
    if (!l->entry) return 0;
    return archive_entry_xattr_next(l->entry, name, value, size) == ARCHIVE_OK && *name != NULL;
}

int bk_layer_write_data(bk_layer *l, int fd, int64_t size) {
    const void *buf;
    size_t len;
    la_int64_t off;
    int64_t pos = 0;
    for (;;) {
        int r = archive_read_data_block(l->a, &buf, &len, &off);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) return -1;
        if (off != pos) {
            if (lseek(fd, off, SEEK_SET) < 0) return -2;
            pos = off;
        }
        const unsigned char *p = buf;
        size_t left = len;
        while (left > 0) {
            ssize_t n = write(fd, p, left);
            if (n < 0) {
                if (errno == EINTR) continue;
                return -2;
            }
            p += n;
            left -= (size_t)n;
        }
        pos += (int64_t)len;
    }
    if (pos < size && ftruncate(fd, size) != 0) return -2;
    return 0;
}

int bk_layer_drain(bk_layer *l) {
    const void *p;
    for (;;) {
        ssize_t n = next_chunk(l, &p);
        if (n < 0) return -1;
        if (n == 0) return 0;
    }
}

uint64_t bk_layer_bytes(const bk_layer *l) { return l->total; }

void bk_layer_set_limit(bk_layer *l, uint64_t max_bytes) { l->limit = max_bytes; }

int bk_layer_over_limit(const bk_layer *l) { return l->over_limit; }

const char *bk_layer_error(const bk_layer *l) {
    if (l->err[0]) return l->err;
    const char *s = l->a ? archive_error_string(l->a) : NULL;
    return s ? s : "unknown archive error";
}

void bk_layer_free(bk_layer *l) {
    if (!l) return;
    if (l->a) archive_read_free(l->a);
    if (l->th_started) {
        pthread_mutex_lock(&l->mu);
        l->cancel = 1;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->th, NULL);
    }
    for (int i = 0; i < NSLOTS; i++) free(l->slots[i].data);
    free(l->in);
    if (l->z_inited) inflateEnd(&l->z);
    if (l->zd) ZSTD_freeDCtx(l->zd);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}
