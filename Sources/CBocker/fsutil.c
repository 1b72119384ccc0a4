#define _GNU_SOURCE
#include "bk_util.h"

#include <errno.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int bk_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int bk_kill_and_wait(const int *pids, int n, int timeout_ms) {
    enum { MAX = 256 };
    struct pollfd fds[MAX];
    int m = 0;
    for (int i = 0; i < n && m < MAX; i++) {
        int fd = (int)syscall(SYS_pidfd_open, pids[i], 0);
        if (fd < 0) { kill(pids[i], SIGKILL); continue; }   // gone already, or no pidfds
        syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
        fds[m].fd = fd;
        fds[m].events = POLLIN;   // readable once the process has exited
        m++;
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int alive = m;
    while (alive > 0) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (spent >= timeout_ms) break;
        int rc = poll(fds, (nfds_t)m, (int)(timeout_ms - spent));
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) break;
        alive = 0;
        for (int i = 0; i < m; i++) {
            if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                close(fds[i].fd);
                fds[i].fd = -1;   // poll ignores negative fds
            }
            if (fds[i].fd >= 0) alive++;
        }
    }
    for (int i = 0; i < m; i++) if (fds[i].fd >= 0) close(fds[i].fd);
    return alive;
}

int bk_pidfd_open(int pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int bk_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int bk_pidfd_wait(int pidfd, int timeout_ms) {
    struct pollfd p = { .fd = pidfd, .events = POLLIN };
    for (;;) {
        int rc = poll(&p, 1, timeout_ms);
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return -1;
        return rc > 0 ? 1 : 0;
    }
}

int bk_memfd(const char *name) {
    return memfd_create(name, MFD_CLOEXEC);
}
