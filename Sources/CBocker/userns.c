// User namespaces (--userns=auto). The container's first process is cloned with CLONE_NEWUSER
// together with its other namespaces, so the new user namespace owns them (proc, sysfs for a
// new network namespace, devpts, tmpfs, hostname all work for its root). That root has no
// right over the host's files, so it cannot build its own root filesystem from the store
// (mode 0700 directories, trusted.overlay xattrs): the parent does it as host root, after
// writing the id maps and before the go byte, as *detached* mounts (open_tree, fsopen/fsmount):
//
//   - the image's layers are idmapped mounts (mount_setattr MOUNT_ATTR_IDMAP with the child's
//     user namespace): a file owned by 0 on disk is owned by the container's root inside, and
//     nothing of the image is ever chowned;
//   - overlay: an overlay over those idmapped lower layers, with the container's own upper/
//     (not idmapped: overlay creates its work files as the mounter, host root, who has no
//     place in the container's range; so what the container writes is owned on disk by the
//     mapped host ids, as with podman's --userns=auto);
//   - btrfs/copy: the container's rootfs/ directory, idmapped;
//   - one detached bind per bind mount (read-only applied here; BK_BIND_IDMAP for bocker's
//     own /etc/hosts and /etc/resolv.conf).
// Every one of them is nodev, as the mounts of a container without a user namespace are.
//
// The fds travel to the child with the go byte (SCM_RIGHTS); the child attaches the root over
// its "/" (the only place it can reach that the parent also knows) and enters it through the
// fd, then pivot_roots as usual.
#define _GNU_SOURCE
#include "bk_spawn.h"
#include "bk_child.h"
#include "bk_userns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

// --- parent side -------------------------------------------------------------------------------

#define BK_MAX_LAYERS 500   // overlay's own limit is 500 lower layers

static int bk_write_map(pid_t pid, const char *file, uint32_t base, uint32_t size, char *err, size_t errlen) {
    char path[64], line[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    int n = snprintf(line, sizeof line, "0 %u %u\n", base, size);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, line, (size_t)n) != n) {
        int e = errno;
        if (fd >= 0) close(fd);
        snprintf(err, errlen, "write %s of the container process: %s", file, strerror(e));
        errno = e;
        return -1;
    }
    close(fd);
    return 0;
}

// A detached copy of the mount at path (recursive when rec), idmapped to userns_fd when >= 0,
// with extra attributes set. The fd, or -1 with a message.
static int bk_detached(const char *path, int rec, int userns_fd, uint64_t attrs, char *err, size_t errlen) {
    unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (rec ? AT_RECURSIVE : 0);
    int fd = (int)syscall(SYS_open_tree, AT_FDCWD, path, flags);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "open_tree %s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    struct mount_attr a;
    memset(&a, 0, sizeof a);
    a.attr_set = attrs;
    if (userns_fd >= 0) {
        a.attr_set |= MOUNT_ATTR_IDMAP;
        a.userns_fd = (uint64_t)userns_fd;
    }
    if (a.attr_set && syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0), &a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        snprintf(err, errlen, "%s %s: %s", userns_fd >= 0 ? "idmap the mount of" : "set attributes of", path, strerror(e));
        errno = e;
        return -1;
    }
    return fd;
}

static int bk_fsconfig(int fs, const char *key, const char *value, char *err, size_t errlen) {
    if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, key, value, 0) == 0) return 0;
    int e = errno;
    snprintf(err, errlen, "overlay option %s=%s: %s", key, value, strerror(e));
    errno = e;
    return -1;
}

// overlay over idmapped lower layers (each a detached mount named by /proc/self/fd/N, so no
// option string can outgrow a page) and the container's upper/ and work/.
static int bk_overlay_root(const bk_spawn_config *c, int userns_fd, char *err, size_t errlen) {
    int fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
    if (fs < 0) {
        int e = errno;
        snprintf(err, errlen, "fsopen overlay: %s", strerror(e));
        errno = e;
        return -1;
    }
    int mfd = -1;
    // The layer mounts must live until the overlay is made (it clones them then).
    int lfds[BK_MAX_LAYERS];
    int nl = 0;
    for (const char *const *l = c->overlay_lowers; *l; l++) {
        if (nl == BK_MAX_LAYERS) {
            snprintf(err, errlen, "too many layers for a user namespace (at most %d)", BK_MAX_LAYERS);
            errno = E2BIG;
            goto out;
        }
        int lfd = bk_detached(*l, 0, userns_fd, 0, err, errlen);
        if (lfd < 0) goto out;
        lfds[nl++] = lfd;
        char p[64];
        snprintf(p, sizeof p, "/proc/self/fd/%d", lfd);
        if (bk_fsconfig(fs, "lowerdir+", p, err, errlen) != 0) goto out;
    }
    if (bk_fsconfig(fs, "upperdir", c->overlay_upper, err, errlen) != 0) goto out;
    if (bk_fsconfig(fs, "workdir", c->overlay_work, err, errlen) != 0) goto out;
    if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0) {
        int e = errno;
        char log[256] = "";
        ssize_t n = read(fs, log, sizeof log - 1);   // the kernel's reason, if it gave one
        log[n > 0 ? n : 0] = 0;
        if (n > 0 && log[n - 1] == '\n') log[n - 1] = 0;
        snprintf(err, errlen, "mount overlay: %s%s%s", strerror(e), n > 0 ? ": " : "", log);
        errno = e;
        goto out;
    }
    mfd = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV);
    if (mfd < 0) {
        int e = errno;
        snprintf(err, errlen, "fsmount overlay: %s", strerror(e));
        errno = e;
    }
out:
    for (int i = 0; i < nl; i++) close(lfds[i]);
    close(fs);
    return mfd;
}

int bk_userns_prepare(const bk_spawn_config *c, pid_t pid, int *fds, int *nfds, char *err, size_t errlen) {
    *nfds = 0;
    if (bk_write_map(pid, "uid_map", c->userns_uid, c->userns_size, err, errlen) != 0) return -1;
    if (bk_write_map(pid, "gid_map", c->userns_gid, c->userns_size, err, errlen) != 0) return -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
    int ufd = open(path, O_RDONLY | O_CLOEXEC);
    if (ufd < 0) {
        int e = errno;
        snprintf(err, errlen, "open %s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    int root = c->overlay_lowers ? bk_overlay_root(c, ufd, err, errlen)
                                 : bk_detached(c->rootfs, 0, ufd, MOUNT_ATTR_NODEV, err, errlen);
    if (root < 0) goto fail;
    fds[(*nfds)++] = root;
    for (int i = 0; i < c->n_binds; i++) {
        int fl = c->bind_flags ? c->bind_flags[i] : 0;
        if (fl & BK_MOUNT_TMPFS) continue;
        if (*nfds == BK_MAX_MOUNT_FDS) {
            snprintf(err, errlen, "too many mounts for a user namespace (at most %d)", BK_MAX_MOUNT_FDS - 1);
            errno = E2BIG;
            goto fail;
        }
        // nodev everywhere, as without a user namespace (a device node in a volume or a bind
        // mount cannot be opened whatever the device cgroup says).
        uint64_t attrs = MOUNT_ATTR_NODEV | ((fl & BK_BIND_READONLY) ? MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID : 0);
        int fd = bk_detached(c->bind_sources[i], 1, (fl & BK_BIND_IDMAP) ? ufd : -1, attrs, err, errlen);
        if (fd < 0) goto fail;
        fds[(*nfds)++] = fd;
    }
    close(ufd);
    return 0;
fail:;
    int e = errno;
    close(ufd);
    for (int i = 0; i < *nfds; i++) close(fds[i]);
    *nfds = 0;
    errno = e;
    return -1;
}

int bk_send_go(int sock, const int *fds, int nfds) {
    char go = 1;
    struct iovec iov = { .iov_base = &go, .iov_len = 1 };
    union { char buf[CMSG_SPACE(sizeof(int) * BK_MAX_MOUNT_FDS)]; struct cmsghdr align; } u;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (nfds > 0) {
        memset(&u, 0, sizeof u);
        msg.msg_control = u.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t n;
    do { n = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    return n == 1 ? 0 : -1;
}

// --- child side --------------------------------------------------------------------------------

int bk_recv_go(int sock, int *fds, int max) {
    char go = 0;
    struct iovec iov = { .iov_base = &go, .iov_len = 1 };
    union { char buf[CMSG_SPACE(sizeof(int) * BK_MAX_MOUNT_FDS)]; struct cmsghdr align; } u;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    memset(&u, 0, sizeof u);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = u.buf;
    msg.msg_controllen = sizeof u.buf;
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n != 1) return -1;
    int got = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
        int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + sizeof(int) * (size_t)i, sizeof fd);
            if (got < max) fds[got++] = fd; else close(fd);
        }
    }
    return got;
}

void bk_userns_become_root(int efd) {
    // Cloned into the new namespace we still carry the host's root ids (unmapped there, so
    // shown as 65534): take the namespace's own root, i.e. the first id of the range, before
    // touching any file.
    if (syscall(SYS_setresgid, 0, 0, 0) != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "become root of the user namespace (gid)");
    if (syscall(SYS_setresuid, 0, 0, 0) != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "become root of the user namespace (uid)");
}

void bk_userns_enter_root(int efd, int root_fd) {
    if (syscall(SYS_move_mount, root_fd, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) != 0)
        bk_child_fail(efd, BK_STAGE_SETUP, errno, "attach the container's root filesystem");
    if (fchdir(root_fd) != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "enter the container's root filesystem");
    close(root_fd);
}

void bk_userns_attach(int efd, int fd, const char *rel, const char *what) {
    if (syscall(SYS_move_mount, fd, "", AT_FDCWD, rel, MOVE_MOUNT_F_EMPTY_PATH) != 0)
        bk_child_fail(efd, BK_STAGE_SETUP, errno, what);
    close(fd);
}
