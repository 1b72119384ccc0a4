// Small libc calls Swift's Glibc module hides behind _GNU_SOURCE.
#ifndef BK_UTIL_H
#define BK_UTIL_H

// pipe2(fds, O_CLOEXEC). 0, or -1 with errno.
int bk_pipe_cloexec(int fds[2]);

// Sends SIGKILL to each pid and waits (through pidfds, no polling loop) until every one of them
// has exited or timeout_ms has passed. Returns how many are still alive afterwards.
int bk_kill_and_wait(const int *pids, int n, int timeout_ms);

#endif
