// Internal: the user-namespace steps of spawn.c (see userns.c).
#ifndef BK_USERNS_H
#define BK_USERNS_H

#include <sys/types.h>
#include "bk_spawn.h"

// Parent: writes the child's uid_map/gid_map and builds its root and bind mounts as detached
// mounts into fds (root first, then one per non-tmpfs bind, in order). 0, or -1 with errno and
// a message in err (nothing left open).
int bk_userns_prepare(const bk_spawn_config *c, pid_t pid, int *fds, int *nfds, char *err, size_t errlen);
// Parent: the go byte with fds attached (SCM_RIGHTS). 0 or -1 with errno.
int bk_send_go(int sock, const int *fds, int nfds);

// Child: waits for the go byte; the fds that came with it (close-on-exec) go into fds. The
// number of fds, or -1 when the parent is gone.
int bk_recv_go(int sock, int *fds, int max);
// Child: setresgid/setresuid(0) inside the new namespace (fails the child on error).
void bk_userns_become_root(int efd);
// Child: attaches the detached root over "/" and makes it the working directory.
void bk_userns_enter_root(int efd, int root_fd);
// Child: attaches a detached mount on rel (relative to the new root) and closes it.
void bk_userns_attach(int efd, int fd, const char *rel, const char *what);

#endif
