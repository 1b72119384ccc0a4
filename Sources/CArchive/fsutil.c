// Path resolution confined to a root directory, fchmodat2, makedev, and streaming compressors.
#define _GNU_SOURCE
#include "CArchive.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

// -1 unknown, 1 works, 0 unavailable.
static int openat2_state = -1;
static int force_walk = 0;

int bk_openat2_available(void) {
    if (__atomic_load_n(&openat2_state, __ATOMIC_RELAXED) == -1) {
        int fd = bk_open_dir_in_root(AT_FDCWD, ".");
        if (fd >= 0) close(fd);
    }
    return __atomic_load_n(&openat2_state, __ATOMIC_RELAXED) == 1;
}

void bk_force_component_walk(int on) { __atomic_store_n(&force_walk, on, __ATOMIC_RELAXED); }

// The fallback: one openat(O_PATH|O_NOFOLLOW) per component; a symlink's target is spliced into
// the remaining path, an absolute one restarting at the root, and ".." never climbs above it.
static int walk_in_root(int rootfd, const char *path) {
    size_t cap = 16, depth = 0;
    int *stack = malloc(cap * sizeof *stack);
    char *work = strdup(path);
    int result = -1, err = 0, links = 0;
    size_t pos = 0;
    if (!stack || !work) {
        err = ENOMEM;
        goto out;
    }
    for (;;) {
        while (work[pos] == '/') pos++;
        if (!work[pos]) break;
        size_t start = pos;
        while (work[pos] && work[pos] != '/') pos++;
        size_t clen = pos - start;
        if (clen > NAME_MAX) {
            err = ENAMETOOLONG;
            goto out;
        }
        char comp[NAME_MAX + 1];
        memcpy(comp, work + start, clen);
        comp[clen] = 0;
        if (strcmp(comp, ".") == 0) continue;
        if (strcmp(comp, "..") == 0) {
            if (depth > 0) close(stack[--depth]);
            continue;
        }
        int cur = depth ? stack[depth - 1] : rootfd;
        int fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            err = errno;
            goto out;
        }
        struct stat st;
        if (fstat(fd, &st) != 0) {
            err = errno;
            close(fd);
            goto out;
        }
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = ++links > 40 ? (errno = ELOOP, -1) : readlinkat(fd, "", target, sizeof target - 1);
            close(fd);
            if (n < 0) {
                err = errno;
                goto out;
            }
            if (n > 0 && target[0] == '/') {
                while (depth > 0) close(stack[--depth]);
            }
            size_t restlen = strlen(work + pos);
            char *nw = malloc((size_t)n + 1 + restlen + 1);
            if (!nw) {
                err = ENOMEM;
                goto out;
            }
            memcpy(nw, target, (size_t)n);
            nw[n] = '/';
            memcpy(nw + n + 1, work + pos, restlen + 1);
            free(work);
            work = nw;
            pos = 0;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            close(fd);
            err = ENOTDIR;
            goto out;
        }
        if (depth == cap) {
            int *ns = realloc(stack, cap * 2 * sizeof *stack);
            if (!ns) {
                close(fd);
                err = ENOMEM;
                goto out;
            }
            stack = ns;
            cap *= 2;
        }
        stack[depth++] = fd;
    }
    if (depth > 0) {
        result = stack[--depth];
    } else {
        result = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (result < 0) err = errno;
    }
out:
    while (depth > 0) close(stack[--depth]);
    free(stack);
    free(work);
    if (result < 0) errno = err;
    return result;
}

int bk_open_dir_in_root(int rootfd, const char *path) {
    while (*path == '/') path++;
    if (!*path) return openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    int state = __atomic_load_n(&openat2_state, __ATOMIC_RELAXED);
    if (state != 0 && !__atomic_load_n(&force_walk, __ATOMIC_RELAXED)) {
        struct open_how how;
        memset(&how, 0, sizeof how);
        how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
        how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
        for (int tries = 0;; tries++) {
            long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof how);
            if (fd >= 0) {
                if (state != 1) __atomic_store_n(&openat2_state, 1, __ATOMIC_RELAXED);
                return (int)fd;
            }
            // EAGAIN: a concurrent rename anywhere on the system; retry.
            if (errno == EAGAIN && tries < 64) continue;
            break;
        }
        if (!(errno == ENOSYS || (errno == EPERM && state == -1))) return -1;
        __atomic_store_n(&openat2_state, 0, __ATOMIC_RELAXED);
    }
    return walk_in_root(rootfd, path);
}

int bk_fchmodat_nofollow(int dirfd, const char *name, mode_t mode) {
    static int have_fchmodat2 = 1;
    if (__atomic_load_n(&have_fchmodat2, __ATOMIC_RELAXED)) {
        if (syscall(SYS_fchmodat2, dirfd, name, mode, AT_SYMLINK_NOFOLLOW) == 0) return 0;
        if (errno != ENOSYS) return -1;
        __atomic_store_n(&have_fchmodat2, 0, __ATOMIC_RELAXED);
    }
    return fchmodat(dirfd, name, mode, AT_SYMLINK_NOFOLLOW);
}

dev_t bk_makedev(uint32_t major, uint32_t minor) { return makedev(major, minor); }

const int bk_o_path = O_PATH;

// ---- compressors ----

#define OUT_SIZE (256 * 1024)

// gzip's input goes to deflate a window of WINDOW bytes at a time, whatever sizes the writes
// come in (deflate's stored blocks follow its call sizes), and each window is judged: one
// that deflate could not shrink below 97% (random or already-compressed data) switches the
// stream to stored blocks (level 0: a copy and a CRC); while stored, the first SAMPLE bytes of
// each window are test-compressed at level 1 to switch back once the data compresses again
// (below 90%). So the same layer always gives the same bytes (and digest), and incompressible
// data costs a copy instead of a futile search for matches.
#define WINDOW (256 * 1024)
#define SAMPLE (16 * 1024)

struct bk_compressor {
    int comp;
    int level;              // the level asked for (gzip)
    int stored;             // gzip: the stream is in stored blocks now
    uLong window_out;       // gzip: total_out when the current window began (compressing)
    int probe_ready;
    z_stream z;
    z_stream probe;         // raw deflate, level 1: compressibility of a stored window's sample
    ZSTD_CCtx *zc;
    size_t fill;             // gzip: bytes of the current window in `window`
    unsigned char window[WINDOW];
    unsigned char probe_out[SAMPLE + 1024];
    unsigned char out[OUT_SIZE];
};

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

bk_compressor *bk_compressor_new(int compression, int level) {
    bk_compressor *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->comp = compression;
    c->level = level;
    if (compression == BK_COMP_GZIP) {
        if (deflateInit2(&c->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            free(c);
            return NULL;
        }
    } else if (compression == BK_COMP_ZSTD) {
        c->zc = ZSTD_createCCtx();
        if (!c->zc) {
            free(c);
            return NULL;
        }
        ZSTD_CCtx_setParameter(c->zc, ZSTD_c_compressionLevel, level);
    }
    return c;
}

// Runs deflate over what is in next_in with `flush`, writing all it gives to fd.
static int deflate_out(bk_compressor *c, int fd, int flush) {
    for (;;) {
        c->z.next_out = c->out;
        c->z.avail_out = OUT_SIZE;
        int r = deflate(&c->z, flush);
        if (r == Z_STREAM_ERROR) return -1;
        if (write_all(fd, c->out, OUT_SIZE - c->z.avail_out) != 0) return -1;
        if (flush == Z_FINISH ? r == Z_STREAM_END : (c->z.avail_in == 0 && c->z.avail_out != 0)) return 0;
    }
}

// Ends the current block and goes on at `level` (0: stored blocks).
static int switch_level(bk_compressor *c, int fd, int level) {
    if (deflate_out(c, fd, Z_BLOCK) != 0) return -1;
    for (;;) {
        c->z.next_out = c->out;
        c->z.avail_out = OUT_SIZE;
        int r = deflateParams(&c->z, level, Z_DEFAULT_STRATEGY);
        if (write_all(fd, c->out, OUT_SIZE - c->z.avail_out) != 0) return -1;
        if (r == Z_OK) return 0;
        if (r != Z_BUF_ERROR) return -1;
    }
}

// Compresses the window (as one call) and judges it (compressing) or its sample (stored).
static int window_end(bk_compressor *c, int fd) {
    c->z.next_in = c->window;
    c->z.avail_in = (uInt)c->fill;
    if (deflate_out(c, fd, Z_NO_FLUSH) != 0) return -1;
    if (!c->stored) {
        if (deflate_out(c, fd, Z_BLOCK) != 0) return -1;
        if ((c->z.total_out - c->window_out) * 100 > (uLong)c->fill * 97) {
            if (switch_level(c, fd, 0) != 0) return -1;
            c->stored = 1;
        }
    } else {
        if (!c->probe_ready) {
            if (deflateInit2(&c->probe, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
            c->probe_ready = 1;
        } else if (deflateReset(&c->probe) != Z_OK) {
            return -1;
        }
        size_t n = c->fill < SAMPLE ? c->fill : SAMPLE;
        c->probe.next_in = c->window;
        c->probe.avail_in = (uInt)n;
        c->probe.next_out = c->probe_out;
        c->probe.avail_out = sizeof c->probe_out;
        if (deflate(&c->probe, Z_FINISH) != Z_STREAM_END) return -1;
        if (c->probe.total_out * 100 < (uLong)n * 90) {
            if (switch_level(c, fd, c->level) != 0) return -1;
            c->stored = 0;
        }
    }
    c->fill = 0;
    c->window_out = c->z.total_out;
    return 0;
}

static int gzip_write(bk_compressor *c, const unsigned char *in, size_t len, int fd) {
    while (len > 0) {
        size_t n = WINDOW - c->fill < len ? WINDOW - c->fill : len;
        memcpy(c->window + c->fill, in, n);
        c->fill += n;
        in += n;
        len -= n;
        if (c->fill == WINDOW && window_end(c, fd) != 0) return -1;
    }
    return 0;
}

static int compress_step(bk_compressor *c, const void *in, size_t len, int fd, int finish) {
    if (c->comp == BK_COMP_GZIP) {
        if (!finish) return gzip_write(c, in, len, fd);
        c->z.next_in = c->window;
        c->z.avail_in = (uInt)c->fill;
        c->fill = 0;
        return deflate_out(c, fd, Z_FINISH);
    } else if (c->comp == BK_COMP_ZSTD) {
        ZSTD_inBuffer ib = {in, len, 0};
        for (;;) {
            ZSTD_outBuffer ob = {c->out, OUT_SIZE, 0};
            size_t r = ZSTD_compressStream2(c->zc, &ob, &ib, finish ? ZSTD_e_end : ZSTD_e_continue);
            if (ZSTD_isError(r)) return -1;
            if (write_all(fd, c->out, ob.pos) != 0) return -1;
            if (finish ? r == 0 : ib.pos == ib.size) return 0;
        }
    }
    return finish ? 0 : write_all(fd, in, len);
}

int bk_compressor_write(bk_compressor *c, const void *in, size_t len, int fd) {
    return compress_step(c, in, len, fd, 0);
}

int bk_compressor_finish(bk_compressor *c, int fd) { return compress_step(c, NULL, 0, fd, 1); }

void bk_compressor_free(bk_compressor *c) {
    if (!c) return;
    if (c->comp == BK_COMP_GZIP) deflateEnd(&c->z);
    if (c->probe_ready) deflateEnd(&c->probe);
    if (c->zc) ZSTD_freeCCtx(c->zc);
    free(c);
}

// ---- a merged view for export ----

#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>

int bk_private_overlay(const char *base, const char *lowerdirs, const char *target) {
    // CLONE_NEWNS unshares this thread's fs_struct too: the chdir below is this thread's alone.
    if (unshare(CLONE_NEWNS) != 0) return -1;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return -1;
    if (chdir(base) != 0) return -1;
    size_t n = strlen(lowerdirs) + 16;
    char *opts = malloc(n);
    if (!opts) { errno = ENOMEM; return -1; }
    snprintf(opts, n, "lowerdir=%s", lowerdirs);
    int r = mount("overlay", target, "overlay", MS_RDONLY, opts);
    int e = errno;
    free(opts);
    errno = e;
    return r;
}
