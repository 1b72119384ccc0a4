// Small libc calls Swift's Glibc module hides behind _GNU_SOURCE.
#ifndef BK_UTIL_H
#define BK_UTIL_H

// pipe2(fds, O_CLOEXEC). 0, or -1 with errno.
int bk_pipe_cloexec(int fds[2]);

// Sends SIGKILL to each pid and waits (through pidfds, no polling loop) until every one of them
// has exited or timeout_ms has passed. Returns how many are still alive afterwards.
int bk_kill_and_wait(const int *pids, int n, int timeout_ms);

// pidfd_open(pid, 0): an fd that becomes readable when pid exits. -1 with errno.
int bk_pidfd_open(int pid);
// pidfd_send_signal: signals exactly the process the pidfd names (no pid-reuse race).
int bk_pidfd_send_signal(int pidfd, int sig);
// Waits until the pidfd is readable (the process exited) or timeout_ms passes (-1: forever).
// 1 exited, 0 timed out, -1 error.
int bk_pidfd_wait(int pidfd, int timeout_ms);

// An anonymous in-memory file (memfd_create, close-on-exec). -1 with errno.
int bk_memfd(const char *name);

// Ctrl-C for scripts: after this, the first SIGINT or SIGTERM only records itself (blocking
// calls return EINTR); a second one has its default effect.
void bk_install_interrupt(void);
// The signal recorded (0: none).
int bk_interrupted(void);
// Forgets the recorded signal (the handler stays uninstalled: a new one kills).
void bk_interrupt_clear(void);

// attach: SIGWINCH (and with proxy SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2) become
// one byte each (the signal number) on a non-blocking pipe; returns its read end, -1 with errno.
int bk_signal_pipe_open(int proxy);
// Gives those signals back their earlier handlers and closes the pipe.
void bk_signal_pipe_close(int readfd);
// accept4(listenfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK). -1 with errno.
int bk_accept_nonblock(int listenfd);

#endif
