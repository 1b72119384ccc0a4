// Layer reading for BockerArchive: a (gzip | zstd | plain) blob read and decompressed by zlib or
// zstd on a helper thread (4 x buf_size buffers in flight), every uncompressed byte handed to a
// hash callback, and the tar stream parsed by libarchive (tar formats only, no filters) on the
// caller's thread. Plus the few kernel calls Swift's Glibc module does not expose (openat2,
// fchmodat2, makedev).
#ifndef CARCHIVE_H
#define CARCHIVE_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/xattr.h>

// Compression of a layer blob.
enum { BK_COMP_NONE = 0, BK_COMP_GZIP = 1, BK_COMP_ZSTD = 2 };

// Entry kinds (bk_entry.kind).
enum {
    BK_KIND_OTHER = 0, BK_KIND_FILE = 1, BK_KIND_DIR = 2, BK_KIND_SYMLINK = 3, BK_KIND_HARDLINK = 4,
    BK_KIND_CHAR = 5, BK_KIND_BLOCK = 6, BK_KIND_FIFO = 7, BK_KIND_SOCKET = 8
};

// Called with every uncompressed byte of the stream, in order, from one thread at a time (the
// reader's helper thread or the caller's); done once bk_layer_drain has returned.
typedef void (*bk_hash_fn)(void *ctx, const void *data, size_t len);

typedef struct bk_layer bk_layer;

// One tar header. Strings point into libarchive's entry and stay valid until the next
// bk_layer_next call. `path` and `link` are the raw bytes from the archive.
typedef struct {
    const char *path;
    const char *link;       // symlink target or hardlink target, NULL otherwise
    int kind;
    uint32_t perm;          // mode & 07777
    int64_t uid, gid;
    int64_t size;
    int64_t mtime, mtime_nsec;
    int atime_set;
    int64_t atime, atime_nsec;
    uint32_t rdev_major, rdev_minor;
    int xattr_count;
} bk_entry;

// Starts reading the blob on fd (which the reader does not close). buf_size is the size of each
// uncompressed buffer handed to libarchive (>= 64 KiB). NULL only when out of memory.
// Why libarchive (opened with dlopen on first use) is unavailable, or NULL once it is loaded.
const char *bk_archive_load_error(void);

bk_layer *bk_layer_open(int fd, int compression, size_t buf_size, bk_hash_fn hash, void *hash_ctx);

// Next header: 1 with *out filled, 0 at the end of the archive, -1 on error (bk_layer_error).
int bk_layer_next(bk_layer *l, bk_entry *out);

// Walks the current entry's extended attributes: 1 with name/value/size set, 0 when done.
// Call bk_layer_xattr_reset first.
void bk_layer_xattr_reset(bk_layer *l);
int bk_layer_xattr_next(bk_layer *l, const char **name, const void **value, size_t *size);

// Writes the current entry's data to fd (holes of sparse entries become seeks; the file is
// extended to `size`). 0; -1 on a read/format error (bk_layer_error); -2 on a write error (errno).
int bk_layer_write_data(bk_layer *l, int fd, int64_t size);

// Reads (and hashes) whatever follows the tar end marker, so the hash covers the whole stream and
// compressed streams are checked to their end. 0, or -1 (bk_layer_error).
int bk_layer_drain(bk_layer *l);

// Uncompressed bytes handed out so far.
uint64_t bk_layer_bytes(const bk_layer *l);
// At most max_bytes of uncompressed tar (0: no limit); beyond that the stream fails (set before
// the first bk_layer_next). bk_layer_over_limit then says 1.
void bk_layer_set_limit(bk_layer *l, uint64_t max_bytes);
int bk_layer_over_limit(const bk_layer *l);

// The last error's message (never NULL).
const char *bk_layer_error(const bk_layer *l);

// Stops the helper thread and frees everything (does not close fd).
void bk_layer_free(bk_layer *l);

// ---- kernel helpers ----

// Opens path (relative, resolved with every symlink and ".." confined to rootfd) as an
// O_PATH|O_DIRECTORY fd: openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS), or, where openat2 is
// unavailable (ENOSYS, or EPERM from an old seccomp profile), an equivalent component walk.
// An empty path opens rootfd itself. The fd, or -1 with errno.
int bk_open_dir_in_root(int rootfd, const char *path);

// Whether bk_open_dir_in_root uses openat2 (1) or the component walk (0); for tests.
int bk_openat2_available(void);
// Forces the component walk (tests).
void bk_force_component_walk(int on);

// chmod of dirfd/name that never follows a symlink (fchmodat2 where the kernel has it, else
// glibc's AT_SYMLINK_NOFOLLOW emulation). 0, or -1 with errno.
int bk_fchmodat_nofollow(int dirfd, const char *name, mode_t mode);

dev_t bk_makedev(uint32_t major, uint32_t minor);

// O_PATH (hidden from Swift without _GNU_SOURCE).
extern const int bk_o_path;

// ---- compression (used by the tests and benchmarks to build blobs) ----

typedef struct bk_compressor bk_compressor;
// A streaming gzip (zlib, gzip wrapper) or zstd compressor at `level`; NULL on failure.
bk_compressor *bk_compressor_new(int compression, int level);
// Compresses in[0..len) and writes the output to fd. 0, or -1 (errno set on write errors).
int bk_compressor_write(bk_compressor *c, const void *in, size_t len, int fd);
// Ends the stream (writes the trailer) to fd. 0 or -1.
int bk_compressor_finish(bk_compressor *c, int fd);
void bk_compressor_free(bk_compressor *c);

// Gives the calling thread a private mount namespace of its own (its mounts reach no other
// thread and vanish with it) and mounts a read-only overlay of `lowerdirs` ("top:…:bottom",
// relative to `base`, which becomes the thread's working directory) on `target`. 0, or -1 with
// errno. For `export`: the merged view of an overlay container without touching the host's mounts.
int bk_private_overlay(const char *base, const char *lowerdirs, const char *target);

// ---- layer writing ----

// Receives the tar stream. 0 to go on, non-zero to stop (bk_tar_write_tree then fails).
typedef int (*bk_out_fn)(void *ctx, const void *data, size_t len);

// Writes the tree under `root` as an uncompressed tar stream (PAX restricted, entries sorted by
// name bytes, directories before their contents, real mtimes in seconds, numeric ids only, no
// root entry): the same tree always gives the same bytes. `parent` (or NULL): a tree `root` was
// made from (cumulative storage drivers); only what differs from it is written, and what it has
// that `root` lacks becomes a `.wh.NAME` whiteout. `overlay`: translate overlayfs's own
// whiteouts (0/0 character devices, trusted.overlay.opaque=y) to OCI ones. Keeps user.* and
// security.capability extended attributes. 0, or -1 with a message in err.
int bk_tar_write_tree(const char *root, const char *parent, int overlay, bk_out_fn out, void *ctx,
                      char *err, size_t errlen);

// `bocker cp`: writes dirfd/name (never followed: a symlink is written as one) as the tar
// entry `tarname`, and for a directory everything under it, walked with O_NOFOLLOW openat
// calls only (a name swapped for a symlink meanwhile is stored as that symlink, never
// followed). Empty `tarname`: only the directory's contents, at the top of the archive.
// Real owners, modes, mtimes (seconds), hardlinks within the copy, user.* and
// security.capability xattrs. 0, or -1 with a message in err.
int bk_tar_write_entry(int dirfd, const char *name, const char *tarname, bk_out_fn out, void *ctx,
                       char *err, size_t errlen);

#endif
