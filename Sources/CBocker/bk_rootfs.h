// Internal to CBocker: the container's root filesystem as its first process builds it (proc,
// a minimal /dev, /sys, masked and read-only paths, bind mounts, pivot_root). rootfs.c holds
// it; spawn.c clones the process that runs it.
#ifndef BK_ROOTFS_H
#define BK_ROOTFS_H

#include <sys/types.h>
#include "bk_spawn.h"

// The device nodes every container gets (null, zero, full, random, urandom, tty).
#define BK_NDEV 6
struct bk_dev_node { const char *name; unsigned major, minor; };
extern const struct bk_dev_node bk_dev_nodes[BK_NDEV];

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
    int shm_tree;       // join_ipc: the other container's /dev/shm, a detached mount (else -1)
};

// Builds the new root in the current mount namespace and pivots into it; fails the child
// (bk_child_fail) on any error.
void bk_setup_root(const struct bk_spawn_ctx *x);

#endif
