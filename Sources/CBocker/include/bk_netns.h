// Network-namespace and rtnetlink socket calls for BockerNetwork: setns/unshare on the calling
// thread only, always returning that thread to the namespace it started in.
#ifndef BK_NETNS_H
#define BK_NETNS_H

// Opens the calling thread's network namespace (/proc/thread-self/ns/net, O_RDONLY|O_CLOEXEC).
// The fd, or -1 with errno.
int bk_netns_current(void);

// Creates a new, empty network namespace without entering it: the calling thread unshares,
// opens the new namespace and setns()es back. The new namespace's fd (O_CLOEXEC), or -1 with
// errno. The thread always ends in its original namespace (the process aborts if it cannot).
int bk_netns_new(void);

// setns(fd, CLONE_NEWNET) on the calling thread. 0, or -1 with errno.
int bk_setns_net(int fd);

// Opens a NETLINK_ROUTE socket (SOCK_CLOEXEC, extended and capped acks enabled) inside the
// network namespace nsfd, or in the calling thread's namespace when nsfd < 0. The socket stays
// bound to that namespace; the thread returns to its own. The fd, or -1 with errno.
int bk_netlink_socket_in(int nsfd);

// Writes value to path (e.g. /proc/sys/net/ipv4/ip_forward) in one write(2). 0, or -1 with errno.
int bk_sysctl_write(const char *path, const char *value);

// bk_sysctl_write inside the network namespace nsfd (/proc/sys/net/... resolves in the namespace
// of the thread that opens it): the calling thread enters nsfd, writes, and returns to its own.
// 0, or -1 with errno.
int bk_sysctl_write_in(int nsfd, const char *path, const char *value);

#endif
