#define _GNU_SOURCE
#include "bk_netns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

int bk_netns_current(void) {
    return open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
}

int bk_setns_net(int fd) {
    return setns(fd, CLONE_NEWNET);
}

// Returns the thread to the namespace saved in `saved` and closes it. Running on in the wrong
// namespace would silently misplace every later socket and link, so failure here is fatal.
static void restore(int saved) {
    if (setns(saved, CLONE_NEWNET) != 0) {
        fprintf(stderr, "bocker: cannot return to the original network namespace: %s\n", strerror(errno));
        abort();
    }
    close(saved);
}

int bk_netns_new(void) {
    int saved = bk_netns_current();
    if (saved < 0) return -1;
    if (unshare(CLONE_NEWNET) != 0) {
        int err = errno;
        close(saved);
        errno = err;
        return -1;
    }
    int fd = bk_netns_current();
    int err = errno;
    restore(saved);
    errno = err;
    return fd;
}

static int netlink_socket(void) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -1;
    int one = 1;
    // Best effort: older kernels without extended acks still work, just with terser errors.
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
    return fd;
}

// Moves this thread into the network namespace nsfd. Returns an fd of the one it was in (for
// restore), or -1 with errno.
static int enter_netns(int nsfd) {
    int saved = bk_netns_current();
    if (saved < 0) return -1;
    if (setns(nsfd, CLONE_NEWNET) != 0) {
        int err = errno;
        close(saved);
        errno = err;
        return -1;
    }
    return saved;
}

int bk_netlink_socket_in(int nsfd) {
    if (nsfd < 0) return netlink_socket();
    int saved = enter_netns(nsfd);
    if (saved < 0) return -1;
    int fd = netlink_socket();
    int err = errno;
    restore(saved);
    errno = err;
    return fd;
}

int bk_sysctl_write(const char *path, const char *value) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = strlen(value);
    ssize_t n = write(fd, value, len);
    int err = errno;
    close(fd);
    if (n < 0) { errno = err; return -1; }
    if ((size_t)n != len) { errno = EIO; return -1; }
    return 0;
}

int bk_sysctl_write_in(int nsfd, const char *path, const char *value) {
    int saved = enter_netns(nsfd);
    if (saved < 0) return -1;
    int rc = bk_sysctl_write(path, value);
    int err = errno;
    restore(saved);
    errno = err;
    return rc;
}
