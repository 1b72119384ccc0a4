// The signals of `bocker attach` (and `start -a`): received here, they become bytes on a pipe
// the attach loop polls, so a signal is handled as an event (forwarded to the container, a
// terminal resize sent) and never interrupts anything halfway.
#define _GNU_SOURCE
#include "bk_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t bk_signal_pipe_fd = -1;
static const int bk_attach_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
#define BK_ATTACH_NSIG (sizeof bk_attach_signals / sizeof bk_attach_signals[0])
static struct sigaction bk_attach_saved[BK_ATTACH_NSIG];
static int bk_attach_taken[BK_ATTACH_NSIG];

static void bk_signal_pipe_handler(int sig) {
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    int fd = bk_signal_pipe_fd;
    if (fd >= 0) (void)!write(fd, &b, 1);   // full pipe: that signal is dropped, never a block
    errno = saved;
}

int bk_signal_pipe_open(int proxy) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
    bk_signal_pipe_fd = fds[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = bk_signal_pipe_handler;
    sa.sa_flags = SA_RESTART;
    for (size_t i = 0; i < BK_ATTACH_NSIG; i++) {
        int sig = bk_attach_signals[i];
        bk_attach_taken[i] = (sig == SIGWINCH || proxy) && sigaction(sig, &sa, &bk_attach_saved[i]) == 0;
    }
    return fds[0];
}

void bk_signal_pipe_close(int readfd) {
    for (size_t i = 0; i < BK_ATTACH_NSIG; i++) {
        if (bk_attach_taken[i]) sigaction(bk_attach_signals[i], &bk_attach_saved[i], NULL);
        bk_attach_taken[i] = 0;
    }
    int w = bk_signal_pipe_fd;
    bk_signal_pipe_fd = -1;
    if (w >= 0) close(w);
    if (readfd >= 0) close(readfd);
}

int bk_accept_nonblock(int listenfd) {
    return accept4(listenfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
}
