// The container's first process: clone() into new namespaces, wait for the parent's go byte,
// build the root filesystem (rootfs.c: proc, a minimal /dev, read-only sys, masked and
// read-only paths, pivot_root), drop privileges and execve. Everything after clone() runs here in C; the
// parent is a multithreaded Swift process, so the child uses no malloc, no stdio and no locks
// (every string and array was prepared by the parent before clone).
#define _GNU_SOURCE
#include "bk_spawn.h"
#include "bk_child.h"
#include "bk_rootfs.h"
#include "bk_userns.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <linux/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif

#define BK_STACK_SIZE (1024 * 1024)



// Overwrites this process's argument area (our own private copy of the parent's memory) so
// that /proc/self/cmdline reads `name`. Its bounds are fields 48 and 49 of /proc/self/stat.
static void bk_rename_args(const char *name) {
    char buf[2048];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return;
    buf[n] = 0;
    char *p = strrchr(buf, ')');   // field 2 (comm) may hold spaces
    if (!p) return;
    unsigned long field[64];
    int k = 2;
    for (p++; *p && k < 52; ) {
        while (*p == ' ') p++;
        if (!*p) break;
        k++;
        unsigned long v = 0;
        while (*p >= '0' && *p <= '9') v = v * 10 + (unsigned long)(*p++ - '0');
        while (*p && *p != ' ') p++;
        if (k < 64) field[k] = v;
    }
    if (k < 49) return;
    char *start = (char *)field[48], *end = (char *)field[49];
    if (!start || end <= start) return;
    size_t cap = (size_t)(end - start);
    size_t len = bk_strlen(name);
    memset(start, 0, cap);
    memcpy(start, name, len < cap ? len : cap - 1);
}

// --use-init: this process stays PID 1 and runs the command as its child. It forwards every
// signal it gets to the command, reaps every zombie the namespace hands it, and exits with the
// command's status (128+N for a signal). It never execs: it stays non-dumpable and keeps the
// dropped capabilities (no CAP_SYS_PTRACE), so nothing in the container can open
// /proc/1/exe (the host binary) or ptrace it.
static _Noreturn void bk_run_init(const bk_final_config *f, const bk_spawn_config *c) {
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &all, NULL);
    // The command waits on `gate` until init is confined: nothing in the container ever sees
    // an unfiltered PID 1 (/proc/1/status read at once showed "Seccomp: 0" now and then).
    int gate[2];
    if (pipe2(gate, O_CLOEXEC) != 0) bk_child_fail(f->error_fd, BK_STAGE_SETUP, errno, "pipe for the command's start");
    pid_t cmd = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (cmd < 0) bk_child_fail(f->error_fd, BK_STAGE_SETUP, errno, "fork the command under init");
    if (cmd == 0) {
        close(gate[1]);
        char b;
        while (read(gate[0], &b, 1) < 0 && errno == EINTR) {}   // EOF: init is confined (or gone)
        close(gate[0]);
        bk_setup_stdio_and_exec(f);   // unblocks signals itself
    }
    close(gate[0]);
    // init is confined too (its filter is loaded here, the command's in the command).
    if (!f->allow_new_privs) bk_load_seccomp(f);
    close(gate[1]);
    // The command holds the error pipe and the output pipes; init lets go of them so that
    // EOF means what it should (exec done, output over).
    close(f->error_fd);
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul >= 0) { dup2(nul, 0); dup2(nul, 1); dup2(nul, 2); }
    for (int fd = 3; fd < 1024; fd++) close(fd);
    (void)c;
    int status = 0;
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&all, &si);
        if (sig < 0) continue;
        if (sig == SIGCHLD) {
            int st;
            pid_t p;
            while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
                if (p == cmd) {
                    status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                    _exit(status);
                }
            }
            continue;
        }
        kill(cmd, sig);
    }
}

// --ipc container:X: X's IPC namespace, and a clone of X's /dev/shm mount made from inside X's
// mount namespace (a mount of another namespace cannot be bind-mounted); the child goes back to
// its own new mount namespace at once and mounts the clone on its /dev/shm (rootfs.c).
static void bk_join_ipc(struct bk_spawn_ctx *x, int efd) {
    const bk_spawn_config *c = x->cfg;
    if (setns(c->ipc_ns_fd, CLONE_NEWIPC) != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "join the other container's IPC namespace");
    close(c->ipc_ns_fd);
    int own = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (own < 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "open the mount namespace");
    if (setns(c->mnt_ns_fd, CLONE_NEWNS) != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "enter the other container's mount namespace");
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, "/dev/shm", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
    int e = errno;
    if (setns(own, CLONE_NEWNS) != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "return to the container's mount namespace");
    close(own);
    close(c->mnt_ns_fd);
    if (tree < 0) bk_child_fail(efd, BK_STAGE_SETUP, e, "clone the other container's /dev/shm");
    struct statfs sf;
    if (fstatfs(tree, &sf) != 0 || sf.f_type != TMPFS_MAGIC)
        bk_child_fail(efd, BK_STAGE_SETUP, EINVAL, "the other container's /dev/shm is not a tmpfs");
    x->shm_tree = tree;
}

static int bk_spawn_child(void *arg) {
    struct bk_spawn_ctx *x = arg;
    const bk_spawn_config *c = x->cfg;
    int mount_fds[BK_MAX_MOUNT_FDS];
    int efd = x->error_fd;
    int sfd = x->sync_fd;

    // Until execve this process is a copy of the host binary: not dumpable, so nothing in the
    // container can open /proc/1/exe or ptrace it (CVE-2019-5736).
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    bk_reset_signal_handlers();  // all signals are still blocked (by the parent, around clone)
    // Drop every fd inherited from the parent (other threads' pipes included) at once, so that
    // no one else's pipe is held open by this child while it waits for release.
    int keep[9 + 24] = { sfd, efd, c->stdin_fd, c->stdout_fd, c->stderr_fd,
                         c->join_netns && !c->userns ? c->netns_fd : -1, c->tty_socket,
                         c->join_ipc ? c->ipc_ns_fd : -1, c->join_ipc ? c->mnt_ns_fd : -1 };
    int nkeep = 9;
    for (int i = 0; i < c->n_cgroup_fds && i < 24; i++) keep[nkeep++] = c->cgroup_fds[i];
    bk_close_fds_except(keep, nkeep);
    if (c->die_with_parent) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (c->n_cgroup_fds > 0) {
        // Direct mode: the parent's calling thread is suspended (CLONE_VFORK) until we exec;
        // join the cgroups ourselves ("0" is the writing process) and go on.
        for (int i = 0; i < c->n_cgroup_fds && i < 24; i++) {
            if (write(c->cgroup_fds[i], "0", 1) != 1) bk_child_fail(efd, BK_STAGE_SETUP, errno, "join the container's cgroup");
            close(c->cgroup_fds[i]);
        }
        goto released;
    }
    // The usual getppid() check for a parent that died before PR_SET_PDEATHSIG cannot work
    // here (getppid() is 0 in a new PID namespace); the go channel covers it instead: a dead
    // parent closes its end, the read sees EOF, and the child exits quietly.
    int nm = bk_recv_go(sfd, mount_fds, BK_MAX_MOUNT_FDS);
    if (nm < 0) _exit(1);
    close(sfd);
    x->mount_fds = mount_fds;
    x->n_mount_fds = nm;
    if (c->userns) bk_userns_become_root(efd);

released:
    // A prepared network namespace (veth, address, routes already set by the parent): join
    // it before /sys is mounted, so /sys/class/net shows the container's own interfaces.
    if (c->join_netns && !c->userns) {   // (userns: entered by the parent around clone)
        if (setns(c->netns_fd, CLONE_NEWNET) != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "join the network namespace");
        close(c->netns_fd);
    }
    if (c->join_ipc) bk_join_ipc(x, efd);
    umask(0);
    bk_setup_root(x);
    bk_enter_workdir(efd, c->workdir, 1);
    int tty_slave = -1;
    if (c->tty_socket >= 0) tty_slave = bk_open_container_pty(efd, c->tty_socket);

    bk_final_config f;
    memset(&f, 0, sizeof f);
    f.argv = c->argv;
    f.envp = c->envp;
    f.path_env = c->path_env;
    f.uid = c->uid;
    f.gid = c->gid;
    bk_resolve_user(efd, c->user_name, c->group_name, &f.uid, &f.gid);
    f.cap_keep = c->cap_keep;
    f.cap_last = x->cap_last;
    f.stdio[0] = c->stdin_fd;
    f.stdio[1] = c->stdout_fd;
    f.stdio[2] = c->stderr_fd;
    f.null_for_missing = 1;
    f.error_fd = efd;
    f.seccomp_filter = c->seccomp_filter;
    f.seccomp_filter_len = c->seccomp_filter_len;
    f.allow_new_privs = c->allow_new_privs;
    // The parent reads the error pipe until we exec: its write end tells whether it still lives.
    f.pdeathsig = c->die_with_parent ? SIGKILL : 0;
    f.parent_alive_fd = efd;
    if (tty_slave >= 0) {
        f.stdio[0] = f.stdio[1] = f.stdio[2] = tty_slave;
        f.controlling_tty = 1;
    }
    if (c->use_init) {
        // Inside, PID 1 shows as "bocker-init", not as the host command line it was cloned
        // from (PR_SET_MM needs CAP_SYS_RESOURCE: before the capabilities go).
        prctl(PR_SET_NAME, (unsigned long)"bocker-init", 0, 0, 0);
        bk_rename_args("bocker-init");
    }
    // --init's PID 1 leaves the caller's session too (the command makes its own again).
    if (c->use_init && setsid() < 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "setsid");
    bk_apply_rlimits(efd, c->rlimits, c->n_rlimits);   // --ulimit, before the capabilities go
    bk_drop_privileges(&f);
    if (c->use_init) bk_run_init(&f, c);
    bk_setup_stdio_and_exec(&f);
}

// --- parent side -------------------------------------------------------------------------------

static int bk_waitpid_status(pid_t pid, int *status);

int bk_spawn_start(const bk_spawn_config *cfg, bk_spawn_handle *h, char *err, size_t errlen) {
    h->pid = -1;
    h->direct = 0;
    h->sync_fd = -1;
    h->error_fd = -1;
    h->n_mount_fds = 0;
    if (err && errlen) err[0] = 0;
    if (!cfg || !cfg->rootfs || !cfg->argv || !cfg->argv[0]) {
        if (err) snprintf(err, errlen, "spawn: no root filesystem or command");
        errno = EINVAL;
        return -1;
    }

    struct bk_spawn_ctx x;
    memset(&x, 0, sizeof x);
    x.cfg = cfg;
    x.shm_tree = -1;
    x.cap_last = bk_cap_last_cap();
    if (cfg->userns && (cfg->join_pid || cfg->join_ipc)) {
        if (err) snprintf(err, errlen, "spawn: a user namespace cannot join another container's namespaces");
        errno = EINVAL;
        return -1;
    }
    for (size_t i = 0; i < BK_NDEV; i++) {
        // The host's numbers (the standard ones if the host's /dev is unusual).
        char path[32] = "/dev/";
        struct stat st;
        bk_append(path, sizeof path, bk_dev_nodes[i].name);
        x.devs[i] = makedev(bk_dev_nodes[i].major, bk_dev_nodes[i].minor);
        if (stat(path, &st) == 0 && S_ISCHR(st.st_mode)) x.devs[i] = st.st_rdev;
    }

    // The go channel is a socketpair so that a write to a dead child gets EPIPE, not SIGPIPE.
    int sp[2], ep[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
        int e = errno;
        if (err) snprintf(err, errlen, "socketpair: %s", strerror(e));
        errno = e;
        return -1;
    }
    if (pipe2(ep, O_CLOEXEC) != 0) {
        int e = errno;
        close(sp[0]); close(sp[1]);
        if (err) snprintf(err, errlen, "pipe: %s", strerror(e));
        errno = e;
        return -1;
    }
    x.sync_fd = sp[0];
    x.error_fd = ep[1];

    void *stack = mmap(NULL, BK_STACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        int e = errno;
        close(sp[0]); close(sp[1]); close(ep[0]); close(ep[1]);
        if (err) snprintf(err, errlen, "mmap child stack: %s", strerror(e));
        errno = e;
        return -1;
    }

    int flags = CLONE_NEWNS | SIGCHLD;
    if (!cfg->host_uts) flags |= CLONE_NEWUTS;
    if (!cfg->host_ipc && !cfg->join_ipc) flags |= CLONE_NEWIPC;
    if (!cfg->host_pid && !cfg->join_pid) flags |= CLONE_NEWPID;
    if (cfg->new_netns && !cfg->join_netns) flags |= CLONE_NEWNET;
    if (cfg->userns) flags |= CLONE_NEWUSER;
    // Direct mode shares our memory until the child execs (as posix_spawn does): this thread
    // waits, the child uses only its own stack and the prepared strings, no page table is copied.
    int direct = cfg->n_cgroup_fds > 0 && !cfg->userns;
    // userns: from inside its new user namespace the child could no longer enter a network
    // namespace owned by ours, so this thread enters it for the clone (the child inherits it).
    int own_net = -1;
    if (cfg->userns && cfg->join_netns) {
        own_net = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (own_net < 0 || setns(cfg->netns_fd, CLONE_NEWNET) != 0) {
            int e2 = errno;
            if (own_net >= 0) close(own_net);
            close(sp[0]); close(sp[1]); close(ep[0]); close(ep[1]);
            munmap(stack, BK_STACK_SIZE);
            if (err) snprintf(err, errlen, "enter the container's network namespace: %s", strerror(e2));
            errno = e2;
            return -1;
        }
    }
    // --pid container:X: a PID namespace is only entered by children, so this thread's
    // pid_ns_for_children is X's for the clone, and ours again right after.
    int own_pid = -1;
    if (cfg->join_pid) {
        own_pid = open("/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (own_pid < 0 || setns(cfg->pid_ns_fd, CLONE_NEWPID) != 0) {
            int e2 = errno;
            if (own_pid >= 0) close(own_pid);
            if (own_net >= 0) { setns(own_net, CLONE_NEWNET); close(own_net); }
            close(sp[0]); close(sp[1]); close(ep[0]); close(ep[1]);
            munmap(stack, BK_STACK_SIZE);
            if (err) snprintf(err, errlen, "enter the other container's PID namespace: %s", strerror(e2));
            errno = e2;
            return -1;
        }
    }
    if (direct) flags |= CLONE_VM | CLONE_VFORK;
    // Block every signal so that none of the parent's handlers runs in the child before it
    // resets them.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = clone(bk_spawn_child, (char *)stack + BK_STACK_SIZE, flags, &x);
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (own_pid >= 0) {
        if (setns(own_pid, CLONE_NEWPID) != 0) {   // cannot happen; never fork on in X's
            if (pid > 0) { kill(pid, SIGKILL); bk_waitpid_status(pid, NULL); }
            pid = -1;
            e = errno;
        }
        close(own_pid);
    }
    if (own_net >= 0) {
        if (setns(own_net, CLONE_NEWNET) != 0) {   // cannot happen; never go on in the wrong one
            if (pid > 0) { kill(pid, SIGKILL); bk_waitpid_status(pid, NULL); }
            pid = -1;
            e = errno;
        }
        close(own_net);
    }
    munmap(stack, BK_STACK_SIZE);  // the child has its own copy, or (direct) has exec'd or exited
    close(sp[0]);
    close(ep[1]);
    if (pid < 0) {
        close(sp[1]);
        close(ep[0]);
        if (err) snprintf(err, errlen, "clone: %s", strerror(e));
        errno = e;
        return -1;
    }
    h->pid = pid;
    h->sync_fd = sp[1];
    h->error_fd = ep[0];
    h->direct = direct;
    if (direct) { close(sp[1]); h->sync_fd = -1; }
    if (cfg->userns && bk_userns_prepare(cfg, pid, h->mount_fds, &h->n_mount_fds, err, errlen) != 0) {
        int e2 = errno;
        bk_spawn_abort(h);
        errno = e2;
        return -1;
    }
    return 0;
}

// Reads the error pipe to EOF. Returns the number of bytes read into *out (0 = exec succeeded).
static ssize_t bk_read_child_error(int fd, bk_child_error *out) {
    size_t got = 0;
    char *p = (char *)out;
    char sink[256];
    for (;;) {
        ssize_t n = got < sizeof *out ? read(fd, p + got, sizeof *out - got) : read(fd, sink, sizeof sink);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (got < sizeof *out) got += (size_t)n;
    }
    out->message[sizeof out->message - 1] = 0;
    return (ssize_t)got;
}

static int bk_waitpid_status(pid_t pid, int *status) {
    int st = 0;
    pid_t r;
    do { r = waitpid(pid, &st, 0); } while (r < 0 && errno == EINTR);
    if (status) *status = st;
    return r < 0 ? -1 : 0;
}

int bk_spawn_release(bk_spawn_handle *h, bk_child_error *out, int *status) {
    bk_child_error local;
    if (!out) out = &local;
    memset(out, 0, sizeof *out);
    if (h->pid <= 0 || (h->sync_fd < 0 && !h->direct) || h->error_fd < 0) {
        errno = EINVAL;
        return -1;
    }
    int send_err = 0;
    if (!h->direct) {
        send_err = bk_send_go(h->sync_fd, h->mount_fds, h->n_mount_fds) == 0 ? 0 : errno;
        close(h->sync_fd);
        h->sync_fd = -1;
        for (int i = 0; i < h->n_mount_fds; i++) close(h->mount_fds[i]);
        h->n_mount_fds = 0;
    }

    ssize_t got = bk_read_child_error(h->error_fd, out);
    close(h->error_fd);
    h->error_fd = -1;
    if (got == 0 && send_err == 0) return 0;

    bk_waitpid_status(h->pid, status);
    if (got == 0) {
        // The child died before it could be released (killed from outside).
        out->stage = BK_STAGE_SETUP;
        out->err = send_err;
        snprintf(out->message, sizeof out->message, "container process died before it started: %s",
                 strerror(send_err));
    } else if (out->stage == BK_STAGE_NONE) {
        out->stage = BK_STAGE_SETUP;
    }
    return 1;
}

void bk_spawn_abort(bk_spawn_handle *h) {
    for (int i = 0; i < h->n_mount_fds; i++) close(h->mount_fds[i]);
    h->n_mount_fds = 0;
    if (h->sync_fd >= 0) { close(h->sync_fd); h->sync_fd = -1; }
    if (h->error_fd >= 0) { close(h->error_fd); h->error_fd = -1; }
    if (h->pid > 0) {
        kill(h->pid, SIGKILL);
        bk_waitpid_status(h->pid, NULL);
        h->pid = -1;
    }
}

// --- misc --------------------------------------------------------------------------------------

static volatile sig_atomic_t bk_forward_pid = 0;
static const int bk_forwarded_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static void bk_forward_handler(int sig) {
    int saved = errno;
    pid_t pid = (pid_t)bk_forward_pid;
    if (pid > 0) kill(pid, sig);
    errno = saved;
}

void bk_forward_signals(pid_t pid) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    if (pid > 0) {
        bk_forward_pid = pid;
        sa.sa_handler = bk_forward_handler;
        sa.sa_flags = SA_RESTART;
    } else {
        sa.sa_handler = SIG_DFL;
    }
    for (size_t i = 0; i < sizeof bk_forwarded_signals / sizeof bk_forwarded_signals[0]; i++)
        sigaction(bk_forwarded_signals[i], &sa, NULL);
    if (pid <= 0) bk_forward_pid = 0;
}

void bk_ignore_forwarded_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_IGN;
    for (size_t i = 0; i < sizeof bk_forwarded_signals / sizeof bk_forwarded_signals[0]; i++)
        sigaction(bk_forwarded_signals[i], &sa, NULL);
}

int bk_wait_exit_code(pid_t pid) {
    int st = 0;
    if (bk_waitpid_status(pid, &st) != 0) return -1;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
}

int bk_cap_last_cap(void) {
    static int cached = -1;
    if (cached >= 0) return cached;
    int last = CAP_LAST_CAP;
    int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[16];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) {
            int v = 0, digits = 0;
            for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++, digits++) v = v * 10 + (buf[i] - '0');
            if (digits > 0 && v < 64) last = v;
        }
    }
    cached = last;
    return last;
}

int bk_receive_fd(int sock) {
    char byte;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
    memset(&u, 0, sizeof u);
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n != 1) { if (n == 0) errno = EPIPE; return -1; }
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    if (!cm || cm->cmsg_type != SCM_RIGHTS) { errno = EPROTO; return -1; }
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof(int));
    return fd;
}

uint64_t bk_cap_bounding_set(void) {
    uint64_t bits = 0;
    for (int cap = 0; cap < 64; cap++)
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) bits |= 1ULL << cap;
    return bits;
}
