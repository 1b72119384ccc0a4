// Child-side helpers shared by spawn.c and exec.c. See bk_child.h: everything here runs in a
// child of a multithreaded process between clone()/fork() and execve(), so it uses no malloc, no
// stdio, no locks, and raw syscalls where glibc's wrapper would talk to other threads.
#define _GNU_SOURCE
#include "bk_child.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

// --- strings -----------------------------------------------------------------------------------

size_t bk_strlen(const char *s) {
    size_t n = 0;
    if (s) while (s[n]) n++;
    return n;
}

char *bk_append(char *dst, size_t cap, const char *src) {
    size_t n = bk_strlen(dst);
    if (!src) src = "(null)";
    while (*src && n + 1 < cap) dst[n++] = *src++;
    if (cap) dst[n < cap ? n : cap - 1] = 0;
    return dst;
}

char *bk_append_long(char *dst, size_t cap, long v) {
    char tmp[24];
    int i = (int)sizeof(tmp) - 1;
    unsigned long u = v < 0 ? (unsigned long)(-(v + 1)) + 1 : (unsigned long)v;
    tmp[i] = 0;
    do { tmp[--i] = (char)('0' + u % 10); u /= 10; } while (u && i > 1);
    if (v < 0) tmp[--i] = '-';
    return bk_append(dst, cap, tmp + i);
}

const char *bk_errstr(int err) {
    // strerrordesc_np is a plain table lookup: no locale, no translation, no allocation.
    const char *s = strerrordesc_np(err);
    return s ? s : "Unknown error";
}

// --- error reporting ---------------------------------------------------------------------------

_Noreturn void bk_child_fail_msg(int fd, int stage, int err, const char *message) {
    bk_child_error e;
    memset(&e, 0, sizeof e);
    e.stage = stage;
    e.err = err;
    bk_append(e.message, sizeof e.message, message);
    // sizeof(e) < PIPE_BUF: one atomic write.
    ssize_t n;
    do { n = write(fd, &e, sizeof e); } while (n < 0 && errno == EINTR);
    int code = 125;
    if (stage == BK_STAGE_EXEC) code = err == ENOENT ? 127 : 126;
    _exit(code);
}

_Noreturn void bk_child_fail(int fd, int stage, int err, const char *what) {
    char msg[sizeof(((bk_child_error *)0)->message)];
    msg[0] = 0;
    bk_append(msg, sizeof msg, what);
    if (err) {
        bk_append(msg, sizeof msg, ": ");
        bk_append(msg, sizeof msg, bk_errstr(err));
    }
    bk_child_fail_msg(fd, stage, err, msg);
}

// --- processes ---------------------------------------------------------------------------------

static int close_range_raw(unsigned lo, unsigned hi, unsigned flags) {
#ifdef SYS_close_range
    return (int)syscall(SYS_close_range, lo, hi, flags);
#else
    errno = ENOSYS;
    return -1;
#endif
}

static void close_span(unsigned lo, unsigned hi) {
    if (lo > hi) return;
    if (close_range_raw(lo, hi, 0) == 0) return;
    // No close_range (kernel < 5.9): close one by one up to the fd limit.
    struct rlimit rl;
    unsigned limit = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < limit)
        limit = (unsigned)rl.rlim_cur;
    if (hi >= limit) hi = limit - 1;
    for (unsigned fd = lo; fd <= hi && fd >= lo; fd++) close((int)fd);
}

void bk_close_fds_except(int *keep, int n) {
    int k[BK_MAX_KEEP_FDS];
    int m = 0;
    if (n > BK_MAX_KEEP_FDS) return;  // cannot happen (callers are bounded); never close a kept fd
    for (int i = 0; i < n; i++) {
        if (keep[i] < 3) continue;
        // insertion sort, dropping duplicates
        int j = m;
        int dup = 0;
        for (int t = 0; t < m; t++) if (k[t] == keep[i]) dup = 1;
        if (dup) continue;
        while (j > 0 && k[j - 1] > keep[i]) { k[j] = k[j - 1]; j--; }
        k[j] = keep[i];
        m++;
    }
    unsigned lo = 3;
    for (int i = 0; i < m; i++) {
        if ((unsigned)k[i] > lo) close_span(lo, (unsigned)k[i] - 1);
        lo = (unsigned)k[i] + 1;
    }
    close_span(lo, ~0U);
}

void bk_reset_signal_handlers(void) {
    // Everything back to default, ignored signals included: a Swift parent typically ignores
    // SIGPIPE, and a container must not inherit that. Raw rt_sigaction, because glibc's
    // sigaction refuses its internal signals (32, 33), which the parent may have set up too.
    struct { void (*handler)(int); unsigned long flags; void (*restorer)(void); uint64_t mask; } ksa;
    memset(&ksa, 0, sizeof ksa);
    ksa.handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof ksa.mask);
    }
}

void bk_unblock_all_signals(void) {
    uint64_t none = 0;  // raw: glibc's sigprocmask would keep its internal signals as they are
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none);
}

// --- privileges --------------------------------------------------------------------------------

void bk_load_seccomp(const bk_final_config *c) {
    if (!c->seccomp_filter || c->seccomp_filter_len < sizeof(struct sock_filter)) return;
    struct sock_fprog prog;
    prog.len = (unsigned short)(c->seccomp_filter_len / sizeof(struct sock_filter));
    prog.filter = (struct sock_filter *)c->seccomp_filter;
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
        bk_child_fail(c->error_fd, BK_STAGE_SECURITY, errno, "load the seccomp filter");
}

void bk_drop_privileges(const bk_final_config *c) {
    int efd = c->error_fd;
    // Without no_new_privs the kernel accepts a filter only from a holder of CAP_SYS_ADMIN:
    // load it now, while we are still full root (the calls below are in every sane profile).
    if (c->allow_new_privs) bk_load_seccomp(c);
    // 1. Bounding set (needs CAP_SETPCAP, which we still have as full root).
    for (int cap = 0; cap <= c->cap_last && cap < 64; cap++) {
        if (c->cap_keep & (1ULL << cap)) continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
            char what[64] = "drop capability ";
            bk_append_long(what, sizeof what, cap);
            bk_append(what, sizeof what, " from the bounding set");
            bk_child_fail(efd, BK_STAGE_SECURITY, errno, what);
        }
    }
    // 2. Ambient set.
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        bk_child_fail(efd, BK_STAGE_SECURITY, errno, "clear ambient capabilities");
    // 3. Identity. Raw syscalls: glibc's wrappers broadcast to the parent's (absent) threads.
    if (syscall(SYS_setgroups, 0, NULL) != 0)
        bk_child_fail(efd, BK_STAGE_SECURITY, errno, "setgroups");
    if (c->gid != 0 && syscall(SYS_setresgid, c->gid, c->gid, c->gid) != 0)
        bk_child_fail(efd, BK_STAGE_SECURITY, errno, "setgid");
    if (c->uid != 0 && syscall(SYS_setresuid, c->uid, c->uid, c->uid) != 0)
        bk_child_fail(efd, BK_STAGE_SECURITY, errno, "setuid");
    // A change of uid or gid makes the kernel (commit_creds) clear the parent-death signal and
    // reset the dumpable flag to fs.suid_dumpable. Put both back: the process must still die
    // with its monitor, and must stay non-dumpable until execve even on a host where
    // suid_dumpable is 1, or a process of the same uid in the container could open
    // /proc/PID/exe (the host's bocker binary; CVE-2019-5736).
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (c->pdeathsig) {
        if (prctl(PR_SET_PDEATHSIG, c->pdeathsig, 0, 0, 0) != 0)
            bk_child_fail(efd, BK_STAGE_SECURITY, errno, "prctl(PR_SET_PDEATHSIG)");
        // The parent may have died while the signal was disarmed. getppid() says nothing in a
        // new PID namespace (it is 0), but a pipe whose read end only the parent holds does:
        // POLLERR once every reader is gone.
        if (c->parent_alive_fd >= 0) {
            struct pollfd pfd = { .fd = c->parent_alive_fd, .events = POLLOUT, .revents = 0 };
            if (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLERR)) _exit(137);
        }
    }
    // 4. Effective/permitted = cap_keep for root. A non-root user lost them all at setuid (no
    //    keepcaps) and keeps them empty, as Docker does since 20.10; inheritable is always empty
    //    (CVE-2022-24769).
    uint64_t eff = c->uid == 0 ? c->cap_keep : 0;
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    data[0].effective = data[0].permitted = (uint32_t)eff;
    data[1].effective = data[1].permitted = (uint32_t)(eff >> 32);
    if (syscall(SYS_capset, &hdr, data) != 0)
        bk_child_fail(efd, BK_STAGE_SECURITY, errno, "capset");
    // 5. No privilege gain through setuid binaries or file capabilities.
    if (!c->allow_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        bk_child_fail(efd, BK_STAGE_SECURITY, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
}

// --- working directory -------------------------------------------------------------------------

void bk_apply_rlimits(int efd, const bk_rlimit *rl, int n) {
    for (int i = 0; i < n; i++) {
        struct rlimit r = { (rlim_t)rl[i].soft, (rlim_t)rl[i].hard };
        if (setrlimit(rl[i].resource, &r) != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "setrlimit (--ulimit)");
    }
}

void bk_enter_workdir(int efd, const char *dir, int create) {
    char what[PATH_MAX + 64];
    if (!dir || !*dir) dir = "/";
    if (create) {
        char p[PATH_MAX];
        size_t n = bk_strlen(dir);
        if (n >= sizeof p) bk_child_fail(efd, BK_STAGE_CHDIR, ENAMETOOLONG, "working directory");
        memcpy(p, dir, n + 1);
        for (size_t i = 1; i <= n; i++) {
            if (p[i] != '/' && p[i] != 0) continue;
            char saved = p[i];
            p[i] = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                what[0] = 0;
                bk_append(what, sizeof what, "create working directory \"");
                bk_append(what, sizeof what, dir);
                bk_append(what, sizeof what, "\"");
                bk_child_fail(efd, BK_STAGE_CHDIR, errno, what);
            }
            p[i] = saved;
        }
    }
    if (chdir(dir) != 0) {
        what[0] = 0;
        bk_append(what, sizeof what, "chdir to working directory \"");
        bk_append(what, sizeof what, dir);
        bk_append(what, sizeof what, "\"");
        bk_child_fail(efd, BK_STAGE_CHDIR, errno, what);
    }
    // CVE-2024-21626: a workdir such as /proc/self/fd/N reaches a directory outside the root
    // through an inherited fd. The kernel's getcwd shows such a cwd as "(unreachable)/...";
    // anything under /proc is refused as well.
    char cwd[PATH_MAX];
    long r = syscall(SYS_getcwd, cwd, sizeof cwd);
    if (r < 0 || cwd[0] != '/' || strncmp(cwd, "/proc/", 6) == 0) {
        what[0] = 0;
        bk_append(what, sizeof what, "working directory \"");
        bk_append(what, sizeof what, dir);
        bk_append(what, sizeof what, "\" is outside the container root or inside /proc; refusing it");
        bk_child_fail_msg(efd, BK_STAGE_CHDIR, EPERM, what);
    }
}

// --- stdio and exec ----------------------------------------------------------------------------

static void exec_message(char *msg, size_t cap, const char *file, const char *tail) {
    msg[0] = 0;
    bk_append(msg, cap, "exec: \"");
    bk_append(msg, cap, file);
    bk_append(msg, cap, "\": ");
    size_t at = bk_strlen(msg);
    bk_append(msg, cap, tail);
    // Lower-case like Go's errno strings ("permission denied"), as Docker prints them.
    if (msg[at] >= 'A' && msg[at] <= 'Z' && msg[at + 1] >= 'a' && msg[at + 1] <= 'z') msg[at] += 'a' - 'A';
}

_Noreturn void bk_setup_stdio_and_exec(const bk_final_config *c) {
    int efd = c->error_fd;
    int dups[3] = { -1, -1, -1 };
    // Copy every source above 2 first, so that dup2 onto 0..2 cannot clobber a later source.
    for (int i = 0; i < 3; i++) {
        int src = c->stdio[i];
        if (src < 0) {
            if (!c->null_for_missing) continue;
            src = open("/dev/null", O_RDWR | O_CLOEXEC);
            if (src < 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "open /dev/null");
        }
        dups[i] = fcntl(src, F_DUPFD_CLOEXEC, 3);
        if (dups[i] < 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "duplicate stdio fd");
    }
    for (int i = 0; i < 3; i++) {
        if (dups[i] >= 0 && dup2(dups[i], i) < 0)  // dup2 clears close-on-exec on 0..2
            bk_child_fail(efd, BK_STAGE_SETUP, errno, "dup2 stdio fd");
    }
    // A session of its own, always: without -t the container must not share the caller's
    // terminal (no /dev/tty, no TIOCSTI into the caller's shell: the CVE-2017-5226 class);
    // with -t its pty becomes the new session's controlling terminal. A process that already
    // leads its session (--init's PID 1 made one) keeps it.
    if (setsid() < 0) {
        int err = errno;
        if (getsid(0) != getpid()) bk_child_fail(efd, BK_STAGE_SETUP, err, "setsid");
    }
    if (c->controlling_tty && ioctl(0, TIOCSCTTY, 0) != 0)
        bk_child_fail(efd, BK_STAGE_SETUP, errno, "make the pty the controlling terminal");
    // Every inherited fd above 2 (the error pipe included) closes at execve. The fds were
    // already pruned right after clone/fork; CLOEXEC (not close) keeps the error pipe usable.
    if (close_range_raw(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
        for (int i = 0; i < 3; i++) if (dups[i] >= 0) fcntl(dups[i], F_SETFD, FD_CLOEXEC);
    }
    umask(022);
    bk_unblock_all_signals();
    // seccomp last, so that a profile needs to allow only execve (and write/exit_group for a
    // failure report) of what bocker itself does.
    if (!c->allow_new_privs) bk_load_seccomp(c);

    char msg[sizeof(((bk_child_error *)0)->message)];
    const char *file = c->argv ? c->argv[0] : NULL;
    if (!file || !*file) bk_child_fail_msg(efd, BK_STAGE_EXEC, ENOENT, "exec: no command given");
    char *const *argv = (char *const *)c->argv;
    char *const *envp = (char *const *)c->envp;
    static char *const empty_env[] = { NULL };
    if (!envp) envp = empty_env;

    int has_slash = 0;
    for (const char *p = file; *p; p++) if (*p == '/') has_slash = 1;
    if (has_slash) {
        execve(file, argv, envp);
        int err = errno;
        exec_message(msg, sizeof msg, file, bk_errstr(err));
        bk_child_fail_msg(efd, BK_STAGE_EXEC, err, msg);
    }

    // PATH search in the container's PATH (execvpe would use the parent's).
    const char *path = c->path_env && *c->path_env ? c->path_env
        : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    size_t flen = bk_strlen(file);
    int seen_eacces = 0;
    char buf[PATH_MAX];
    const char *p = path;
    for (;;) {
        const char *end = p;
        while (*end && *end != ':') end++;
        size_t dlen = (size_t)(end - p);
        const char *dir = p;
        if (dlen == 0) { dir = "."; dlen = 1; }  // empty element = current directory
        if (dlen + 1 + flen + 1 <= sizeof buf) {
            memcpy(buf, dir, dlen);
            buf[dlen] = '/';
            memcpy(buf + dlen + 1, file, flen + 1);
            execve(buf, argv, envp);
            int err = errno;
            switch (err) {
            case EACCES:
                seen_eacces = 1;
                break;
            case ENOENT: case ENOTDIR: case ESTALE: case ELOOP: case ENAMETOOLONG:
            case ENODEV: case ETIMEDOUT:
                break;
            default:  // found but not runnable (ENOEXEC, ETXTBSY, E2BIG, ENOMEM...): stop here
                exec_message(msg, sizeof msg, file, bk_errstr(err));
                bk_child_fail_msg(efd, BK_STAGE_EXEC, err, msg);
            }
        }
        if (!*end) break;
        p = end + 1;
    }
    if (seen_eacces) {
        exec_message(msg, sizeof msg, file, bk_errstr(EACCES));
        bk_child_fail_msg(efd, BK_STAGE_EXEC, EACCES, msg);
    }
    exec_message(msg, sizeof msg, file, "executable file not found in $PATH");
    bk_child_fail_msg(efd, BK_STAGE_EXEC, ENOENT, msg);
}

// --- user and group names ----------------------------------------------------------------------

// Finds `name` in a colon-separated file (passwd or group) and returns its third field (the id)
// and, for passwd, its fourth (the primary gid). 0 when found, -1 when not.
static int lookup_id(const char *file, const char *name, uint32_t *id, uint32_t *gid) {
    char buf[65536];
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) != 0) {
        if (n < 0) { if (errno == EINTR) continue; break; }
        len += (size_t)n;
    }
    close(fd);
    buf[len] = 0;
    size_t nlen = bk_strlen(name);
    char *line = buf;
    while (*line) {
        char *end = line;
        while (*end && *end != '\n') end++;
        if ((size_t)(end - line) > nlen && line[nlen] == ':' && memcmp(line, name, nlen) == 0) {
            // name:password:id:gid:...
            char *p = line + nlen + 1;
            while (p < end && *p != ':') p++;
            uint64_t v[2] = { 0, 0 };
            int got = 0;
            for (int f = 0; f < 2 && p < end && *p == ':'; f++) {
                p++;
                if (p >= end || *p < '0' || *p > '9') break;
                while (p < end && *p >= '0' && *p <= '9') v[f] = v[f] * 10 + (uint64_t)(*p++ - '0');
                if (v[f] > 0xffffffffULL) return -1;
                got = f + 1;
            }
            if (got == 0) return -1;
            *id = (uint32_t)v[0];
            if (gid && got == 2) *gid = (uint32_t)v[1];
            return 0;
        }
        line = *end ? end + 1 : end;
    }
    return -1;
}

/* Ends the child with Docker's message for a user or group the image does not name. */
static _Noreturn void fail_unknown_id(int efd, const char *kind, const char *name, const char *file) {
    char what[512];
    what[0] = 0;
    bk_append(what, sizeof what, "unable to find ");
    bk_append(what, sizeof what, kind);
    bk_append(what, sizeof what, " ");
    bk_append(what, sizeof what, name);
    bk_append(what, sizeof what, ": no matching entries in ");
    bk_append(what, sizeof what, file);
    bk_append(what, sizeof what, " file");
    bk_child_fail_msg(efd, BK_STAGE_SECURITY, 0, what);
}

void bk_resolve_user(int efd, const char *user_name, const char *group_name, uint32_t *uid, uint32_t *gid) {
    if (user_name && *user_name && lookup_id("/etc/passwd", user_name, uid, gid) != 0)
        fail_unknown_id(efd, "user", user_name, "passwd");
    if (group_name && *group_name && lookup_id("/etc/group", group_name, gid, NULL) != 0)
        fail_unknown_id(efd, "group", group_name, "group");
}

// --- pseudo-terminals --------------------------------------------------------------------------

int bk_open_container_pty(int efd, int sock) {
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "open /dev/ptmx");
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) != 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "unlock the pty");
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) bk_child_fail(efd, BK_STAGE_SETUP, errno, "open the pty's slave");
    char byte = 't';
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
    memset(&u, 0, sizeof u);
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &master, sizeof(int));
    if (sendmsg(sock, &msg, MSG_NOSIGNAL) != 1) bk_child_fail(efd, BK_STAGE_SETUP, errno, "hand the pty to bocker");
    close(master);
    close(sock);
    return slave;
}
