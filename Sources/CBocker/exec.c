// Running a command inside a running container (bocker exec).
//
//   parent (multithreaded Swift) ── _Fork ──> intermediate ── _Fork ──> command
//
// The intermediate makes itself non-dumpable, joins the container's cgroups (files opened by
// the parent) and namespaces (pidfd_open + setns, or /proc/PID/ns/* fds), then forks the command
// so that it is inside the container's PID namespace. It waits for the command, forwarding
// SIGINT/SIGTERM/..., and exits with its code (128+n for a signal).
//
// CVE-2019-5736: until execve, the command process is a copy of the host's bocker binary inside
// the container's PID namespace, so a process in the container could try to open
// /proc/<pid>/exe and overwrite the host binary. Both children are non-dumpable
// (PR_SET_DUMPABLE 0, inherited across fork), which makes /proc/<pid>/exe (and ptrace) need
// CAP_SYS_PTRACE over them, and containers never hold CAP_SYS_PTRACE (it is dropped from the
// bounding set of every container process). bk_drop_privileges makes the command non-dumpable
// again after setresuid (the kernel resets the flag to fs.suid_dumpable on a uid change). The
// intermediate itself stays outside the container's PID namespace and is invisible in its
// /proc. After execve, /proc/<pid>/exe is the container's own binary. A container granted
// CAP_SYS_PTRACE (--cap-add, --privileged) can still open the binary read-only; running it from
// a sealed memfd copy (runc's exeseal) would close that too (not done yet).
#define _GNU_SOURCE
#include "bk_spawn.h"
#include "bk_child.h"
#include "bk_util.h"
#include "bk_userns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define BK_MAX_CGROUPS 24  // cgroup v1 hierarchies (15 controllers at most today)

static const struct { const char *name; int type; } bk_ns_list[] = {
    // mnt last: after it, /proc/PID/ns paths would resolve in the container's /proc.
    // user after net: a network namespace bocker prepared belongs to the host's user
    // namespace, which we leave when we join the container's.
    { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS }, { "net", CLONE_NEWNET }, { "user", CLONE_NEWUSER },
    { "pid", CLONE_NEWPID }, { "mnt", CLONE_NEWNS },
};
#define BK_NNS (sizeof bk_ns_list / sizeof bk_ns_list[0])
_Static_assert(5 + 6 + BK_MAX_CGROUPS <= BK_MAX_KEEP_FDS, "keep list too small");

static volatile sig_atomic_t bk_exec_child_pid = 0;

static void bk_exec_forward(int sig) {
    int saved = errno;
    pid_t pid = (pid_t)bk_exec_child_pid;
    if (pid > 0) kill(pid, sig);
    errno = saved;
}

struct bk_exec_ctx {
    const bk_exec_config *cfg;
    int error_fd;
    int pidfd;
    int ns_fds[BK_NNS];
    int cgroup_fds[BK_MAX_CGROUPS];
    int ncgroups;
    int cap_last;
    int stdio[3];         // what the command gets as 0, 1, 2 (a pipe where the caller's is a tty)
};

// --- terminal relay ----------------------------------------------------------------------------
//
// Without -t the command never gets a descriptor of the caller's terminal: every stdio fd of the
// caller that is a tty is replaced by a pipe, and the intermediate (outside the container's PID
// namespace, non-dumpable) copies between the two. Together with the command's own session
// (setsid in bk_setup_stdio_and_exec) nothing in the container can open /dev/tty or use TIOCSTI
// on the caller's terminal.

typedef struct {
    int src, dst;        // copy src -> dst; -1 when this slot is unused or finished
    int input;           // 1: the caller's tty -> the command's stdin pipe
    char buf[4096];
    size_t len, off;
} bk_relay;

static void bk_relay_close(bk_relay *r) {
    if (r->input) { if (r->dst >= 0) close(r->dst); }
    else if (r->src >= 0) close(r->src);
    r->src = r->dst = -1;
    r->len = r->off = 0;
}

// Writes what is buffered; for the output relays (blocking tty) all of it.
static void bk_relay_flush(bk_relay *r) {
    while (r->off < r->len) {
        ssize_t n = write(r->dst, r->buf + r->off, r->len - r->off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;   // the stdin pipe is full: poll for POLLOUT
        if (n <= 0) { bk_relay_close(r); return; }   // EPIPE: the command closed its stdin
        r->off += (size_t)n;
    }
    r->len = r->off = 0;
}

// One read from src into the buffer; EOF (or an error) closes the relay once it is flushed.
static void bk_relay_read(bk_relay *r) {
    ssize_t n;
    do { n = read(r->src, r->buf, sizeof r->buf); } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) { bk_relay_close(r); return; }
    r->len = (size_t)n;
    r->off = 0;
    bk_relay_flush(r);
}

// Copies until the command has exited (signalfd sfd reports SIGCHLD), then drains what the
// command left in its output pipes and returns its wait status.
static int bk_relay_until_exit(bk_relay *rl, int nrl, int sfd, pid_t pid) {
    for (;;) {
        struct pollfd pf[4];
        int which[4];
        int np = 0;
        pf[np].fd = sfd; pf[np].events = POLLIN; which[np++] = -1;
        for (int i = 0; i < nrl; i++) {
            bk_relay *r = &rl[i];
            if (r->src < 0 && r->dst < 0) continue;
            if (r->len > 0) { pf[np].fd = r->dst; pf[np].events = POLLOUT; }
            else { pf[np].fd = r->src; pf[np].events = POLLIN; }
            which[np++] = i;
        }
        int rc = poll(pf, (nfds_t)np, -1);
        if (rc < 0) { if (errno == EINTR) continue; break; }
        for (int k = 1; k < np; k++) {
            if (!pf[k].revents) continue;
            bk_relay *r = &rl[which[k]];
            if (r->len > 0) bk_relay_flush(r); else bk_relay_read(r);
        }
        if (pf[0].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) > 0) {}
            int st = 0;
            pid_t w = waitpid(pid, &st, WNOHANG);
            if (w == pid) {
                // What the command wrote before it ended is in the pipes: copy it, without
                // waiting for anything it left running in the background.
                for (int i = 0; i < nrl; i++) {
                    bk_relay *r = &rl[i];
                    if (r->input || r->src < 0) continue;
                    while (r->src >= 0) {
                        ssize_t n = read(r->src, r->buf, sizeof r->buf);
                        if (n < 0 && errno == EINTR) continue;
                        if (n <= 0) break;
                        r->len = (size_t)n; r->off = 0;
                        bk_relay_flush(r);
                    }
                }
                return st;
            }
        }
    }
    int st = 0;
    pid_t r;
    do { r = waitpid(pid, &st, 0); } while (r < 0 && errno == EINTR);
    return st;
}

static _Noreturn void bk_exec_command(const struct bk_exec_ctx *x) {
    const bk_exec_config *c = x->cfg;
    // After setns(CLONE_NEWNS) the kernel set our root and cwd to the namespace's root, which
    // for a pivot_root'ed container is its new root (the old one was detached); the tests
    // check this by reading a file that exists only in the container's root.
    bk_enter_workdir(x->error_fd, c->workdir, 0);
    bk_final_config f;
    memset(&f, 0, sizeof f);
    f.argv = c->argv;
    f.envp = c->envp;
    f.path_env = c->path_env;
    f.uid = c->uid;
    f.gid = c->gid;
    bk_resolve_user(x->error_fd, c->user_name, c->group_name, &f.uid, &f.gid);
    f.cap_keep = c->cap_keep;
    f.cap_last = x->cap_last;
    f.stdio[0] = x->stdio[0];
    f.stdio[1] = x->stdio[1];
    f.stdio[2] = x->stdio[2];
    f.null_for_missing = 0;  // -1 = inherit (only when the intermediate has no such fd either)
    f.error_fd = x->error_fd;
    f.seccomp_filter = c->seccomp_filter;
    f.seccomp_filter_len = c->seccomp_filter_len;
    f.allow_new_privs = c->allow_new_privs;
    f.parent_alive_fd = -1;
    f.controlling_tty = c->tty;   // stdio is the pty's slave: setsid and make it the ctty
    // The container's --ulimit values, as run's first process got them: an exec'd command is
    // held to them too, as in Docker.
    bk_apply_rlimits(x->error_fd, c->rlimits, c->n_rlimits);
    bk_drop_privileges(&f);
    bk_setup_stdio_and_exec(&f);
}

static _Noreturn void bk_exec_intermediate(struct bk_exec_ctx *x) {
    const bk_exec_config *c = x->cfg;
    int efd = x->error_fd;
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);  // first of all (CVE-2019-5736, see the top)
    bk_reset_signal_handlers();  // signals stay blocked (by the parent) for now

    int keep[5 + BK_NNS + BK_MAX_CGROUPS];
    int nk = 0;
    keep[nk++] = efd;
    keep[nk++] = c->stdin_fd;
    keep[nk++] = c->stdout_fd;
    keep[nk++] = c->stderr_fd;
    keep[nk++] = x->pidfd;
    for (size_t i = 0; i < BK_NNS; i++) keep[nk++] = x->ns_fds[i];
    for (int i = 0; i < x->ncgroups; i++) keep[nk++] = x->cgroup_fds[i];
    bk_close_fds_except(keep, nk);

    // 1. cgroups (the files were opened before setns, in the host's mount namespace).
    char pidbuf[24] = "";
    bk_append_long(pidbuf, sizeof pidbuf, (long)syscall(SYS_getpid));
    bk_append(pidbuf, sizeof pidbuf, "\n");
    for (int i = 0; i < x->ncgroups; i++) {
        ssize_t n;
        do { n = write(x->cgroup_fds[i], pidbuf, bk_strlen(pidbuf)); } while (n < 0 && errno == EINTR);
        if (n < 0) {
            char m[128] = "join cgroup ";
            bk_append(m, sizeof m, c->cgroup_procs[i]);
            bk_child_fail(efd, BK_STAGE_SETUP, errno, m);
        }
        close(x->cgroup_fds[i]);
    }

    // 2. namespaces: all at once through the pidfd, else one by one.
    int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID;
    if (c->join_userns) flags |= CLONE_NEWUSER;
    if (x->pidfd < 0 || setns(x->pidfd, flags) != 0) {
        for (size_t i = 0; i < BK_NNS; i++) {
            if (bk_ns_list[i].type == CLONE_NEWUSER && !c->join_userns) continue;
            if (x->ns_fds[i] < 0 || setns(x->ns_fds[i], bk_ns_list[i].type) != 0) {
                char m[64] = "join the container's ";
                bk_append(m, sizeof m, bk_ns_list[i].name);
                bk_append(m, sizeof m, " namespace");
                bk_child_fail(efd, BK_STAGE_SETUP, x->ns_fds[i] < 0 ? ESRCH : errno, m);
            }
        }
    }
    if (x->pidfd >= 0) close(x->pidfd);
    for (size_t i = 0; i < BK_NNS; i++) if (x->ns_fds[i] >= 0) close(x->ns_fds[i]);
    if (c->join_userns) bk_userns_become_root(efd);

    // 3. the command's stdio: the caller's, except that a terminal becomes a relayed pipe.
    bk_relay rl[3];
    int nrl = 0;
    int cmd_ends[3] = { -1, -1, -1 };
    const int given[3] = { c->stdin_fd, c->stdout_fd, c->stderr_fd };
    if (c->tty) {
        // exec -t: a pty of the container's own devpts (we are in its mount namespace now), as
        // run -t has. The command gets only the slave; the caller's terminal stays out of reach.
        int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "open /dev/ptmx");
        int unlock = 0;
        if (ioctl(master, TIOCSPTLCK, &unlock) != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "unlock the pty");
        int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "open the pty's slave");
        int in = given[0] >= 0 ? given[0] : (fcntl(0, F_GETFD) >= 0 ? 0 : -1);
        int out = given[1] >= 0 ? given[1] : (fcntl(1, F_GETFD) >= 0 ? 1 : -1);
        struct winsize ws;
        if ((in >= 0 && ioctl(in, TIOCGWINSZ, &ws) == 0) || (out >= 0 && ioctl(out, TIOCGWINSZ, &ws) == 0))
            ioctl(master, TIOCSWINSZ, &ws);
        int master_in = fcntl(master, F_DUPFD_CLOEXEC, 3);   // the input relay closes its own copy at EOF
        if (master_in < 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "dup the pty");
        fcntl(master, F_SETFL, O_NONBLOCK);                  // one open file: both copies
        if (in >= 0) {
            bk_relay *r = &rl[nrl++];
            r->len = r->off = 0; r->input = 1; r->src = in; r->dst = master_in;
        } else {
            close(master_in);
        }
        if (out >= 0) {
            bk_relay *r = &rl[nrl++];
            r->len = r->off = 0; r->input = 0; r->src = master; r->dst = out;
        }
        x->stdio[0] = x->stdio[1] = x->stdio[2] = slave;
        cmd_ends[0] = slave;
    }
    for (int i = 0; i < 3 && !c->tty; i++) {
        int fd = given[i] >= 0 ? given[i] : (fcntl(i, F_GETFD) >= 0 ? i : -1);
        x->stdio[i] = fd;
        if (fd < 0 || !isatty(fd)) continue;
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "pipe for the command's stdio");
        bk_relay *r = &rl[nrl++];
        r->len = r->off = 0;
        r->input = i == 0;
        if (i == 0) { r->src = fd; r->dst = p[1]; cmd_ends[i] = p[0]; fcntl(p[1], F_SETFL, O_NONBLOCK); }
        else { r->src = p[0]; r->dst = fd; cmd_ends[i] = p[1]; fcntl(p[0], F_SETFL, O_NONBLOCK); }
        x->stdio[i] = cmd_ends[i];
    }
    int sfd = -1;
    if (nrl > 0) {
        // SIGCHLD stays blocked (it has been since the parent's fork), so the command's exit is
        // pending for this signalfd even if it comes before the fd exists.
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "signalfd");
    }

    // 4. the command, inside the PID namespace.
    pid_t pid = _Fork();
    if (pid < 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "fork in the container");
    if (pid == 0) {
        if (sfd >= 0) close(sfd);
        bk_exec_command(x);
    }
    close(efd);  // only the command holds the error pipe now: EOF for the parent at its execve
    for (int i = 0; i < 3; i++) if (cmd_ends[i] >= 0) close(cmd_ends[i]);

    bk_exec_child_pid = pid;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = bk_exec_forward;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
    int st = 0;
    if (nrl > 0) {
        // A write into a stdin pipe the command closed is EPIPE here, not death.
        sa.sa_handler = SIG_IGN;
        sa.sa_flags = 0;
        sigaction(SIGPIPE, &sa, NULL);
        uint64_t chld_only = 1ULL << (SIGCHLD - 1);   // raw: every other signal unblocked
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, &chld_only, NULL, sizeof chld_only);
        st = bk_relay_until_exit(rl, nrl, sfd, pid);
    } else {
        bk_unblock_all_signals();
        pid_t r;
        do { r = waitpid(pid, &st, 0); } while (r < 0 && errno == EINTR);
        if (r < 0) _exit(125);
    }
    if (WIFEXITED(st)) _exit(WEXITSTATUS(st));
    if (WIFSIGNALED(st)) _exit(128 + WTERMSIG(st));
    _exit(125);
}

// Waits up to timeout_ms for the intermediate `mid` to exit. When it does not, kills the
// command it runs (its children, each a session and process-group leader: the whole group)
// and then mid. Returns 1 when it had to kill.
static int bk_exec_wait_or_kill(pid_t mid, int timeout_ms) {
    int pfd = (int)syscall(SYS_pidfd_open, mid, 0);
    if (pfd < 0) return 0;
    int r = bk_pidfd_wait(pfd, timeout_ms);
    if (r != 0) { close(pfd); return 0; }
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)mid, (int)mid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) {
            buf[n] = 0;
            for (char *p = buf; *p; ) {
                while (*p == ' ' || *p == '\n') p++;
                if (!*p) break;
                long child = strtol(p, &p, 10);
                if (child > 0) { kill((pid_t)-child, SIGKILL); kill((pid_t)child, SIGKILL); }
            }
        }
    }
    syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
    close(pfd);
    return 1;
}

int bk_exec_run(const bk_exec_config *cfg, int *exit_code, bk_child_error *out) {
    bk_child_error local;
    if (!out) out = &local;
    memset(out, 0, sizeof *out);
    if (exit_code) *exit_code = 125;
    if (!cfg || cfg->target_pid <= 0 || !cfg->argv || !cfg->argv[0]) {
        snprintf(out->message, sizeof out->message, "exec: no target process or command");
        errno = EINVAL;
        return -1;
    }

    struct bk_exec_ctx x;
    memset(&x, 0, sizeof x);
    x.cfg = cfg;
    x.error_fd = -1;
    x.pidfd = -1;
    x.cap_last = bk_cap_last_cap();
    for (size_t i = 0; i < BK_NNS; i++) x.ns_fds[i] = -1;
    int rc = -1, e = 0;
    int ep[2] = { -1, -1 };

    for (const char *const *p = cfg->cgroup_procs; p && *p; p++) {
        if (x.ncgroups == BK_MAX_CGROUPS) {
            e = E2BIG;
            snprintf(out->message, sizeof out->message, "exec: too many cgroups (at most %d)", BK_MAX_CGROUPS);
            goto done;
        }
        int fd = open(*p, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            e = errno;
            snprintf(out->message, sizeof out->message, "open %s: %s", *p, strerror(e));
            goto done;
        }
        x.cgroup_fds[x.ncgroups++] = fd;
    }

    x.pidfd = (int)syscall(SYS_pidfd_open, cfg->target_pid, 0);
    if (x.pidfd < 0 && errno == ESRCH) {
        e = ESRCH;
        snprintf(out->message, sizeof out->message, "exec: container process %d is not running", (int)cfg->target_pid);
        goto done;
    }
    // The per-namespace fds are the fallback when setns(pidfd) is not supported.
    for (size_t i = 0; i < BK_NNS; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)cfg->target_pid, bk_ns_list[i].name);
        x.ns_fds[i] = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (x.pidfd < 0 && x.ns_fds[BK_NNS - 1] < 0) {
        e = errno;
        snprintf(out->message, sizeof out->message, "exec: cannot reach container process %d: %s",
                 (int)cfg->target_pid, strerror(e));
        goto done;
    }

    if (pipe2(ep, O_CLOEXEC) != 0) {
        e = errno;
        snprintf(out->message, sizeof out->message, "pipe: %s", strerror(e));
        goto done;
    }
    x.error_fd = ep[1];

    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t mid = _Fork();
    if (mid == 0) bk_exec_intermediate(&x);
    e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(ep[1]);
    ep[1] = -1;
    if (mid < 0) {
        snprintf(out->message, sizeof out->message, "fork: %s", strerror(e));
        goto done;
    }

    // EOF on the error pipe: the command exec'd (or a child died without a word).
    size_t got = 0;
    for (;;) {
        ssize_t n = got < sizeof *out ? read(ep[0], (char *)out + got, sizeof *out - got) : 0;
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    out->message[sizeof out->message - 1] = 0;
    if (got == 0 && cfg->started_fd >= 0) {   // exec -d: its caller may return now
        ssize_t w;
        do { w = write(cfg->started_fd, "1", 1); } while (w < 0 && errno == EINTR);
    }
    int timed_out = 0;
    if (got == 0 && cfg->timeout_ms > 0) timed_out = bk_exec_wait_or_kill(mid, cfg->timeout_ms);
    int code = bk_wait_exit_code(mid);
    if (exit_code) *exit_code = code;
    if (got > 0) {
        if (out->stage == BK_STAGE_NONE) out->stage = BK_STAGE_SETUP;
        rc = 1;
    } else if (code < 0) {
        e = errno;
        snprintf(out->message, sizeof out->message, "waitpid: %s", strerror(e));
        rc = -1;
    } else {
        rc = timed_out ? 2 : 0;
    }

done:
    if (ep[0] >= 0) close(ep[0]);
    if (ep[1] >= 0) close(ep[1]);
    if (x.pidfd >= 0) close(x.pidfd);
    for (size_t i = 0; i < BK_NNS; i++) if (x.ns_fds[i] >= 0) close(x.ns_fds[i]);
    for (int i = 0; i < x.ncgroups; i++) close(x.cgroup_fds[i]);
    if (rc < 0) errno = e;
    return rc;
}
