// Small libc calls Swift's Glibc module hides behind _GNU_SOURCE.
#ifndef BK_UTIL_H
#define BK_UTIL_H

// pipe2(fds, O_CLOEXEC). 0, or -1 with errno.
int bk_pipe_cloexec(int fds[2]);

#endif
