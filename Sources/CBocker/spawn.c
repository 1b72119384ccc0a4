// The container's first process: clone() into new namespaces, wait for the parent's go byte,
// build the root filesystem (proc, a minimal /dev, read-only sys, masked and read-only paths),
// pivot_root into it, drop privileges and execve. Everything after clone() runs here in C; the
// parent is a multithreaded Swift process, so the child uses no malloc, no stdio and no locks
// (every string and array was prepared by the parent before clone).
#define _GNU_SOURCE
#include "bk_spawn.h"
#include "bk_child.h"
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

#define BK_STACK_SIZE (1024 * 1024)

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

static const struct { const char *name; unsigned major, minor; } bk_dev_nodes[] = {
    { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
    { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};
#define BK_NDEV (sizeof bk_dev_nodes / sizeof bk_dev_nodes[0])

static const struct { const char *target, *link; } bk_dev_links[] = {
    { "pts/ptmx", "dev/ptmx" },
    { "/proc/self/fd", "dev/fd" },
    { "/proc/self/fd/0", "dev/stdin" },
    { "/proc/self/fd/1", "dev/stdout" },
    { "/proc/self/fd/2", "dev/stderr" },
    { "/proc/kcore", "dev/core" },
};

// What the child gets: a copy of the parent's memory at clone time, so pointers into the
// parent's stack stay valid in the child.
struct bk_spawn_ctx {
    const bk_spawn_config *cfg;
    int sync_fd;        // child end of the go channel
    int error_fd;       // write end of the CLOEXEC error pipe
    int cap_last;
    dev_t devs[BK_NDEV];
    // userns: the detached mounts the parent sent with the go byte (root first, then binds).
    int *mount_fds;
    int n_mount_fds;
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
    bk_safe_mkdirs(efd, "dev/shm");
    bk_mount_or_fail(efd, "shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV,
                     "mode=1777,size=65536k", "mount tmpfs on /dev/shm");
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
            if (mount("tmpfs", fdpath, "tmpfs", MS_NOSUID | MS_NODEV | ((fl & BK_BIND_READONLY) ? MS_RDONLY : 0), "mode=1777") != 0)
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

static void bk_setup_root(const struct bk_spawn_ctx *x) {
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
    bk_setup_dev(x);
    bk_setup_sys(efd, c->sys_writable);
    bk_bind_mounts(efd, c, x->mount_fds, x->n_mount_fds);

    if (c->hostname && sethostname(c->hostname, bk_strlen(c->hostname)) != 0)
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

// Overwrites this process's argument area (our own private copy of the parent's memory) so
// that /proc/self/cmdline reads `name`. Its bounds are fields 48 and 49 of /proc/self/stat.
static void bk_rename_args(const char *name) {
    char buf[2048];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return;
    buf[n] = 0;
    char *p = strrchr(buf, ')');   // field 2 (comm) may hold spaces
    if (!p) return;
    unsigned long field[64];
    int k = 2;
    for (p++; *p && k < 52; ) {
        while (*p == ' ') p++;
        if (!*p) break;
        k++;
        unsigned long v = 0;
        while (*p >= '0' && *p <= '9') v = v * 10 + (unsigned long)(*p++ - '0');
        while (*p && *p != ' ') p++;
        if (k < 64) field[k] = v;
    }
    if (k < 49) return;
    char *start = (char *)field[48], *end = (char *)field[49];
    if (!start || end <= start) return;
    size_t cap = (size_t)(end - start);
    size_t len = bk_strlen(name);
    memset(start, 0, cap);
    memcpy(start, name, len < cap ? len : cap - 1);
}

// --use-init: this process stays PID 1 and runs the command as its child. It forwards every
// signal it gets to the command, reaps every zombie the namespace hands it, and exits with the
// command's status (128+N for a signal). It never execs: it stays non-dumpable and keeps the
// dropped capabilities (no CAP_SYS_PTRACE), so nothing in the container can open
// /proc/1/exe (the host binary) or ptrace it.
static _Noreturn void bk_run_init(const bk_final_config *f, const bk_spawn_config *c) {
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &all, NULL);
    pid_t cmd = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (cmd < 0) bk_child_fail(f->error_fd, BK_STAGE_SETUP, errno, "fork the command under init");
    if (cmd == 0) bk_setup_stdio_and_exec(f);   // unblocks signals itself
    // The command holds the error pipe and the output pipes; init lets go of them so that
    // EOF means what it should (exec done, output over).
    // init is confined too (its filter is loaded here, the command's in the command).
    if (!f->allow_new_privs) bk_load_seccomp(f);
    close(f->error_fd);
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul >= 0) { dup2(nul, 0); dup2(nul, 1); dup2(nul, 2); }
    for (int fd = 3; fd < 1024; fd++) close(fd);
    (void)c;
    int status = 0;
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&all, &si);
        if (sig < 0) continue;
        if (sig == SIGCHLD) {
            int st;
            pid_t p;
            while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
                if (p == cmd) {
                    status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                    _exit(status);
                }
            }
            continue;
        }
        kill(cmd, sig);
    }
}

static int bk_spawn_child(void *arg) {
    struct bk_spawn_ctx *x = arg;
    const bk_spawn_config *c = x->cfg;
    int mount_fds[BK_MAX_MOUNT_FDS];
    int efd = x->error_fd;
    int sfd = x->sync_fd;

    // Until execve this process is a copy of the host binary: not dumpable, so nothing in the
    // container can open /proc/1/exe or ptrace it (CVE-2019-5736).
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    bk_reset_signal_handlers();  // all signals are still blocked (by the parent, around clone)
    // Drop every fd inherited from the parent (other threads' pipes included) at once, so that
    // no one else's pipe is held open by this child while it waits for release.
    int keep[7 + 24] = { sfd, efd, c->stdin_fd, c->stdout_fd, c->stderr_fd,
                         c->join_netns && !c->userns ? c->netns_fd : -1, c->tty_socket };
    int nkeep = 7;
    for (int i = 0; i < c->n_cgroup_fds && i < 24; i++) keep[nkeep++] = c->cgroup_fds[i];
    bk_close_fds_except(keep, nkeep);
    if (c->die_with_parent) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (c->n_cgroup_fds > 0) {
        // Direct mode: the parent's calling thread is suspended (CLONE_VFORK) until we exec;
        // join the cgroups ourselves ("0" is the writing process) and go on.
        for (int i = 0; i < c->n_cgroup_fds && i < 24; i++) {
            if (write(c->cgroup_fds[i], "0", 1) != 1) bk_child_fail(efd, BK_STAGE_SETUP, errno, "join the container's cgroup");
            close(c->cgroup_fds[i]);
        }
        goto released;
    }
    // The usual getppid() check for a parent that died before PR_SET_PDEATHSIG cannot work
    // here (getppid() is 0 in a new PID namespace); the go channel covers it instead: a dead
    // parent closes its end, the read sees EOF, and the child exits quietly.
    int nm = bk_recv_go(sfd, mount_fds, BK_MAX_MOUNT_FDS);
    if (nm < 0) _exit(1);
    close(sfd);
    x->mount_fds = mount_fds;
    x->n_mount_fds = nm;
    if (c->userns) bk_userns_become_root(efd);

released:
    // A prepared network namespace (veth, address, routes already set by the parent): join
    // it before /sys is mounted, so /sys/class/net shows the container's own interfaces.
    if (c->join_netns && !c->userns) {   // (userns: entered by the parent around clone)
        if (setns(c->netns_fd, CLONE_NEWNET) != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "join the network namespace");
        close(c->netns_fd);
    }
    umask(0);
    bk_setup_root(x);
    bk_enter_workdir(efd, c->workdir, 1);
    int tty_slave = -1;
    if (c->tty_socket >= 0) tty_slave = bk_open_container_pty(efd, c->tty_socket);

    bk_final_config f;
    memset(&f, 0, sizeof f);
    f.argv = c->argv;
    f.envp = c->envp;
    f.path_env = c->path_env;
    f.uid = c->uid;
    f.gid = c->gid;
    bk_resolve_user(efd, c->user_name, c->group_name, &f.uid, &f.gid);
    f.cap_keep = c->cap_keep;
    f.cap_last = x->cap_last;
    f.stdio[0] = c->stdin_fd;
    f.stdio[1] = c->stdout_fd;
    f.stdio[2] = c->stderr_fd;
    f.null_for_missing = 1;
    f.error_fd = efd;
    f.seccomp_filter = c->seccomp_filter;
    f.seccomp_filter_len = c->seccomp_filter_len;
    f.allow_new_privs = c->allow_new_privs;
    // The parent reads the error pipe until we exec: its write end tells whether it still lives.
    f.pdeathsig = c->die_with_parent ? SIGKILL : 0;
    f.parent_alive_fd = efd;
    if (tty_slave >= 0) {
        f.stdio[0] = f.stdio[1] = f.stdio[2] = tty_slave;
        f.controlling_tty = 1;
    }
    if (c->use_init) {
        // Inside, PID 1 shows as "bocker-init", not as the host command line it was cloned
        // from (PR_SET_MM needs CAP_SYS_RESOURCE: before the capabilities go).
        prctl(PR_SET_NAME, (unsigned long)"bocker-init", 0, 0, 0);
        bk_rename_args("bocker-init");
    }
    // --init's PID 1 leaves the caller's session too (the command makes its own again).
    if (c->use_init && setsid() < 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "setsid");
    bk_drop_privileges(&f);
    if (c->use_init) bk_run_init(&f, c);
    bk_setup_stdio_and_exec(&f);
}

// --- parent side -------------------------------------------------------------------------------

static int bk_waitpid_status(pid_t pid, int *status);

int bk_spawn_start(const bk_spawn_config *cfg, bk_spawn_handle *h, char *err, size_t errlen) {
    h->pid = -1;
    h->direct = 0;
    h->sync_fd = -1;
    h->error_fd = -1;
    h->n_mount_fds = 0;
    if (err && errlen) err[0] = 0;
    if (!cfg || !cfg->rootfs || !cfg->argv || !cfg->argv[0]) {
        if (err) snprintf(err, errlen, "spawn: no root filesystem or command");
        errno = EINVAL;
        return -1;
    }

    struct bk_spawn_ctx x;
    memset(&x, 0, sizeof x);
    x.cfg = cfg;
    x.cap_last = bk_cap_last_cap();
    for (size_t i = 0; i < BK_NDEV; i++) {
        // The host's numbers (the standard ones if the host's /dev is unusual).
        char path[32] = "/dev/";
        struct stat st;
        bk_append(path, sizeof path, bk_dev_nodes[i].name);
        x.devs[i] = makedev(bk_dev_nodes[i].major, bk_dev_nodes[i].minor);
        if (stat(path, &st) == 0 && S_ISCHR(st.st_mode)) x.devs[i] = st.st_rdev;
    }

    // The go channel is a socketpair so that a write to a dead child gets EPIPE, not SIGPIPE.
    int sp[2], ep[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
        int e = errno;
        if (err) snprintf(err, errlen, "socketpair: %s", strerror(e));
        errno = e;
        return -1;
    }
    if (pipe2(ep, O_CLOEXEC) != 0) {
        int e = errno;
        close(sp[0]); close(sp[1]);
        if (err) snprintf(err, errlen, "pipe: %s", strerror(e));
        errno = e;
        return -1;
    }
    x.sync_fd = sp[0];
    x.error_fd = ep[1];

    void *stack = mmap(NULL, BK_STACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        int e = errno;
        close(sp[0]); close(sp[1]); close(ep[0]); close(ep[1]);
        if (err) snprintf(err, errlen, "mmap child stack: %s", strerror(e));
        errno = e;
        return -1;
    }

    int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | SIGCHLD;
    if (cfg->new_netns && !cfg->join_netns) flags |= CLONE_NEWNET;
    if (cfg->userns) flags |= CLONE_NEWUSER;
    // Direct mode shares our memory until the child execs (as posix_spawn does): this thread
    // waits, the child uses only its own stack and the prepared strings, no page table is copied.
    int direct = cfg->n_cgroup_fds > 0 && !cfg->userns;
    // userns: from inside its new user namespace the child could no longer enter a network
    // namespace owned by ours, so this thread enters it for the clone (the child inherits it).
    int own_net = -1;
    if (cfg->userns && cfg->join_netns) {
        own_net = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (own_net < 0 || setns(cfg->netns_fd, CLONE_NEWNET) != 0) {
            int e2 = errno;
            if (own_net >= 0) close(own_net);
            close(sp[0]); close(sp[1]); close(ep[0]); close(ep[1]);
            munmap(stack, BK_STACK_SIZE);
            if (err) snprintf(err, errlen, "enter the container's network namespace: %s", strerror(e2));
            errno = e2;
            return -1;
        }
    }
    if (direct) flags |= CLONE_VM | CLONE_VFORK;
    // Block every signal so that none of the parent's handlers runs in the child before it
    // resets them.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = clone(bk_spawn_child, (char *)stack + BK_STACK_SIZE, flags, &x);
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (own_net >= 0) {
        if (setns(own_net, CLONE_NEWNET) != 0) {   // cannot happen; never go on in the wrong one
            if (pid > 0) { kill(pid, SIGKILL); bk_waitpid_status(pid, NULL); }
            pid = -1;
            e = errno;
        }
        close(own_net);
    }
    munmap(stack, BK_STACK_SIZE);  // the child has its own copy, or (direct) has exec'd or exited
    close(sp[0]);
    close(ep[1]);
    if (pid < 0) {
        close(sp[1]);
        close(ep[0]);
        if (err) snprintf(err, errlen, "clone: %s", strerror(e));
        errno = e;
        return -1;
    }
    h->pid = pid;
    h->sync_fd = sp[1];
    h->error_fd = ep[0];
    h->direct = direct;
    if (direct) { close(sp[1]); h->sync_fd = -1; }
    if (cfg->userns && bk_userns_prepare(cfg, pid, h->mount_fds, &h->n_mount_fds, err, errlen) != 0) {
        int e2 = errno;
        bk_spawn_abort(h);
        errno = e2;
        return -1;
    }
    return 0;
}

// Reads the error pipe to EOF. Returns the number of bytes read into *out (0 = exec succeeded).
static ssize_t bk_read_child_error(int fd, bk_child_error *out) {
    size_t got = 0;
    char *p = (char *)out;
    char sink[256];
    for (;;) {
        ssize_t n = got < sizeof *out ? read(fd, p + got, sizeof *out - got) : read(fd, sink, sizeof sink);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (got < sizeof *out) got += (size_t)n;
    }
    out->message[sizeof out->message - 1] = 0;
    return (ssize_t)got;
}

static int bk_waitpid_status(pid_t pid, int *status) {
    int st = 0;
    pid_t r;
    do { r = waitpid(pid, &st, 0); } while (r < 0 && errno == EINTR);
    if (status) *status = st;
    return r < 0 ? -1 : 0;
}

int bk_spawn_release(bk_spawn_handle *h, bk_child_error *out, int *status) {
    bk_child_error local;
    if (!out) out = &local;
    memset(out, 0, sizeof *out);
    if (h->pid <= 0 || (h->sync_fd < 0 && !h->direct) || h->error_fd < 0) {
        errno = EINVAL;
        return -1;
    }
    int send_err = 0;
    if (!h->direct) {
        send_err = bk_send_go(h->sync_fd, h->mount_fds, h->n_mount_fds) == 0 ? 0 : errno;
        close(h->sync_fd);
        h->sync_fd = -1;
        for (int i = 0; i < h->n_mount_fds; i++) close(h->mount_fds[i]);
        h->n_mount_fds = 0;
    }

    ssize_t got = bk_read_child_error(h->error_fd, out);
    close(h->error_fd);
    h->error_fd = -1;
    if (got == 0 && send_err == 0) return 0;

    bk_waitpid_status(h->pid, status);
    if (got == 0) {
        // The child died before it could be released (killed from outside).
        out->stage = BK_STAGE_SETUP;
        out->err = send_err;
        snprintf(out->message, sizeof out->message, "container process died before it started: %s",
                 strerror(send_err));
    } else if (out->stage == BK_STAGE_NONE) {
        out->stage = BK_STAGE_SETUP;
    }
    return 1;
}

void bk_spawn_abort(bk_spawn_handle *h) {
    for (int i = 0; i < h->n_mount_fds; i++) close(h->mount_fds[i]);
    h->n_mount_fds = 0;
    if (h->sync_fd >= 0) { close(h->sync_fd); h->sync_fd = -1; }
    if (h->error_fd >= 0) { close(h->error_fd); h->error_fd = -1; }
    if (h->pid > 0) {
        kill(h->pid, SIGKILL);
        bk_waitpid_status(h->pid, NULL);
        h->pid = -1;
    }
}

// --- misc --------------------------------------------------------------------------------------

static volatile sig_atomic_t bk_forward_pid = 0;
static const int bk_forwarded_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static void bk_forward_handler(int sig) {
    int saved = errno;
    pid_t pid = (pid_t)bk_forward_pid;
    if (pid > 0) kill(pid, sig);
    errno = saved;
}

void bk_forward_signals(pid_t pid) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    if (pid > 0) {
        bk_forward_pid = pid;
        sa.sa_handler = bk_forward_handler;
        sa.sa_flags = SA_RESTART;
    } else {
        sa.sa_handler = SIG_DFL;
    }
    for (size_t i = 0; i < sizeof bk_forwarded_signals / sizeof bk_forwarded_signals[0]; i++)
        sigaction(bk_forwarded_signals[i], &sa, NULL);
    if (pid <= 0) bk_forward_pid = 0;
}

int bk_wait_exit_code(pid_t pid) {
    int st = 0;
    if (bk_waitpid_status(pid, &st) != 0) return -1;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
}

int bk_cap_last_cap(void) {
    static int cached = -1;
    if (cached >= 0) return cached;
    int last = CAP_LAST_CAP;
    int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[16];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) {
            int v = 0, digits = 0;
            for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++, digits++) v = v * 10 + (buf[i] - '0');
            if (digits > 0 && v < 64) last = v;
        }
    }
    cached = last;
    return last;
}

int bk_receive_fd(int sock) {
    char byte;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
    memset(&u, 0, sizeof u);
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n != 1) { if (n == 0) errno = EPIPE; return -1; }
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    if (!cm || cm->cmsg_type != SCM_RIGHTS) { errno = EPROTO; return -1; }
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof(int));
    return fd;
}

uint64_t bk_cap_bounding_set(void) {
    uint64_t bits = 0;
    for (int cap = 0; cap < 64; cap++)
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) bits |= 1ULL << cap;
    return bits;
}
