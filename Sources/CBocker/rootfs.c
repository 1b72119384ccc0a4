// The container's root filesystem, built by its first process in its new mount namespace:
// the image's root mounted (overlay or bind; in a user namespace, the idmapped mounts the
// parent made), proc, a minimal /dev, /sys, bind mounts through fds, then pivot_root, masked
// and read-only paths and a read-only root. No malloc, no stdio, no locks (see spawn.c).
#define _GNU_SOURCE
#include "bk_spawn.h"
#include "bk_child.h"
#include "bk_rootfs.h"
#include "bk_userns.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <linux/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>


#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

const struct bk_dev_node bk_dev_nodes[BK_NDEV] = {
    { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
    { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

static const struct { const char *target, *link; } bk_dev_links[] = {
    { "pts/ptmx", "dev/ptmx" },
    { "/proc/self/fd", "dev/fd" },
    { "/proc/self/fd/0", "dev/stdin" },
    { "/proc/self/fd/1", "dev/stdout" },
    { "/proc/self/fd/2", "dev/stderr" },
    { "/proc/kcore", "dev/core" },
};

// --- small child helpers -----------------------------------------------------------------------

static char *msg3(char *buf, size_t cap, const char *a, const char *b, const char *c) {
    buf[0] = 0;
    bk_append(buf, cap, a);
    bk_append(buf, cap, b);
    bk_append(buf, cap, c);
    return buf;
}

// Makes sure `rel` (relative to the cwd, the new root before pivot_root) is a real directory:
// every component is lstat'ed, missing ones are created, and a symlink anywhere is refused
// instead of followed (CVE-2019-19921: an image must not redirect a mount outside its root).
static void bk_safe_mkdirs(int efd, const char *rel) {
    char p[PATH_MAX];
    char m[PATH_MAX + 96];
    size_t n = bk_strlen(rel);
    if (n >= sizeof p) bk_child_fail(efd, BK_STAGE_SETUP, ENAMETOOLONG, rel);
    memcpy(p, rel, n + 1);
    for (size_t i = 0; i <= n; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        if (i == 0) continue;
        char saved = p[i];
        p[i] = 0;
        struct stat st;
        if (lstat(p, &st) != 0) {
            if (errno != ENOENT) bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "lstat /", p, ""));
            if (mkdir(p, 0755) != 0 && errno != EEXIST)
                bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "create mount point /", p, ""));
            if (lstat(p, &st) != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "lstat /", p, ""));
        }
        if (S_ISLNK(st.st_mode))
            bk_child_fail_msg(efd, BK_STAGE_SETUP, ELOOP,
                msg3(m, sizeof m, "refusing to mount on /", p, ": it is a symbolic link in the image"));
        if (!S_ISDIR(st.st_mode))
            bk_child_fail_msg(efd, BK_STAGE_SETUP, ENOTDIR,
                msg3(m, sizeof m, "cannot mount on /", p, ": not a directory in the image"));
        p[i] = saved;
    }
}

// For an absolute path inside the (pivoted) container: 1 and *st if it exists and no
// component is a symlink, 0 if missing; a symlink component fails the child.
static int bk_lstat_nofollow(int efd, const char *abs, struct stat *st) {
    char p[PATH_MAX];
    char m[PATH_MAX + 96];
    size_t n = bk_strlen(abs);
    if (n == 0 || n >= sizeof p || abs[0] != '/') bk_child_fail(efd, BK_STAGE_SETUP, EINVAL, abs);
    memcpy(p, abs, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        char saved = p[i];
        p[i] = 0;
        if (lstat(p, st) != 0) {
            if (errno == ENOENT || errno == ENOTDIR) return 0;
            bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "lstat ", p, ""));
        }
        if (S_ISLNK(st->st_mode))
            bk_child_fail_msg(efd, BK_STAGE_SETUP, ELOOP,
                msg3(m, sizeof m, "refusing to mount on ", p, ": it is a symbolic link"));
        p[i] = saved;
    }
    return 1;
}

static void bk_mount_or_fail(int efd, const char *src, const char *target, const char *type,
                             unsigned long flags, const char *data, const char *what) {
    if (mount(src, target, type, flags, data) != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, what);
}

// --- the root filesystem -----------------------------------------------------------------------

// Adds nodev to the mount at `rel` and every mount below it, keeping their other flags
// (mount_setattr, Linux 5.12; older kernels: a remount of the top mount with its statfs flags).
// Device nodes on the image's files, in volumes and in bind mounts then cannot be opened: a
// container that mknods a disk there gets EACCES whatever the device cgroup says.
struct bk_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
static void bk_set_nodev(int efd, const char *rel, const char *what) {
    struct bk_mount_attr a = { .attr_set = 0x4 /* MOUNT_ATTR_NODEV */ };
    if (syscall(SYS_mount_setattr, AT_FDCWD, rel, AT_RECURSIVE, &a, sizeof a) == 0) return;
    if (errno != ENOSYS) bk_child_fail(efd, BK_STAGE_SETUP, errno, what);
    const unsigned long keep = MS_RDONLY | MS_NOSUID | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME;
    struct statfs sf;
    unsigned long flags = 0;
    if (statfs(rel, &sf) == 0) flags = (unsigned long)sf.f_flags & keep;
    if (mount(rel, rel, NULL, MS_BIND | MS_REMOUNT | MS_NODEV | flags, NULL) != 0)
        bk_child_fail(efd, BK_STAGE_SETUP, errno, what);
}

static void bk_setup_dev(const struct bk_spawn_ctx *x) {
    int efd = x->error_fd;
    char m[128];
    bk_safe_mkdirs(efd, "dev");
    bk_mount_or_fail(efd, "tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME,
                     "mode=755,size=65536k", "mount tmpfs on /dev");
    for (size_t i = 0; i < BK_NDEV; i++) {
        char path[32] = "dev/";
        bk_append(path, sizeof path, bk_dev_nodes[i].name);
        if (x->cfg->userns) {
            // No mknod in a user namespace: bind the host's node on an empty file.
            char host[32] = "/";
            bk_append(host, sizeof host, path);
            int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
            if (fd < 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "create /", path, ""));
            close(fd);
            if (mount(host, path, NULL, MS_BIND, NULL) != 0)
                bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "bind-mount /", path, ""));
        } else if (mknod(path, S_IFCHR | 0666, x->devs[i]) != 0) {
            bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "mknod /", path, ""));
        }
    }
    const bk_spawn_config *c = x->cfg;
    for (int i = 0; i < c->n_devs; i++) {
        const char *dst = c->dev_paths[i];
        char rel[PATH_MAX], parent[PATH_MAX];
        char mm[PATH_MAX + 64];
        size_t n = dst ? bk_strlen(dst) : 0;
        if (n < 6 || n >= sizeof rel || memcmp(dst, "/dev/", 5) != 0)
            bk_child_fail_msg(efd, BK_STAGE_SETUP, EINVAL, "device: the container path must be under /dev/");
        memcpy(rel, dst + 1, n);   // "dev/..." with its NUL
        memcpy(parent, rel, n);
        char *slash = NULL;
        for (char *q = parent; *q; q++) if (*q == '/') slash = q;
        if (slash && slash != parent + 3) { *slash = 0; bk_safe_mkdirs(efd, parent); }
        struct stat st;
        if (lstat(rel, &st) == 0 && !S_ISDIR(st.st_mode)) unlink(rel);   // one of ours, e.g. /dev/null
        if (mknod(rel, c->dev_modes[i], (dev_t)c->dev_numbers[i]) != 0)
            bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(mm, sizeof mm, "mknod ", dst, ""));
        if (chown(rel, c->dev_uids[i], c->dev_gids[i]) != 0)
            bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(mm, sizeof mm, "chown ", dst, ""));
    }
    bk_safe_mkdirs(efd, "dev/pts");
    bk_mount_or_fail(efd, "devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                     "newinstance,ptmxmode=0666,mode=0620,gid=5", "mount devpts on /dev/pts");
    if (!x->cfg->no_shm) bk_safe_mkdirs(efd, "dev/shm");   // --ipc none: no /dev/shm at all
    if (x->cfg->no_shm) {
    } else if (x->shm_tree >= 0) {   // --ipc container:X: X's /dev/shm (the same tmpfs)
        if (syscall(SYS_move_mount, x->shm_tree, "", AT_FDCWD, "dev/shm", MOVE_MOUNT_F_EMPTY_PATH) != 0)
            bk_child_fail(efd, BK_STAGE_SETUP, errno, "mount the other container's /dev/shm");
        close(x->shm_tree);
    } else if (x->cfg->host_ipc)   // --ipc host: the host's POSIX shared memory too ("/" is still the host's)
        bk_mount_or_fail(efd, "/dev/shm", "dev/shm", NULL, MS_BIND, NULL, "bind-mount the host's /dev/shm");
    else
        bk_mount_or_fail(efd, "shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV,
                         x->cfg->shm_options ? x->cfg->shm_options : "mode=1777,size=65536k", "mount tmpfs on /dev/shm");
    for (size_t i = 0; i < sizeof bk_dev_links / sizeof bk_dev_links[0]; i++) {
        if (symlink(bk_dev_links[i].target, bk_dev_links[i].link) != 0)
            bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "symlink /", bk_dev_links[i].link, ""));
    }
}

static void bk_setup_sys(int efd, int writable) {
    const unsigned long ro = (writable ? 0 : MS_RDONLY) | MS_NOSUID | MS_NOEXEC | MS_NODEV;
    bk_safe_mkdirs(efd, "sys");
    if (mount("sysfs", "sys", "sysfs", ro, NULL) == 0) return;
    // sysfs refuses a mount it cannot scope to our network namespace (one owned by another
    // user namespace): fall back to a recursive bind of the host's /sys, read-only all the
    // way down (the cgroup hierarchies under it included).
    bk_mount_or_fail(efd, "/sys", "sys", NULL, MS_BIND | MS_REC, NULL, "bind-mount /sys");
    struct mount_attr a;
    memset(&a, 0, sizeof a);
    a.attr_set = (writable ? 0 : MOUNT_ATTR_RDONLY) | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    if (syscall(SYS_mount_setattr, AT_FDCWD, "sys", AT_RECURSIVE, &a, sizeof a) != 0)
        bk_child_fail(efd, BK_STAGE_SETUP, errno, writable ? "set the flags of /sys" : "make /sys read-only");
}

static void bk_loopback_up(int efd) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "socket for loopback setup");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "get flags of lo");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "bring lo up");
    close(s);
}

static void bk_mask_paths(int efd, const char *const *paths) {
    char m[PATH_MAX + 64];
    for (; paths && *paths; paths++) {
        struct stat st;
        if (!bk_lstat_nofollow(efd, *paths, &st)) continue;
        if (S_ISDIR(st.st_mode)) {
            if (mount("tmpfs", *paths, "tmpfs", MS_RDONLY, NULL) != 0)
                bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "mask ", *paths, ""));
        } else if (mount("/dev/null", *paths, NULL, MS_BIND, NULL) != 0) {
            bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "mask ", *paths, ""));
        }
    }
}

static void bk_readonly_paths(int efd, const char *const *paths) {
    char m[PATH_MAX + 64];
    const unsigned long keep = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME;
    for (; paths && *paths; paths++) {
        struct stat st;
        if (!bk_lstat_nofollow(efd, *paths, &st)) continue;
        // statfs (a plain syscall, unlike glibc's statvfs fallback) gives the source's flags;
        // ST_* and MS_* share their values for these bits.
        struct statfs sf;
        unsigned long flags = 0;
        if (statfs(*paths, &sf) == 0) flags = (unsigned long)sf.f_flags & keep;
        if (mount(*paths, *paths, NULL, MS_BIND | MS_REC, NULL) != 0)
            bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "bind-mount ", *paths, ""));
        if (mount(*paths, *paths, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | flags, NULL) != 0)
            bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "remount read-only ", *paths, ""));
    }
}

// Opens `rel` below `rootfd` as an O_PATH fd: openat2 with RESOLVE_IN_ROOT (no ".." or
// absolute jump leaves the root) and RESOLVE_NO_SYMLINKS (any symlink fails with ELOOP).
static int bk_open_target(int rootfd, const char *rel) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof how);
}

// Bind mounts from the host into the new root (cwd = the new root, before pivot_root).
static void bk_bind_mounts(int efd, const bk_spawn_config *c, int *mfds, int nm) {
    char m[PATH_MAX + 96];
    int next = 1;   // userns: mfds[0] was the root
    if (c->n_binds <= 0) return;
    int rootfd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "open the new root");
    for (int i = 0; i < c->n_binds; i++) {
        const char *src = c->bind_sources[i], *dst = c->bind_targets[i];
        int fl = c->bind_flags ? c->bind_flags[i] : 0;
        if (!src || !dst || dst[0] != '/' || dst[1] == 0)
            bk_child_fail_msg(efd, BK_STAGE_SETUP, EINVAL, "bind mount: bad path");
        const char *rel = dst + 1;
        struct stat sst;
        int mfd = -1;
        if (fl & BK_MOUNT_TMPFS) {
            memset(&sst, 0, sizeof sst);
            sst.st_mode = S_IFDIR | 01777;
        } else if (c->userns) {
            // The parent made the mount (we could not even reach its source).
            if (next >= nm) bk_child_fail_msg(efd, BK_STAGE_SETUP, EINVAL, "bind mount: missing mount from the parent");
            mfd = mfds[next++];
            if (fstat(mfd, &sst) != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "bind mount source ", src, ""));
        } else if (stat(src, &sst) != 0) {
            bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "bind mount source ", src, ""));
        }
        // Parent directories: real directories in the image, created if missing.
        char parent[PATH_MAX];
        size_t n = bk_strlen(rel);
        if (n >= sizeof parent) bk_child_fail(efd, BK_STAGE_SETUP, ENAMETOOLONG, dst);
        memcpy(parent, rel, n + 1);
        char *slash = NULL;
        for (char *q = parent; *q; q++) if (*q == '/') slash = q;
        if (slash) { *slash = 0; bk_safe_mkdirs(efd, parent); }
        struct stat tst;
        if (lstat(rel, &tst) == 0 && S_ISLNK(tst.st_mode)) {
            if (!(fl & BK_BIND_REPLACE_LINK) || S_ISDIR(sst.st_mode))
                bk_child_fail_msg(efd, BK_STAGE_SETUP, ELOOP,
                    msg3(m, sizeof m, "refusing to mount on ", dst, ": it is a symbolic link in the image"));
            if (unlink(rel) != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "replace the link ", dst, ""));
        }
        if (lstat(rel, &tst) != 0) {
            if (S_ISDIR(sst.st_mode)) {
                if (mkdir(rel, 0755) != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "create ", dst, ""));
            } else {
                int fd = open(rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (fd < 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "create ", dst, ""));
                close(fd);
            }
        } else if (S_ISDIR(tst.st_mode) != S_ISDIR(sst.st_mode)) {
            bk_child_fail_msg(efd, BK_STAGE_SETUP, ENOTDIR,
                msg3(m, sizeof m, "cannot mount on ", dst, ": a file and a directory do not mix"));
        }
        // The checks above walked paths; the mount itself must not. The target is opened once,
        // inside the root and through no symlink at all (a directory swapped for a symlink
        // since the check fails here, CVE-2021-30465), and the mount goes onto that fd.
        int tfd = bk_open_target(rootfd, rel);
        if (tfd < 0)
            bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "open mount point ", dst, " inside the root"));
        struct stat ost;
        if (fstat(tfd, &ost) != 0 || S_ISDIR(ost.st_mode) != S_ISDIR(sst.st_mode))
            bk_child_fail_msg(efd, BK_STAGE_SETUP, ENOTDIR,
                msg3(m, sizeof m, "cannot mount on ", dst, ": it changed while the container was set up"));
        if (fl & BK_MOUNT_TMPFS) {
            char fdpath[40] = "/proc/self/fd/";
            bk_append_long(fdpath, sizeof fdpath, tfd);
            if (mount("tmpfs", fdpath, "tmpfs", MS_NOSUID | MS_NODEV | ((fl & BK_BIND_READONLY) ? MS_RDONLY : 0),
                      src && *src ? src : "mode=1777") != 0)
                bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "mount tmpfs on ", dst, ""));
            close(tfd);
            continue;
        }
        if (mfd >= 0) {   // read-only (and idmapped) already, as the parent made it: onto the fd
            if (syscall(SYS_move_mount, mfd, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
                bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "bind-mount on ", dst, ""));
            close(mfd);
            close(tfd);
            continue;
        }
        // A detached copy of the source (read-only before it is attached, if asked), moved onto
        // the target fd: no path is resolved again after the check.
        int tree = (int)syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (tree < 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "bind mount source ", src, ""));
        // nodev always (device nodes in a volume cannot be opened); read-only and nosuid if asked.
        struct bk_mount_attr attr = { .attr_set = MOUNT_ATTR_NODEV };
        if (fl & BK_BIND_READONLY) attr.attr_set |= MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID;
        int attr_done = syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) == 0;
        if (!attr_done && errno != ENOSYS)
            bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "set the mount options of ", dst, ""));
        if (syscall(SYS_move_mount, tree, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
            bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "bind-mount on ", dst, ""));
        if (!attr_done) {
            // Kernels before 5.12 (no mount_setattr): by path, right after the mount.
            bk_set_nodev(efd, rel, msg3(m, sizeof m, "make ", dst, " nodev"));
            if ((fl & BK_BIND_READONLY) &&
                mount(src, rel, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0)
                bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "make ", dst, " read-only"));
        }
        close(tree);
        close(tfd);
    }
    close(rootfd);
}

// --sysctl: each value written into the container's own /proc (its network and IPC
// namespaces; the core allows only namespaced names). "proc/sys/" + path, relative to the
// new root, not yet read-only.
static void bk_write_sysctls(int efd, const bk_spawn_config *c) {
    char m[PATH_MAX + 64];
    for (int i = 0; i < c->n_sysctls; i++) {
        char path[PATH_MAX] = "proc/sys/";
        bk_append(path, sizeof path, c->sysctl_paths[i]);
        int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        size_t n = bk_strlen(c->sysctl_values[i]);
        if (fd < 0 || write(fd, c->sysctl_values[i], n) != (ssize_t)n)
            bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "sysctl /", path, ""));
        close(fd);
    }
}

void bk_setup_root(const struct bk_spawn_ctx *x) {
    const bk_spawn_config *c = x->cfg;
    int efd = x->error_fd;
    char m[PATH_MAX + 96];

    // Nothing we mount may propagate back to the host.
    bk_mount_or_fail(efd, "", "/", NULL, MS_REC | MS_PRIVATE, NULL, "make / private");
    if (c->userns) {
        if (x->n_mount_fds < 1) bk_child_fail_msg(efd, BK_STAGE_SETUP, EINVAL, "no root filesystem from the parent");
        bk_userns_enter_root(efd, x->mount_fds[0]);
    } else if (c->overlay_options) {
        if (c->overlay_dir && chdir(c->overlay_dir) != 0)
            bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "chdir to ", c->overlay_dir, ""));
        bk_mount_or_fail(efd, "overlay", c->rootfs, "overlay", MS_NODEV, c->overlay_options,
                         msg3(m, sizeof m, "mount overlay on ", c->rootfs, ""));
    } else {
        // pivot_root needs the new root to be a mount point.
        bk_mount_or_fail(efd, c->rootfs, c->rootfs, NULL, MS_BIND | MS_REC, NULL,
                         msg3(m, sizeof m, "bind-mount ", c->rootfs, ""));
        bk_set_nodev(efd, c->rootfs, msg3(m, sizeof m, "make ", c->rootfs, " nodev"));
    }
    // chdir after mounting, so "." is the new mount; from here on paths are relative to it.
    if (!c->userns && chdir(c->rootfs) != 0)
        bk_child_fail(efd, BK_STAGE_SETUP, errno, msg3(m, sizeof m, "chdir to ", c->rootfs, ""));

    bk_safe_mkdirs(efd, "proc");
    bk_mount_or_fail(efd, "proc", "proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL, "mount proc on /proc");
    bk_write_sysctls(efd, c);
    bk_setup_dev(x);
    bk_setup_sys(efd, c->sys_writable);
    bk_bind_mounts(efd, c, x->mount_fds, x->n_mount_fds);

    if (!c->host_uts && c->hostname && sethostname(c->hostname, bk_strlen(c->hostname)) != 0)
        bk_child_fail(efd, BK_STAGE_SETUP, errno, "sethostname");
    if (c->new_netns && !c->join_netns) bk_loopback_up(efd);

    // pivot_root(".", "."): the old root ends up mounted on top of the new one; detach it.
    if (syscall(SYS_pivot_root, ".", ".") != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "pivot_root");
    bk_mount_or_fail(efd, "", ".", NULL, MS_SLAVE | MS_REC, NULL, "make the old root a slave");
    if (umount2(".", MNT_DETACH) != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "detach the old root");
    if (chdir("/") != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "chdir /");

    bk_mask_paths(efd, c->masked_paths);
    bk_readonly_paths(efd, c->readonly_paths);
    // --read-only: the root mount itself (not /proc, /dev, /sys or the container's volumes and
    // tmpfs mounts, which are mounts of their own) refuses writes.
    if (c->readonly_rootfs) {
        // A bind remount replaces the mount's flags: keep the ones it has (nosuid, nodev, …).
        const unsigned long keep = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME;
        struct statfs sf;
        unsigned long flags = 0;
        if (statfs("/", &sf) == 0) flags = (unsigned long)sf.f_flags & keep;
        if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | flags, NULL) != 0)
            bk_child_fail(efd, BK_STAGE_SETUP, errno, "remount / read-only");
    }
}
