// Ctrl-C for scripts: the first SIGINT or SIGTERM only sets a flag (waits return, the Lua hook
// raises "interrupted", the host stops what the script started); a second one does what the
// signal normally does.
#define _GNU_SOURCE
#include "bk_util.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t bk_interrupt_signal = 0;

static void bk_on_interrupt(int sig) {
    bk_interrupt_signal = sig;
    signal(sig == SIGINT ? SIGINT : SIGTERM, SIG_DFL);
    signal(sig == SIGINT ? SIGTERM : SIGINT, SIG_DFL);
}

void bk_install_interrupt(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = bk_on_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;   // no SA_RESTART: a blocking poll or nanosleep returns EINTR at once
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int bk_interrupted(void) { return bk_interrupt_signal; }

void bk_interrupt_clear(void) { bk_interrupt_signal = 0; }
