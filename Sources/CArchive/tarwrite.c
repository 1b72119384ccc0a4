// The layer writer: a directory tree as a deterministic tar stream (libarchive, PAX restricted),
// entries in byte order of their names, directories before their contents, no user or group
// names. See bk_tar_write_tree in CArchive.h.
#define _GNU_SOURCE
#include "CArchive.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

// libarchive's writer, opened on first use like the reader in layer.c.
static struct {
    struct archive *(*write_new)(void);
    int (*set_format_pax_restricted)(struct archive *);
    int (*set_bytes_in_last_block)(struct archive *, int);
    int (*write_open)(struct archive *, void *, archive_open_callback *, archive_write_callback *, archive_close_callback *);
    int (*write_header)(struct archive *, struct archive_entry *);
    la_ssize_t (*write_data)(struct archive *, const void *, size_t);
    int (*write_close)(struct archive *);
    int (*write_free)(struct archive *);
    const char *(*error_string)(struct archive *);
    struct archive_entry *(*entry_new)(void);
    void (*entry_free)(struct archive_entry *);
    void (*entry_clear)(struct archive_entry *);
    void (*entry_set_pathname)(struct archive_entry *, const char *);
    void (*entry_set_filetype)(struct archive_entry *, unsigned int);
    void (*entry_set_perm)(struct archive_entry *, mode_t);
    void (*entry_set_uid)(struct archive_entry *, la_int64_t);
    void (*entry_set_gid)(struct archive_entry *, la_int64_t);
    void (*entry_set_mtime)(struct archive_entry *, time_t, long);
    void (*entry_set_size)(struct archive_entry *, la_int64_t);
    void (*entry_set_symlink)(struct archive_entry *, const char *);
    void (*entry_set_hardlink)(struct archive_entry *, const char *);
    void (*entry_set_rdevmajor)(struct archive_entry *, dev_t);
    void (*entry_set_rdevminor)(struct archive_entry *, dev_t);
    void (*entry_xattr_add_entry)(struct archive_entry *, const char *, const void *, size_t);
} W;
static int w_loaded;
static char w_error[256] = "libarchive was not loaded";
static pthread_once_t w_once = PTHREAD_ONCE_INIT;

static void w_load(void) {
    void *h = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
    if (!h) { snprintf(w_error, sizeof w_error, "cannot load libarchive: %s", dlerror()); return; }
#define SYM(field, name) if (!(*(void **)&W.field = dlsym(h, name))) { \
        snprintf(w_error, sizeof w_error, "libarchive lacks %s", name); return; }
    SYM(write_new, "archive_write_new")
    SYM(set_format_pax_restricted, "archive_write_set_format_pax_restricted")
    SYM(set_bytes_in_last_block, "archive_write_set_bytes_in_last_block")
    SYM(write_open, "archive_write_open")
    SYM(write_header, "archive_write_header")
    SYM(write_data, "archive_write_data")
    SYM(write_close, "archive_write_close")
    SYM(write_free, "archive_write_free")
    SYM(error_string, "archive_error_string")
    SYM(entry_new, "archive_entry_new")
    SYM(entry_free, "archive_entry_free")
    SYM(entry_clear, "archive_entry_clear")
    SYM(entry_set_pathname, "archive_entry_set_pathname")
    SYM(entry_set_filetype, "archive_entry_set_filetype")
    SYM(entry_set_perm, "archive_entry_set_perm")
    SYM(entry_set_uid, "archive_entry_set_uid")
    SYM(entry_set_gid, "archive_entry_set_gid")
    SYM(entry_set_mtime, "archive_entry_set_mtime")
    SYM(entry_set_size, "archive_entry_set_size")
    SYM(entry_set_symlink, "archive_entry_set_symlink")
    SYM(entry_set_hardlink, "archive_entry_set_hardlink")
    SYM(entry_set_rdevmajor, "archive_entry_set_rdevmajor")
    SYM(entry_set_rdevminor, "archive_entry_set_rdevminor")
    SYM(entry_xattr_add_entry, "archive_entry_xattr_add_entry")
#undef SYM
    w_loaded = 1;
}

struct link { dev_t dev; ino_t ino; char *path; };

struct writer {
    struct archive *a;
    struct archive_entry *e;
    bk_out_fn out;
    void *ctx;
    int overlay;
    char *err;
    size_t errlen;
    struct link *links;
    size_t nlinks, caplinks;
    unsigned char *buf;
};

static int fail(struct writer *w, const char *fmt, ...) {
    if (w->err && w->errlen && !w->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->err, w->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static la_ssize_t write_cb(struct archive *a, void *ctx, const void *data, size_t len) {
    (void)a;
    struct writer *w = ctx;
    if (w->out(w->ctx, data, len) != 0) return -1;
    return (la_ssize_t)len;
}

static int cmp_names(const void *x, const void *y) {
    return strcmp(*(char *const *)x, *(char *const *)y);
}

// The names in directory fd (not "." or ".."), sorted by bytes. NULL with *n = 0 and errno on failure.
static char **sorted_names(int fd, size_t *n) {
    *n = 0;
    int dup_fd = dup(fd);
    if (dup_fd < 0) return NULL;
    DIR *d = fdopendir(dup_fd);
    if (!d) { close(dup_fd); return NULL; }
    rewinddir(d);
    size_t cap = 16;
    char **names = malloc(cap * sizeof *names);
    struct dirent *de;
    while (names && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (*n == cap) {
            char **more = realloc(names, (cap *= 2) * sizeof *names);
            if (!more) { for (size_t i = 0; i < *n; i++) free(names[i]); free(names); names = NULL; break; }
            names = more;
        }
        names[(*n)++] = strdup(de->d_name);
    }
    closedir(d);
    if (names) qsort(names, *n, sizeof *names, cmp_names);
    return names;
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

static int has_name(char **names, size_t n, const char *name) {
    return bsearch(&name, names, n, sizeof *names, cmp_names) != NULL;
}

static int put_header(struct writer *w, const char *path) {
    if (W.write_header(w->a, w->e) != ARCHIVE_OK) return fail(w, "tar header for '%s': %s", path, W.error_string(w->a));
    return 0;
}

static void base_entry(struct writer *w, const char *path, const struct stat *st) {
    W.entry_clear(w->e);
    W.entry_set_pathname(w->e, path);
    W.entry_set_perm(w->e, st->st_mode & 07777);
    W.entry_set_uid(w->e, st->st_uid);
    W.entry_set_gid(w->e, st->st_gid);
    W.entry_set_mtime(w->e, st->st_mtim.tv_sec, 0);
}

static int put_whiteout(struct writer *w, const char *dir, const char *name) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s%s.wh.%s", dir, *dir ? "/" : "", name) >= (int)sizeof path)
        return fail(w, "path too long under '%s'", dir);
    W.entry_clear(w->e);
    W.entry_set_pathname(w->e, path);
    W.entry_set_filetype(w->e, AE_IFREG);
    W.entry_set_perm(w->e, 0);
    W.entry_set_size(w->e, 0);
    W.entry_set_mtime(w->e, 0, 0);
    return put_header(w, path);
}

// Adds the extended attributes worth keeping in an image (capabilities, user.*).
static void add_xattrs(struct writer *w, int dirfd, const char *name) {
    char procpath[64];
    int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return;
    snprintf(procpath, sizeof procpath, "/proc/self/fd/%d", fd);
    char list[4096];
    ssize_t n = listxattr(procpath, list, sizeof list);   // follows the magic link to the entry itself
    for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(list + off) + 1) {
        const char *key = list + off;
        if (strncmp(key, "user.", 5) != 0 && strcmp(key, "security.capability") != 0) continue;
        unsigned char value[4096];
        ssize_t vn = getxattr(procpath, key, value, sizeof value);
        if (vn >= 0) W.entry_xattr_add_entry(w->e, key, value, (size_t)vn);
    }
    close(fd);
}

static int same_entry(int cfd, const char *name, const struct stat *c, int pfd, const struct stat *p) {
    if ((c->st_mode & S_IFMT) != (p->st_mode & S_IFMT) || c->st_mode != p->st_mode
        || c->st_uid != p->st_uid || c->st_gid != p->st_gid) return 0;
    if (S_ISDIR(c->st_mode)) return 1;
    if (c->st_mtim.tv_sec != p->st_mtim.tv_sec || c->st_mtim.tv_nsec != p->st_mtim.tv_nsec || c->st_size != p->st_size)
        return 0;
    if (S_ISCHR(c->st_mode) || S_ISBLK(c->st_mode)) return c->st_rdev == p->st_rdev;
    if (S_ISLNK(c->st_mode)) {
        char a[PATH_MAX], b[PATH_MAX];
        ssize_t an = readlinkat(cfd, name, a, sizeof a), bn = readlinkat(pfd, name, b, sizeof b);
        return an >= 0 && an == bn && memcmp(a, b, (size_t)an) == 0;
    }
    return 1;
}

static int put_file_data(struct writer *w, int dirfd, const char *name, const char *path, int64_t size) {
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return fail(w, "cannot open '%s': %s", path, strerror(errno));
    int64_t left = size;
    while (left > 0) {
        ssize_t n = read(fd, w->buf, left < 262144 ? (size_t)left : 262144);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { close(fd); return fail(w, "cannot read '%s': %s", path, n < 0 ? strerror(errno) : "file shrank"); }
        if (W.write_data(w->a, w->buf, (size_t)n) != n) {
            close(fd);
            return fail(w, "tar data for '%s': %s", path, W.error_string(w->a));
        }
        left -= n;
    }
    close(fd);
    return 0;
}

static int walk(struct writer *w, int cfd, int pfd, const char *dir);

// Writes the entry cfd/name (in tar directory `dir`) as `path` (and, for a directory, everything under it); pfd/pnames:
// the same directory in the parent tree (-1/NULL: none).
static int put_one(struct writer *w, int cfd, const char *dir, const char *name, const char *path, int pfd, char **pnames, size_t pn) {
    struct stat st, pst;
    if (fstatat(cfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) { fail(w, "cannot stat '%s': %s", path, strerror(errno)); return -1; }
    int in_parent = pfd >= 0 && has_name(pnames, pn, name) && fstatat(pfd, name, &pst, AT_SYMLINK_NOFOLLOW) == 0;
    if (in_parent && !S_ISDIR(st.st_mode) && same_entry(cfd, name, &st, pfd, &pst)) return 0;

    if (w->overlay && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
        if (put_whiteout(w, dir, name) != 0) return -1;
        return 0;
    }
    if (S_ISSOCK(st.st_mode)) return 0;   // tar has no sockets; they are made at run time
    int changed = !in_parent || !same_entry(cfd, name, &st, pfd, &pst);
    if (changed) {
        base_entry(w, path, &st);
        add_xattrs(w, cfd, name);
        if (S_ISREG(st.st_mode)) {
            const char *target = NULL;
            if (st.st_nlink > 1) {
                for (size_t k = 0; k < w->nlinks; k++)
                    if (w->links[k].dev == st.st_dev && w->links[k].ino == st.st_ino) { target = w->links[k].path; break; }
                if (!target) {
                    if (w->nlinks == w->caplinks) {
                        size_t cap = w->caplinks ? w->caplinks * 2 : 64;
                        struct link *more = realloc(w->links, cap * sizeof *more);
                        if (!more) { fail(w, "out of memory"); return -1; }
                        w->links = more;
                        w->caplinks = cap;
                    }
                    w->links[w->nlinks++] = (struct link){ st.st_dev, st.st_ino, strdup(path) };
                }
            }
            if (target) {
                W.entry_set_filetype(w->e, AE_IFREG);
                W.entry_set_hardlink(w->e, target);
                W.entry_set_size(w->e, 0);
                if (put_header(w, path) != 0) return -1;
            } else {
                W.entry_set_filetype(w->e, AE_IFREG);
                W.entry_set_size(w->e, st.st_size);
                if (put_header(w, path) != 0) return -1;
                if (put_file_data(w, cfd, name, path, st.st_size) != 0) return -1;
            }
        } else if (S_ISDIR(st.st_mode)) {
            W.entry_set_filetype(w->e, AE_IFDIR);
            if (put_header(w, path) != 0) return -1;
        } else if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t tn = readlinkat(cfd, name, target, sizeof target - 1);
            if (tn < 0) { fail(w, "cannot read link '%s': %s", path, strerror(errno)); return -1; }
            target[tn] = 0;
            W.entry_set_filetype(w->e, AE_IFLNK);
            W.entry_set_symlink(w->e, target);
            if (put_header(w, path) != 0) return -1;
        } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
            W.entry_set_filetype(w->e, S_ISCHR(st.st_mode) ? AE_IFCHR : S_ISBLK(st.st_mode) ? AE_IFBLK : AE_IFIFO);
            W.entry_set_rdevmajor(w->e, major(st.st_rdev));
            W.entry_set_rdevminor(w->e, minor(st.st_rdev));
            if (put_header(w, path) != 0) return -1;
        }
    }
    if (S_ISDIR(st.st_mode)) {
        int opaque = 0;
        if (w->overlay) {
            char procpath[64], v[4];
            int fd = openat(cfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0) {
                snprintf(procpath, sizeof procpath, "/proc/self/fd/%d", fd);
                ssize_t vn = getxattr(procpath, "trusted.overlay.opaque", v, sizeof v);
                opaque = vn == 1 && v[0] == 'y';
                close(fd);
            }
        }
        if (opaque) {
            if (!changed) {   // the whiteout needs its directory's entry first
                base_entry(w, path, &st);
                W.entry_set_filetype(w->e, AE_IFDIR);
                if (put_header(w, path) != 0) return -1;
            }
            if (put_whiteout(w, path, ".wh..opq") != 0) return -1;
        }
        int sub = openat(cfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) { fail(w, "cannot open '%s': %s", path, strerror(errno)); return -1; }
        int psub = in_parent && S_ISDIR(pst.st_mode)
            ? openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
        int rc = walk(w, sub, psub, path);
        close(sub);
        if (psub >= 0) close(psub);
        if (rc != 0) return -1;
    }
    return 0;
}

// Writes the entries under directory cfd (tar path prefix `dir`, "" at the root); pfd is the
// same directory in the parent tree (-1: none, everything is new).
static int walk(struct writer *w, int cfd, int pfd, const char *dir) {
    size_t n = 0, pn = 0;
    char **names = sorted_names(cfd, &n);
    if (!names) return fail(w, "cannot list '%s': %s", *dir ? dir : ".", strerror(errno));
    char **pnames = NULL;
    if (pfd >= 0) {
        pnames = sorted_names(pfd, &pn);
        if (!pnames) { free_names(names, n); return fail(w, "cannot list the parent's '%s': %s", *dir ? dir : ".", strerror(errno)); }
        // What the parent has and this tree lacks is gone: a whiteout each.
        for (size_t i = 0; i < pn; i++) {
            if (!has_name(names, n, pnames[i]) && put_whiteout(w, dir, pnames[i]) != 0) goto fail;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = names[i];
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s%s%s", dir, *dir ? "/" : "", name) >= (int)sizeof path) {
            fail(w, "path too long: '%s/%s'", dir, name);
            goto fail;
        }
        if (put_one(w, cfd, dir, name, path, pfd, pnames, pn) != 0) goto fail;
    }
    free_names(names, n);
    if (pnames) free_names(pnames, pn);
    return 0;
fail:
    free_names(names, n);
    if (pnames) free_names(pnames, pn);
    return -1;
}

// Opens libarchive's writer on w (w->out set), runs body, closes the stream; 0 or -1.
static int write_stream(struct writer *w, int (*body)(struct writer *, void *), void *arg) {
    int rc = -1;
    w->buf = malloc(262144);
    w->a = W.write_new();
    w->e = W.entry_new();
    if (!w->buf || !w->a || !w->e) { fail(w, "out of memory"); goto done; }
    W.set_format_pax_restricted(w->a);
    W.set_bytes_in_last_block(w->a, 1);
    if (W.write_open(w->a, w, NULL, write_cb, NULL) != ARCHIVE_OK) {
        fail(w, "cannot start the tar stream: %s", W.error_string(w->a));
        goto done;
    }
    if (body(w, arg) != 0) goto done;
    if (W.write_close(w->a) != ARCHIVE_OK) { fail(w, "cannot end the tar stream: %s", W.error_string(w->a)); goto done; }
    rc = 0;
done:
    if (w->e) W.entry_free(w->e);
    if (w->a) W.write_free(w->a);
    for (size_t i = 0; i < w->nlinks; i++) free(w->links[i].path);
    free(w->links);
    free(w->buf);
    return rc;
}

struct entry_arg { int dirfd; const char *name; const char *tarname; };

static int entry_body(struct writer *w, void *p) {
    struct entry_arg *a = p;
    if (*a->tarname) return put_one(w, a->dirfd, "", a->name, a->tarname, -1, NULL, 0);
    // Only the directory's contents, at the top of the archive.
    int sub = openat(a->dirfd, a->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) return fail(w, "cannot open '%s': %s", a->name, strerror(errno));
    int rc = walk(w, sub, -1, "");
    close(sub);
    return rc;
}

int bk_tar_write_entry(int dirfd, const char *name, const char *tarname, bk_out_fn out, void *ctx,
                       char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    pthread_once(&w_once, w_load);
    struct writer w = { .out = out, .ctx = ctx, .overlay = 0, .err = err, .errlen = errlen };
    if (!w_loaded) return fail(&w, "%s", w_error);
    struct entry_arg a = { dirfd, name, tarname };
    return write_stream(&w, entry_body, &a);
}

int bk_tar_write_tree(const char *root, const char *parent, int overlay, bk_out_fn out, void *ctx,
                      char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    pthread_once(&w_once, w_load);
    struct writer w = { .out = out, .ctx = ctx, .overlay = overlay, .err = err, .errlen = errlen };
    if (!w_loaded) return fail(&w, "%s", w_error);
    int cfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cfd < 0) return fail(&w, "cannot open '%s': %s", root, strerror(errno));
    int pfd = -1;
    if (parent) {
        pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pfd < 0) { close(cfd); return fail(&w, "cannot open '%s': %s", parent, strerror(errno)); }
    }
    int rc = -1;
    w.buf = malloc(262144);
    w.a = W.write_new();
    w.e = W.entry_new();
    if (!w.buf || !w.a || !w.e) { fail(&w, "out of memory"); goto done; }
    W.set_format_pax_restricted(w.a);
    W.set_bytes_in_last_block(w.a, 1);
    if (W.write_open(w.a, &w, NULL, write_cb, NULL) != ARCHIVE_OK) {
        fail(&w, "cannot start the tar stream: %s", W.error_string(w.a));
        goto done;
    }
    if (walk(&w, cfd, pfd, "") != 0) goto done;
    if (W.write_close(w.a) != ARCHIVE_OK) { fail(&w, "cannot end the tar stream: %s", W.error_string(w.a)); goto done; }
    rc = 0;
done:
    if (w.e) W.entry_free(w.e);
    if (w.a) W.write_free(w.a);
    for (size_t i = 0; i < w.nlinks; i++) free(w.links[i].path);
    free(w.links);
    free(w.buf);
    close(cfd);
    if (pfd >= 0) close(pfd);
    return rc;
}
