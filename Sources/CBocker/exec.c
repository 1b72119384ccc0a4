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
// bounding set of every container process). The intermediate itself stays outside the
// container's PID namespace and is invisible in its /proc. After execve, /proc/<pid>/exe is the
// container's own binary.
#define _GNU_SOURCE
#include "bk_spawn.h"
#include "bk_child.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define BK_MAX_CGROUPS 24  // cgroup v1 hierarchies (15 controllers at most today)

static const struct { const char *name; int type; } bk_ns_list[] = {
    // mnt last: after it, /proc/PID/ns paths would resolve in the container's /proc.
    { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS }, { "net", CLONE_NEWNET },
    { "pid", CLONE_NEWPID }, { "mnt", CLONE_NEWNS },
};
#define BK_NNS (sizeof bk_ns_list / sizeof bk_ns_list[0])
_Static_assert(5 + 5 + BK_MAX_CGROUPS <= BK_MAX_KEEP_FDS, "keep list too small");

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
};

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
    f.stdio[0] = c->stdin_fd;
    f.stdio[1] = c->stdout_fd;
    f.stdio[2] = c->stderr_fd;
    f.null_for_missing = 0;  // -1 = inherit
    f.error_fd = x->error_fd;
    f.allow_new_privs = c->allow_new_privs;
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
    if (x->pidfd < 0 || setns(x->pidfd, flags) != 0) {
        for (size_t i = 0; i < BK_NNS; i++) {
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

    // 3. the command, inside the PID namespace.
    pid_t pid = _Fork();
    if (pid < 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "fork in the container");
    if (pid == 0) bk_exec_command(x);
    close(efd);  // only the command holds the error pipe now: EOF for the parent at its execve

    bk_exec_child_pid = pid;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = bk_exec_forward;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
    bk_unblock_all_signals();

    int st = 0;
    pid_t r;
    do { r = waitpid(pid, &st, 0); } while (r < 0 && errno == EINTR);
    if (r < 0) _exit(125);
    if (WIFEXITED(st)) _exit(WEXITSTATUS(st));
    if (WIFSIGNALED(st)) _exit(128 + WTERMSIG(st));
    _exit(125);
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
        rc = 0;
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
