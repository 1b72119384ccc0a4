// A container's overlay root as a detached mount (new mount API), for copying files of a
// stopped container without mounting anything anywhere. See bk_fs.h.
#define _GNU_SOURCE
#include "bk_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef FSCONFIG_SET_STRING
#define FSCONFIG_SET_FLAG 0
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#endif
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x00000001
#endif
#ifndef MOUNT_ATTR_NODEV
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#endif

static int set_string(int fs, const char *key, const char *value) {
    return (int)syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, key, value, 0);
}

int bk_overlay_detached(const char *const *lowers, int n, const char *upper, const char *work,
                        char *err, unsigned long errlen) {
    int fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
    if (fs < 0) {
        snprintf(err, errlen, "fsopen overlay: %s", strerror(errno));
        return -1;
    }
    int rc = 0;
    // lowerdir+ (Linux 6.8) takes one layer per call: no page-size limit on the list.
    for (int i = 0; i < n && rc == 0; i++) rc = set_string(fs, "lowerdir+", lowers[i]);
    if (rc != 0 && errno == EINVAL) {
        size_t len = 1;
        for (int i = 0; i < n; i++) len += strlen(lowers[i]) + 1;
        char *joined = calloc(1, len);
        if (!joined) { close(fs); snprintf(err, errlen, "out of memory"); errno = ENOMEM; return -1; }
        for (int i = 0; i < n; i++) { if (i) strcat(joined, ":"); strcat(joined, lowers[i]); }
        close(fs);
        fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
        rc = fs < 0 ? -1 : set_string(fs, "lowerdir", joined);
        free(joined);
    }
    if (rc == 0) rc = set_string(fs, "upperdir", upper);
    if (rc == 0) rc = set_string(fs, "workdir", work);
    if (rc == 0) rc = (int)syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
    if (rc != 0) {
        int e = errno;
        snprintf(err, errlen, "cannot mount the container's overlay: %s", strerror(e));
        if (fs >= 0) close(fs);
        errno = e;
        return -1;
    }
    int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
    int e = errno;
    close(fs);
    if (mnt < 0) {
        snprintf(err, errlen, "fsmount overlay: %s", strerror(e));
        errno = e;
        return -1;
    }
    return mnt;
}

// ---- a stopped container's volumes and bind mounts in its detached root (bocker cp) ----

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef RESOLVE_NO_SYMLINKS
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_IN_ROOT 0x10
#endif

struct bk_open_how { unsigned long long flags, mode, resolve; };
struct bk_attr { unsigned long long attr_set, attr_clr, propagation, userns_fd; };

int bk_tree_clone(const char *dir) {
    return (int)syscall(SYS_open_tree, AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
}

// One component below dirfd, never through a symlink (nor "..": the caller's names have none).
static int open_component(int dirfd, const char *name) {
    struct bk_open_how how = { .flags = O_PATH | O_CLOEXEC,
                               .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
    for (int tries = 0;; tries++) {
        long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof how);
        if (fd >= 0 || errno != EAGAIN || tries >= 64) return (int)fd;
    }
}

int bk_attach_in_tree(int treefd, const char *source, const char *dest, int readonly,
                      char *err, unsigned long errlen) {
    int src = (int)syscall(SYS_open_tree, AT_FDCWD, source,
                           OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW);
    if (src < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open the mount source %s: %s", source, strerror(e));
        errno = e;
        return -1;
    }
    struct stat sst;
    struct bk_attr attr = { .attr_set = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID | (readonly ? MOUNT_ATTR_RDONLY : 0) };
    if (fstat(src, &sst) != 0 ||
        syscall(SYS_mount_setattr, src, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) {
        int e = errno;
        close(src);
        snprintf(err, errlen, "cannot prepare the mount of %s: %s", source, strerror(e));
        errno = e;
        return -1;
    }
    // Walk dest one component at a time from the tree's root: a symlink anywhere is refused
    // (as when the container starts), missing mount points are made as a start makes them.
    char *path = strdup(dest);
    int cur = path ? (int)openat(treefd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
    int e = path ? errno : ENOMEM;
    const char *what = "open the root";
    char *save = NULL;
    char *comp = cur >= 0 ? strtok_r(path, "/", &save) : NULL;
    while (comp && cur >= 0) {
        char *next = strtok_r(NULL, "/", &save);
        int fd = open_component(cur, comp);
        if (fd < 0 && errno == ENOENT) {
            int made;
            if (next || S_ISDIR(sst.st_mode)) {
                made = mkdirat(cur, comp, 0755);
            } else {
                made = openat(cur, comp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (made >= 0) { close(made); made = 0; }
            }
            if (made == 0 || errno == EEXIST) fd = open_component(cur, comp);
        }
        e = errno;
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && (next ? !S_ISDIR(st.st_mode) : S_ISDIR(st.st_mode) != S_ISDIR(sst.st_mode))) {
            close(fd);
            fd = -1;
            e = ENOTDIR;
        }
        close(cur);
        cur = fd;
        what = "open the mount point";
        comp = next;
    }
    free(path);
    if (cur >= 0 && syscall(SYS_move_mount, src, "", cur, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
        e = errno;
        what = "attach the mount on";
        close(cur);
        cur = -1;
    }
    close(src);
    if (cur < 0) {
        snprintf(err, errlen, "cannot %s %s: %s", what, dest, strerror(e));
        errno = e;
        return -1;
    }
    close(cur);
    return 0;
}
