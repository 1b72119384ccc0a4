// btrfs subvolume operations through ioctls: microseconds, where forking btrfs(8) costs ms.
#define _GNU_SOURCE
#include "bk_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/btrfs.h>

long bk_fs_type(const char *path) {
    struct statfs sfs;
    if (statfs(path, &sfs) != 0) return -1;
    return (long)sfs.f_type;
}

static int copy_name(char *dst, size_t cap, const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n >= cap || strchr(name, '/') != NULL) { errno = EINVAL; return -1; }
    memcpy(dst, name, n + 1);
    return 0;
}

int bk_btrfs_subvol_create(const char *parent_dir, const char *name) {
    struct btrfs_ioctl_vol_args args;
    memset(&args, 0, sizeof args);
    if (copy_name(args.name, sizeof args.name, name) != 0) return -1;
    int fd = open(parent_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = ioctl(fd, BTRFS_IOC_SUBVOL_CREATE, &args);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int bk_btrfs_snapshot(const char *src, const char *parent_dir, const char *name, int readonly) {
    struct btrfs_ioctl_vol_args_v2 args;
    memset(&args, 0, sizeof args);
    if (copy_name(args.name, sizeof args.name, name) != 0) return -1;
    int sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sfd < 0) return -1;
    int dfd = open(parent_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) { int e = errno; close(sfd); errno = e; return -1; }
    args.fd = sfd;
    if (readonly) args.flags |= BTRFS_SUBVOL_RDONLY;
    int rc = ioctl(dfd, BTRFS_IOC_SNAP_CREATE_V2, &args);
    int saved = errno;
    close(sfd);
    close(dfd);
    errno = saved;
    return rc;
}

int bk_btrfs_subvol_delete(const char *parent_dir, const char *name) {
    struct btrfs_ioctl_vol_args args;
    memset(&args, 0, sizeof args);
    if (copy_name(args.name, sizeof args.name, name) != 0) return -1;
    int fd = open(parent_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = ioctl(fd, BTRFS_IOC_SNAP_DESTROY, &args);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int bk_btrfs_is_subvolume(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    return S_ISDIR(st.st_mode) && st.st_ino == 256 && bk_fs_type(path) == (long)BK_BTRFS_MAGIC;
}
